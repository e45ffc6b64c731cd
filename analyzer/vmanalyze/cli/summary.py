"""Findings on the terminal (colours only on a terminal) and as plain text.

The layout follows the width: from :data:`TABLE_MIN_WIDTH` columns up, one table row per
finding; below it, one block per finding (severity, code, subject and time on one line, then
the message wrapped to the width). Words are never cut: a word longer than the line ends in
``…``. Everything that came from the input is printed as :class:`rich.text.Text` (never
parsed as markup) after :func:`~vmanalyze.cli.textsafe.visible` (no raw control characters).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from vmanalyze.cli.textsafe import visible
from vmanalyze.over_time import needs_capture_over_time

if TYPE_CHECKING:
    from vmanalyze.analysis import Analysis
    from vmanalyze.results import RuleStatus
    from vmanalyze.rule import Finding

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
#: Below this many columns the findings print as blocks, not as a table.
TABLE_MIN_WIDTH = 120
#: Width of ``--format text``.
TEXT_WIDTH = 100
#: Rows of an evidence table shown with --verbose (the JSON and HTML reports have all).
EVIDENCE_ROWS = 5


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def window(finding: Finding, today: dt.date | None = None) -> str:
    """The finding's time range in UTC; dates appear when it is not (all) ``today``.

    >>> from vmanalyze.rule import Finding
    >>> f = Finding("x", start=pd.Timestamp("2026-11-26 14:00:05"),
    ...             end=pd.Timestamp("2026-11-26 14:16:30"))
    >>> window(f, today=dt.date(2026, 11, 26))
    '14:00:05–14:16:30'
    >>> window(f, today=dt.date(2026, 12, 6))
    '2026-11-26 14:00:05–14:16:30'
    >>> window(Finding("x", start=pd.Timestamp("2026-11-26 23:59"),
    ...                end=pd.Timestamp("2026-11-27 00:01")), today=dt.date(2026, 11, 27))
    '2026-11-26 23:59:00–2026-11-27 00:01:00'
    """
    if finding.start is None:
        return ""
    today = today or dt.datetime.now(dt.UTC).date()
    start = _utc(finding.start)
    end = _utc(finding.end) if finding.end is not None else None
    dated = start.date() != today or (end is not None and end.date() != start.date())
    text = f"{start:%Y-%m-%d %H:%M:%S}" if dated else f"{start:%H:%M:%S}"
    if end is not None and end != start:
        same_day = end.date() == start.date()
        text += f"–{end:%H:%M:%S}" if same_day else f"–{end:%Y-%m-%d %H:%M:%S}"
    return text


def _severity(finding: Finding) -> str:
    return finding.severity.value if finding.severity is not None else "info"


def _value(value: Any) -> str:
    """A plain value: whole numbers without a fraction, others to 4 significant digits.

    >>> _value(1103943.0), _value(0.8723), _value(24914.41), _value(None)
    ('1103943', '0.8723', '24914.4', 'null')
    """
    from vmanalyze.results import to_jsonable

    value = to_jsonable(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"
    return "null" if value is None else str(value)


def _evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    """``key: value`` lines; a table (records) shows its first rows as ``a=1, b=2``."""
    from vmanalyze.results import to_jsonable

    lines = []
    for key, raw in evidence.items():
        value = to_jsonable(raw)
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            lines.append(f"{key}: {len(value)} row(s)")
            for row in value[:EVIDENCE_ROWS]:
                lines.append("  " + ", ".join(f"{k}={_value(v)}" for k, v in row.items()))
            if len(value) > EVIDENCE_ROWS:
                lines.append(f"  … {len(value) - EVIDENCE_ROWS} more in the report")
        elif isinstance(value, dict):
            lines.append(f"{key}: " + ", ".join(f"{k}={_value(v)}" for k, v in value.items()))
        elif isinstance(value, list):
            lines.append(f"{key}: " + ", ".join(_value(v) for v in value))
        else:
            lines.append(f"{key}: {_value(value)}")
    return lines


def _paragraphs(text: str) -> list[str]:
    """Markdown-ish text as paragraphs: blank lines separate them, other breaks are spaces."""
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _wrapped(text: str, indent: int, style: str = "") -> RenderableType:
    # overflow="ellipsis": rich wraps at spaces and marks a word longer than the line with …
    text_ = Text(visible(text), style=style, overflow="ellipsis")
    return Padding(text_, (0, 0, 0, indent), expand=False)


def _details(finding: Finding, *, remediation: bool, evidence: bool) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if remediation and finding.remediation:
        parts.append(Text("remediation:", style="bold"))
        parts.extend(_wrapped(p, 2) for p in _paragraphs(finding.remediation))
    if evidence and finding.evidence:
        parts.append(Text("evidence:", style="bold"))
        parts.extend(_wrapped(line, 2) for line in _evidence_lines(finding.evidence))
    return parts


def _block(
    finding: Finding,
    width: int,
    today: dt.date | None,
    *,
    remediation: bool,
    evidence: bool,
) -> RenderableType:
    """Severity, code, name, subject and time on one line (two when that does not fit)."""
    sev = _severity(finding)
    head = Text(overflow="ellipsis", no_wrap=True)
    head.append(f"{sev.upper():8s}", style=SEVERITY_STYLE.get(sev, ""))
    head.append(f" {visible(finding.code or '')} ", style="bold")
    head.append(visible(finding.name or ""))
    where = Text(visible(finding.subject), overflow="ellipsis", no_wrap=True)
    when = window(finding, today)
    if when:
        where.append(f"  {when}", style="dim")
    body: list[RenderableType] = []
    if head.cell_len + 2 + where.cell_len <= width:
        body.append(Text.assemble(head, "  ", where, no_wrap=True))
    else:
        body += [head, Padding(where, (0, 0, 0, 2), expand=False)]
    body.append(_wrapped(finding.message, 2))
    details = _details(finding, remediation=remediation, evidence=evidence)
    if details:
        body.append(Padding(Group(*details), (0, 0, 0, 2), expand=False))
    return Group(*body)


def _table(findings: Iterable[Finding], today: dt.date | None) -> Table:
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("code", no_wrap=True)
    table.add_column("subject", overflow="ellipsis", max_width=40)
    table.add_column("message", overflow="ellipsis", ratio=1, min_width=40)
    table.add_column("when", no_wrap=True)
    for f in findings:
        sev = _severity(f)
        table.add_row(
            Text(sev, style=SEVERITY_STYLE.get(sev, "")),
            Text(visible(f.code or "")),
            Text(visible(f.subject), overflow="ellipsis"),
            Text(visible(f.message), overflow="ellipsis"),
            Text(window(f, today)),
        )
    return table


def _skipped_lines(statuses: Iterable[RuleStatus]) -> list[Text]:
    return [
        Text(f"  {visible(s.code)}: {visible(s.reason or 'no reason given')}", overflow="ellipsis")
        for s in statuses
        if s.status == "skipped"
    ]


def _story(analysis: Analysis) -> list[RenderableType]:
    """The incidents (docs/story.md): a header each, then one line per step, the cause first;
    a step's text wraps under itself."""
    out: list[RenderableType] = []
    incidents = analysis.result.story.incidents
    for number, incident in enumerate(incidents, 1):
        head = "What happened"
        if len(incidents) > 1:
            head += f" ({number} of {len(incidents)})"
        out.append(
            Text(
                visible(f"{head}: {incident.headline} (confidence {incident.confidence:.0%})"),
                style="bold",
            )
        )
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="ellipsis")
        for step in incident.steps:
            arrow = " " if step is incident.root.event else "→"
            grid.add_row(arrow, f"{step.ts:%H:%M:%S}", Text(visible(step.text)))
        out.append(Padding(grid, (0, 0, 0, 1)))
        out.append(Text(""))
    return out


