"""Findings on the terminal (rich table; colours only on a terminal) and as plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from vmanalyze.analysis import Analysis

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _window(finding: object) -> str:
    start = getattr(finding, "start", None)
    end = getattr(finding, "end", None)
    if start is None:
        return ""
    text = f"{start:%H:%M:%S}"
    if end is not None and end != start:
        text += f"–{end:%H:%M:%S}"
    return text


def print_summary(analysis: Analysis, stream: TextIO) -> None:
    """A table of the findings, most severe first, and a line about the rules that ran."""
    console = Console(file=stream, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = max(console.width, 140)
    host = analysis.dataset.host
    console.print(
        f"[bold]{host.get('hostname') or '?'}[/]  kernel {host.get('kernel_release') or '?'}  "
        f"{analysis.dataset.sample_count} sample(s)  input {analysis.dataset.source.get('kind')}"
    )
    findings = analysis.result.findings
    if findings:
        table = Table(show_lines=False, header_style="bold")
        table.add_column("severity")
        table.add_column("code")
        table.add_column("subject")
        table.add_column("message", overflow="fold")
        table.add_column("when")
        for f in findings:
            sev = f.severity.value if f.severity is not None else "info"
            table.add_row(
                f"[{SEVERITY_STYLE.get(sev, '')}]{sev}[/]",
                f.code or "",
                str(f.subject),
                f.message,
                _window(f),
            )
        console.print(table)
    else:
        console.print("no findings")
    statuses = analysis.result.rules
    ran = sum(1 for s in statuses if s.status == "ran")
    skipped = sum(1 for s in statuses if s.status == "skipped")
    errors = [s for s in statuses if s.status == "error"]
    console.print(f"{ran} rules ran, {skipped} skipped, {len(errors)} errors")
    cover = analysis.result.coverage
    if cover.not_run:
        console.print(cover.sentence)
    if not findings and not cover.core_ran:
        console.print(
            "not checked, not healthy: " + ", ".join(cover.core_missing) + " could not run"
        )
    for s in errors:
        console.print(f"[red]rule {s.code} failed:[/] {s.reason}")


def render_text(analysis: Analysis) -> str:
    """The findings as plain text, one block per finding."""
    host = analysis.dataset.host
    lines = [
        f"host {host.get('hostname')}  kernel {host.get('kernel_release')}  "
        f"samples {analysis.dataset.sample_count}",
        "",
    ]
    for f in analysis.result.findings:
        sev = f.severity.value if f.severity is not None else "info"
        lines.append(f"{sev.upper():8s} {f.code} {f.name}  [{f.subject}]  {_window(f)}")
        lines.append(f"  {f.message}")
        if f.remediation:
            lines.append("  remediation: " + " ".join(f.remediation.split())[:400])
        lines.append("")
    if not analysis.result.findings:
        lines.append("no findings")
    lines.append(analysis.result.coverage.sentence)
    for s in analysis.result.rules:
        if s.status != "ran":
            lines.append(f"rule {s.code}: {s.status}: {s.reason}")
    return "\n".join(lines) + "\n"
