"""The public rule API: how a diagnosis rule is written.

A rule is a function of one argument, a :class:`RuleContext`, decorated with :func:`rule`. It
yields (or returns) :class:`Finding` objects; yielding nothing means the host passed. The
decorator checks the rule's metadata and documentation when the module is imported, so a badly
declared rule fails at once, with its code in the message, instead of at analysis time::

    import pandas as pd

    from vmanalyze import Finding, Setting, Severity, rule


    @rule(
        code="FLT001",
        name="major-fault-storm",
        severity=Severity.WARNING,
        requires=("vmstat",),
        settings=[Setting("min_majflt_per_s", 500.0, "Sustained major faults per second.")],
    )
    def major_fault_storm(ctx):
        \"\"\"Major page faults sustained above a rate the storage cannot serve.

        ## What it does
        ...
        ## Why is this bad?
        ...
        ## Example
        ...
        ## Remediation
        ...
        ## References
        ...
        \"\"\"
        ctx.require_samples(2)
        vmstat = ctx.tables["vmstat"]
        ...
        yield Finding(subject="host", message="...", evidence={"majflt_per_s": 812.0})

The engine (:mod:`vmanalyze.engine`) checks the required tables before calling the rule, fills
in each finding's code, name and default severity, and records the rule as ``ran``, ``skipped``
or ``error``. Rules are found through the ``vmanalyze.rules`` entry-point group
(:mod:`vmanalyze.registry`); ``docs/writing-rules.md`` shows a complete third-party pack.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

import pandas as pd

from vmanalyze.errors import VmanalyzeError

__all__ = [
    "CHARTS",
    "CODE_RE",
    "HARMS",
    "DOC_SECTIONS",
    "Finding",
    "Rule",
    "RuleContext",
    "RuleDefinitionError",
    "Setting",
    "SettingValue",
    "Severity",
    "Skip",
    "Subject",
    "rule",
]

#: A rule code: a family prefix of 2 to 5 capitals and 3 digits. A code is never reused.
CODE_RE = re.compile(r"^[A-Z]{2,5}[0-9]{3}$")
#: The family prefix of a code; also the name of the entry point that registers the family.
PREFIX_RE = re.compile(r"^[A-Z]{2,5}$")
#: A rule name: kebab-case, naming the problem (``swap-thrashing``), never the fix.
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
#: A table or setting name: snake_case.
IDENT_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: The docstring sections every rule must have, in this order (ruff's rule-doc shape).
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Remediation", "References")
#: The evidence of harm a finding shows, most harmful first (vmanalyze.ranking): something was
#: killed, tasks stalled or the host paged, a measured shortage or trend, a setting alone.
HARMS = ("kill", "stall", "measured", "config")
#: The report's time-series charts (vmreports.charts), by id: what ``@rule(chart=...)`` may
#: name as the chart that shows a rule's evidence, where the report marks its findings.
CHARTS: Mapping[str, str] = MappingProxyType(
    {
        "memory": "memory use (meminfo)",
        "faults": "page faults per second (vmstat)",
        "swap": "swap-in and swap-out (vmstat)",
        "psi": "memory pressure stalls (PSI)",
        "numa": "NUMA allocations per node (numastat)",
        "numa_free": "free memory per NUMA node",
        "thp": "transparent huge pages (vmstat)",
        "commit": "committed memory against the commit limit (meminfo)",
    }
)

_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
_SUBJECT_RE = re.compile(
    r"^(?:host"
    r"|node:[0-9]+"
    r"|process:[0-9]+(?::.+)?"
    r"|cgroup:/.*"
    r"|[a-z][a-z0-9_-]*:.+)$",
    re.DOTALL,
)


class RuleDefinitionError(VmanalyzeError):
    """A rule is declared wrongly (bad code, missing doc section...): raised at import time."""


class Skip(Exception):  # noqa: N818 - a control-flow signal, not an error (house style H)
    """Raised (or returned) by a rule that cannot judge this input, with the reason.

    The engine records the rule as ``skipped`` with ``reason``; findings it yielded before are
    dropped. Example: ``raise Skip("needs more than one sample")``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Severity(enum.Enum):
    """How bad a finding is. Ordered: ``INFO < WARNING < CRITICAL``."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical."""
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """``Severity.WARNING`` from ``Severity.WARNING``, ``"warning"`` or ``"WARNING"``."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        choices = ", ".join(s.value for s in cls)
        raise ValueError(f"unknown severity {value!r} (choose from {choices})")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __str__(self) -> str:
        return self.value


_SEVERITY_ORDER = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)

#: The value of a setting. TOML gives these types, and nothing else is overridable.
SettingValue: TypeAlias = bool | int | float | str
SettingType: TypeAlias = type[bool] | type[int] | type[float] | type[str]
_SETTING_TYPES: tuple[SettingType, ...] = (bool, int, float, str)


@dataclass(frozen=True)
class Setting:
    """A named, documented threshold of a rule, overridable per host in the config file.

    ``Setting("min_majflt_per_s", 500.0, "Sustained major faults per second ...")``: the type is
    taken from the default unless given (``type=float`` with ``default=500`` also works). In
    ``vmanalyze.toml``: ``[rules.FLT001] min_majflt_per_s = 200``. An ``int`` is accepted for a
    ``float`` setting; nothing else is converted.
    """

    name: str
    default: SettingValue
    doc: str
    type: SettingType | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not IDENT_RE.match(self.name):
            raise RuleDefinitionError(f"setting name {self.name!r} is not snake_case")
        if not isinstance(self.doc, str) or not self.doc.strip():
            raise RuleDefinitionError(f"setting {self.name!r} has no doc")
        kind = self.type if self.type is not None else type(self.default)
        if kind not in _SETTING_TYPES:
            raise RuleDefinitionError(
                f"setting {self.name!r}: type {kind.__name__} is not one of bool, int, float, str"
            )
        object.__setattr__(self, "type", kind)
        try:
            object.__setattr__(self, "default", self.coerce(self.default))
        except ValueError as exc:
            raise RuleDefinitionError(f"setting {self.name!r}: default {exc}") from None

    @property
    def value_type(self) -> SettingType:
        """The setting's type (``float``, ``int``, ``bool`` or ``str``)."""
        assert self.type is not None  # set in __post_init__
        return self.type

    def coerce(self, value: object) -> SettingValue:
        """Return ``value`` as this setting's type, or raise ``ValueError`` saying what's wrong."""
        kind = self.value_type
        if kind is bool:
            if isinstance(value, bool):
                return value
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        elif isinstance(value, str):
            return value
        article = "an" if kind is int else "a"
        raise ValueError(
            f"expected {article} {kind.__name__}, got {value!r} ({type(value).__name__})"
        )


