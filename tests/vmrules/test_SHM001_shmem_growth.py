"""SHM001 shmem-growth on the real shmem-growth capture (a process filling /dev/shm at 2.5
MiB/s, 1.5 of it through a mapping), and quiet elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.shm.shmem_growth import shmem_growth as RULE


def test_fires_on_the_filler_and_names_it(sample_bundle):
    t = sample_bundle("shmem-growth").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    (finding,) = result.findings
    assert (finding.code, finding.subject, str(finding.severity)) == ("SHM001", "host", "warning")
    ev = finding.evidence
    mem = t["meminfo"].sort_values("ts")
    x = (mem["ts"] - mem["ts"].iloc[0]).dt.total_seconds().to_numpy()
    y = mem["shmem_bytes"].astype(float).to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert ev["slope_mib_per_s"] == pytest.approx(slope / 2**20, abs=1e-3)
    assert 2.0 < ev["slope_mib_per_s"] < 2.8  # the filler writes 2.5 MiB/s after 10 s
    assert ev["r2"] == pytest.approx(r2, abs=1e-4) and r2 > 0.95
    assert ev["last_mib"] == pytest.approx(y[-1] / 2**20, abs=0.1)

    # The holder: the filler's RssShmem from its status, first and last time it was read.
    procs = t["process_samples"]
    filler = procs[procs["comm"] == "shm-filler"].dropna(subset=["rss_shmem_bytes"])
    filler = filler.sort_values("ts")
    top = ev["holders"][0]
    assert (top["pid"], top["comm"]) == (int(filler["pid"].iloc[0]), "shm-filler")
    assert top["last_mib"] == pytest.approx(filler["rss_shmem_bytes"].iloc[-1] / 2**20, abs=0.1)
    assert top["growth_mib"] > 150
    # the file it only writes is in Shmem but in nobody's RSS
    assert ev["unmapped_mib"] > 100
    assert "shm-filler (pid" in finding.message and "in none of their RSS" in finding.message

    # The tmpfs the filler writes to: /dev/shm's used bytes, statvfs at start and end.
    mounts = t["tmpfs_mounts"]
    shm = mounts[mounts["mount_point"] == "/dev/shm"].sort_values("snapshot")
    assert len(shm) == 2
    grown = ev["tmpfs_grown"][0]
    assert (grown["mount_point"], grown["fstype"]) == ("/dev/shm", "tmpfs")
    used = shm["used_bytes"].astype(float)
    assert grown["growth_mib"] == pytest.approx((used.iloc[-1] - used.iloc[0]) / 2**20, abs=0.1)
    assert grown["growth_mib"] > 250  # both files live there, mapped or not
    assert grown["last_mib"] == pytest.approx(used.iloc[-1] / 2**20, abs=0.1)
    assert "tmpfs mounts that grew most: /dev/shm (tmpfs) +" in finding.message


def test_thresholds_decide(sample_bundle):
    t = sample_bundle("shmem-growth").tables
    (finding,) = run(t, [RULE]).findings
    above = finding.evidence["growth_mib"] + 1
    higher = Config(rule_settings={"SHM001": {"min_growth_mib": above}})
    assert run(t, [RULE], higher).findings == ()
    assert run(t, [RULE], Config(rule_settings={"SHM001": {"min_r2": 1.0}})).findings == ()


@pytest.mark.parametrize(
    "name", ["healthy-idle", "memory-leak", "thp-always-postgres", "oom-kill", "swap-thrash"]
)
def test_quiet_where_shmem_stays_flat(sample_bundle, name):
    # thp-always-postgres: PostgreSQL's shared buffers are Shmem, but a fixed size
    result = run(sample_bundle(name).tables, [RULE])
    assert result.status("SHM001").status == "ran"
    assert result.findings == ()


def test_skips_a_single_snapshot_and_a_kernel_without_shmem(sample_bundle):
    t = dict(sample_bundle("shmem-growth").tables)
    assert run({**t, "samples": t["samples"].iloc[:1]}, [RULE]).status("SHM001").status == (
        "skipped"
    )
    status = run({**t, "meminfo": t["meminfo"].drop(columns=["shmem_bytes"])}, [RULE]).status(
        "SHM001"
    )
    assert status.status == "skipped" and "Shmem" in status.reason


def test_without_tmpfs_mounts_no_mount_is_named(sample_bundle):
    """An older bundle (or a run without a mount table) has no tmpfs_mounts rows."""
    t = dict(sample_bundle("shmem-growth").tables)
    (finding,) = run({**t, "tmpfs_mounts": t["tmpfs_mounts"].iloc[:0]}, [RULE]).findings
    assert "tmpfs_grown" not in finding.evidence
    assert "tmpfs mounts" not in finding.message


def test_a_mount_seen_once_or_grown_little_is_not_named(sample_bundle):
    t = dict(sample_bundle("shmem-growth").tables)
    mounts = t["tmpfs_mounts"]
    end = mounts["snapshot"] == mounts["snapshot"].max()
    # /dev/shm only in the end snapshot: no start to compare with
    (finding,) = run({**t, "tmpfs_mounts": mounts[end]}, [RULE]).findings
    assert "tmpfs_grown" not in finding.evidence
    # grown by less than 1 MiB
    start = mounts[~end]
    small = start.assign(snapshot=mounts["snapshot"].max(), used_bytes=start["used_bytes"] + 2**19)
    (finding,) = run({**t, "tmpfs_mounts": pd.concat([start, small])}, [RULE]).findings
    assert "tmpfs_grown" not in finding.evidence


def test_without_process_status_no_holder_is_named(sample_bundle):
    t = dict(sample_bundle("shmem-growth").tables)
    procs = t["process_samples"].assign(rss_shmem_bytes=None)
    (finding,) = run({**t, "process_samples": procs}, [RULE]).findings
    assert finding.evidence["holders"] == []
    assert "no captured process holds RssShmem" in finding.message
