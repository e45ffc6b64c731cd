"""OVC001 overcommit-risk: the real overcommit capture; mode-2 arithmetic on small tables."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.ovc.overcommit_risk import overcommit_risk as RULE

GIB = 1 << 30
TS = pd.Timestamp("2026-01-01T00:00:00Z")


def test_fires_on_commitments_far_beyond_ram_and_swap(sample_bundle):
    t = sample_bundle("overcommit").tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    (finding,) = result.findings
    assert (finding.code, finding.subject, finding.severity) == (
        "OVC001",
        "host",
        Severity.WARNING,
    )
    m = t["meminfo"]
    share = m["committed_as_bytes"] / (m["mem_total_bytes"] + m["swap_total_bytes"])
    limit = RULE.setting("max_commit_share").default
    assert share.max() > limit
    assert finding.evidence["overcommit_memory"] == 0
    assert finding.evidence["commit_share_max"] == pytest.approx(share.max(), abs=1e-4)
    assert finding.evidence["committed_as_max_bytes"] == m["committed_as_bytes"].max()
    assert finding.evidence["snapshots_above"] == int((share > limit).sum())
    # the reserver-* processes own the commitments: each maps 16 GiB and touches little
    top = finding.evidence["largest_virtual"]
    reservers = top[top["comm"].str.startswith("reserver-")]
    assert len(reservers) == 4
    assert (reservers["vsize_bytes"] >= 16 * GIB).all()
    assert (reservers["rss_bytes"] < GIB).all()


def test_quiet_when_commitments_fit(sample_bundle):
    for name in ("healthy-idle", "thp-always-postgres", "memory-leak"):
        t = sample_bundle(name).tables
        m = t["meminfo"]
        share = m["committed_as_bytes"] / (m["mem_total_bytes"] + m["swap_total_bytes"])
        assert share.max() < 1
        assert run(t, [RULE]).findings == ()


# -- mode 2 arithmetic and the mode-1 exception, on small tables --------------------------


def tables(
    mode: int,
    committed: float,
    *,
    ram: float = 64 * GIB,
    swap: float = 16 * GIB,
    huge_pages: int = 0,
    ratio: int = 50,
    kbytes: int = 0,
    kernel_limit: float | None = None,
    comm: str = "app",
) -> dict[str, pd.DataFrame]:
    meminfo = pd.DataFrame(
        {
            "snapshot": ["start"],
            "ts": [TS],
            "mem_total_bytes": [ram],
            "swap_total_bytes": [swap],
            "committed_as_bytes": [committed],
            "hugepages_total": [huge_pages],
            "hugepagesize_bytes": [2 << 20],
            "commit_limit_bytes": [kernel_limit],
        }
    )
    sysctl = pd.DataFrame(
        {
            "snapshot": ["start"] * 3,
            "ts": [TS] * 3,
            "name": ["overcommit_memory", "overcommit_ratio", "overcommit_kbytes"],
            "value": [str(mode), str(ratio), str(kbytes)],
            "value_int": pd.array([mode, ratio, kbytes], dtype="Int64"),
        }
    )
    ps = pd.DataFrame(
        {
            "snapshot": ["start"],
            "ts": [TS],
            "pid": [7],
            "starttime": [1],
            "comm": [comm],
            "vsize": [int(committed)],
            "rss_bytes": [GIB],
            "thp_enabled": pd.array([None], dtype="Int64"),
        }
    )
    return {"meminfo": meminfo, "sysctl_vm": sysctl, "process_samples": ps}


def test_mode2_limit_is_swap_plus_ratio_of_ram_minus_hugetlb():
    # 64 GiB RAM, 16 GiB swap, a 32 GiB hugetlb pool, ratio 50: (64 - 32) x 0.5 + 16 = 32 GiB.
    t = tables(2, 30 * GIB, huge_pages=16384)
    result = run(t, [RULE])
    # CommitLimit 32 GiB is all of RAM minus the hugetlb pool (32 GiB): not misconfigured
    (near,) = result.findings
    assert near.evidence["hugetlb_bytes"] == 32 * GIB
    assert near.evidence["commit_limit_computed_bytes"] == 32 * GIB
    assert near.evidence["commit_share_max"] == pytest.approx(30 / 32)
    assert "strict mode 2" in near.message
    assert near.severity is Severity.WARNING


def test_mode2_low_limit_is_measured_against_ram_minus_hugetlb():
    # 64 GiB RAM, no swap, ratio 50, no pool: CommitLimit 32 GiB, 50% of RAM
    (low,) = run(tables(2, 1 * GIB, swap=0), [RULE]).findings
    assert low.evidence["usable_ram_bytes"] == 64 * GIB
    assert low.evidence["unusable_bytes"] == 64 * GIB - 32 * GIB  # RAM - CommitLimit
    assert "can never be committed" in low.message
    # a 16 GiB pool: CommitLimit (64 - 16) x 0.5 = 24 GiB, 50% of the 48 GiB left
    (low,) = run(tables(2, 1 * GIB, swap=0, huge_pages=8192), [RULE]).findings
    assert low.evidence["usable_ram_bytes"] == 48 * GIB
    assert low.evidence["unusable_bytes"] == 64 * GIB - 24 * GIB
    assert "50% of RAM minus the hugetlb pool" in low.message


def test_mode2_without_the_ratio_or_commit_limit_is_skipped():
    t = tables(2, 30 * GIB)
    t["sysctl_vm"] = t["sysctl_vm"][t["sysctl_vm"]["name"] == "overcommit_memory"]
    result = run(t, [RULE])
    assert result.status("OVC001").status == "skipped"
    assert "commit limit is unknown" in (result.status("OVC001").reason or "")
    # with the kernel's CommitLimit, the ratio is not needed
    t["meminfo"]["commit_limit_bytes"] = [48.0 * GIB]
    assert run(t, [RULE]).status("OVC001").status == "ran"


def test_missing_overcommit_memory_is_a_skip_not_an_error():
    t = tables(0, 30 * GIB)
    del t["sysctl_vm"]
    result = run(t, [RULE], host={"overcommit_memory": None})
    assert result.status("OVC001").status == "skipped"
    assert result.status("OVC001").reason == "vm.overcommit_memory was not captured"


def test_mode2_uses_the_kernel_commit_limit_and_flags_reaching_it():
    t = tables(2, 50 * GIB, kernel_limit=48 * GIB)  # 64 x 0.5 + 16 = 48 GiB
    result = run(t, [RULE])
    (near,) = result.findings  # 48 GiB is 75% of RAM: not a misconfiguration
    assert near.evidence["commit_limit_computed_bytes"] == 48 * GIB
    assert near.severity is Severity.CRITICAL


def test_mode2_overcommit_kbytes_replaces_the_ratio():
    t = tables(2, 10 * GIB, kbytes=60 * (1 << 20))  # 60 GiB in kB, + 16 GiB swap
    assert run(t, [RULE]).findings == ()
    t = tables(2, 70 * GIB, kbytes=60 * (1 << 20))
    (near,) = run(t, [RULE]).findings
    assert near.evidence["commit_limit_computed_bytes"] == 76 * GIB


def test_ratio_is_ignored_outside_mode_2():
    # mode 0 with 70 GiB committed on 80 GiB RAM + swap: below 150%, nothing to say
    assert run(tables(0, 70 * GIB), [RULE]).findings == ()


def test_mode1_is_expected_on_a_redis_host():
    result = run(tables(1, 200 * GIB, comm="redis-server"), [RULE])
    assert not result.by_status("error")
    (finding,) = result.findings
    assert finding.severity is Severity.INFO
    assert "expected" in finding.message
    (finding,) = run(tables(1, 200 * GIB), [RULE]).findings
    assert finding.severity is Severity.WARNING


def test_mode1_is_expected_on_a_mongodb_8_host_only():
    t = tables(1, 200 * GIB, comm="mongod")
    (finding,) = run(t, [RULE]).findings
    assert finding.severity is Severity.WARNING  # MongoDB 7 and older do not ask for mode 1
    t["thp"] = pd.DataFrame(
        {
            "snapshot": ["start", "start"],
            "ts": [TS, TS],
            "setting": ["defrag", "khugepaged/max_ptes_none"],
            "value": ["defer+madvise", "0"],
        }
    )
    (finding,) = run(t, [RULE]).findings
    assert finding.severity is Severity.INFO
    assert "MongoDB 8" in finding.message