class Subject:
    """Builders for ``Finding.subject`` strings: what a finding is about.

    ``host`` for the whole machine, ``node:1`` for a NUMA node, ``process:1234:postgres`` for a
    process (pid and comm), ``cgroup:/system.slice/x.service`` for a cgroup. Other kinds use the
    same ``kind:value`` shape (``zone:0:Normal``, ``swap:/dev/dm-1``).
    """

    HOST = "host"

    @staticmethod
    def node(node: int) -> str:
        return f"node:{int(node)}"

    @staticmethod
    def process(pid: int, comm: str | None = None) -> str:
        return f"process:{int(pid)}" + (f":{comm}" if comm else "")

    @staticmethod
    def cgroup(path: str) -> str:
        return "cgroup:" + (path if path.startswith("/") else "/" + path)


def _timestamp(value: object, what: str) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value
    if isinstance(value, datetime | str):
        return pd.Timestamp(value)
    raise TypeError(
        f"Finding.{what} must be a pandas Timestamp or None, not {type(value).__name__}"
    )


def _as_utc(ts: pd.Timestamp) -> pd.Timestamp:
    """Naive timestamps are UTC (the tables' convention); aware ones are converted."""
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, about one subject.

    ``message`` states what was seen, with the numbers (``"swap-in 812/s and swap-out 640/s for
    14 min"``); ``remediation`` defaults to the rule's ``## Remediation`` section. ``evidence``
    holds values and small tables (DataFrames or lists of dicts) that back the message; it must
    be JSON-serialisable after conversion (see ``docs/json-format.md``). A rule may raise or
    lower its severity for one finding: ``severity`` other than the rule's needs
    ``severity_reason`` saying why (the engine reports the rule as an error otherwise).
    ``code`` and ``name`` are filled in by the engine.
    """

    message: str
    subject: str = Subject.HOST
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str | None = None
    severity: Severity | None = None
    severity_reason: str | None = None
    code: str | None = None
    name: str | None = None
    #: The evidence of harm this finding shows, for ranking (vmanalyze.ranking): ``kill``,
    #: ``stall``, ``measured`` or ``config``; ``None``: the rule's usual one.
    harm: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.message, str) or not self.message.strip():
            raise ValueError("Finding.message must be a non-empty string")
        if not isinstance(self.subject, str) or not _SUBJECT_RE.match(self.subject):
            raise ValueError(
                f"Finding.subject {self.subject!r} is not 'host', 'node:N', 'process:PID:COMM', "
                "'cgroup:/PATH' or 'kind:value'"
            )
        start = _timestamp(self.start, "start")
        end = _timestamp(self.end, "end")
        if start is not None and end is not None and _as_utc(end) < _as_utc(start):
            raise ValueError(f"Finding.end {end} is before Finding.start {start}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if not isinstance(self.evidence, Mapping) or not all(
            isinstance(k, str) for k in self.evidence
        ):
            raise ValueError("Finding.evidence must be a mapping with string keys")
        if self.severity is not None:
            object.__setattr__(self, "severity", Severity.parse(self.severity))
        elif self.severity_reason:
            raise ValueError("Finding.severity_reason given without Finding.severity")
        if self.harm is not None and self.harm not in HARMS:
            raise ValueError(
                f"Finding.harm {self.harm!r} is not 'kill', 'stall', 'measured' or 'config'"
            )


def _parse_sections(doc: str) -> tuple[str, dict[str, str]]:
    """Split a cleaned docstring into its summary and ``## Heading`` -> body sections."""
    preamble: list[str] = []
    sections: dict[str, list[str]] = {}
    current = preamble
    for line in doc.splitlines():
        match = _HEADING_RE.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
            continue
        current.append(line)
    summary = "\n".join(preamble).strip()
    return summary, {k: "\n".join(v).strip() for k, v in sections.items()}


RuleOutput: TypeAlias = "Finding | Skip | Iterable[Finding | Skip] | None"
RuleFunction: TypeAlias = "Callable[[RuleContext], RuleOutput]"


@dataclass(frozen=True, eq=False)
class Rule:
    """A rule made by :func:`rule`: metadata, documentation and the function to call."""

    code: str
    name: str
    severity: Severity
    requires: tuple[str, ...]
    optional: tuple[str, ...]
    settings: tuple[Setting, ...]
    function: RuleFunction
    doc: str
    #: The report chart that shows this rule's evidence (a key of :data:`CHARTS`), or ``None``.
    chart: str | None = None
    #: The usual harm of its findings (:data:`HARMS`), for ranking; a finding may say otherwise.
    harm: str = "measured"
    #: Codes of the rules whose findings this rule's findings explain (cause before symptom).
    explains: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        """The family prefix (``FLT`` for ``FLT001``)."""
        return self.code.rstrip("0123456789")

    @property
    def summary(self) -> str:
        """The docstring's first paragraph, on one line: what the rule flags."""
        return " ".join(_parse_sections(self.doc)[0].split())

    @property
    def sections(self) -> dict[str, str]:
        """The docstring's ``## Heading`` sections, heading -> body (Markdown)."""
        return _parse_sections(self.doc)[1]

    @property
    def remediation(self) -> str:
        """The ``## Remediation`` section: the default remediation of every finding."""
        return self.sections["Remediation"]

    @property
    def source(self) -> str:
        """``module:function`` that implements the rule."""
        return f"{self.function.__module__}:{self.function.__qualname__}"

    def setting(self, name: str) -> Setting:
        """The setting called ``name``; ``KeyError`` if the rule has none."""
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise KeyError(name)

    def defaults(self) -> dict[str, SettingValue]:
        """Setting name -> default value."""
        return {s.name: s.default for s in self.settings}

    def __call__(self, ctx: RuleContext) -> RuleOutput:
        return self.function(ctx)

    def __repr__(self) -> str:
        return f"<Rule {self.code} {self.name}>"


def _names(value: str | Iterable[str], what: str, code: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    for name in names:
        if not isinstance(name, str) or not IDENT_RE.match(name):
            raise RuleDefinitionError(f"rule {code}: {what} table name {name!r} is not snake_case")
    if len(set(names)) != len(names):
        raise RuleDefinitionError(f"rule {code}: {what} lists a table twice: {names}")
    return names


def rule(
    *,
    code: str,
    name: str,
    severity: Severity | str,
    requires: str | Iterable[str] = (),
    optional: str | Iterable[str] = (),
    settings: Iterable[Setting] = (),
    chart: str | None = None,
    harm: str = "measured",
    explains: Iterable[str] = (),
) -> Callable[[RuleFunction], Rule]:
    """Make a :class:`Rule` from a function ``f(ctx) -> Finding(s)`` and its metadata.

    - ``code``: ``^[A-Z]{2,5}[0-9]{3}$``, e.g. ``FLT001``; the letters are the family prefix
      and must equal the entry-point name the rule is registered under. Never reuse a code.
    - ``name``: kebab-case, naming the problem (``major-fault-storm``), not the fix.
    - ``severity``: the default ``Severity`` (or ``"info"``/``"warning"``/``"critical"``).
    - ``requires``: tables the rule needs; without them (or when empty) it is skipped.
    - ``optional``: tables it uses when present (``ctx.table(name)`` is ``None`` otherwise).
    - ``settings``: its thresholds, each a :class:`Setting`.
    - ``chart``: the report chart that shows its evidence (a key of :data:`CHARTS`, e.g.
      ``"swap"``); the report marks each finding's time window there. ``None`` (the
      default): no chart shows it, and its findings are marked on none.
    - ``harm``: the usual evidence of harm of its findings, for ranking (:data:`HARMS`:
      ``kill``, ``stall``, ``measured``, ``config``; a finding may state its own).
    - ``explains``: codes of the rules whose findings its findings explain when both fire:
      of the same severity, it ranks first and takes their harm (:mod:`vmanalyze.ranking`).

    The docstring must have a summary line and the sections of :data:`DOC_SECTIONS` in order.
    Any mistake raises :class:`RuleDefinitionError` at decoration (import) time.
    """
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise RuleDefinitionError(
            f"rule code {code!r} does not match {CODE_RE.pattern} (e.g. 'FLT001')"
        )
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise RuleDefinitionError(f"rule {code}: name {name!r} is not kebab-case")
    try:
        default_severity = Severity.parse(severity)
    except ValueError as exc:
        raise RuleDefinitionError(f"rule {code}: {exc}") from None
    required = _names(requires, "requires", code)
    optional_tables = _names(optional, "optional", code)
    both = sorted(set(required) & set(optional_tables))
    if both:
        raise RuleDefinitionError(f"rule {code}: tables both required and optional: {both}")
    setting_list = tuple(settings)
    for setting in setting_list:
        if not isinstance(setting, Setting):
            raise RuleDefinitionError(f"rule {code}: settings must be Setting objects")
    if chart is not None and chart not in CHARTS:
        raise RuleDefinitionError(
            f"rule {code}: chart {chart!r} is not a report chart (choose from "
            f"{', '.join(CHARTS)}, or None)"
        )
    if harm not in HARMS:
        raise RuleDefinitionError(
            f"rule {code}: harm {harm!r} is not one of {', '.join(map(repr, HARMS))}"
        )
    explained = (explains,) if isinstance(explains, str) else tuple(explains)
    for other in explained:
        if not isinstance(other, str) or not CODE_RE.match(other):
            raise RuleDefinitionError(f"rule {code}: explains {other!r}, which is not a rule code")
    setting_names = [s.name for s in setting_list]
    if len(set(setting_names)) != len(setting_names):
        raise RuleDefinitionError(f"rule {code}: a setting name is used twice: {setting_names}")

    def decorate(function: RuleFunction) -> Rule:
        where = f"rule {code} ({getattr(function, '__qualname__', function)!s})"
        if not callable(function):
            raise RuleDefinitionError(f"{where}: @rule decorates a function")
        _check_signature(function, where)
        doc = inspect.cleandoc(function.__doc__ or "")
        _check_doc(doc, where)
        return Rule(
            code=code,
            name=name,
            severity=default_severity,
            requires=required,
            optional=optional_tables,
            settings=setting_list,
            function=function,
            doc=doc,
            chart=chart,
            harm=harm,
            explains=explained,
        )

    return decorate


def _check_signature(function: Callable[..., Any], where: str) -> None:
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: trust it
        return
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    keyword_only = [p for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if len(positional) != 1 or keyword_only:
        raise RuleDefinitionError(
            f"{where}: a rule function takes exactly one argument, the context (def f(ctx))"
        )


def _check_doc(doc: str, where: str) -> None:
    summary, sections = _parse_sections(doc)
    if not summary:
        raise RuleDefinitionError(
            f"{where}: the docstring must start with a one-line summary of what is flagged"
        )
    missing = [s for s in DOC_SECTIONS if s not in sections]
    if missing:
        listed = ", ".join(f"'## {s}'" for s in missing)
        raise RuleDefinitionError(f"{where}: the docstring lacks the section(s) {listed}")
    empty = [s for s in DOC_SECTIONS if not sections[s]]
    if empty:
        raise RuleDefinitionError(f"{where}: the docstring section '## {empty[0]}' is empty")
    order = [s for s in sections if s in DOC_SECTIONS]
    if order != list(DOC_SECTIONS):
        expected = ", ".join(DOC_SECTIONS)
        raise RuleDefinitionError(
            f"{where}: the docstring sections must come in the order {expected}"
        )


class _Tables(Mapping[str, pd.DataFrame]):
    """The tables a rule declared, read-only; a helpful ``KeyError`` for anything else."""

    def __init__(self, rule: Rule, tables: Mapping[str, pd.DataFrame]) -> None:
        self._rule = rule
        self._tables = tables

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self._tables:
            return self._tables[name]
        if name in self._rule.optional:
            raise KeyError(
                f"optional table {name!r} is absent from this input; use ctx.table({name!r}), "
                "which returns None"
            )
        raise KeyError(
            f"rule {self._rule.code} did not declare table {name!r}: add it to requires= or "
            "optional="
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return f"<tables of {self._rule.code}: {', '.join(self._tables)}>"


class _Settings(Mapping[str, SettingValue]):
    def __init__(self, rule: Rule, values: Mapping[str, SettingValue]) -> None:
        self._rule = rule
        self._values = MappingProxyType(dict(values))

    def __getitem__(self, name: str) -> SettingValue:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(
                f"rule {self._rule.code} has no setting {name!r}: declare it with "
                f"settings=[Setting({name!r}, default, doc)]"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self._values))


class RuleContext:
    """What a rule receives: its tables, its settings and facts about the input.

    - ``tables``: mapping of the declared tables that are present (required ones always are):
      ``ctx.tables["vmstat"]``. Each is a pandas DataFrame the rule may not modify in place
      (pandas copy-on-write keeps other rules' view intact).
    - ``table(name)``: the table, or ``None`` when an optional table is absent or empty.
    - ``settings``: setting name -> value (default, or the config file's override).
    - ``host``: facts about the host (hostname, kernel_release, cpu_count...; may be empty).
    - ``host_role``: ``"database"``, ``"hypervisor"``... from ``[host] role`` in the config
      (or the host facts), else ``None``.
    - ``sample_count``: how many samples the input holds (1 for a single snapshot, such as a
      sosreport); ``multi_sample`` is ``sample_count > 1``.
    - ``rule``: the :class:`Rule` being run.
    """

    def __init__(
        self,
        *,
        rule: Rule,
        tables: Mapping[str, pd.DataFrame],
        settings: Mapping[str, SettingValue] | None = None,
        host: Mapping[str, Any] | None = None,
        host_role: str | None = None,
        sample_count: int = 1,
    ) -> None:
        self.rule = rule
        declared = set(rule.requires) | set(rule.optional)
        present = {
            name: df
            for name, df in tables.items()
            if name in declared and isinstance(df, pd.DataFrame) and not df.empty
        }
        self.tables: Mapping[str, pd.DataFrame] = _Tables(rule, present)
        values = rule.defaults()
        values.update(settings or {})
        self.settings: Mapping[str, SettingValue] = _Settings(rule, values)
        self.host: Mapping[str, Any] = MappingProxyType(dict(host or {}))
        self.host_role = host_role
        self.sample_count = sample_count

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name``, or ``None`` when it is optional and absent (or empty)."""
        if name not in self.rule.requires and name not in self.rule.optional:
            return self.tables[name]  # raises the "did not declare" KeyError
        return self.tables.get(name)

    @property
    def multi_sample(self) -> bool:
        """True when the input has more than one sample (rates and trends can be computed)."""
        return self.sample_count > 1

    def require_samples(self, n: int = 2) -> None:
        """Raise :class:`Skip` unless the input holds at least ``n`` samples."""
        if self.sample_count < n:
            have = f"{self.sample_count} sample" + ("" if self.sample_count == 1 else "s")
            raise Skip(f"needs at least {n} samples, the input has {have}")

    def __repr__(self) -> str:
        return f"<RuleContext {self.rule.code} tables={list(self.tables)}>"
