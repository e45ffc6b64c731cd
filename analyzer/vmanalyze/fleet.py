"""Fleet analysis: many inputs on local cores or on a Dask cluster (``vmanalyze batch``).

The work is split so that it runs the same way in a local process pool and on a Dask
cluster:

- :func:`discover_inputs` expands the command-line arguments (files, directories, globs)
  into input paths, on the client;
- :func:`run_task` runs in a worker process: it hashes one input, analyzes it with
  :func:`vmanalyze.analysis.analyze` (so a host gives the same findings alone and in a
  batch), renders its HTML report and turns its tables into Parquet bytes. It never raises
  for a bad input: it returns a small result dict whose ``status`` is ``ok``, ``failed``
  (with a one-line ``error``) or ``skipped`` (already done in the output directory);
- :func:`execute_local` (``concurrent.futures`` process pool, a worker that dies is retried
  once alone, then the input fails) and :func:`execute_dask` (``dask.distributed``,
  ``retries=1``) yield those results as they finish;
- :class:`FleetWriter` is the only writer of the output directory: it stores each result
  atomically as it arrives (table parts and report first, ``.state/<hash>.json`` last, so
  an interrupted batch resumes), and :meth:`FleetWriter.assemble` builds the fleet-level
  files from every input done in the directory: ``findings.parquet``, ``inputs.parquet``,
  ``fleet.html`` and a ``tables/<table>/host=<host>/<hash>.parquet`` dataset whose parts
  share one schema per table.

Workers only need to *read* the inputs: everything they produce travels back to the
client, which writes it. See docs/fleet.md.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import resource
import signal
import socket
import stat
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vmanalyze import __version__
from vmanalyze.config import Config
from vmanalyze.errors import VmanalyzeError
from vmanalyze.inputs import Limits
from vmanalyze.registry import ENV_VAR, Registry, discover
from vmanalyze.rule import Severity
from vmanalyze.safeio import atomic_write, file_kind, make_dirs, open_regular
from vmanalyze.tables import null_column_type

__all__ = [
    "ARCHIVE_SUFFIXES",
    "BatchError",
    "FleetWriter",
    "RuleSpec",
    "Task",
    "discover_inputs",
    "execute_dask",
    "execute_local",
    "run_task",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2")
STATE_DIR = ".state"
REPORTS_DIR = "reports"
TABLES_DIR = "tables"
#: A task whose worker dies this many times is recorded as failed (so: retried once).
MAX_WORKER_DEATHS = 2
#: Worker processes are replaced after this many inputs, which bounds their memory.
MAX_TASKS_PER_CHILD = 10
#: Test hook: an input whose file name contains this variable's value makes the worker exit
#: abruptly (``os._exit``), as if it were killed. Read on the client, carried by the task.
CRASH_TEST_ENV = "VMANALYZE_BATCH_CRASH_TEST"
#: Test hook: an input whose file name contains this variable's value makes the worker
#: hang with its alarm signal blocked, as if stuck in a long call into C.
HANG_TEST_ENV = "VMANALYZE_BATCH_HANG_TEST"
#: A local worker still running this long after its input's --timeout is killed.
HARD_TIMEOUT_GRACE_S = 10.0
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_HASH = re.compile(r"^(dir-)?[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_REPORT = re.compile(REPORTS_DIR + r"/[A-Za-z0-9_][A-Za-z0-9._-]*\.html")


class BatchError(VmanalyzeError):
    """The batch as a whole cannot run (no inputs, no Dask, scheduler unreachable...)."""


class InputTimeout(BaseException):
    """One input took longer than ``--timeout`` (raised inside the worker analyzing it).

    Not an ``Exception``, like ``KeyboardInterrupt``: the code it interrupts (the engine
    records a rule that raises as an error and goes on) must not swallow it."""


# -- inputs ------------------------------------------------------------------------------


def is_input_dir(path: str) -> bool:
    """A directory is an input itself when it holds ``proc/`` or ``sos_commands/``."""
    return os.path.isdir(os.path.join(path, "proc")) or os.path.isdir(
        os.path.join(path, "sos_commands")
    )


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _regular_or_refused(path: str, refused: list[tuple[str, str]]) -> bool:
    """True for a regular file (links followed); a FIFO, device or socket goes to
    ``refused`` with its reason, unopened (opening a FIFO would wait for a writer)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return True
    if not stat.S_ISDIR(st.st_mode):
        refused.append((path, f"{file_kind(st.st_mode)}, not a bundle: skipped"))
    return False


def _search(directory: str, refused: list[tuple[str, str]]) -> Iterator[str]:
    """Bundles, sosreport archives and extracted inputs under ``directory`` (no links)."""
    if is_input_dir(directory):
        yield directory
        return
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        keep = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if name.startswith("."):
                continue  # .state/, .git/, spools: never inputs
            if is_input_dir(full):
                yield full
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if (
                _is_archive(name)
                and not os.path.islink(full)
                and _regular_or_refused(full, refused)
            ):
                yield full


