"""One input of a batch: the :class:`Task` a worker gets, the :class:`TaskResult` it
returns, and :func:`run_task`, the worker.

:func:`run_task` runs in a worker process (local or Dask): it analyzes one input with
:func:`vmanalyze.analysis.analyze` (so a host gives the same findings alone and in a batch),
renders its HTML report and turns its tables into Parquet bytes. It never raises for a bad
input: its result's ``status`` is ``ok``, ``failed`` (with a one-line ``error``) or
``skipped`` (already done in the output directory).

A :class:`TaskResult` is also what the output directory keeps of an input between runs (its
resume state, ``.state/<hash>.json``): the fields marked ``state`` in their metadata, each
with the check a state read back must pass (:func:`state_fields`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import os
import re
import resource
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from vmanalyze import __version__
from vmanalyze.errors import VmanalyzeError
from vmanalyze.fleet.rules import RuleSpec
from vmanalyze.fleet.timeouts import InputTimeout, time_limit
from vmanalyze.inputs import Limits
from vmanalyze.rule import Severity

__all__ = [
    "BatchError",
    "Task",
    "TaskResult",
    "failed_result",
    "host_slug",
    "report_name",
    "run_task",
    "state_fields",
]

REPORTS_DIR = "reports"
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
HASH = re.compile(r"^(dir-)?[0-9a-f]{64}$")
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
REPORT = re.compile(REPORTS_DIR + r"/[A-Za-z0-9_][A-Za-z0-9._-]*\.html")
TABLE_NAME = re.compile(r"[A-Za-z0-9_]+")


class BatchError(VmanalyzeError):
    """The batch as a whole cannot run (no inputs, no Dask, scheduler unreachable...)."""


@dataclass(frozen=True)
class Task:
    """One input to analyze, with everything the worker needs (it pickles)."""

    path: str
    rules: RuleSpec
    rules_key: str
    done: frozenset[str] = frozenset()
    cache: bool = False
    limits: Limits = field(default_factory=Limits)
    version: str = __version__
    #: Seconds this input may take (``--timeout``); None: no limit.
    timeout: float | None = None
    #: The input's content hash when the client computed it already (a duplicate check):
    #: the worker then neither hashes it again nor reads it before deciding to skip it.
    input_hash: str | None = None


# -- what a resume state's fields must be ----------------------------------------------------

_SEVERITY_VALUES = frozenset(s.value for s in Severity)


def _utc(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _iso(value: Any) -> str | None:
    ts = _utc(value)
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _time_text(value: Any) -> bool:
    """None, or text that :func:`_utc` reads as a time."""
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        return _utc(value) is not None
    except (ValueError, TypeError, OverflowError):
        return False


def _opt(kind: type | tuple[type, ...]) -> Callable[[Any], bool]:
    return lambda v: v is None or (isinstance(v, kind) and not isinstance(v, bool))


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """None (read as empty) or a list whose items all pass ``check``."""
    return lambda v: v is None or (isinstance(v, list) and all(check(item) for item in v))


def _finding_ok(f: Any) -> bool:
    return (
        isinstance(f, dict)
        and isinstance(f.get("code"), str)
        and f.get("severity") in _SEVERITY_VALUES
        and all(_opt(str)(f.get(k)) for k in ("name", "subject", "message", "remediation"))
        and _time_text(f.get("start"))
        and _time_text(f.get("end"))
    )


def _incident_ok(i: Any) -> bool:
    return (
        isinstance(i, dict)
        and all(
            _opt(str)(i.get(k))
            for k in ("root_code", "root_subject", "severity", "headline", "story")
        )
        and all(_opt(str)(i.get(k)) for k in ("root_key", "root_label"))
        and _time_text(i.get("start"))
        and _opt((int, float))(i.get("confidence"))
        and _list_of(lambda c: isinstance(c, str))(i.get("explains"))
    )


def _rule_ok(r: Any) -> bool:
    return (
        isinstance(r, dict)
        and isinstance(r.get("code"), str)
        and isinstance(r.get("status"), str)
        and _opt(str)(r.get("reason"))
    )


def _timings_ok(t: Any) -> bool:
    return (
        t is None
        or isinstance(t, dict)
        and all(
            isinstance(k, str)
            and (v is None or (isinstance(v, int | float) and not isinstance(v, bool)))
            and (v is None or math.isfinite(v))
            for k, v in t.items()
        )
    )


def _hash_ok(v: Any) -> bool:
    return isinstance(v, str) and bool(HASH.match(v))


def _partition_ok(v: Any) -> bool:
    return isinstance(v, str) and bool(SAFE_NAME.fullmatch(v))


def _count_ok(v: Any) -> bool:
    return v is None or (_is_int(v) and v >= 0)


def _report_ok(v: Any) -> bool:
    return v is None or (isinstance(v, str) and bool(REPORT.fullmatch(v)))


def _settings_ok(v: Any) -> bool:
    return v is None or (
        isinstance(v, dict)
        and all(isinstance(k, str) and _opt((str, int, float))(x) for k, x in v.items())
    )


def _state(check: Callable[[Any], bool]) -> Any:
    """Metadata of a field kept in the resume state, with what it must be when read back."""
    return {"state": check}


@dataclass
class TaskResult:
    """What a worker returns for one input; its ``state`` fields are the resume state."""

    input: str | None = field(default=None, metadata=_state(_opt(str)))
    name: str | None = field(default=None, metadata=_state(_opt(str)))
    #: ``ok``, ``failed`` or ``skipped`` (a state is only kept for ``ok``)
    status: str = field(default="failed", metadata=_state(lambda v: v == "ok"))
    error: str | None = field(default=None, metadata=_state(_opt(str)))
    input_hash: str | None = field(default=None, metadata=_state(_hash_ok))
    host: str | None = field(default=None, metadata=_state(_opt(str)))
    host_partition: str | None = field(default=None, metadata=_state(_partition_ok))
    kind: str | None = field(default=None, metadata=_state(_opt(str)))
    start: str | None = field(default=None, metadata=_state(_time_text))
    end: str | None = field(default=None, metadata=_state(_time_text))
    samples: int | None = field(default=None, metadata=_state(_count_ok))
    collector_version: str | None = field(default=None, metadata=_state(_opt(str)))
    warnings: list[str] = field(
        default_factory=list, metadata=_state(_list_of(lambda w: isinstance(w, str)))
    )
    timings: dict[str, float] = field(default_factory=dict, metadata=_state(_timings_ok))
    worker: str | None = field(default=None, metadata=_state(_opt(str)))
    peak_rss_bytes: int | None = field(default=None, metadata=_state(_count_ok))
    analyzer_version: str = field(
        default=__version__, metadata=_state(lambda v: isinstance(v, str))
    )
    rules_key: str = field(default="", metadata=_state(lambda v: isinstance(v, str)))
    attempts: int | None = field(default=1, metadata=_state(_count_ok))
    findings: list[dict[str, Any]] = field(
        default_factory=list, metadata=_state(_list_of(_finding_ok))
    )
    rules: list[dict[str, Any]] = field(default_factory=list, metadata=_state(_list_of(_rule_ok)))
    report: str | None = field(default=None, metadata=_state(_report_ok))
    #: The tables stored as parts (set when stored)
    tables: list[str] = field(
        default_factory=list,
        metadata=_state(_list_of(lambda t: isinstance(t, str) and bool(TABLE_NAME.fullmatch(t)))),
    )
    incidents: list[dict[str, Any]] | None = field(
        default=None, metadata=_state(_list_of(_incident_ok))
    )
    root_key: str | None = field(default=None, metadata=_state(_opt(str)))
    root_label: str | None = field(default=None, metadata=_state(_opt(str)))
    settings: dict[str, Any] | None = field(default=None, metadata=_state(_settings_ok))
    #: When the result was stored (ISO 8601, UTC)
    analyzed_at: str | None = field(default=None, metadata=_state(_time_text))
    #: The input's HTML report (not kept in the state: written to ``report``)
    report_html: str | None = None
    #: Each table of the input as Parquet bytes (not kept in the state: written as parts)
    parts: dict[str, bytes] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        """The fields kept in the resume state, as plain data."""
        return {f.name: getattr(self, f.name) for f in _STATE}

    def light(self) -> TaskResult:
        """This result without its report and tables (what progress and counts need)."""
        return dataclasses.replace(self, report_html=None, parts={})

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TaskResult:
        """A result from a resume state (checked by :func:`state_problem` first)."""
        return cls(**{f.name: state[f.name] for f in _STATE if f.name in state})


_STATE = tuple(f for f in dataclasses.fields(TaskResult) if "state" in f.metadata)


def state_fields() -> dict[str, Callable[[Any], bool]]:
    """Each field of a resume state (``.state/<hash>.json``) and what it must be: the
    :class:`TaskResult` fields marked ``state``."""
    return {f.name: f.metadata["state"] for f in _STATE}


def state_problem(state: Any, stem: str) -> str | None:
    """Why a resume state read from ``.state/<stem>.json`` is not usable, or None.

    Checked field by field (:func:`state_fields`): a state that fails is as if its input
    was never done. The report link must be ``reports/<safe name>.html``, relative.

    >>> state_problem({"input": "/x.tar.gz", "status": "failed"}, "x")
    'status: missing or malformed'
    """
    if not isinstance(state, dict):
        return "not a JSON object"
    for key, check in state_fields().items():
        if not check(state.get(key)):
            return f"{key}: missing or malformed"
    if state["input_hash"] != stem:
        return "input_hash does not match the file name"
    return None


# -- the worker --------------------------------------------------------------------------------


def host_slug(hostname: object) -> str:
    """A host name safe as a file name and a Hive partition value (``[A-Za-z0-9._-]``)."""
    text = str(hostname) if hostname not in (None, "") else "unknown"
    slug = _SLUG.sub("_", text).strip("._-")[:64]
    return slug or "unknown"


def report_name(host: str, start: Any, input_hash: str) -> str:
    """``<host>-<start UTC>-<hash8>.html``; two inputs of one host differ by time and hash."""
    ts = _utc(start)
    when = ts.strftime("%Y%m%dT%H%M%SZ") if ts is not None else "notime"
    return f"{host}-{when}-{input_hash.removeprefix('dir-')[:8]}.html"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if isinstance(exc, VmanalyzeError | OSError):
        return text[:500]
    return f"{type(exc).__name__}: {text}"[:500]


def _peak_rss() -> int:
    """Peak resident memory of this process, in bytes (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _release_memory() -> None:
    """Give back what the input used before the next one (long-lived Dask workers too)."""
    gc.collect()
    with contextlib.suppress(Exception):
        pa.default_memory_pool().release_unused()


def _base_result(task: Task) -> TaskResult:
    return TaskResult(
        input=task.path,
        name=os.path.basename(os.path.normpath(task.path)),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        rules_key=task.rules_key,
    )


def run_task(task: Task) -> TaskResult:
    """Analyze one input in a worker; return its result (never raises for bad input)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = _base_result(task)
    timings = result.timings
    try:
        with time_limit(task.timeout):
            _analyze_into(task, result, started)
    except (Exception, InputTimeout) as exc:  # one input's failure must never stop the batch
        result.status = "failed"
        result.error = _one_line(exc)
        if isinstance(exc, InputTimeout):
            result.error = f"timed out after {task.timeout:g} s (--timeout)"
        result.findings = []
        result.parts = {}
        result.report_html = None
        result.report = None
    finally:
        timings["total_s"] = round(time.perf_counter() - started, 3)
        timings["cpu_s"] = round(time.process_time() - cpu_started, 3)
        _release_memory()  # the tables are unreachable now that _analyze_into returned
        result.peak_rss_bytes = _peak_rss()
    return result


def _analyze_into(task: Task, result: TaskResult, started: float) -> None:
    """The body of :func:`run_task`: fills ``result``; raises for a bad input."""
    timings = result.timings
    if task.version != __version__:
        raise BatchError(
            f"this worker runs vmanalyze {__version__}, the client {task.version}: "
            "install the same version on the cluster"
        )
    from vmanalyze.analysis import analyze
    from vmanalyze.cache import Hashed
    from vmanalyze.fleet.arrow import parquet_bytes, table_to_arrow
    from vmanalyze.inputs import hash_input
    from vmanalyze.results import finding_to_dict

    # Hashed once, by the client (a duplicate check) or here: what the hash read is kept
    # for the analysis, so the input is read once. A FIFO or device is refused unopened.
    if task.input_hash is not None:
        hashed = Hashed(task.input_hash)
    else:
        hashed = hash_input(task.path, task.limits)
    input_hash = result.input_hash = hashed.digest
    timings["hash_s"] = round(time.perf_counter() - started, 3)
    if input_hash in task.done:
        result.status = "skipped"
        return

    analysis = analyze(
        task.path,
        registry=task.rules.registry(),
        config=task.rules.config,
        cache=task.cache,
        limits=task.limits,
        hashed=hashed,
    )
    del hashed  # its bytes, if any, were handed over
    timings.update(analysis.timings)
    info = analysis.input_info
    host = analysis.dataset.host
    slug = host_slug(host.get("hostname"))
    result.host = host.get("hostname")
    result.host_partition = slug
    result.kind = info.get("kind")
    result.start = _iso(info.get("start"))
    result.end = _iso(info.get("end"))
    result.samples = info.get("samples")
    result.collector_version = info.get("collector_version")
    result.warnings = [str(w) for w in info.get("warnings") or []]
    result.rules = [
        {"code": r.code, "status": r.status, "reason": r.reason} for r in analysis.result.rules
    ]
    result.findings = [finding_to_dict(f) for f in analysis.result.findings]
    _add_story(result, analysis, task.rules.config.host_role)

    step = time.perf_counter()
    try:
        from vmreports import render_html

        result.report_html = render_html(analysis)
    except Exception as exc:  # the report module is third code: cost this input only
        raise BatchError(f"report: {_one_line(exc)}") from exc
    result.report = f"{REPORTS_DIR}/{report_name(slug, info.get('start'), input_hash)}"
    timings["report_s"] = round(time.perf_counter() - step, 3)

    step = time.perf_counter()
    parts: dict[str, bytes] = {}
    for name, df in sorted(analysis.dataset.tables.items()):
        if isinstance(df, pd.DataFrame) and len(df.columns) and len(df):
            parts[name] = parquet_bytes(table_to_arrow(df, input_hash))
    result.parts = parts
    timings["parts_s"] = round(time.perf_counter() - step, 3)
    result.status = "ok"


def _add_story(result: TaskResult, analysis: Any, role: str | None) -> None:
    """What the fleet keeps of one input's story: its incidents (one compact dict each, with
    the root cause's grouping key), the host's root cause, and the settings drift compares."""
    from vmanalyze.fleet_story import DRIFT_SETTINGS, root_cause
    from vmanalyze.results import incident_to_dict

    findings = result.findings
    processes = analysis.dataset.tables.get("processes")
    cmdlines: dict[int, str] = {}
    if isinstance(processes, pd.DataFrame) and {"pid", "cmdline"} <= set(processes.columns):
        for pid, cmdline in zip(processes["pid"], processes["cmdline"], strict=True):
            if isinstance(cmdline, str) and pd.notna(pid):
                cmdlines[int(pid)] = cmdline
    docs = [incident_to_dict(i) for i in analysis.result.story.incidents]
    incidents = []
    for doc in docs:
        cause = root_cause([doc], findings, cmdlines)
        incidents.append(
            {
                "root_code": doc["root"]["code"],
                "root_subject": doc["root"]["subject"],
                "start": doc["root"]["time"],
                "severity": doc["severity"],
                "confidence": doc["confidence"],
                "explains": [n["code"] for n in doc["explains"]],
                "headline": doc["headline"],
                "story": doc["story"],
                "root_key": cause["key"] if cause else None,
                "root_label": cause["label"] if cause else None,
            }
        )
    host = analysis.dataset.host
    host_cause = root_cause(docs[:1], findings, cmdlines)
    settings: dict[str, Any] = {k: _setting(host.get(k)) for k in DRIFT_SETTINGS}
    settings["role"] = role or (host.get("role") if isinstance(host.get("role"), str) else None)
    result.incidents = incidents
    result.root_key = host_cause["key"] if host_cause else None
    result.root_label = host_cause["label"] if host_cause else None
    result.settings = settings


def _setting(value: Any) -> str | int | float | None:
    """A host fact as plain JSON (numpy numbers to Python's, NaN to None)."""
    if value is None or isinstance(value, str | bool):
        return value if not isinstance(value, bool) else int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def failed_result(task: Task, error: str, attempts: int = 1) -> TaskResult:
    """The result of a task whose worker could not return one (it died, it was lost)."""
    result = _base_result(task)
    result.error, result.attempts, result.worker = error, attempts, None
    return result
