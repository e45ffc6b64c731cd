"""The report's view model: host facts, findings, process tables, health and rules."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from vmanalyze.analysis import Analysis
from vmanalyze.engine import RuleStatus
from vmanalyze.rule import Finding, Severity
from vmreports import build_view, render_html
from vmreports.render import ReportView
from vmreports.units import human_bytes, human_count, human_duration

from .helpers import analysis_with_fake_rules, dataset_of, result_of


def _view(name: str) -> ReportView:
    return build_view(analysis_with_fake_rules(name))


def _facts(view: ReportView) -> dict[str, tuple[str, str | None]]:
    return {f.label: (f.value, f.detail) for f in view.facts}


def test_host_facts_come_from_the_tables() -> None:
    ds = dataset_of("swap-thrash")
    mem = ds.tables["meminfo"].sort_values("ts")
    facts = _facts(_view("swap-thrash"))
    assert facts["RAM"][0] == human_bytes(mem["mem_total_bytes"].iloc[0])
    assert facts["Swap"][0] == human_bytes(mem["swap_total_bytes"].iloc[0])
    assert facts["Swap"][0] != "none"
    assert facts["Kernel"][0] == ds.host["kernel_release"]
    assert facts["NUMA nodes"][0] == str(ds.tables["numa_topology"]["node"].nunique())
    thp = ds.tables["thp"]
    assert facts["THP"][0] == thp[thp["setting"] == "enabled"]["value"].iloc[0]
    sysctl = ds.tables["sysctl_vm"]
    mode = int(sysctl[sysctl["name"] == "overcommit_memory"]["value_int"].iloc[0])
    assert facts["Overcommit"][1] is not None and f"mode {mode}" in facts["Overcommit"][1]
    samples = ds.tables["samples"]
    seconds = (samples["ts"].max() - samples["ts"].min()).total_seconds()
    assert facts["Window"][0] == human_duration(seconds)
    assert facts["Sampling"][0] == f"every {human_duration(ds.host['interval_s'])}"


def test_no_swap_host_says_none() -> None:
    assert _facts(_view("healthy-idle"))["Swap"][0] == "none"


def test_findings_most_severe_first_with_windows_and_docs() -> None:
    view = _view("swap-thrash")
    severities = [f.severity for f in view.findings]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    assert view.counts["critical"] >= 1 and view.verdict_level == "critical"
    swap = next(f for f in view.findings if f.code == "SWP901")
    assert swap.subject.startswith("process swap-cycler (pid ")
    assert swap.chart_id == "swap" and swap.doc_anchor == "rule-SWP901"
    assert re.match(r"\d\d:\d\d:\d\d → \d\d:\d\d:\d\d UTC \(", swap.window)
    labels = {e.label: e for e in swap.evidence}
    assert labels["swapin peak/s"].text is not None and "MiB/s" in labels["swapin peak/s"].text
    assert labels["top swapped processes"].table is not None
    assert "memory.limit_in_bytes" in str(swap.remediation)
    # its window is shaded on the swap chart, at the finding's times
    chart = next(c for c in view.charts if c.id == "swap")
    mark = next(m for m in chart.marks if m.code == "SWP901")
    finding = next(f for f in analysis_with_fake_rules("swap-thrash").result.findings)
    assert finding.start is not None
    assert mark.start == pytest.approx(finding.start.timestamp())
    assert mark.severity == "critical"


def test_finding_of_an_unregistered_rule_has_no_chart_and_no_doc() -> None:
    ds = dataset_of("healthy-idle")
    finding = Finding(
        message="Cgroup near its limit.",
        subject="cgroup:/system.slice/db.service",
        start=ds.tables["samples"]["ts"].min(),
        evidence={"usage_bytes": 3 << 30, "limit_bytes": 4 << 30, "share_pct": 75.0},
        code="ZZZ001",
        name="not-registered",
        severity=Severity.WARNING,
    )
    analysis = Analysis(ds, result_of(ds.tables, [finding], [RuleStatus("ZZZ001", "ran")]))
    view = build_view(analysis)
    (f,) = view.findings
    assert f.doc_anchor is None and f.chart_id is None and not f.marked
    assert f.subject == "cgroup /system.slice/db.service"
    assert f.window.startswith("since ")
    texts = {e.label: e.text for e in f.evidence}
    assert texts == {"usage": "3.00 GiB", "limit": "4.00 GiB", "share": "75.0 %"}
    assert not any(m.code == "ZZZ001" for c in view.charts for m in c.marks)


def test_top_processes_match_an_independent_groupby() -> None:
    ds = dataset_of("memory-leak")
    ps = ds.tables["process_samples"].sort_values("ts")
    per = ps.groupby(["pid", "starttime"]).agg(
        comm=("comm", "last"),
        rss_max=("rss_bytes", "max"),
        rss_first=("rss_bytes", "first"),
        rss_last=("rss_bytes", "last"),
        majflt_first=("majflt", "first"),
        majflt_last=("majflt", "last"),
    )
    view = _view("memory-leak")
    by_rss, growth, _swap, faults = view.processes
    top = per.sort_values("rss_max", ascending=False).head(len(by_rss.rows))
    assert [r[1].text for r in by_rss.rows] == [str(pid) for pid, _ in top.index]
    assert [r[2].text for r in by_rss.rows] == [human_bytes(v) for v in top["rss_max"]]
    per["growth"] = per["rss_last"] - per["rss_first"]
    grown = per[per["growth"] > 0].sort_values("growth", ascending=False)
    first = growth.rows[0]
    assert first[0].text == "leaky-cache" == grown.iloc[0]["comm"]
    assert first[4].text == "+" + human_bytes(grown.iloc[0]["growth"])
    assert grown.iloc[0]["growth"] > 300 * 2**20  # the scenario: ~10 MiB/s for the 40 s capture
    per["faults"] = (per["majflt_last"] - per["majflt_first"]).clip(lower=0)
    faulted = per[per["faults"] > 0].sort_values("faults", ascending=False)
    assert [r[2].text for r in faults.rows] == [
        human_count(v) for v in faulted["faults"].head(len(faults.rows))
    ]


def test_swap_table_names_the_swapping_process() -> None:
    ds = dataset_of("swap-thrash")
    ps = ds.tables["process_samples"]
    top = ps.groupby("pid")["vm_swap_bytes"].max().sort_values(ascending=False)
    _rss, _growth, swap, _faults = _view("swap-thrash").processes
    assert swap.rows[0][0].text == "swap-cycler"
    assert swap.rows[0][1].text == str(top.index[0])
    assert swap.rows[0][2].text == human_bytes(top.iloc[0])


def test_rule_status_and_docs() -> None:
    view = _view("swap-thrash")
    status = {r.code: r for r in view.rules}
    assert status["CGR901"].status == "error" and "deliberately broken" in (
        status["CGR901"].reason or ""
    )
    assert status["NUMA901"].status == "skipped" and status["NUMA901"].reason == "single NUMA node"
    assert status["SWP901"].status == "ran" and status["SWP901"].findings == 1
    assert [r.status for r in view.rules][0] == "error"  # problems first
    assert view.rule_counts == {"ran": 6, "skipped": 1, "error": 1}
    docs = {d.code: d for d in view.rule_docs}
    assert set(docs) == set(status)
    assert "<h4>Remediation</h4>" in str(docs["SWP901"].html)


def test_no_rules_means_no_diagnosis_not_healthy() -> None:
    ds = dataset_of("healthy-idle")
    view = build_view(Analysis(ds, result_of(ds.tables)))
    assert view.verdict_level == "unknown" and "No rule ran" in view.verdict


def test_collection_health_groups_per_process_files() -> None:
    ds = dataset_of("oom-kill")
    health = ds.tables["collection_health"]
    view = _view("oom-kill")
    rows = {(r[0].text, r[1].text): r[2].text for r in view.health.files.rows}
    bad = health[health["outcome"] != "captured"]
    for outcome in bad["outcome"].unique():
        assert any(key[1] == outcome for key in rows)
    assert all("proc/[pid]/" in path or "/proc/" not in path for path, _ in rows)
    assert view.health.samples_total == len(ds.tables["samples"])
    assert view.health.samples_late == int(ds.tables["samples"]["late"].sum())


def test_late_samples_are_listed() -> None:
    ds = dataset_of("healthy-idle")
    tables = dict(ds.tables)
    samples = tables["samples"].copy()
    samples.loc[samples.index[3:5], "late"] = True
    samples.loc[samples.index[4], "skipped_slots"] = 2
    tables["samples"] = samples
    from vmanalyze.dataset import Dataset

    analysis = Analysis(Dataset(tables, ds.source), result_of(tables))
    view = build_view(analysis)
    assert view.health.samples_late == 2 and view.health.skipped_slots == 2
    assert view.health.late is not None and len(view.health.late.rows) == 2


def test_one_snapshot_input_renders() -> None:
    ds = dataset_of("debian12")
    html = render_html(Analysis(ds, result_of(ds.tables)))
    assert html.count('class="chart-empty"') == 8
    assert "single snapshot" in html


def test_default_registry_renders_the_installed_rules() -> None:
    """render_html(analysis), as `vmanalyze INPUT` calls it, with the real rule packs."""
    from vmanalyze.analysis import analyze

    analysis = analyze(dataset_of("healthy-idle").source["input"])
    html = render_html(analysis)
    for row in analysis.result.rules:
        assert f'id="rule-{row.code}"' in html
    assert "<!doctype html>" in html[:20]


def test_sysctl_changes_are_shown() -> None:
    ds = dataset_of("thp-always-postgres")
    view = _view("thp-always-postgres")
    sysctl, thp, _pools = view.configuration
    enabled = next(r for r in thp.rows if r[0].text == "enabled")
    assert enabled[1].text.endswith("always")
    first = ds.tables["sysctl_vm"].sort_values("ts").groupby("name")["value"].first()
    shown = {r[0].text: r[1].text for r in sysctl.rows}
    for name, value in first.items():
        if str(value) != "nan":
            assert shown[f"vm.{name}"].endswith(str(value)) or "→" in shown[f"vm.{name}"]


def test_values_are_finite_in_the_chart_json() -> None:
    import json

    view = _view("pagecache-thrash")
    data = json.loads(str(view.chart_data).replace("\\u003c", "<"))
    for chart in data["charts"]:
        for series in chart.get("series", []):
            values = [v for v in series["values"] if v is not None]
            assert all(np.isfinite(values))


def test_timestamps_in_the_window_are_utc() -> None:
    view = _view("overcommit")
    finding = next(f for f in view.findings if f.code == "OVC901")
    ds = dataset_of("overcommit")
    mem = ds.tables["meminfo"]
    over = mem[mem["committed_as_bytes"] > mem["mem_total_bytes"] + mem["swap_total_bytes"]]
    start = pd.Timestamp(over["ts"].min()).tz_convert("UTC").strftime("%H:%M:%S")
    assert finding.window.startswith(start)


def test_one_snapshot_facts_and_empty_evidence_tables() -> None:
    ds = dataset_of("debian12")
    finding = Finding(
        message="Remote allocations since boot.",
        subject="node:1",
        evidence={"misplaced": pd.DataFrame({"pid": []}), "share_pct": 27.0},
        code="NUMA901",
        name="remote-numa-allocations",
        severity=Severity.WARNING,
    )
    view = build_view(
        Analysis(ds, result_of(ds.tables, [finding], [RuleStatus("NUMA901", "ran", findings=1)]))
    )
    facts = _facts(view)
    assert facts["Window"][0] == "one snapshot" and "Sampling" not in facts
    (f,) = view.findings
    assert {e.label: e.text for e in f.evidence} == {"misplaced": "none", "share": "27.0 %"}
    assert f.subject == "NUMA node 1" and f.window.startswith("No time window")


def test_an_input_without_tables_still_renders() -> None:
    from vmanalyze.dataset import Dataset

    html = render_html(Analysis(Dataset({}, {}), result_of({})))
    assert "unknown host" in html and html.count('class="chart-empty"') == 8


def test_a_window_before_the_capture_is_a_labelled_marker() -> None:
    ds = dataset_of("healthy-idle")
    first = ds.tables["samples"]["ts"].min()
    finding = Finding(
        message="11 OOM kills in the kernel log before the capture.",
        start=first - pd.Timedelta("40min"),
        end=first - pd.Timedelta("5min"),
        evidence={"pid": 2019, "starttime": 274939, "slope_mib_per_s": 16.2},
        code="OOM901",
        name="oom-kills",
        severity=Severity.INFO,
    )
    analysis = Analysis(ds, result_of(ds.tables, [finding], [RuleStatus("OOM901", "ran")]))
    view = build_view(analysis)
    (mark,) = [m for c in view.charts for m in c.marks if m.code == "OOM901"]
    assert mark.outside == "before"
    assert mark.label == "OOM901 host (before the capture)"
    (f,) = view.findings
    texts = {e.label: e.text for e in f.evidence}
    # identifiers and clock ticks without separators; a rate with its unit
    assert texts == {"pid": "2019", "starttime": "274939", "slope/s": "16.2 MiB/s"}


def test_samples_snapshots_and_intervals_are_counted_once() -> None:
    ds = dataset_of("swap-thrash")
    samples = ds.tables["samples"]
    view = _view("swap-thrash")
    sampled = int((samples["phase"] == "sample").sum())
    detail = _facts(view)["Sampling"][1]
    assert detail == (
        f"{sampled} samples · {len(samples)} snapshots · {len(samples) - 1} intervals "
        "(see Over time)"
    )
    html = render_html(analysis_with_fake_rules("swap-thrash"))
    assert html.count('id="terms"') == 1


def test_int64_max_pid_and_starttime_are_unknown_without_a_warning() -> None:
    """A crafted /proc/PID/stat may say 9223372036854775807: the top-process tables show the
    pid as unknown and the summary's start time is null, with no RuntimeWarning (the old
    float64 round trip cast 2**63 to int64 and made up -9223372036854775808)."""
    from vmanalyze.process_summary import summarize_processes
    from vmreports.sections import process_tables

    tables = dict(dataset_of("memory-leak").tables)
    ps = tables["process_samples"].copy()
    leaky = ps["comm"] == "leaky-cache"
    other = ps["comm"] == "process_api"  # pid 1, in the top by RSS
    ps.loc[leaky, "starttime"] = 2**63 - 1
    ps.loc[other, "pid"] = 2**63 - 1
    tables["process_samples"] = ps
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = summarize_processes(ps)
        by_rss, growth, _swap, _faults = process_tables(tables)
    assert data is not None
    rows = data.summary
    assert rows.loc[rows["comm"] == "leaky-cache", "starttime"].isna().all()
    assert rows["starttime"].notna().sum() == len(rows) - 1  # the other processes keep theirs
    assert rows["pid"].isna().sum() == 1
    assert rows.loc[rows["comm"] == "leaky-cache", "pid"].tolist() == [
        int(ps.loc[leaky, "pid"].iloc[0])
    ]
    assert [r[0].text for r in by_rss.rows if r[1].text == "–"] == ["process_api"]
    shown = [r[1].text for r in by_rss.rows + growth.rows]
    assert all(t == "–" or 0 < int(t) < 4_194_304 for t in shown), shown
    assert growth.rows[0][0].text == "leaky-cache"
