"""The terminal summary at 80 and 200 columns, rendered with rich's recording console."""

from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
from rich.console import Console
from vmanalyze.analysis import Analysis
from vmanalyze.cli.summary import render_summary, render_text
from vmanalyze.engine import RuleStatus
from vmanalyze.rule import Finding, Severity

from .conftest import MakeAnalysis

CAPTURE_DAY = dt.date(2026, 11, 26)  # the day the sample bundles were captured


def render(analysis: Analysis, width: int, **options: object) -> list[str]:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    render_summary(analysis, console, **options)  # type: ignore[arg-type]
    return [line.rstrip() for line in console.export_text().splitlines()]


def findings_part(lines: list[str]) -> list[str]:
    """The lines after the story (docs/story.md): from "What happened" to its blank line."""
    if not any(line.startswith("What happened") for line in lines):
        return lines
    start = next(i for i, line in enumerate(lines) if line.startswith("What happened"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return lines[:start] + lines[end + 1 :]


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_80_columns_prints_blocks_that_fit_and_keep_every_word(swap_analysis: Analysis) -> None:
    everything = render(swap_analysis, 80)
    assert max(len(line) for line in everything) <= 80
    assert everything[1].startswith("What happened: cause CGR001")  # the story comes first
    lines = findings_part(everything)
    assert not any("│" in line or "┃" in line for line in lines)  # blocks, not a table
    findings = swap_analysis.result.findings
    assert len(findings) == 5
    heads = [line for line in lines if re.match(r"(CRITICAL|WARNING |INFO    ) [A-Z]+\d{3} ", line)]
    assert [h.split()[1] for h in heads] == [f.code for f in findings]
    body = squeeze("\n".join(lines))
    for f in findings:
        assert squeeze(f.message) in body  # wrapped at spaces, nothing cut
        assert f.subject in body
    assert "…" not in body
    # the old table needed 109 lines for these 5 findings at 80 columns
    assert len(lines) < 40


def test_200_columns_prints_one_table_row_per_finding(swap_analysis: Analysis) -> None:
    lines = findings_part(render(swap_analysis, 200))
    assert max(len(line) for line in lines) <= 200
    header = next(line for line in lines if "┃" in line)
    assert header.replace("┃", " ").split() == ["severity", "code", "subject", "message", "when"]
    for f in swap_analysis.result.findings:
        rows = [line for line in lines if f" {f.code} " in line]
        assert len(rows) == 1, f.code
    body = squeeze(" ".join(line.replace("│", " ") for line in lines))
    for f in swap_analysis.result.findings:
        for word in f.message.split():  # long messages wrap inside their cell, at spaces
            assert word in body


def test_verbose_adds_remediation_and_evidence(swap_analysis: Analysis) -> None:
    plain = "\n".join(render(swap_analysis, 80))
    verbose = "\n".join(render(swap_analysis, 80, verbose=True))
    assert "remediation:" not in plain and "evidence:" not in plain
    assert verbose.count("remediation:") == 5
    swp = next(f for f in swap_analysis.result.findings if f.code == "SWP001")
    assert swp.remediation
    assert squeeze(swp.remediation.split("\n\n")[0]) in squeeze(verbose)
    assert "evidence:" in verbose


def test_show_skipped_lists_each_reason(swap_analysis: Analysis) -> None:
    skipped = [s for s in swap_analysis.result.rules if s.status == "skipped"]
    assert len(skipped) == 3
    without = render(swap_analysis, 80)
    ran = next(line for line in without if " rules ran, " in line)
    assert ran.endswith("3 skipped, 0 errors (--show-skipped says why)")
    lines = render(swap_analysis, 80, show_skipped=True)
    for s in skipped:
        assert f"  {s.code}: {s.reason}" in lines


def test_times_carry_a_date_unless_today(make_analysis: MakeAnalysis) -> None:
    finding = Finding(
        "x",
        start=pd.Timestamp("2026-11-26 14:00:05"),
        end=pd.Timestamp("2026-11-26 14:16:30"),
        code="EXA001",
        name="example",
        severity=Severity.WARNING,
    )
    analysis = make_analysis([finding])
    same_day = "\n".join(render(analysis, 80, today=CAPTURE_DAY))
    assert "  14:00:05–14:16:30" in same_day and "2026-11-26" not in same_day
    later = "\n".join(render(analysis, 80, today=dt.date(2026, 12, 6)))
    assert "2026-11-26 14:00:05–14:16:30" in later


def test_a_word_longer_than_the_line_ends_in_a_marker(make_analysis: MakeAnalysis) -> None:
    path = "/sys/fs/cgroup/" + "deeply-nested.slice/" * 8
    finding = Finding(f"limit hit in {path} twice", code="CGR001", name="cgroup-memory-limit")
    lines = render(make_analysis([finding]), 80)
    assert max(len(line) for line in lines) <= 80
    cut = [line for line in lines if "deeply-nested" in line]
    assert len(cut) == 1 and cut[0].endswith("…")
    assert "twice" in "\n".join(lines)


def test_format_text_has_full_remediation_wrapped_at_spaces(swap_analysis: Analysis) -> None:
    text = render_text(swap_analysis, today=CAPTURE_DAY)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    for f in swap_analysis.result.findings:
        assert f.remediation
        for paragraph in f.remediation.split("\n\n"):
            assert squeeze(paragraph) in squeeze(text)  # never cut at 400 characters


def test_input_text_is_shown_as_text(make_analysis: MakeAnalysis) -> None:
    finding = Finding(
        "comm [bold]x[/] \x1b[2J cleared", subject="process:1:[/]", code="EXA001", name="e"
    )
    rules = [RuleStatus("EXA002", "skipped", "missing tables: x\x1b]0;t\x07")]
    analysis = make_analysis([finding], rules, hostname="db01[/]\x1b]0;pwned\x07")
    for width in (80, 200):
        text = "\n".join(render(analysis, width, show_skipped=True))
        assert "\x1b" not in text and "\x07" not in text
        assert "db01[/]\\x1b]0;pwned\\x07" in text
        assert "comm [bold]x[/] \\x1b[2J cleared" in text
        assert "process:1:[/]" in text
        assert "missing tables: x\\x1b]0;t\\x07" in text
