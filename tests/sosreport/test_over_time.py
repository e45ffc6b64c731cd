"""A one-snapshot input names the rules that need a capture over time (terminal and report)."""

from __future__ import annotations

from pathlib import Path

from vmanalyze.analysis import analyze
from vmanalyze.cli.summary import print_summary
from vmanalyze.engine import AnalysisResult, RuleStatus
from vmanalyze.over_time import needs_capture_over_time
from vmreports.render import build_view, render_view

DEBIAN12 = Path(__file__).resolve().parent.parent / "fixtures" / "sosreport-debian12"


def test_only_rules_skipped_for_want_of_time_are_named():
    result = AnalysisResult(
        rules=(
            RuleStatus("SWP001", "skipped", "swap rates need at least two timestamped snapshots"),
            RuleStatus("FLT001", "skipped", "needs at least 2 samples, the input has 1 sample"),
            RuleStatus("PSI001", "skipped", "empty tables: pressure_memory"),
            RuleStatus("OOM001", "ran", None),
        ),
        findings=(),
    )
    over = needs_capture_over_time(result, 1)
    assert over is not None and over.codes == ["FLT001", "SWP001"]
    assert needs_capture_over_time(result, 12) is None


def test_sosreport_summary_and_report_say_what_needs_time(tmp_path):
    analysis = analyze(DEBIAN12, cache=False)
    over = needs_capture_over_time(analysis.result, analysis.dataset.sample_count)
    assert over is not None
    assert {"FLT001", "MEM002", "SWP001"} <= set(over.codes)
    out = tmp_path / "summary.txt"
    with out.open("w") as stream:
        print_summary(analysis, stream)
    text = " ".join(out.read_text().split())
    assert "one snapshot: " + ", ".join(over.codes) + " need a capture over time" in text
    assert "vmcollect.pyz --duration 30m" in text
    page = render_view(build_view(analysis))
    assert 'id="over-time"' in page and ", ".join(over.codes) in page
