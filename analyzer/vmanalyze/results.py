"""The analysis result: its data types, its JSON (``docs/json-format.md``), its exit status.

:class:`AnalysisResult` is everything one run of the rules produced and everything a reader of
it (the report, the terminal summary, the fleet) needs: findings, one status per rule, the
story, the registered rules' metadata (:class:`RegisteredRule`), the typed host facts and the
sample count. It sits below the engine that fills it and the report that renders it, so
neither has to import the other (docs/architecture.md).

``to_json_dict(result, input_info, host)`` gives exactly::

    {"schema_version": 1, "input": {...}, "host": {...},
     "findings": [{"code", "name", "severity", "subject", "message", "start", "end",
                   "evidence", "remediation"}],
     "rules": [{"code", "status", "reason"}],
     "incidents": [{"root", "severity", "confidence", "headline", "story", "explains",
                    "steps", "links"}],
     "story_errors": [{"name", "message"}]}

``incidents`` and ``story_errors`` were added to schema version 1 (additive: a reader
written before them still reads every other field the same).

Timestamps become ISO-8601 UTC strings (``2026-11-26T14:33:12Z``; naive ones are taken as
UTC), NaN/NaT/NA become ``null``, DataFrames in evidence become lists of records, and numpy
scalars become plain numbers. ``docs/json-format.schema.json`` is the JSON Schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from vmanalyze import exit_codes
from vmanalyze.coverage import Coverage, coverage
from vmanalyze.facts import HostFacts
from vmanalyze.rule import Finding, Rule, Severity
from vmanalyze.story import Event, Incident, Node, Story

if TYPE_CHECKING:
    from vmanalyze.dataset import Dataset

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "AnalysisResult",
    "PluginError",
    "RegisteredRule",
    "RuleStatus",
    "exit_status",
    "finding_to_dict",
    "incident_to_dict",
    "iso_utc",
    "to_json",
    "to_json_dict",
    "to_jsonable",
]

#: Bumped only when a reader written for the old version would misread the new one.
SCHEMA_VERSION = 1

Status = Literal["ran", "skipped", "error"]


@dataclass(frozen=True)
class RegisteredRule:
    """A loaded rule with the distribution (name, version) and entry point it came from."""

    rule: Rule
    package: str
    version: str
    entry_point: str

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def package_version(self) -> str:
        """``vmanalyze-rules-acme 1.2.0``."""
        return f"{self.package} {self.version}"


@dataclass(frozen=True)
class PluginError:
    """A pack (or one of its rules) that could not be loaded; ``message`` names the package."""

    package: str
    version: str
    entry_point: str
    message: str
    traceback: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RuleStatus:
    """What happened to one rule (or, with a prefix as ``code``, to a pack that failed to load)."""

    code: str
    status: Status
    reason: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    findings: int = 0


@dataclass(frozen=True)
class AnalysisResult:
    """Findings (most important first: vmanalyze.ranking) and one status row per rule.

    ``registered``: every rule of the registry the run used, with its package (the report's
    rule names, docs and charts come from here, never from a second plugin discovery);
    ``host``: the host facts the rules saw; ``sample_count``: the samples they saw.
    """

    findings: tuple[Finding, ...]
    rules: tuple[RuleStatus, ...]
    plugin_errors: tuple[PluginError, ...] = ()
    story: Story = Story()
    registered: tuple[RegisteredRule, ...] = ()
    host: HostFacts = field(default_factory=HostFacts)
    sample_count: int = 0

    def status(self, code: str) -> RuleStatus | None:
        """The status row of ``code``, or ``None`` if the rule was not selected."""
        for row in self.rules:
            if row.code == code:
                return row
        return None

    def by_status(self, status: Status) -> tuple[RuleStatus, ...]:
        return tuple(row for row in self.rules if row.status == status)

    def registered_rule(self, code: str) -> RegisteredRule | None:
        """The registered rule ``code`` (its metadata and package), or ``None``."""
        for entry in self.registered:
            if entry.code == code:
                return entry
        return None

    @property
    def coverage(self) -> Coverage:
        """How many rules could not run and why (:mod:`vmanalyze.coverage`)."""
        return coverage(self.rules)

    @property
    def max_severity(self) -> Severity | None:
        """The highest severity among the findings, ``None`` when there are none."""
        return max((f.severity or Severity.INFO for f in self.findings), default=None)


@dataclass
class Analysis:
    """A loaded input and the result of running the rules over it."""

    dataset: Dataset
    result: AnalysisResult
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def input_info(self) -> dict[str, Any]:
        src = self.dataset.source
        facts = self.dataset.facts  # the capture's start and end, taken once (vmanalyze.facts)
        manifest = src.get("manifest") or {}
        return {
            "path": src.get("input"),
            "name": src.get("input_name"),
            "kind": src.get("kind"),
            "sha256": src.get("sha256"),
            "samples": src.get("samples"),
            "start": facts.start,
            "end": facts.end,
            "interval_s": (manifest.get("options") or {}).get("interval_s"),
            "collector_version": (manifest.get("collector") or {}).get("version"),
            "warnings": src.get("warnings", []),
        }

    def to_json_dict(self) -> dict[str, Any]:
        return to_json_dict(self.result, self.input_info, self.result.host.as_dict())


def iso_utc(value: pd.Timestamp | dt.datetime | None) -> str | None:
    """``2026-11-26T14:33:12Z`` (fractional seconds only when present); ``None`` for NaT."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.tz_localize(None).isoformat() + "Z"


