"""HPG001 hugepages-reserved-unused: a real hugepage pool allocated and left unused."""

from __future__ import annotations

import pytest
from vmanalyze.engine import run
from vmrules.hpg.hugepages_reserved_unused import hugepages_reserved_unused as RULE

POOL_PAGES = 128  # 256 MiB of 2 MiB pages


def test_quiet_without_a_pool(sample_bundle):
    for name in ("healthy-idle", "thp-always-postgres", "numa-remote"):
        t = sample_bundle(name).tables
        assert t["hugepages"]["nr_hugepages"].fillna(0).max() == 0
        result = run(t, [RULE])
        assert result.status("HPG001").status == "ran"
        assert result.findings == ()


@pytest.mark.root
def test_fires_on_a_pool_nobody_maps(kernel_setting, live_capture):
    kernel_setting("/proc/sys/vm/nr_hugepages", str(POOL_PAGES))
    live_capture.start(interval="200ms", count=5)
    t = live_capture.finish().tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    (finding,) = result.findings
    assert (finding.code, finding.subject) == ("HPG001", "host")

    pools = t["hugepages"]
    pmd = pools[pools["node"].isna() & (pools["page_size_kb"] == 2048)]
    total = int(pmd["nr_hugepages"].min())
    assert total == POOL_PAGES, "the kernel could not allocate the whole pool"
    unused = (pmd["free_hugepages"] - pmd["resv_hugepages"].fillna(0)).min()
    assert finding.evidence["page_size_kb"] == 2048
    assert finding.evidence["nr_hugepages"] == total
    assert finding.evidence["unused_pages_min"] == unused
    assert finding.evidence["unused_bytes_min"] == unused * 2048 * 1024
    assert finding.evidence["snapshots"] == len(pmd)
    assert "256.0 MiB" in finding.message


@pytest.mark.root
def test_falls_back_to_meminfo_without_the_sysfs_pools(kernel_setting, tmp_path):
    """A sosreport has /proc/meminfo but not /sys/kernel/mm/hugepages: the same live pool,
    read from a one-shot copy of this host's meminfo alone."""
    from pathlib import Path

    from vmanalyze.dataset import parse

    kernel_setting("/proc/sys/vm/nr_hugepages", str(POOL_PAGES))
    (tmp_path / "proc").mkdir()
    text = Path("/proc/meminfo").read_text()
    (tmp_path / "proc/meminfo").write_text(text)
    t = parse(str(tmp_path)).tables
    assert t["hugepages"].empty
    result = run(t, [RULE])
    (finding,) = result.findings
    m = t["meminfo"].iloc[0]
    assert m["hugepages_total"] == POOL_PAGES, "the kernel could not allocate the whole pool"
    assert finding.evidence["page_size_kb"] == m["hugepagesize_bytes"] // 1024 == 2048
    assert finding.evidence["nr_hugepages"] == POOL_PAGES
    assert finding.evidence["unused_pages_min"] == m["hugepages_free"] - m["hugepages_rsvd"]
    # neither source: skipped with the reason
    t["meminfo"] = t["meminfo"].drop(columns=["hugepages_total"])
    status = run(t, [RULE]).status("HPG001")
    assert status is not None and status.status == "skipped" and "HugePages_" in status.reason


def test_a_pool_in_use_is_quiet():
    import pandas as pd

    ts = pd.Timestamp("2026-01-01T00:00:00Z")
    pools = pd.DataFrame(
        {
            "snapshot": ["start"],
            "ts": [ts],
            "node": pd.array([None], dtype="Int64"),
            "page_size_kb": [2048],
            "nr_hugepages": [1024],
            "free_hugepages": [600],
            "resv_hugepages": [580],  # mapped by a database that has not touched them yet
            "surplus_hugepages": [0],
        }
    )
    assert run({"hugepages": pools}, [RULE]).findings == ()


def test_fires_on_a_real_single_snapshot_with_free_pools(corpus_capture):
    # pcp's sysfs-hugepages-003: 2000 x 2 MiB and 100 x 1 GiB configured, all free
    root, ds = corpus_capture("performancecopilot-pcp/sysfs-hugepages-003")
    result = run(ds.tables, [RULE])
    assert not result.by_status("error")
    by_size = {f.evidence["page_size_kb"]: f for f in result.findings}
    sysfs = root / "sys/kernel/mm/hugepages"
    for size_kb in (2048, 1048576):
        pool = sysfs / f"hugepages-{size_kb}kB"
        names = ("nr_hugepages", "free_hugepages", "resv_hugepages")
        nr, free, resv = (int((pool / name).read_text()) for name in names)
        finding = by_size[size_kb]
        assert finding.subject == "host"
        assert finding.evidence["nr_hugepages"] == nr
        assert finding.evidence["unused_pages_min"] == free - resv
        assert finding.evidence["unused_bytes_min"] == (free - resv) * size_kb * 1024
        assert "in the snapshot" in finding.message