def discover_inputs(
    args: Iterable[str],
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Expand files, directories and globs into input paths; also return what matched
    nothing, and the paths refused with their reason (FIFOs, devices, sockets: never opened).

    A file given by name is an input whatever its name (it fails later if it is not one); a
    directory is an input if it holds ``proc/`` or ``sos_commands/``, else it is searched
    for ``*.tar.gz``, ``*.tgz``, ``*.tar.xz``, ``*.tar.bz2`` and input directories. A path
    that does not exist here is kept as is: on a Dask cluster it may exist on the workers.
    Duplicates (the same real path twice) are dropped; the order is kept.
    """
    found: list[str] = []
    unmatched: list[str] = []
    refused: list[tuple[str, str]] = []
    for arg in args:
        if glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                unmatched.append(arg)
            for match in matches:
                if os.path.isdir(match):
                    found.extend(_search(match, refused))
                elif _regular_or_refused(match, refused):
                    found.append(match)
        elif os.path.isdir(arg):
            before = len(found)
            found.extend(_search(arg, refused))
            if len(found) == before:
                unmatched.append(arg)
        elif not os.path.exists(arg) or _regular_or_refused(arg, refused):
            found.append(arg)
    seen: set[str] = set()
    unique = []
    for path in found:
        key = os.path.realpath(path) if os.path.exists(path) else path
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, unmatched, refused


def error_without_path(path: object, error: object) -> str | None:
    """An input's error without the input's path in front (shown next to the path already).

    >>> error_without_path("/b/x.tar.gz", "/b/x.tar.gz: not a tar archive")
    'not a tar archive'
    >>> error_without_path("/b/x.tar.gz", "worker died"), error_without_path("/b/x", None)
    ('worker died', None)
    """
    if error is None:
        return None
    text, prefix = str(error), f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def split_duplicates(paths: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The inputs to analyze, and ``(duplicate, first)`` pairs of identical content.

    Only regular files that share their size with another input are hashed (identical
    content has the same size), so a fleet of distinct bundles costs one ``stat`` each.
    Anything that cannot be examined here (a path only Dask workers see, a FIFO, a
    directory) is kept and analyzed as given.
    """
    from vmanalyze.dataset import content_hash

    by_size: dict[int, list[str]] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            by_size.setdefault(st.st_size, []).append(path)
    first_of: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        for path in group:
            try:
                digest = content_hash(path)
            except OSError:
                continue
            if digest in first_of:
                duplicates[path] = first_of[digest]
            else:
                first_of[digest] = path
    unique = [p for p in paths if p not in duplicates]
    return unique, [(p, duplicates[p]) for p in paths if p in duplicates]


# -- rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """What a worker needs to load the same rules as the client (rules don't pickle).

    ``config`` is the resolved configuration (the file was read on the client, so workers
    don't need it); ``plugins`` the third-party packs to load (``None``: all).
    """

    config: Config = field(default_factory=Config)
    plugins: tuple[str, ...] | None = None
    plugins_source: str = "--plugins"

    @classmethod
    def resolve(cls, config: Config, plugins: str | None) -> RuleSpec:
        """The packs :func:`vmanalyze.cli.options.prepare_rules` would load, made explicit."""
        from vmanalyze.config import split_list

        if plugins is not None:
            return cls(config, split_list(plugins) or (), "--plugins")
        if ENV_VAR in os.environ:
            return cls(config, split_list(os.environ[ENV_VAR]) or (), ENV_VAR)
        if config.plugins is not None:
            origin = f"{config.file.origin} plugins"
            return cls(config, tuple(config.plugins), origin)
        return cls(config, None)

    def registry(self) -> Registry:
        key = repr(self)
        cached = _REGISTRIES.get(key)
        if cached is None:
            cached = discover(only=self.plugins, only_source=self.plugins_source)
            _REGISTRIES[key] = cached
        return cached

    def key(self, registry: Registry | None = None) -> str:
        """A digest of the selected rules, their packages and settings: results made with
        another key are redone."""
        registry = registry or self.registry()
        selected = [
            f"{e.code}={e.package_version}" for e in registry if self.config.is_selected(e.code)
        ]
        errors = [e.message for e in registry.errors]
        doc = {
            "rules": selected,
            "errors": errors,
            "settings": {k: dict(v) for k, v in sorted(self.config.rule_settings.items())},
            "role": self.config.host_role,
        }
        text = json.dumps(doc, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_REGISTRIES: dict[str, Registry] = {}


def rule_catalog(spec: RuleSpec) -> list[dict[str, Any]]:
    """Code, name, default severity and summary of each selected rule (for fleet.html)."""
    registry = spec.registry()
    return [
        {
            "code": e.code,
            "name": e.rule.name,
            "severity": e.rule.severity.value,
            "summary": e.rule.summary,
            "package": e.package_version,
        }
        for e in registry
        if spec.config.is_selected(e.code)
    ]


# -- the worker side ---------------------------------------------------------------------


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
    crash_if: str | None = None
    hang_if: str | None = None
    #: Seconds this input may take (``--timeout``); None: no limit.
    timeout: float | None = None


def host_slug(hostname: object) -> str:
    """A host name safe as a file name and a Hive partition value (``[A-Za-z0-9._-]``)."""
    text = str(hostname) if hostname not in (None, "") else "unknown"
    slug = _SLUG.sub("_", text).strip("._-")[:64]
    return slug or "unknown"


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


_JSON = json.JSONEncoder(default=str, sort_keys=True)


def _release_memory() -> None:
    """Give back what the input used before the next one (long-lived Dask workers too)."""
    gc.collect()
    with contextlib.suppress(Exception):
        pa.default_memory_pool().release_unused()


def _jsonish(value: Any) -> Any:
    """Lists, arrays and dicts as JSON text; bytes as text; anything else unchanged."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return _JSON.encode(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _jsonish_column(values: list[Any]) -> list[Any]:
    """:func:`_jsonish` of each value; the same list (often ``[]`` or ``[0, 1]``) once."""
    seen: dict[Any, Any] = {}
    out = []
    for value in values:
        key: Any = None
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iufb":
            key = (value.dtype.kind, value.tobytes())
        elif isinstance(value, list | tuple):
            try:
                key = ("list", tuple(value))
                hash(key)
            except TypeError:
                key = None
        if key is None:
            out.append(_jsonish(value))
            continue
        if key not in seen:
            seen[key] = _jsonish(value)
        out.append(seen[key])
    return out


def _normalize_type(name: str, dtype: pa.DataType) -> pa.DataType:
    """The type every reader (pandas, pyarrow, DuckDB, Spark) agrees on."""
    if pa.types.is_dictionary(dtype):
        return _normalize_type(name, dtype.value_type)
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_date(dtype):
        return pa.date32()
    if pa.types.is_null(dtype):
        return null_column_type(name)
    if pa.types.is_integer(dtype):
        return pa.int64()
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype) or pa.types.is_duration(dtype):
        return pa.float64()
    if pa.types.is_boolean(dtype):
        return pa.bool_()
    return pa.string()


def _cast_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_duration(column.type) and pa.types.is_floating(target):
        micro = column.cast(pa.duration("us"), safe=False).cast(pa.int64())
        return pc.divide(micro.cast(pa.float64()), 1e6)
    try:
        return column.cast(target, safe=not pa.types.is_timestamp(target))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Values that do not fit (e.g. uint64 beyond int64): keep them as text.
        values = [None if v is None else str(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, type=pa.string())])


