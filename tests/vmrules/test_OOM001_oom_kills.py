"""OOM001 oom-kills on the real oom-kill capture: memcg OOM kills in vmstat and the kernel log."""

from __future__ import annotations

import pandas as pd
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.oom.oom_kills import oom_kills as RULE


def first_label(t: dict[str, pd.DataFrame]) -> int:
    return int(t["samples"].sort_values("ts")["snapshot"].iloc[0])


def logged_kills(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ev = t["oom_events"]
    return ev[ev["event"] == "oom_kill"]


def test_fires_on_the_cgroup_oom_kills_of_the_window(sample_bundle):
    t = sample_bundle("oom-kill").tables
    vm = t["vmstat"].sort_values("ts")
    delta = int(vm["oom_kill"].iloc[-1] - vm["oom_kill"].iloc[0])
    kills = logged_kills(t)
    inside = kills[kills["snapshot"] != first_label(t)]
    assert delta == len(inside) >= 1

    result = run(t, [RULE])
    assert result.by_status("error") == ()
    warnings = [f for f in result.findings if f.severity != Severity.INFO]
    assert [(f.code, f.subject, str(f.severity)) for f in warnings] == [
        ("OOM001", "cgroup:/vmtriage-sample-oom-kill", "warning")
    ]
    ev = warnings[0].evidence
    assert ev["kills"] == len(inside) and ev["oom_kill_counter_delta"] == delta
    victims = ev["victims"]
    assert sorted(victims["victim_pid"]) == sorted(inside["victim_pid"])
    assert set(victims["victim_name"]) == {"oom-hog"}
    assert set(victims["oom_memcg"]) == {"/vmtriage-sample-oom-kill"}
    assert list(victims["anon_rss_mib"]) == [
        round(v / 2**20, 1) for v in inside.sort_values("seq")["anon_rss_bytes"]
    ]
    # the kill times fall inside the capture window
    assert victims["at"].min() >= t["samples"]["ts"].min()
    assert victims["at"].max() <= t["samples"]["ts"].max()


def test_kills_before_the_window_are_info_only(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    result = run(t, [RULE])
    assert result.status("OOM001").status == "ran"
    assert all(f.severity == Severity.INFO for f in result.findings)
    before = logged_kills(t)
    if before.empty:
        assert result.findings == ()
    else:
        assert len(result.findings) == 1
        assert result.findings[0].evidence["kills"] == len(before)


def test_single_snapshot_reports_the_kernel_log_of_the_boot(sample_bundle):
    t = sample_bundle("oom-kill").tables
    last = int(t["samples"].sort_values("ts")["snapshot"].iloc[-1])
    one = {
        n: df[df["snapshot"] == last] if "snapshot" in df and n != "oom_events" else df
        for n, df in t.items()
    }
    result = run(one, [RULE])
    assert {str(f.severity) for f in result.findings} == {"warning"}
    found = sum(f.evidence["kills"] for f in result.findings)
    assert found == len(logged_kills(t))
    memcg = next(f for f in result.findings if f.subject == "cgroup:/vmtriage-sample-oom-kill")
    assert memcg.evidence["oom_kill_since_boot"] == int(one["vmstat"]["oom_kill"].iloc[0])


def test_counter_without_kernel_log(sample_bundle):
    t = dict(sample_bundle("oom-kill").tables)
    del t["oom_events"]
    vm = t["vmstat"].sort_values("ts")
    delta = int(vm["oom_kill"].iloc[-1] - vm["oom_kill"].iloc[0])
    result = run(t, [RULE])
    assert [(f.code, f.subject) for f in result.findings] == [("OOM001", "host")]
    assert result.findings[0].evidence["oom_kill_counter_delta"] == delta
    assert result.findings[0].evidence["logged_kills"] == 0


def test_skipped_without_either_source():
    result = run({"meminfo": pd.DataFrame({"snapshot": ["0"], "mem_total_bytes": [1]})}, [RULE])
    assert result.status("OOM001").status == "skipped"


#: A global OOM as kernels before 4.19 (RHEL 7's 3.10, Ubuntu 18.04's 4.15) log it, written
#: from mm/oom_kill.c's format strings of those kernels (RHEL 7 adds the UID after the name).
GLOBAL_PRE_4_19 = (
    "4,880,7301000000,-;mysqld invoked oom-killer: gfp_mask=0x201da, order=0,"
    " oom_score_adj=0\n"
    "3,881,7301000500,-;Out of memory: Kill process 999 (mysqld) score 811 or sacrifice child\n"
    "3,882,7301001000,-;Killed process 999 (mysqld), UID 27, total-vm:8388608kB,"
    " anon-rss:6291456kB, file-rss:1024kB, shmem-rss:0kB\n"
)


def test_reads_scope_and_sizes_from_pre_4_19_lines(tmp_path):
    """A sosreport-shaped capture of a RHEL 7 host: this host's meminfo and vmstat, and a
    kernel log with one global OOM kill and one memory-cgroup kill in the pre-4.19 format."""
    from pathlib import Path

    from vmanalyze.analysis import analyze
    from vmanalyze.parsers.kmsg import SAMPLE_PRE_4_19

    for rel in ("proc/meminfo", "proc/vmstat"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(Path("/", rel).read_text())
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/kmsg").write_text(GLOBAL_PRE_4_19 + SAMPLE_PRE_4_19)
    analysis = analyze(tmp_path, cache=False)
    findings = [f for f in analysis.result.findings if f.code == "OOM001"]
    by_subject = {f.subject: f for f in findings}
    assert set(by_subject) == {"host", "cgroup:/app"}
    memcg = by_subject["cgroup:/app"].evidence["victims"]
    assert memcg["victim_name"].tolist() == ["java"]
    assert memcg["oom_memcg"].tolist() == ["/app"]
    assert memcg["task_memcg"].tolist() == ["/app/worker"]
    assert memcg["anon_rss_mib"].tolist() == [246.0]  # 251904 kB
    host = by_subject["host"]
    glob = host.evidence["victims"]
    assert glob["victim_name"].tolist() == ["mysqld"]
    assert glob["anon_rss_mib"].tolist() == [6144.0] and glob["total_vm_mib"].tolist() == [8192.0]
    assert "global" in host.message
