"""RCL001 reclaim-stalls: global direct reclaim in the bookworm guest's reclaim waves (real,
tests/data/kernels/bookworm-reclaim), and none where a memory cgroup alone reclaimed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import vmanalyze
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.rates import counter_rates
from vmanalyze.rule import Severity
from vmrules.rcl.reclaim_stalls import reclaim_counters
from vmrules.rcl.reclaim_stalls import reclaim_stalls as RULE

KERNELS = Path(__file__).resolve().parents[1] / "data" / "kernels"
BOOKWORM = KERNELS / "bookworm-reclaim"


def bookworm() -> dict[str, pd.DataFrame]:
    return vmanalyze.load(BOOKWORM / "vmcollect.tar.gz", cache=False).tables


def test_reports_the_guests_global_direct_reclaim():
    t = bookworm()
    vm = t["vmstat"].sort_values("ts")
    assert vm["allocstall"].iloc[-1] > vm["allocstall"].iloc[0]
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    [f] = result.findings
    ev = f.evidence
    # the numbers are the counters' own, over the direct-reclaim intervals
    rates = counter_rates(vm, ["allocstall", "pgscan_direct", "pgscan_kswapd", "pgsteal_direct"])
    direct = (rates["pgscan_direct_per_s"] >= 100) | (rates["allocstall_per_s"] >= 0.1)
    assert ev["direct_intervals"] == int(direct.sum()) >= 1
    assert ev["allocstalls"] == int(rates.loc[direct, "allocstall_delta"].sum()) > 0
    scanned = rates.loc[direct, "pgscan_direct_delta"].sum()
    kswapd = rates.loc[direct, "pgscan_kswapd_delta"].sum()
    assert ev["pgscan_direct_pages"] == int(scanned) and ev["pgscan_kswapd_pages"] == int(kswapd)
    steal = rates.loc[direct, "pgsteal_direct_delta"].sum()
    assert ev["direct_efficiency_pct"] == round(100 * steal / scanned, 1)
    assert ev["direct_share_of_scanning_pct"] == round(100 * scanned / (scanned + kswapd), 1)
    assert f.message.startswith(f"direct reclaim in {int(direct.sum())} of {len(rates)} intervals")
    assert "psi_some_pct" in ev  # 6.1 has PSI
    # in the 2 GiB guest kswapd did nearly all the scanning: real but mild, so info
    if ev["direct_share_of_scanning_pct"] < 10 or ev["direct_share_of_window"] < 0.1:
        assert f.severity == Severity.INFO
    else:
        assert f.severity is None or f.severity == Severity.WARNING


def test_warns_when_direct_reclaim_does_the_work():
    t = bookworm()
    [f] = run(t, [RULE]).findings
    ev = f.evidence
    config = Config(
        rule_settings={
            "RCL001": {
                "min_direct_scan_pct": ev["direct_share_of_scanning_pct"] / 2,
                "min_direct_share": ev["direct_share_of_window"] / 2,
            }
        }
    )
    [warn] = run(t, [RULE], config).findings
    assert warn.severity in (None, Severity.WARNING) and warn.severity_reason is None
    assert warn.evidence == ev


def test_old_kernels_per_zone_counters_give_the_same_finding():
    """3.x-4.7 print pgscan_direct_<zone> and pgsteal_direct_<zone> (mm/vmstat.c of 4.4):
    the same counters split over zones must give the same numbers."""
    t = bookworm()
    vm = t["vmstat"].copy()
    names = ["pgscan_direct", "pgscan_kswapd", "pgsteal_direct", "pgsteal_kswapd"]
    split = {f"{n}_dma32": vm[n] // 3 for n in names}
    split |= {f"{n}_normal": vm[n] - vm[n] // 3 for n in names}
    old = pd.concat([vm.drop(columns=names), pd.DataFrame(split)], axis=1)
    assert reclaim_counters(old)["scan_direct"].tolist() == vm["pgscan_direct"].tolist()
    [new] = run(t, [RULE]).findings
    [split] = run({**t, "vmstat": old}, [RULE]).findings
    assert split.evidence == new.evidence


def test_memory_cgroup_reclaim_is_not_global(sample_bundle):
    """swap-thrash: a cgroup at its limit reclaimed a million pages, but /proc/vmstat counts
    only global reclaim (mm/vmscan.c: not when cgroup_reclaim()): no finding."""
    t = sample_bundle("swap-thrash").tables
    vm = t["vmstat"].sort_values("ts")
    assert vm["pswpout"].iloc[-1] - vm["pswpout"].iloc[0] > 100_000
    assert vm["allocstall"].iloc[-1] == vm["allocstall"].iloc[0]
    assert vm["pgscan_direct"].iloc[-1] == vm["pgscan_direct"].iloc[0]
    result = run(t, [RULE])
    assert result.status("RCL001").status == "ran" and result.findings == ()


def test_a_short_burst_is_info():
    t = bookworm()
    [f] = run(t, [RULE]).findings
    share = f.evidence["direct_share_of_window"]
    config = Config(
        rule_settings={
            "RCL001": {"min_direct_share": min(1.0, share + 0.01), "min_direct_scan_pct": 0.0}
        }
    )
    [quiet] = run(t, [RULE], config).findings
    assert quiet.severity == Severity.INFO and quiet.evidence == f.evidence
    assert "under" in (quiet.severity_reason or "")


def test_single_snapshot_is_skipped():
    sos = vmanalyze.load(KERNELS / "bookworm" / "sosreport.tar.xz", cache=False)
    status = run(sos.tables, [RULE]).status("RCL001")
    assert status.status == "skipped" and "single snapshot" in status.reason