def table_to_arrow(df: pd.DataFrame, input_hash: str) -> pa.Table:
    """One table of one input as Arrow, with the batch's column conventions.

    Timestamps are microseconds UTC, integers int64, floats float64, lists and dicts JSON
    text, all-null columns int64 (sizes, counts) or string; an ``input_hash`` column is
    added (the partition column ``host`` comes from the directory name).
    """
    frame = df.reset_index(drop=True).copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    if "host" in frame.columns:
        frame = frame.rename(columns={"host": "host_value"})
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = pd.Series(_jsonish_column(frame[col].tolist()), dtype=object)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    fields = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        target = _normalize_type(name, column.type)
        columns.append(_cast_column(column, target))
        fields.append(pa.field(name, target))
    columns.append(pa.chunked_array([pa.array([input_hash] * table.num_rows, pa.string())]))
    fields.append(pa.field("input_hash", pa.string()))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _base_result(task: Task) -> dict[str, Any]:
    return {
        "input": task.path,
        "name": os.path.basename(os.path.normpath(task.path)),
        "status": "failed",
        "error": None,
        "input_hash": None,
        "host": None,
        "host_partition": None,
        "kind": None,
        "start": None,
        "end": None,
        "samples": None,
        "collector_version": None,
        "warnings": [],
        "timings": {},
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "peak_rss_bytes": None,
        "analyzer_version": __version__,
        "rules_key": task.rules_key,
        "attempts": 1,
        "findings": [],
        "rules": [],
        "report": None,
        "report_html": None,
        "parts": {},
    }


def run_task(task: Task) -> dict[str, Any]:
    """Analyze one input in a worker; return its result dict (never raises for bad input)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = _base_result(task)
    timings: dict[str, float] = result["timings"]
    try:
        with time_limit(task.timeout):
            _analyze_into(task, result, started)
    except (Exception, InputTimeout) as exc:  # one input's failure must never stop the batch
        result["status"] = "failed"
        result["error"] = _one_line(exc)
        if isinstance(exc, InputTimeout):
            result["error"] = f"timed out after {task.timeout:g} s (--timeout)"
        result["findings"] = []
        result["parts"] = {}
        result["report_html"] = None
        result["report"] = None
    finally:
        timings["total_s"] = round(time.perf_counter() - started, 3)
        timings["cpu_s"] = round(time.process_time() - cpu_started, 3)
        _release_memory()  # the tables are unreachable now that _analyze_into returned
        result["peak_rss_bytes"] = _peak_rss()
    return result


def _analyze_into(task: Task, result: dict[str, Any], started: float) -> None:
    """The body of :func:`run_task`: fills ``result``; raises for a bad input."""
    timings: dict[str, float] = result["timings"]
    if task.version != __version__:
        raise BatchError(
            f"this worker runs vmanalyze {__version__}, the client {task.version}: "
            "install the same version on the cluster"
        )
    if task.crash_if and task.crash_if in os.path.basename(task.path):
        os._exit(70)  # test hook (CRASH_TEST_ENV): a worker dying mid-task
    if task.hang_if and task.hang_if in os.path.basename(task.path):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # test hook (HANG_TEST_ENV)
        time.sleep(3600)
    from vmanalyze.analysis import analyze
    from vmanalyze.dataset import content_hash
    from vmanalyze.results import finding_to_dict

    input_hash = content_hash(task.path)  # refuses a FIFO or device unopened
    result["input_hash"] = input_hash
    timings["hash_s"] = round(time.perf_counter() - started, 3)
    if input_hash in task.done:
        result["status"] = "skipped"
        return

    analysis = analyze(
        task.path,
        registry=task.rules.registry(),
        config=task.rules.config,
        cache=task.cache,
        limits=task.limits,
        input_hash=input_hash,
    )
    timings.update(analysis.timings)
    info = analysis.input_info
    host = analysis.dataset.host
    slug = host_slug(host.get("hostname"))
    result.update(
        host=host.get("hostname"),
        host_partition=slug,
        kind=info.get("kind"),
        start=_iso(info.get("start")),
        end=_iso(info.get("end")),
        samples=info.get("samples"),
        collector_version=info.get("collector_version"),
        warnings=[str(w) for w in info.get("warnings") or []],
        rules=[
            {"code": r.code, "status": r.status, "reason": r.reason} for r in analysis.result.rules
        ],
    )
    result["findings"] = [finding_to_dict(f) for f in analysis.result.findings]
    result.update(_story_of(analysis, result["findings"], task.rules.config.host_role))

    step = time.perf_counter()
    try:
        from vmreports import render_html

        result["report_html"] = render_html(analysis)
    except Exception as exc:  # the report module is third code: cost this input only
        raise BatchError(f"report: {_one_line(exc)}") from exc
    result["report"] = f"{REPORTS_DIR}/{report_name(slug, info.get('start'), input_hash)}"
    timings["report_s"] = round(time.perf_counter() - step, 3)

    step = time.perf_counter()
    parts: dict[str, bytes] = {}
    for name, df in sorted(analysis.dataset.tables.items()):
        if isinstance(df, pd.DataFrame) and len(df.columns) and len(df):
            parts[name] = _parquet_bytes(table_to_arrow(df, input_hash))
    result["parts"] = parts
    timings["parts_s"] = round(time.perf_counter() - step, 3)
    result["status"] = "ok"


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`InputTimeout` in this thread if the block takes more than ``seconds``.

    In a process's main thread (local workers) a ``SIGALRM`` timer interrupts the block,
    blocking system calls included. In another thread (a Dask worker runs tasks in a
    thread pool) a timer thread raises the exception asynchronously in this one: it lands
    at the block's next Python instruction, so it stops Python code, not one long call
    into C. ``None`` or 0: no limit.
    """
    if not seconds:
        yield
        return
    if threading.current_thread() is threading.main_thread():

        def on_alarm(signum: int, frame: Any) -> None:
            raise InputTimeout(f"timed out after {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    import ctypes

    target = threading.get_ident()
    lock = threading.Lock()
    running = [True]

    def fire() -> None:
        with lock:
            if running[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(InputTimeout)
                )

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            running[0] = False
        timer.cancel()


def _story_of(analysis: Any, findings: list[dict[str, Any]], role: str | None) -> dict[str, Any]:
    """What the fleet keeps of one input's story: its incidents (one compact dict each, with
    the root cause's grouping key), the host's root cause, and the settings drift compares."""
    from vmanalyze.fleet_story import DRIFT_SETTINGS, root_cause
    from vmanalyze.results import incident_to_dict

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
    return {
        "incidents": incidents,
        "root_key": host_cause["key"] if host_cause else None,
        "root_label": host_cause["label"] if host_cause else None,
        "settings": settings,
    }


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


def failed_result(task: Task, error: str, attempts: int = 1) -> dict[str, Any]:
    """The result of a task whose worker could not return one (it died, it was lost)."""
    result = _base_result(task)
    result.update(error=error, attempts=attempts, worker=None)
    return result


# -- executors ---------------------------------------------------------------------------


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    # forkserver: workers start from a clean process that already imported the analyzer
    # (fast, and no fork of the client's threads); max_tasks_per_child bounds their memory.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vmanalyze.fleet", "vmanalyze.analysis", "pyarrow.parquet"])
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, max_tasks_per_child=MAX_TASKS_PER_CHILD
    )


