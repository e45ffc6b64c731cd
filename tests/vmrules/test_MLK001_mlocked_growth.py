"""MLK001 mlocked-growth on the real mlock-growth capture (a process mlock()ing 1.5 MiB/s), and
quiet elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.mlk.mlocked_growth import mlocked_growth as RULE


def test_fires_on_the_locker_and_names_it(sample_bundle):
    t = sample_bundle("mlock-growth").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    (finding,) = result.findings
    assert (finding.code, finding.subject, str(finding.severity)) == ("MLK001", "host", "warning")
    ev = finding.evidence
    assert ev["measure"] == "Mlocked"
    mem = t["meminfo"].sort_values("ts")
    x = (mem["ts"] - mem["ts"].iloc[0]).dt.total_seconds().to_numpy()
    y = mem["mlocked_bytes"].astype(float).to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert ev["slope_mib_per_s"] == pytest.approx(slope / 2**20, abs=1e-3)
    assert 1.2 < ev["slope_mib_per_s"] < 1.7  # the locker locks 1.5 MiB/s after 10 s
    assert ev["r2"] == pytest.approx(r2, abs=1e-4) and r2 > 0.95
    unevictable = mem["unevictable_bytes"].astype(float)
    assert ev["unevictable_last_mib"] == pytest.approx(unevictable.iloc[-1] / 2**20, abs=0.1)
    assert ev["unevictable_last_mib"] >= ev["last_mib"]  # mlocked pages are unevictable

    status = t["pid_status"]
    locker = status[status["name"] == "mlock-grower"].sort_values("ts")
    top = ev["holders"][0]
    assert (top["pid"], top["comm"]) == (int(locker["pid"].iloc[0]), "mlock-grower")
    assert top["last_mib"] == pytest.approx(locker["vm_lck_bytes"].iloc[-1] / 2**20, abs=0.1)
    assert top["growth_mib"] > 150
    assert "mlock-grower (pid" in finding.message


def test_unevictable_when_mlocked_is_absent(sample_bundle):
    """A kernel without Mlocked (before 2.6.28, or a meminfo cut): Unevictable is fitted."""
    t = dict(sample_bundle("mlock-growth").tables)
    mem = t["meminfo"].drop(columns=["mlocked_bytes"])
    (finding,) = run({**t, "meminfo": mem}, [RULE]).findings
    assert finding.evidence["measure"] == "Unevictable"
    assert finding.message.startswith("Unevictable grew from")


def test_thresholds_decide(sample_bundle):
    t = sample_bundle("mlock-growth").tables
    (finding,) = run(t, [RULE]).findings
    above = finding.evidence["growth_mib"] + 1
    higher = Config(rule_settings={"MLK001": {"min_growth_mib": above}})
    assert run(t, [RULE], higher).findings == ()
    few = Config(rule_settings={"MLK001": {"min_samples": len(t["meminfo"]) + 1}})
    assert run(t, [RULE], few).findings == ()


@pytest.mark.parametrize(
    "name", ["healthy-idle", "memory-leak", "thp-always-postgres", "shmem-growth", "oom-kill"]
)
def test_quiet_where_nothing_is_locked(sample_bundle, name):
    result = run(sample_bundle(name).tables, [RULE])
    assert result.status("MLK001").status == "ran"
    assert result.findings == ()


def test_skips_a_single_snapshot_and_a_kernel_without_the_fields(sample_bundle):
    t = dict(sample_bundle("mlock-growth").tables)
    assert run({**t, "samples": t["samples"].iloc[:1]}, [RULE]).status("MLK001").status == (
        "skipped"
    )
    mem = t["meminfo"].drop(columns=["mlocked_bytes", "unevictable_bytes"])
    status = run({**t, "meminfo": mem}, [RULE]).status("MLK001")
    assert status.status == "skipped" and "Mlocked" in status.reason