def _records(frame: pd.DataFrame) -> list[Any]:
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    columns = [str(c) for c in frame.columns]
    return [
        {col: to_jsonable(value) for col, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types, or raise ``TypeError`` naming the bad type.

    DataFrame -> list of records (a non-default index becomes columns); Series -> object
    (index -> value); timestamps -> ISO-8601 UTC; timedeltas -> seconds (float); NaN, NaT,
    ``pd.NA``, infinities -> ``None``; numpy scalars and arrays -> numbers and lists;
    enums -> their value; paths -> strings; mappings and sequences recursively.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        seconds = pd.Timedelta(value).total_seconds()
        return None if math.isnan(seconds) else seconds
    if isinstance(value, pd.DataFrame):
        return _records(value)
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_jsonable(v) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    raise TypeError(f"{type(value).__name__} value {value!r:.60} is not JSON-serialisable")


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """One finding as the JSON object of ``findings[]``."""
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": (finding.severity or Severity.INFO).value,
        "subject": finding.subject,
        "message": finding.message,
        "start": iso_utc(finding.start),
        "end": iso_utc(finding.end),
        "evidence": to_jsonable(finding.evidence),
        "remediation": finding.remediation,
    }


def _node(node: Node) -> dict[str, Any]:
    return {
        "finding": node.index,
        "code": node.code,
        "subject": node.subject,
        "time": iso_utc(node.start),
    }


def _step(event: Event) -> dict[str, Any]:
    return {
        "time": iso_utc(event.ts),
        "end": iso_utc(event.end),
        "kind": event.kind,
        "subject": event.subject,
        "text": event.text,
        "finding": event.finding,
        "evidence": to_jsonable(event.evidence),
    }


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    """One incident as the JSON object of ``incidents[]`` (``docs/json-format.md``)."""
    return {
        "root": _node(incident.root),
        "severity": incident.severity.value,
        "confidence": incident.confidence,
        "headline": incident.headline,
        "story": incident.story_line(" -> "),
        "explains": [_node(n) for n in incident.explains],
        "steps": [_step(e) for e in incident.steps],
        "links": [
            {
                "type": link.type,
                "cause": _node(link.cause),
                "effect": _node(link.effect),
                "confidence": link.confidence,
                "because": link.because,
                "numbers": to_jsonable(link.numbers),
            }
            for link in incident.links
        ],
    }


def to_json_dict(
    result: AnalysisResult, input_info: Mapping[str, Any], host: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON document for one analysis (schema version 1).

    ``input_info`` describes what was analyzed (path, format, sample count, time range...),
    ``host`` the host facts; both are free-form objects converted with :func:`to_jsonable`.
    Plugin load errors appear in ``rules`` as ``error`` rows whose code is the pack's prefix.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "input": to_jsonable(dict(input_info)),
        "host": to_jsonable(dict(host)),
        "findings": [finding_to_dict(f) for f in result.findings],
        "rules": [
            {"code": status.code, "status": status.status, "reason": status.reason}
            for status in result.rules
        ],
        "coverage": result.coverage.to_dict(),
        "incidents": [incident_to_dict(i) for i in result.story.incidents],
        "story_errors": [{"name": e.name, "message": e.message} for e in result.story.errors],
    }


def to_json(
    result: AnalysisResult,
    input_info: Mapping[str, Any],
    host: Mapping[str, Any],
    *,
    indent: int | None = 2,
) -> str:
    """:func:`to_json_dict` serialised (strict JSON: no NaN)."""
    return json.dumps(
        to_json_dict(result, input_info, host), indent=indent, allow_nan=False, ensure_ascii=False
    )


def exit_status(result: AnalysisResult, fail_on: Severity | str | None) -> int:
    """:data:`~vmanalyze.exit_codes.FINDINGS` when a finding at or above ``fail_on`` exists,
    else :data:`~vmanalyze.exit_codes.OK` (also when ``fail_on`` is None).

    Exit status 2 (bad input or options) is decided by the command line, not here.
    """
    if fail_on is None:
        return exit_codes.OK
    threshold = Severity.parse(fail_on)
    for finding in result.findings:
        if (finding.severity or Severity.INFO) >= threshold:
            return exit_codes.FINDINGS
    return exit_codes.OK
