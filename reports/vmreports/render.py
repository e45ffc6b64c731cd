"""Render an analysis to one self-contained HTML file.

:func:`build_view` turns an :class:`~vmanalyze.analysis.Analysis` into a :class:`ReportView`
(host facts, findings, charts, tables, rule docs: every value already formatted), and
:func:`render_html` lays it out with the jinja2 templates in ``templates/``. The page inlines
uPlot, the report's CSS and JS (``static/``) and the chart data as JSON, so it opens offline
from an e-mail attachment; a Content-Security-Policy allows only those inline scripts (by
hash) and no request to anywhere.

Everything from the bundle is escaped: jinja2 autoescapes the HTML, and
:func:`json_for_script` escapes ``<``, ``>``, ``&``, U+2028 and U+2029 in the embedded JSON so
no string can close its ``<script>`` element.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import pandas as pd
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from vmanalyze import __version__
from vmanalyze.over_time import OverTime, needs_capture_over_time
from vmanalyze.ruledoc import render_rule

from vmreports.charts import Chart, Mark, build_charts, epoch_seconds
from vmreports.sections import (
    HealthView,
    TableView,
    collection_health,
    configuration,
    frame_table,
    process_tables,
)
from vmreports.units import (
    format_value,
    human_bytes,
    human_count,
    human_duration,
    human_time,
    is_number,
    label_of,
)

if TYPE_CHECKING:
    from vmanalyze.coverage import Coverage
    from vmanalyze.results import Analysis, AnalysisResult
    from vmanalyze.rule import Finding

__all__ = ["ReportView", "build_view", "json_for_script", "render_html"]

_env = Environment(
    loader=PackageLoader("vmreports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

SEVERITIES = ("critical", "warning", "info")
#: The vendored uPlot (static/README.md says where it came from).
UPLOT_VERSION = "1.6.32"

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_for_script(data: object) -> Markup:
    """``data`` as JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026`` (no ``</script>``,
    no ``<!--``), and the line separators U+2028/U+2029 are escaped too; ``JSON.parse`` reads
    the same values back.

    >>> str(json_for_script({"comm": "</script><b>&"}))
    '{"comm":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return Markup(text)