def _death_cause(pool: ProcessPoolExecutor) -> str:
    codes = []
    with contextlib.suppress(Exception):
        for process in list(getattr(pool, "_processes", {}).values()):
            code = process.exitcode
            if code is not None and code != 0:
                codes.append(code)
    for code in codes:
        if code < 0:
            import signal

            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
    if codes:
        return f"exit status {codes[0]}"
    return "killed or out of memory"


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes (one of them is stuck and ignores its alarm)."""
    with contextlib.suppress(Exception):
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()


def execute_local(tasks: Sequence[Task], jobs: int) -> Iterator[dict[str, Any]]:
    """Run ``tasks`` on ``jobs`` local processes; yield each result as it finishes.

    At most ``jobs`` tasks are in flight, so when a worker dies the tasks that were running
    are known. Those are retried one at a time (alone, so a second death is that input's
    own); a task whose worker dies :data:`MAX_WORKER_DEATHS` times is yielded as failed.

    A task with a ``timeout`` stops itself (:func:`time_limit`); one still running
    :data:`HARD_TIMEOUT_GRACE_S` later is stuck where the alarm cannot reach (a long call
    into C): the workers are killed, that input fails as timed out, and the tasks that ran
    beside it run again, not charged.
    """
    jobs = max(1, jobs)
    queue: deque[int] = deque(range(len(tasks)))
    isolated: deque[int] = deque()
    deaths = [0] * len(tasks)
    running: dict[Future[dict[str, Any]], int] = {}
    deadline: dict[Future[dict[str, Any]], float] = {}
    pool = _new_pool(jobs)

    def submit(index: int) -> None:
        future = pool.submit(run_task, tasks[index])
        running[future] = index
        limit = tasks[index].timeout
        if limit:
            deadline[future] = time.monotonic() + limit + HARD_TIMEOUT_GRACE_S

    try:
        while queue or isolated or running:
            if isolated:
                if not running:
                    submit(isolated.popleft())
            else:
                while queue and len(running) < jobs:
                    submit(queue.popleft())
            pending = [deadline[f] for f in running if f in deadline]
            wait_s = max(0.0, min(pending) - time.monotonic()) if pending else None
            done, _ = wait(running, timeout=wait_s, return_when=FIRST_COMPLETED)
            broken: list[int] = []
            for future in done:
                index = running.pop(future)
                deadline.pop(future, None)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(index)
                    continue
                except Exception as exc:  # e.g. a result that would not pickle
                    result = failed_result(tasks[index], f"worker error: {_one_line(exc)}")
                result["attempts"] = deaths[index] + 1
                yield result
            now = time.monotonic()
            stuck = [f for f in running if not broken and deadline.get(f, now + 1) <= now]
            if stuck:
                _kill_workers(pool)
                for future in stuck:
                    index = running.pop(future)
                    yield failed_result(
                        tasks[index],
                        f"timed out after {tasks[index].timeout:g} s (--timeout); the worker "
                        "did not stop and was killed",
                        attempts=deaths[index] + 1,
                    )
                for index in running.values():  # lost with the pool, through no fault
                    (isolated if deaths[index] else queue).appendleft(index)
                running.clear()
                deadline.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = _new_pool(jobs)
                continue
            if not broken:
                continue
            broken.extend(running.values())  # the pool is gone: whatever ran is lost too
            running.clear()
            deadline.clear()
            cause = _death_cause(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            pool = _new_pool(jobs)
            for index in broken:
                deaths[index] += 1
                if deaths[index] >= MAX_WORKER_DEATHS:
                    yield failed_result(
                        tasks[index],
                        f"the worker process died {deaths[index]} times while analyzing this "
                        f"input (last: {cause}); not retried again",
                        attempts=deaths[index],
                    )
                else:
                    isolated.append(index)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def execute_dask(tasks: Sequence[Task], address: str) -> Iterator[dict[str, Any]]:
    """Run ``tasks`` on the Dask cluster at ``address``; yield each result as it finishes.

    Each task is submitted with ``retries=1``; a task whose workers keep dying ends with
    ``KilledWorker`` (after the scheduler's ``allowed-failures``) and is yielded as failed.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise BatchError(
            f"--scheduler needs dask.distributed ({exc.name or exc} is not installed): "
            "pip install 'vmtriage[dask]'"
        ) from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(exc)}"
        ) from None
    try:
        run = uuid.uuid4().hex[:8]
        futures = {
            client.submit(run_task, task, key=f"vmanalyze-{run}-{i}", pure=False, retries=1): i
            for i, task in enumerate(tasks)
        }
        for future in as_completed(list(futures), loop=client.loop):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                name = type(exc).__name__
                text = " ".join(str(exc).split())[:300]
                result = failed_result(
                    tasks[index], f"{name}: {text} (the worker died or was lost)", attempts=2
                )
            yield result
            future.release()
    finally:
        client.close()


