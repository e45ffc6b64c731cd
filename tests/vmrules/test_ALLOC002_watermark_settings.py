"""ALLOC002 watermark-settings: the kernel's own min_free_kbytes, recomputed from zoneinfo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import vmanalyze
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules._common import sysctl_int
from vmrules.alloc.watermark_settings import watermark_settings as RULE

REPO = Path(__file__).resolve().parents[2]


def with_sysctl(tables: dict[str, pd.DataFrame], name: str, value: int) -> dict:
    sysctl = tables["sysctl_vm"].copy()
    rows = sysctl["name"] == name
    sysctl.loc[rows, "value"] = str(value)
    sysctl.loc[rows, "value_int"] = value
    return {**tables, "sysctl_vm": sysctl}


@pytest.mark.parametrize(
    "path",
    [
        "sample-bundles/healthy-idle.tar.gz",  # 6.18, 3 lowmem zones, THP madvise
        "tests/data/kernels/bullseye/vmcollect.tar.gz",  # 5.10, 2 GiB, THP always
        "tests/data/kernels/trixie/vmcollect.tar.gz",  # 6.12
        "tests/data/kernels/bookworm/sosreport.tar.xz",  # 6.1, one snapshot
    ],
)
def test_the_kernel_default_is_recomputed_exactly_and_passes(path):
    ds = vmanalyze.load(REPO / path, cache=False)
    result = run(ds.tables, [RULE])
    assert result.status("ALLOC002").status == "ran" and result.findings == ()
    # the same number the kernel chose for itself (nobody tuned these hosts)
    t = with_sysctl(ds.tables, "min_free_kbytes", 2 << 20)  # 2 GiB: over 5% of each
    [f] = run(t, [RULE]).findings
    assert f.evidence["kernel_default_kbytes"] == sysctl_int(
        ds.tables["sysctl_vm"], "min_free_kbytes"
    )


def test_too_high_a_reserve(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    zones = t["zoneinfo"][t["zoneinfo"]["snapshot"] == t["zoneinfo"]["snapshot"].max()]
    lowmem_kb = zones[zones["zone"].isin(["DMA", "DMA32", "Normal"])]["managed"].sum() * 4
    value = int(lowmem_kb * 0.08)  # 8% of lowmem
    [f] = run(with_sysctl(t, "min_free_kbytes", value), [RULE]).findings
    assert f.severity == Severity.WARNING
    assert f.evidence["min_free_pct_of_lowmem"] == round(100 * value / lowmem_kb, 2)
    assert f.message.startswith(f"vm.min_free_kbytes is {value} KiB")
    assert "above 5% and the kernel default of 67584 KiB" in f.message


def test_too_low_and_lowered(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    [low] = run(with_sysctl(t, "min_free_kbytes", 512), [RULE]).findings
    assert low.severity == Severity.WARNING and "below 1024 KiB" in low.message
    [lowered] = run(with_sysctl(t, "min_free_kbytes", 16384), [RULE]).findings
    assert lowered.severity == Severity.INFO and "under half the kernel default" in lowered.message


def test_high_watermarks_of_a_large_scale_factor(sample_bundle):
    """The zone watermarks the kernel computes for watermark_scale_factor 1000
    (mm/page_alloc.c __setup_per_zone_wmarks: gap = max(min / 4, managed * wsf / 10000),
    low = min + gap, high = min + 2 * gap), from the real zones' min and managed pages."""
    t = sample_bundle("healthy-idle").tables
    zi = t["zoneinfo"].copy()
    gap = pd.concat([zi["min"] // 4, zi["managed"] * 1000 // 10000], axis=1).max(axis=1)
    zi["low"], zi["high"] = zi["min"] + gap, zi["min"] + 2 * gap
    tables = with_sysctl({**t, "zoneinfo": zi}, "watermark_scale_factor", 1000)
    [f] = run(tables, [RULE]).findings
    last = zi[(zi["snapshot"] == zi["snapshot"].max()) & (zi["managed"] > 0)]
    assert f.evidence["high_wmark_pct"] == round(
        100 * last["high"].sum() / last["managed"].sum(), 2
    )
    assert f.evidence["high_wmark_pct"] > 20
    assert "vm.watermark_scale_factor 1000, default 10" in f.message


def test_skips_without_the_sysctl(sample_bundle):
    t = dict(sample_bundle("healthy-idle").tables)
    s = t["sysctl_vm"]
    t["sysctl_vm"] = s[s["name"] != "min_free_kbytes"]
    assert run(t, [RULE]).status("ALLOC002").reason == "vm.min_free_kbytes was not captured"