def render_summary(
    analysis: Analysis,
    console: Console,
    *,
    verbose: bool = False,
    show_skipped: bool = False,
    remediation: bool | None = None,
    today: dt.date | None = None,
) -> None:
    """Print the summary on ``console``, laid out for its width.

    ``remediation`` defaults to ``verbose``; ``--format text`` always shows it.
    """
    remediation = verbose if remediation is None else remediation
    host = analysis.result.host.as_dict()
    header = Text(overflow="ellipsis")
    header.append(visible(host.get("hostname") or "?"), style="bold")
    header.append(
        f"  kernel {visible(host.get('kernel_release') or '?')}  "
        f"{analysis.result.sample_count} sample(s)  "
        f"input {visible(analysis.dataset.source.get('kind'))}  (times in UTC)"
    )
    console.print(header)
    for part in _story(analysis):
        console.print(part)
    findings = analysis.result.findings
    if not findings:
        console.print("no findings")
    elif console.width >= TABLE_MIN_WIDTH and not (verbose or remediation):
        console.print(_table(findings, today))
    else:
        for f in findings:
            block = _block(f, console.width, today, remediation=remediation, evidence=verbose)
            console.print(block)
            console.print()
    statuses = analysis.result.rules
    ran = sum(1 for s in statuses if s.status == "ran")
    skipped = sum(1 for s in statuses if s.status == "skipped")
    errors = [s for s in statuses if s.status == "error"]
    line = f"{ran} rules ran, {skipped} skipped, {len(errors)} errors"
    if skipped and not show_skipped:
        line += " (--show-skipped says why)"
    console.print(Text(line))
    if show_skipped and skipped:
        console.print(Text("skipped:"))
        for text in _skipped_lines(statuses):
            console.print(text)
    cover = analysis.result.coverage
    if cover.not_run:
        console.print(Text(visible(cover.sentence)))
    if not findings and not cover.core_ran:
        console.print(
            Text("not checked, not healthy: " + ", ".join(cover.core_missing) + " could not run")
        )
    for s in errors:
        message = Text(f"rule {visible(s.code)} failed: ", style="red")
        message.append(visible(s.reason or ""), style="")
        console.print(message)
    over_time = needs_capture_over_time(analysis.result, analysis.result.sample_count)
    if over_time is not None:
        console.print(
            Text(
                visible(
                    f"one snapshot: {', '.join(over_time.codes)} need a capture over time; "
                    f"{over_time.howto}"
                )
            )
        )


def print_summary(
    analysis: Analysis,
    stream: TextIO,
    *,
    verbose: bool = False,
    show_skipped: bool = False,
    width: int | None = None,
) -> None:
    """The findings, most severe first, and a line about the rules that ran, on ``stream``."""
    console = Console(file=stream, highlight=False, width=width, emoji=False, markup=False)
    render_summary(analysis, console, verbose=verbose, show_skipped=show_skipped)


def render_text(
    analysis: Analysis,
    *,
    verbose: bool = False,
    show_skipped: bool = False,
    width: int = TEXT_WIDTH,
    today: dt.date | None = None,
) -> str:
    """The findings as plain text, one block per finding with its remediation."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system=None,
        force_terminal=False,
        highlight=False,
        emoji=False,
        markup=False,
    )
    render_summary(
        analysis,
        console,
        verbose=verbose,
        show_skipped=show_skipped,
        remediation=True,
        today=today,
    )
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