# -- the writer: per-input files, then the fleet ------------------------------------------


def _atomic_write(path: Path, data: bytes, root: Path | None = None) -> None:
    """Write ``path`` atomically (:func:`vmanalyze.safeio.atomic_write`); with ``root``, its
    missing directories below ``root`` are created and none may be a link or not ours."""
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        make_dirs(path.parent, root)
    atomic_write(path, data)


_STATE_KEYS = (
    "input",
    "name",
    "status",
    "error",
    "input_hash",
    "host",
    "host_partition",
    "kind",
    "start",
    "end",
    "samples",
    "collector_version",
    "warnings",
    "timings",
    "worker",
    "peak_rss_bytes",
    "analyzer_version",
    "rules_key",
    "attempts",
    "findings",
    "rules",
    "report",
    "incidents",
    "root_key",
    "root_label",
    "settings",
)

FINDINGS_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("input", pa.string()),
        ("input_hash", pa.string()),
        ("collection_start", pa.timestamp("us", tz="UTC")),
        ("code", pa.string()),
        ("name", pa.string()),
        ("severity", pa.string()),
        ("subject", pa.string()),
        ("message", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("end", pa.timestamp("us", tz="UTC")),
        ("evidence", pa.string()),
        ("remediation", pa.string()),
    ]
)

INCIDENTS_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("input", pa.string()),
        ("input_hash", pa.string()),
        ("collection_start", pa.timestamp("us", tz="UTC")),
        ("incident", pa.int64()),
        ("root_code", pa.string()),
        ("root_subject", pa.string()),
        ("root_cause", pa.string()),
        ("root_key", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("severity", pa.string()),
        ("confidence", pa.float64()),
        ("explains", pa.list_(pa.string())),
        ("headline", pa.string()),
        ("story", pa.string()),
    ]
)

DRIFT_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("role", pa.string()),
        ("setting", pa.string()),
        ("value", pa.string()),
        ("majority", pa.string()),
        ("majority_hosts", pa.int64()),
        ("role_hosts", pa.int64()),
    ]
)