@cache
def static_text(name: str) -> str:
    """A file of ``static/`` (uPlot, the report's CSS and JS), read once per process."""
    text = resources.files("vmreports").joinpath("static", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():  # pragma: no cover - vendored
        raise ValueError(f"static/{name} cannot be inlined: it contains a closing tag")
    return text


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@lru_cache(maxsize=256)
def _markdown_cached(text: str) -> str:
    return str(_markdown().render(text))


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # Raw HTML in rule docs is shown as text, never passed through.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(text: str | None) -> Markup:
    """Markdown (a rule's docs or remediation) as HTML; raw HTML in it is escaped."""
    if not text:
        return Markup("")
    return Markup(_markdown_cached(text))


# -- view model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    detail: str | None = None
    cls: str | None = None


@dataclass
class EvidenceItem:
    label: str
    key: str
    text: str | None = None
    table: TableView | None = None


@dataclass
class FindingView:
    index: int
    code: str
    name: str
    severity: str
    severity_reason: str | None
    subject: str
    message: str
    window: str
    window_detail: str | None
    evidence: list[EvidenceItem]
    remediation: Markup
    doc_anchor: str | None
    chart_id: str | None
    chart_title: str
    marked: bool


@dataclass
class StepView:
    """One line of an incident's story: when, what, and where to read more."""

    time: str
    text: str
    code: str | None
    finding: int | None  # the FindingView.index it links to
    chart_id: str | None
    cause: bool


@dataclass
class IncidentView:
    headline: str
    severity: str
    confidence: str
    steps: list[StepView]
    explained: list[int]  # FindingView indices
    because: list[str]


@dataclass
class RuleRow:
    code: str
    name: str
    severity: str
    status: str
    reason: str | None
    findings: int
    duration: str
    anchor: str | None


@dataclass
class RuleDoc:
    code: str
    name: str
    severity: str
    package: str
    anchor: str
    html: Markup


@dataclass
class ReportView:
    """Everything the template shows, formatted."""

    title: str
    hostname: str
    subtitle: str
    generated: str
    verdict: str
    verdict_detail: str
    verdict_level: str
    #: What could not be checked: "11 of 17 rules could not run: one snapshot, ..." (or "").
    verdict_coverage: str
    counts: dict[str, int]
    facts: list[Fact]
    findings: list[FindingView]
    charts: list[Chart]
    chart_data: Markup
    processes: list[TableView]
    configuration: list[TableView]
    health: HealthView
    rules: list[RuleRow]
    rule_counts: dict[str, int]
    rule_docs: list[RuleDoc]
    plugin_errors: list[str]
    input_facts: list[Fact]
    timings: dict[str, float] = field(default_factory=dict)
    incidents: list[IncidentView] = field(default_factory=list)
    unexplained: list[int] = field(default_factory=list)
    #: One snapshot: the rules that need a capture over time, and how to take one.
    over_time: OverTime | None = None


def _value(host: Mapping[str, Any], key: str) -> Any:
    value = host.get(key)
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _overcommit(mode: Any, ratio: Any) -> tuple[str, str | None]:
    """vm.overcommit_memory as its meaning, and the ratio when it applies (mode 2)."""
    names = {0: "heuristic", 1: "always", 2: "strict"}
    if not is_number(mode):
        return "–", None
    text = names.get(int(mode), str(mode))
    detail = f"mode {int(mode)}"
    if int(mode) == 2 and is_number(ratio):
        detail += f", ratio {int(ratio)} %"
    return text, detail


def _last(tables: Mapping[str, pd.DataFrame], table: str, column: str) -> Any:
    df = tables.get(table)
    if not isinstance(df, pd.DataFrame) or df.empty or column not in df.columns:
        return None
    values = df.sort_values("ts", kind="stable")[column] if "ts" in df.columns else df[column]
    values = values.dropna()
    return values.iloc[-1] if len(values) else None


def host_facts(analysis: Analysis) -> list[Fact]:
    """The first-screen facts: host, kernel, RAM, swap, NUMA, THP, overcommit, window."""
    host = analysis.result.host.as_dict()
    tables = analysis.dataset.tables
    info = analysis.input_info
    facts: list[Fact] = []
    kernel = _value(host, "kernel_release") or "–"
    facts.append(Fact("Kernel", str(kernel), _value(host, "os"), cls="wide"))
    cpus = _value(host, "cpu_count")
    facts.append(
        Fact("CPUs", human_count(cpus) if is_number(cpus) else "–", _value(host, "cpu_model"))
    )
    facts.append(Fact("RAM", human_bytes(_value(host, "mem_total_bytes"))))
    swap_total = _value(host, "swap_total_bytes")
    swappiness = _value(host, "swappiness")
    facts.append(
        Fact(
            "Swap",
            human_bytes(swap_total) if is_number(swap_total) and swap_total else "none",
            f"swappiness {swappiness}" if swappiness is not None else None,
        )
    )
    nodes = _value(host, "numa_nodes")
    zone_reclaim = _value(host, "zone_reclaim_mode")
    facts.append(
        Fact(
            "NUMA nodes",
            str(int(nodes)) if is_number(nodes) else "–",
            f"zone_reclaim {zone_reclaim}" if zone_reclaim is not None else None,
        )
    )
    thp = _value(host, "thp_enabled")
    defrag = _value(host, "thp_defrag")
    facts.append(
        Fact(
            "THP",
            str(thp) if thp else "–",
            f"defrag {defrag}" if defrag else None,
            cls="attention" if thp == "always" else None,
        )
    )
    mode, detail = _overcommit(_value(host, "overcommit_memory"), _value(host, "overcommit_ratio"))
    limit = _last(tables, "meminfo", "commit_limit_bytes")
    if is_number(limit):
        detail = " · ".join(filter(None, [detail, f"limit {human_bytes(limit)}"]))
    facts.append(Fact("Overcommit", mode, detail or None))
    pages = _value(host, "hugepages_total")
    size = _value(host, "hugepagesize_bytes")
    if is_number(pages) and pages:
        facts.append(
            Fact(
                "HugeTLB",
                human_bytes(float(pages) * float(size or 0)),
                f"{int(pages)} × {human_bytes(size)}",
            )
        )
    start, end = info.get("start"), info.get("end")
    interval = info.get("interval_s") or _value(host, "interval_s")
    samples = analysis.result.sample_count
    seconds = None
    if start is not None and end is not None and not pd.isna(start) and not pd.isna(end):
        seconds = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds()
    if seconds is None or seconds <= 0 or (is_number(samples) and samples <= 1):
        when = f"{human_time(start, date=True)} UTC" if start is not None else None
        facts.append(Fact("Window", "one snapshot", when, cls="wide"))
        return facts
    facts.append(
        Fact(
            "Window",
            human_duration(seconds),
            f"{human_time(start)} → {human_time(end)} UTC",
            cls="wide",
        )
    )
    snapshots = _snapshot_count(analysis.dataset.tables.get("samples"))
    detail = f"{int(samples)} samples" if is_number(samples) else None
    if detail and snapshots:
        detail += f" · {snapshots} snapshots · {snapshots - 1} intervals (see Over time)"
    facts.append(
        Fact(
            "Sampling",
            f"every {human_duration(interval)}" if is_number(interval) else "–",
            detail,
        )
    )
    return facts


def _snapshot_count(samples: pd.DataFrame | None) -> int | None:
    """Readings of every kind (samples plus the start and end snapshots), if known."""
    if samples is None or samples.empty or "snapshot" not in samples.columns:
        return None
    return int(samples["snapshot"].nunique())


def _subject_text(subject: str) -> str:
    """``process:1234:postgres`` -> ``process postgres (pid 1234)``; ``node:1`` -> ``NUMA node 1``.

    >>> _subject_text("process:1234:postgres"), _subject_text("node:1"), _subject_text("host")
    ('process postgres (pid 1234)', 'NUMA node 1', 'host')
    """
    kind, _, rest = subject.partition(":")
    if kind == "process" and rest:
        pid, _, comm = rest.partition(":")
        return f"process {comm} (pid {pid})" if comm else f"process {pid}"
    if kind == "node" and rest:
        return f"NUMA node {rest}"
    if kind == "cgroup" and rest:
        return f"cgroup {rest}"
    return subject.replace(":", " ", 1) if rest else subject


def _window(
    finding: Finding, start0: pd.Timestamp | None, end0: pd.Timestamp | None
) -> tuple[str, str | None]:
    start, end = finding.start, finding.end
    if start is None and end is None:
        return "No time window: a setting or a state of the host.", None
    if start is None:
        return f"until {human_time(end)} UTC", None
    text = f"{human_time(start, date=True)} UTC"
    detail = None
    if end is not None and end != start:
        seconds = (end - start).total_seconds()
        text = f"{human_time(start)} → {human_time(end)} UTC ({human_duration(seconds)})"
    elif end is None:
        text = f"since {human_time(start)} UTC"
    if start0 is not None:
        offset = (start - start0).total_seconds()
        if end is not None and end < start0:
            detail = f"ended {human_duration((start0 - end).total_seconds())} before the capture"
        elif offset < 0:
            detail = "began before the capture"
        else:
            detail = f"starts {human_duration(offset)} into the capture"
        if end is not None and end0 is not None and abs((end0 - end).total_seconds()) <= 1:
            detail += ", still going at its end"
    return text, detail


def _evidence(evidence: Mapping[str, Any]) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []
    for key, value in evidence.items():
        label = label_of(key)
        if isinstance(value, pd.DataFrame) and value.empty:
            items.append(EvidenceItem(label, key, text="none"))
        elif isinstance(value, pd.DataFrame) or (
            isinstance(value, list | tuple) and value and isinstance(value[0], Mapping)
        ):
            items.append(EvidenceItem(label, key, table=frame_table(value)))
        elif isinstance(value, pd.Series):
            items.append(EvidenceItem(label, key, table=frame_table(value.to_frame())))
        elif isinstance(value, Mapping):
            text = ", ".join(
                f"{label_of(str(k))} {format_value(str(k), v)}" for k, v in value.items()
            )
            items.append(EvidenceItem(label, key, text=text))
        elif isinstance(value, list | tuple | set | frozenset):
            values = list(value)
            shown = ", ".join(format_value(key, v) for v in values[:20])
            if len(values) > 20:
                shown += f", … ({len(values) - 20} more)"
            items.append(EvidenceItem(label, key, text=shown or "–"))
        else:
            items.append(EvidenceItem(label, key, text=format_value(key, value)))
    return items


def _chart_of(result: AnalysisResult, code: str, charts: Mapping[str, Chart]) -> str | None:
    """The chart that shows a finding of rule ``code``: the one its rule declares
    (``@rule(chart=...)``), the memory chart when that one has nothing drawn; ``None`` for a
    rule that names no chart (or is not registered)."""
    entry = result.registered_rule(code)
    target = entry.rule.chart if entry is not None else None
    if target is None:
        return None
    if target not in charts or not charts[target].drawn:
        return "memory"
    return target


def _severity(finding: Finding) -> str:
    return finding.severity.value if finding.severity is not None else "info"


def _verdict(
    findings: Sequence[FindingView],
    rules: Sequence[RuleRow],
    cover: Coverage,
    root: FindingView | None = None,
) -> tuple[str, str, str]:
    """The headline: the root cause of the first incident when there is one (docs/story.md),
    else the most important finding (vmanalyze.ranking); never "no problem" when the rules
    that see the common problems could not run."""
    ran = sum(1 for r in rules if r.status == "ran")
    serious = [f for f in findings if f.severity in ("critical", "warning")]
    if root is not None:
        more = sum(1 for f in serious if f is not root)
        tail = f" and {more} more problem{'s' if more != 1 else ''}" if more else ""
        level = min([root.severity, *(f.severity for f in serious)], key=SEVERITIES.index)
        return (f"Root cause: {root.name or root.code}: {root.subject}{tail}", root.message, level)
    if serious:
        top = serious[0]
        more = len(serious) - 1
        tail = f" and {more} more problem{'s' if more != 1 else ''}" if more else ""
        return (
            f"{top.name or top.code}: {top.subject}{tail}",
            top.message,
            top.severity,
        )
    if not rules or ran == 0:
        return (
            "No rule ran on this input",
            "The report shows the data only: no diagnosis was made. See Rules at the end.",
            "unknown",
        )
    informational = len(findings)
    detail = f"{ran} rule{'s' if ran != 1 else ''} ran"
    if informational:
        detail += f"; {informational} informational note{'s' if informational != 1 else ''}"
    if not cover.core_ran:
        # Quiet is not healthy when the rules that see the common problems did not run.
        return (
            "No problem found in what could be checked",
            f"{detail}; not checked: {', '.join(cover.core_missing)} "
            "(see Rules at the end for why).",
            "unknown",
        )
    return "No memory problem found", detail + ".", "ok"


def _because(links: Sequence[Any]) -> list[str]:
    """One line per link type and effect: the first link's reason, then how many more."""
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for k in links:
        groups.setdefault((k.type, k.cause.code, k.effect.code), []).append(k)
    lines = []
    for (_, cause, effect), group in groups.items():
        more = f" (and {len(group) - 1} more like it)" if len(group) > 1 else ""
        lines.append(f"{cause} → {effect}: {group[0].because}{more}")
    return lines


def _incidents(
    result: Any, findings: Sequence[FindingView], charts: Mapping[str, Chart]
) -> tuple[list[IncidentView], list[int]]:
    """The story section: each incident's steps, linked to findings and charts."""

    def drawn(chart_id: str | None) -> str | None:
        if chart_id is None or chart_id not in charts or not charts[chart_id].drawn:
            return None
        return chart_id

    views = []
    explained: set[int] = set()
    for incident in result.story.incidents:
        steps = []
        for event in incident.steps:
            view = findings[event.finding] if event.finding is not None else None
            steps.append(
                StepView(
                    time=human_time(event.ts),
                    text=event.text.split(" ", 1)[1] if view is not None else event.text,
                    code=view.code if view is not None else None,
                    finding=view.index if view is not None else None,
                    chart_id=view.chart_id
                    if view is not None and view.marked
                    else drawn(event.chart),
                    cause=event is incident.root.event,
                )
            )
        members = [findings[i].index for i in incident.findings]
        explained.update(members)
        root = findings[incident.root.index] if incident.root.index is not None else None
        consequences = [
            f"{findings[n.index].code} {findings[n.index].name}"
            for n in incident.explains
            if n.index is not None
        ]
        headline = (
            f"{root.code} {root.name} on {root.subject}" if root is not None else incident.headline
        )
        if consequences:
            headline += " explains " + ", ".join(consequences)
        views.append(
            IncidentView(
                headline=headline,
                severity=incident.severity.value,
                confidence=f"{incident.confidence:.0%}",
                steps=steps,
                explained=members,
                because=_because(incident.links),
            )
        )
    return views, [f.index for f in findings if f.index not in explained]


def _rule_docs(result: AnalysisResult) -> tuple[dict[str, RuleDoc], dict[str, tuple[str, str]]]:
    """The docs of the rules that ran or found something, and every rule's (name, severity),
    from the rules registered for this analysis (``result.registered``)."""
    docs: dict[str, RuleDoc] = {}
    meta: dict[str, tuple[str, str]] = {}
    wanted = {r.code for r in result.rules} | {f.code for f in result.findings if f.code}
    for entry in result.registered:
        meta[entry.code] = (entry.rule.name, entry.rule.severity.value)
        if entry.code in wanted:
            docs[entry.code] = RuleDoc(
                entry.code,
                entry.rule.name,
                entry.rule.severity.value,
                entry.package_version,
                f"rule-{entry.code}",
                markdown_html(render_rule(entry, level=3)),
            )
    return docs, meta


def build_view(analysis: Analysis, *, now: datetime | None = None) -> ReportView:
    """The report's content for one analysis (no HTML), from the analysis alone: its tables
    and its result (rule metadata, host facts, sample count)."""
    started = time.perf_counter()
    dataset = analysis.dataset
    tables = dataset.tables
    result = analysis.result
    host = result.host.as_dict()
    info = analysis.input_info
    charts = build_charts(tables, page_size=result.host.page_size_or_default)
    by_id = {c.id: c for c in charts}
    t_charts = time.perf_counter()

    start0 = pd.Timestamp(info["start"]) if info.get("start") is not None else None
    end0 = pd.Timestamp(info["end"]) if info.get("end") is not None else None

    docs, meta = _rule_docs(result)
    findings: list[FindingView] = []
    ordered = result.findings  # ranked by the engine (vmanalyze.ranking)
    for index, finding in enumerate(ordered, 1):
        code = finding.code or "?"
        severity = _severity(finding)
        target = _chart_of(result, code, by_id)
        chart = by_id.get(target) if target is not None else None
        window, window_detail = _window(finding, start0, end0)
        subject = _subject_text(finding.subject)
        findings.append(
            FindingView(
                index=index,
                code=code,
                name=finding.name or meta.get(code, ("", ""))[0],
                severity=severity,
                severity_reason=finding.severity_reason,
                subject=subject,
                message=finding.message,
                window=window,
                window_detail=window_detail,
                evidence=_evidence(finding.evidence),
                remediation=markdown_html(finding.remediation),
                doc_anchor=docs[code].anchor if code in docs else None,
                chart_id=target,
                chart_title=chart.title if chart is not None else "",
                marked=bool(chart is not None and chart.drawn and finding.start is not None),
            )
        )
        if chart is not None and chart.drawn and finding.start is not None:
            start_s = float(epoch_seconds(pd.Series([finding.start]))[0])
            end = finding.end if finding.end is not None else end0 or finding.start
            end_s = float(epoch_seconds(pd.Series([end]))[0])
            outside = _outside(chart.x, start_s, end_s)
            label = f"{code} {subject}" + (f" ({outside} the capture)" if outside else "")
            chart.marks.append(Mark(start_s, end_s, severity, code, label, outside))

    status_order = {"error": 0, "skipped": 1, "ran": 2}
    rules = [
        RuleRow(
            code=r.code,
            name=meta.get(r.code, ("", ""))[0],
            severity=meta.get(r.code, ("", ""))[1],
            status=r.status,
            reason=r.reason,
            findings=r.findings,
            duration=f"{r.duration_s * 1000:.0f} ms" if r.duration_s else "–",
            anchor=docs[r.code].anchor if r.code in docs else None,
        )
        for r in sorted(result.rules, key=lambda r: (status_order.get(r.status, 3), r.code))
    ]
    rule_counts = {s: sum(1 for r in rules if r.status == s) for s in ("ran", "skipped", "error")}
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    incidents, unexplained = _incidents(result, findings, by_id)
    first = result.story.incidents[0].root.index if result.story.incidents else None
    root = findings[first] if first is not None else None
    verdict, verdict_detail, verdict_level = _verdict(findings, rules, result.coverage, root)

    processes = process_tables(tables)
    t_processes = time.perf_counter()
    config = configuration(tables)
    health = collection_health(tables, dataset.warnings)

    hostname = str(_value(host, "hostname") or info.get("name") or "unknown host")
    cpus = _value(host, "cpu_count")
    subtitle_parts = [
        str(_value(host, "os") or ""),
        f"{int(cpus)} CPUs" if is_number(cpus) else "",
        f"collected {human_time(start0, date=True)} UTC" if start0 is not None else "",
        f"from {info.get('name')}" if info.get("name") else "",
    ]
    input_facts = [
        Fact("Input", str(info.get("name") or "–"), str(info.get("kind") or "") or None),
        Fact("SHA-256", str(info.get("sha256") or "–")),
        Fact("Collector", str(info.get("collector_version") or "–")),
    ]
    input_facts.append(Fact("Analyzer", f"vmanalyze {__version__}"))
    now = now or datetime.now(UTC)
    chart_json = json_for_script(
        {
            "version": 1,
            "host": hostname,
            "charts": [c.to_json() for c in charts],
        }
    )
    finished = time.perf_counter()
    return ReportView(
        title=f"{hostname}: memory report",
        hostname=hostname,
        subtitle=" · ".join(p for p in subtitle_parts if p),
        generated=now.strftime("%Y-%m-%d %H:%M UTC"),
        verdict=verdict,
        verdict_detail=verdict_detail,
        verdict_level=verdict_level,
        verdict_coverage=result.coverage.sentence if result.coverage.not_run else "",
        counts=counts,
        facts=host_facts(analysis),
        findings=findings,
        charts=charts,
        chart_data=chart_json,
        processes=processes,
        configuration=config,
        health=health,
        rules=rules,
        rule_counts=rule_counts,
        rule_docs=[docs[c] for c in sorted(docs)],
        plugin_errors=[str(e) for e in result.plugin_errors],
        input_facts=input_facts,
        incidents=incidents,
        unexplained=unexplained,
        timings={
            "charts_s": round(t_charts - started, 3),
            "processes_s": round(t_processes - t_charts, 3),
            "view_s": round(finished - started, 3),
        },
        over_time=needs_capture_over_time(result, result.sample_count),
    )


def render_view(view: ReportView) -> str:
    """The HTML page of a built view."""
    scripts = {
        "uplot_js": static_text("uPlot.iife.min.js"),
        "report_js": static_text("report.js"),
    }
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_csp_hash(s) for s in scripts.values()),
            "style-src 'unsafe-inline'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return _env.get_template("report.html.j2").render(
        view=view,
        csp=csp,
        uplot_css=Markup(static_text("uPlot.min.css")),
        report_css=Markup(static_text("report.css")),
        uplot_js=Markup(scripts["uplot_js"]),
        report_js=Markup(scripts["report_js"]),
        uplot_license=static_text("uPlot.LICENSE"),
        uplot_version=UPLOT_VERSION,
    )


def render_html(analysis: Analysis, *, now: datetime | None = None) -> str:
    """The report of one host as one self-contained HTML page.

    The rule docs embedded at the end are those of the rules the analysis ran with
    (``analysis.result.registered``): the report never discovers rule packs itself.
    """
    return render_view(build_view(analysis, now=now))


def _outside(x: Any, start_s: float, end_s: float) -> str | None:
    """``"before"``/``"after"`` when a finding's window misses the charted time range.

    >>> import numpy as np
    >>> xs = np.array([100.0, 200.0])
    >>> _outside(xs, 10, 50), _outside(xs, 300, 310), _outside(xs, 50, 150), _outside([], 1, 2)
    ('before', 'after', None, None)
    """
    if len(x) == 0:
        return None
    if end_s < float(x[0]):
        return "before"
    if start_s > float(x[-1]):
        return "after"
    return None