INPUTS_SCHEMA = pa.schema(
    [
        ("input", pa.string()),
        ("name", pa.string()),
        ("input_hash", pa.string()),
        ("host", pa.string()),
        ("host_partition", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("end", pa.timestamp("us", tz="UTC")),
        ("samples", pa.int64()),
        ("findings", pa.int64()),
        ("worst_severity", pa.string()),
        ("root_cause", pa.string()),
        ("warnings", pa.int64()),
        ("report", pa.string()),
        ("hash_s", pa.float64()),
        ("load_s", pa.float64()),
        ("rules_s", pa.float64()),
        ("report_s", pa.float64()),
        ("parts_s", pa.float64()),
        ("total_s", pa.float64()),
        ("cpu_s", pa.float64()),
        ("attempts", pa.int64()),
        ("worker", pa.string()),
        ("peak_rss_bytes", pa.int64()),
        ("analyzer_version", pa.string()),
        ("collector_version", pa.string()),
        ("rules_key", pa.string()),
        ("analyzed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def worst_severity(findings: Iterable[Mapping[str, Any]]) -> str | None:
    worst: Severity | None = None
    for finding in findings:
        severity = Severity.parse(finding.get("severity") or "info")
        if worst is None or severity > worst:
            worst = severity
    return None if worst is None else worst.value


@dataclass
class FleetFiles:
    """What :meth:`FleetWriter.assemble` wrote, and what it left out."""

    inputs: int = 0
    ok: int = 0
    #: distinct host names among the inputs analyzed (a host captured twice counts once)
    hosts: int = 0
    failed: int = 0
    findings: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    rewritten_parts: int = 0
    stale: int = 0
    fleet_html: Path | None = None


class FleetWriter:
    """The only writer of the output directory (the workers just return results)."""

    def __init__(self, out_dir: str | os.PathLike[str], *, version: str, rules_key: str) -> None:
        self.out = Path(out_dir)
        self.version = version
        self.rules_key = rules_key
        self.state_dir = self.out / STATE_DIR
        self.out.mkdir(parents=True, exist_ok=True)
        make_dirs(self.state_dir, self.out)
        self.failures: list[dict[str, Any]] = []

    # -- resume ---------------------------------------------------------------------------
    def _states(self) -> Iterator[dict[str, Any]]:
        """The valid resume states (see :func:`state_problem`); any other is as if that
        input was never done, so it is analyzed again and its state rewritten."""
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                with open_regular(path, follow=False) as f:
                    raw = f.read(MAX_STATE_BYTES + 1)
                if len(raw) > MAX_STATE_BYTES:
                    continue
                state = json.loads(raw.decode("utf-8"))
            except (OSError, ValueError, RecursionError):
                continue
            if state_problem(state, path.stem) is None:
                yield state

    def _current(self, state: Mapping[str, Any]) -> bool:
        return (
            state.get("status") == "ok"
            and state.get("analyzer_version") == self.version
            and state.get("rules_key") == self.rules_key
        )

    def _other_rules(self, state: Mapping[str, Any]) -> bool:
        return (
            state.get("status") == "ok"
            and state.get("analyzer_version") == self.version
            and state.get("rules_key") != self.rules_key
        )

    def other_rule_results(self) -> int:
        """Inputs done here by this analyzer version, but with another rule selection."""
        return sum(1 for s in self._states() if self._other_rules(s))

    def drop_other_rule_results(self) -> int:
        """Forget the inputs done with another rule selection: state, table parts, report."""
        dropped = 0
        for state in list(self._states()):
            if not self._other_rules(state):
                continue
            input_hash = str(state["input_hash"])
            report = state.get("report")
            if report is not None and _REPORT.fullmatch(str(report)):
                (self.out / str(report)).unlink(missing_ok=True)
            self._remove_parts(input_hash)
            (self.state_dir / f"{input_hash}.json").unlink(missing_ok=True)
            dropped += 1
        return dropped

    def done_hashes(self) -> frozenset[str]:
        """Inputs already analyzed here by this analyzer version with the same rules."""
        return frozenset(s["input_hash"] for s in self._states() if self._current(s))

    # -- per input ------------------------------------------------------------------------
    def _remove_parts(self, input_hash: str) -> None:
        tables = self.out / TABLES_DIR
        if not tables.is_dir():
            return
        for part in tables.glob(f"*/host=*/{input_hash}.parquet"):
            part.unlink(missing_ok=True)

    def store(self, result: Mapping[str, Any]) -> None:
        """Write one input's report, table parts and (last) its state, each atomically."""
        if result.get("status") != "ok":
            if result.get("status") == "failed":
                self.failures.append({k: result.get(k) for k in _STATE_KEYS})
            return
        input_hash = str(result["input_hash"])
        if not _HASH.match(input_hash):
            raise ValueError(f"bad input hash {input_hash!r}")
        if not _SAFE_NAME.fullmatch(str(result.get("host_partition"))):
            raise ValueError(f"bad host partition {result.get('host_partition')!r}")
        report = result.get("report")
        if report is not None and not _REPORT.fullmatch(str(report)):
            raise ValueError(f"bad report name {report!r}")
        (self.state_dir / f"{input_hash}.json").unlink(missing_ok=True)
        self._remove_parts(input_hash)
        partition = f"host={result['host_partition']}"
        for table, data in result.get("parts", {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", table):
                continue
            part = self.out / TABLES_DIR / table / partition / f"{input_hash}.parquet"
            _atomic_write(part, data, self.out)
        if result.get("report_html") is not None and result.get("report"):
            html = result["report_html"].encode("utf-8", "replace")
            _atomic_write(self.out / str(result["report"]), html, self.out)
        state = {k: result.get(k) for k in _STATE_KEYS}
        state["tables"] = sorted(result.get("parts", {}))
        state["analyzed_at"] = _iso(pd.Timestamp.now(tz="UTC"))
        text = json.dumps(state, indent=1, sort_keys=True, allow_nan=False, default=str)
        _atomic_write(self.state_dir / f"{input_hash}.json", text.encode("utf-8"), self.out)

    # -- the fleet ------------------------------------------------------------------------
    def assemble(self, rules: Sequence[Mapping[str, Any]]) -> FleetFiles:
        """Build findings.parquet, inputs.parquet, the tables dataset and fleet.html from
        every input done here with this version and these rules, plus this run's failures."""
        files = FleetFiles()
        states = []
        for state in self._states():
            if self._current(state):
                states.append(state)
            elif state.get("status") == "ok":
                files.stale += 1
        ok_hashes = {s["input_hash"] for s in states}
        failures = [f for f in self.failures if f.get("input_hash") not in ok_hashes]
        states.sort(key=lambda s: (str(s.get("host")), str(s.get("start")), s["input_hash"]))

        finding_rows = [
            {
                "host": s.get("host"),
                "input": s.get("input"),
                "input_hash": s["input_hash"],
                "collection_start": _utc(s.get("start")),
                "code": f.get("code"),
                "name": f.get("name"),
                "severity": f.get("severity"),
                "subject": f.get("subject"),
                "message": f.get("message"),
                "start": _utc(f.get("start")),
                "end": _utc(f.get("end")),
                "evidence": json.dumps(f.get("evidence"), sort_keys=True, allow_nan=False),
                "remediation": f.get("remediation"),
            }
            for s in states
            for f in s.get("findings") or []
        ]
        _write_table(self.out / "findings.parquet", finding_rows, FINDINGS_SCHEMA)
        files.findings = len(finding_rows)

        incident_rows = [
            {
                "host": s.get("host"),
                "input": s.get("input"),
                "input_hash": s["input_hash"],
                "collection_start": _utc(s.get("start")),
                "incident": number,
                "root_code": i.get("root_code"),
                "root_subject": i.get("root_subject"),
                "root_cause": i.get("root_label"),
                "root_key": i.get("root_key"),
                "start": _utc(i.get("start")),
                "severity": i.get("severity"),
                "confidence": i.get("confidence"),
                "explains": i.get("explains") or [],
                "headline": i.get("headline"),
                "story": i.get("story"),
            }
            for s in states
            for number, i in enumerate(s.get("incidents") or [])
        ]
        _write_table(self.out / "incidents.parquet", incident_rows, INCIDENTS_SCHEMA)
        from vmanalyze.fleet_story import drift, group_by_root_cause

        causes = group_by_root_cause(
            {
                "host": s.get("host"),
                "input": s.get("input"),
                "root_key": s.get("root_key"),
                "root_label": s.get("root_label"),
            }
            for s in states
        )
        drifted = drift(
            {**(s.get("settings") or {}), "host": s.get("host")}
            for s in sorted(states, key=lambda s: str(s.get("start")))
            if s.get("settings")
        )
        _write_table(self.out / "drift.parquet", drifted, DRIFT_SCHEMA)

        input_rows = [_input_row(s) for s in [*states, *failures]]
        _write_table(self.out / "inputs.parquet", input_rows, INPUTS_SCHEMA)
        files.inputs, files.ok, files.failed = len(input_rows), len(states), len(failures)
        files.hosts = len({s.get("host") for s in states})

        files.tables, files.rewritten_parts = unify_dataset(self.out / TABLES_DIR)

        from vmreports.fleet import render_fleet

        html = render_fleet(
            inputs=[_page_row(s) for s in [*states, *failures]],
            rules=list(rules),
            root_causes=causes,
            drift=drifted,
            generated=_iso(pd.Timestamp.now(tz="UTC")) or "",
            version=self.version,
        )
        files.fleet_html = self.out / "fleet.html"
        _atomic_write(files.fleet_html, html.encode("utf-8"))
        return files


#: A resume state larger than this is not ours (a real one is a few KiB to a few MiB).
MAX_STATE_BYTES = 64 << 20
_TABLE_NAME = re.compile(r"[A-Za-z0-9_]+")
_SEVERITY_VALUES = frozenset(s.value for s in Severity)


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


#: What each field of a resume state (``.state/<hash>.json``) must be.
STATE_FIELDS: dict[str, Callable[[Any], bool]] = {
    "input": _opt(str),
    "name": _opt(str),
    "status": lambda v: v == "ok",
    "error": _opt(str),
    "input_hash": lambda v: isinstance(v, str) and bool(_HASH.match(v)),
    "host": _opt(str),
    "host_partition": lambda v: isinstance(v, str) and bool(_SAFE_NAME.fullmatch(v)),
    "kind": _opt(str),
    "start": _time_text,
    "end": _time_text,
    "samples": lambda v: v is None or (_is_int(v) and v >= 0),
    "collector_version": _opt(str),
    "warnings": _list_of(lambda w: isinstance(w, str)),
    "timings": _timings_ok,
    "worker": _opt(str),
    "peak_rss_bytes": lambda v: v is None or (_is_int(v) and v >= 0),
    "analyzer_version": lambda v: isinstance(v, str),
    "rules_key": lambda v: isinstance(v, str),
    "attempts": lambda v: v is None or (_is_int(v) and v >= 0),
    "findings": _list_of(_finding_ok),
    "rules": _list_of(_rule_ok),
    "report": lambda v: v is None or (isinstance(v, str) and bool(_REPORT.fullmatch(v))),
    "tables": _list_of(lambda t: isinstance(t, str) and bool(_TABLE_NAME.fullmatch(t))),
    "incidents": _list_of(lambda i: _incident_ok(i)),
    "root_key": _opt(str),
    "root_label": _opt(str),
    "settings": lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and all(isinstance(k, str) and _opt((str, int, float))(x) for k, x in v.items())
        )
    ),
    "analyzed_at": _time_text,
}


def state_problem(state: Any, stem: str) -> str | None:
    """Why a resume state read from ``.state/<stem>.json`` is not usable, or None.

    Checked field by field (:data:`STATE_FIELDS`): a state that fails is as if its input
    was never done. The report link must be ``reports/<safe name>.html``, relative.

    >>> state_problem({"input": "/x.tar.gz", "status": "failed"}, "x")
    'status: missing or malformed'
    """
    if not isinstance(state, dict):
        return "not a JSON object"
    for key, check in STATE_FIELDS.items():
        if not check(state.get(key)):
            return f"{key}: missing or malformed"
    if state["input_hash"] != stem:
        return "input_hash does not match the file name"
    return None


def _link(report: Any) -> str | None:
    """A report link for fleet.html: only ``reports/<safe name>.html``, else none.

    >>> _link("reports/db01-x.html"), _link("javascript:alert(1)"), _link("reports/../x.html")
    ('reports/db01-x.html', None, None)
    """
    return report if isinstance(report, str) and _REPORT.fullmatch(report) else None


def _input_row(state: Mapping[str, Any]) -> dict[str, Any]:
    timings = state.get("timings") or {}
    findings = state.get("findings") or []
    return {
        "input": state.get("input"),
        "name": state.get("name"),
        "input_hash": state.get("input_hash"),
        "host": state.get("host"),
        "host_partition": state.get("host_partition"),
        "kind": state.get("kind"),
        "status": state.get("status"),
        "error": state.get("error"),
        "start": _utc(state.get("start")),
        "end": _utc(state.get("end")),
        "samples": state.get("samples"),
        "findings": len(findings) if state.get("status") == "ok" else None,
        "worst_severity": worst_severity(findings),
        "root_cause": state.get("root_label"),
        "warnings": len(state.get("warnings") or []),
        "report": state.get("report"),
        **{k: timings.get(k) for k in ("hash_s", "load_s", "rules_s", "report_s", "parts_s")},
        "total_s": timings.get("total_s"),
        "cpu_s": timings.get("cpu_s"),
        "attempts": state.get("attempts"),
        "worker": state.get("worker"),
        "peak_rss_bytes": state.get("peak_rss_bytes"),
        "analyzer_version": state.get("analyzer_version"),
        "collector_version": state.get("collector_version"),
        "rules_key": state.get("rules_key"),
        "analyzed_at": _utc(state.get("analyzed_at")),
    }


def _page_row(state: Mapping[str, Any]) -> dict[str, Any]:
    cells: dict[str, str] = {}
    for status in state.get("rules") or []:
        cells[str(status.get("code"))] = {"ran": "ok"}.get(str(status.get("status")), "")
        if status.get("status") in ("skipped", "error"):
            cells[str(status.get("code"))] = str(status.get("status"))
    counts: dict[str, int] = {}
    for finding in state.get("findings") or []:
        code = str(finding.get("code"))
        severity = str(finding.get("severity") or "info")
        counts[code] = counts.get(code, 0) + 1
        current = cells.get(code)
        if current not in ("info", "warning", "critical") or Severity.parse(
            severity
        ) > Severity.parse(current):
            cells[code] = severity
    return {
        "id": str(state.get("input_hash") or "")[:12] or None,
        "host": state.get("host"),
        "input": state.get("name") or state.get("input"),
        "path": state.get("input"),
        "kind": state.get("kind"),
        "start": state.get("start"),
        "end": state.get("end"),
        "samples": state.get("samples"),
        "status": state.get("status"),
        "error": error_without_path(state.get("input"), state.get("error")),
        "report": _link(state.get("report")),
        "worst": worst_severity(state.get("findings") or []),
        "findings": len(state.get("findings") or []),
        "cells": cells,
        "counts": counts,
        "reasons": {
            str(r.get("code")): r.get("reason")
            for r in state.get("rules") or []
            if r.get("status") != "ran"
        },
    }


def _write_table(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    arrays = []
    for f in schema:
        values = columns[f.name]
        if pa.types.is_floating(f.type):
            values = [None if v is None or not math.isfinite(v) else float(v) for v in values]
        arrays.append(pa.array(values, type=f.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    _atomic_write(path, buffer.getvalue())


# -- one schema per table ------------------------------------------------------------------

_RANK = {"null": 0, "bool": 1, "int64": 2, "float64": 3}


def _merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two parts' columns unify to: numbers widen, anything else mixed is text."""
    if a == b:
        return a
    kinds = []
    for t in (a, b):
        if pa.types.is_boolean(t):
            kinds.append("bool")
        elif pa.types.is_integer(t):
            kinds.append("int64")
        elif pa.types.is_floating(t):
            kinds.append("float64")
        else:
            kinds.append("other")
    if "other" in kinds or "bool" in kinds:
        return pa.string()
    return pa.float64() if "float64" in kinds else pa.int64()


def unify_dataset(root: Path) -> tuple[dict[str, int], int]:
    """Give every part of each ``tables/<table>`` dataset the same schema.

    The union of the columns (in first-seen order, ``input_hash`` last) with the types
    merged by :func:`_merge_types`; parts that differ are rewritten (atomically) with the
    missing columns as nulls. Returns the parts per table and how many were rewritten.
    """
    counts: dict[str, int] = {}
    rewritten = 0
    if not root.is_dir():
        return counts, rewritten
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        parts = sorted(table_dir.glob("host=*/*.parquet"))
        if not parts:
            continue
        schemas = [(part, pq.read_schema(part)) for part in parts]
        order: list[str] = []
        types: dict[str, pa.DataType] = {}
        for _, schema in schemas:
            for f in schema:
                if f.name not in types:
                    order.append(f.name)
                    types[f.name] = f.type
                else:
                    types[f.name] = _merge_types(types[f.name], f.type)
        if "input_hash" in order:
            order.remove("input_hash")
            order.append("input_hash")
        target = pa.schema([pa.field(name, types[name]) for name in order])
        for part, schema in schemas:
            if schema.remove_metadata().equals(target):
                continue
            table = pq.read_table(part, partitioning=None)
            arrays = []
            for f in target:
                if f.name in table.column_names:
                    arrays.append(_cast_column(table[f.name], f.type))
                else:
                    arrays.append(pa.chunked_array([pa.nulls(table.num_rows, f.type)]))
            fixed = pa.Table.from_arrays(arrays, schema=target)
            _atomic_write(part, _parquet_bytes(fixed))
            rewritten += 1
        counts[table_dir.name] = len(parts)
    return counts, rewritten


# -- the whole batch ------------------------------------------------------------------------


@dataclass
class BatchResult:
    """Counts of one batch run and the files it wrote."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    #: The stored states of the inputs skipped because they were done already.
    earlier: list[dict[str, Any]] = field(default_factory=list)
    files: FleetFiles = field(default_factory=FleetFiles)
    unmatched: list[str] = field(default_factory=list)
    #: (input, the input with the same content that was analyzed instead)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    #: Earlier results made with another rule selection, replaced (with ``force``).
    replaced: int = 0

    def exit_status(self, fail_on: Severity | str | None) -> int:
        """3 when an input failed; else 1 with ``fail_on`` reached by a finding; else 0."""
        if self.failed:
            return 3
        if fail_on is None:
            return 0
        threshold = Severity.parse(fail_on)
        for result in [*self.results, *self.earlier]:
            for finding in result.get("findings") or []:
                if Severity.parse(finding.get("severity") or "info") >= threshold:
                    return 1
        return 0


ProgressCallback = Callable[[dict[str, Any]], None]


def run_batch(
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    rules: RuleSpec,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    cache: bool = False,
    limits: Limits | None = None,
    timeout: float | None = None,
    on_result: ProgressCallback | None = None,
) -> BatchResult:
    """Analyze ``inputs`` into ``out_dir`` (see the module doc); resumable, never aborted by
    one input. ``scheduler``: a Dask scheduler address, else ``jobs`` local processes.
    ``timeout``: seconds each input may take (see :func:`time_limit`)."""
    started = time.perf_counter()
    registry = rules.registry()
    rules_key = rules.key(registry)
    try:
        writer = FleetWriter(out_dir, version=__version__, rules_key=rules_key)
    except OSError as exc:
        where = exc.filename or out_dir
        raise BatchError(f"cannot use {where}: {exc.strerror or exc}") from None
    other = writer.other_rule_results()
    if other and not force:
        raise BatchError(
            f"{out_dir} holds {other} result(s) made with another rule selection (--select, "
            "--ignore, --config or --plugins); mixing them would drop findings. Write to "
            "another -o DIR, or add --force to replace them with this selection"
        )
    replaced = writer.drop_other_rule_results() if other else 0
    inputs, duplicates = split_duplicates(inputs)
    done = frozenset() if force else writer.done_hashes()
    crash_if = os.environ.get(CRASH_TEST_ENV) or None
    tasks = [
        Task(
            path=path if scheduler else os.path.abspath(path),
            rules=rules,
            rules_key=rules_key,
            done=done,
            cache=cache,
            limits=limits or Limits(),
            crash_if=crash_if,
            hang_if=os.environ.get(HANG_TEST_ENV) or None,
            timeout=timeout,
        )
        for path in inputs
    ]
    batch = BatchResult(total=len(tasks), duplicates=duplicates, replaced=replaced)
    if scheduler:
        stream = execute_dask(tasks, scheduler)
    else:
        stream = execute_local(tasks, jobs or os.cpu_count() or 1)
    for result in stream:
        if result.get("status") in ("ok", "failed"):
            try:
                writer.store(result)
            except (OSError, ValueError, TypeError) as exc:
                result = {**result, "status": "failed", "error": f"storing: {_one_line(exc)}"}
                writer.store(result)
        status = result.get("status")
        if status == "skipped":
            batch.skipped += 1
        elif status == "ok":
            batch.ok += 1
        else:
            batch.failed += 1
        light = {k: v for k, v in result.items() if k not in ("parts", "report_html")}
        batch.results.append(light)
        if on_result is not None:
            on_result(light)
    # Skipped inputs count for --fail-on with the findings recorded when they were done.
    skipped = {r.get("input_hash") for r in batch.results if r.get("status") == "skipped"}
    for state in writer._states():
        if state.get("input_hash") in skipped and writer._current(state):
            batch.earlier.append(state)
    batch.files = writer.assemble(rule_catalog(rules))
    batch.wall_s = round(time.perf_counter() - started, 3)
    return batch
