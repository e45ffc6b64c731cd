"""DRT001 dirty-writeback-pressure: real captures with a small and a huge dirty threshold."""

from __future__ import annotations

import subprocess
import time

import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.drt.dirty_writeback_pressure import dirty_writeback_pressure as RULE

VM = "/proc/sys/vm"


def keep_ratios(kernel_setting) -> None:
    """Record the ratios first: writing them back at the end also resets the *_bytes to 0."""
    for name in ("dirty_ratio", "dirty_background_ratio"):
        with open(f"{VM}/{name}") as f:
            kernel_setting(f"{VM}/{name}", f.read().strip())


def test_quiet_on_healthy_idle(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    result = run(t, [RULE])
    assert result.status("DRT001").status == "ran"
    assert result.findings == ()


@pytest.mark.slow
@pytest.mark.root
def test_fires_when_a_writer_sits_near_a_small_dirty_threshold(
    kernel_setting, live_capture, tmp_path
):
    keep_ratios(kernel_setting)
    kernel_setting(f"{VM}/dirty_background_bytes", str(30 << 20))
    kernel_setting(f"{VM}/dirty_bytes", str(32 << 20))
    target = tmp_path / "dirty.bin"
    live_capture.start(interval="200ms", count=10)
    writer = subprocess.Popen(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=4096"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ds = live_capture.finish()
    finally:
        writer.kill()
        writer.wait()
        target.unlink(missing_ok=True)
    t = ds.tables
    # this host's writeback holds the writer at 75-90% of a 32 MiB threshold
    near = 0.7
    config = Config(rule_settings={"DRT001": {"near_threshold_share": near}})
    result = run(t, [RULE], config)
    assert not result.by_status("error")
    (finding,) = result.findings
    assert (finding.code, finding.subject, finding.severity) == ("DRT001", "host", Severity.WARNING)

    page = int(t["host"]["page_size"].iloc[0])
    m = t["meminfo"].sort_values("ts").reset_index(drop=True)
    v = t["vmstat"].set_index("snapshot")
    threshold = m["snapshot"].map(v["nr_dirty_threshold"]) * page
    assert set(threshold) == {32 << 20}  # the kernel's own threshold is vm.dirty_bytes
    share = (m["dirty_bytes"] + m["writeback_bytes"]) / threshold
    assert finding.evidence["snapshots_near"] == int((share >= near).sum())
    assert finding.evidence["snapshots"] == len(m)
    assert finding.evidence["threshold_bytes"] == 32 << 20
    assert finding.evidence["threshold_source"] == "vmstat nr_dirty_threshold"
    assert finding.evidence["share_peak"] == pytest.approx(share.max(), abs=1e-4)
    assert "vm.dirty_bytes=33554432" in finding.message


@pytest.mark.root
def test_fires_on_a_dirty_ratio_too_large_for_this_ram(kernel_setting, live_capture):
    keep_ratios(kernel_setting)
    kernel_setting(f"{VM}/dirty_ratio", "60")
    live_capture.start(interval="200ms", count=3)
    time.sleep(0.1)
    t = live_capture.finish().tables
    result = run(t, [RULE])
    (finding,) = result.findings
    page = int(t["host"]["page_size"].iloc[0])
    last = t["vmstat"].sort_values("ts")["nr_dirty_threshold"].iloc[-1] * page
    speed = RULE.setting("writeback_bytes_per_s").default
    assert finding.evidence["threshold_bytes"] == last
    assert finding.evidence["estimated_flush_s"] == round(last / speed, 1)
    assert finding.evidence["estimated_flush_s"] > RULE.setting("max_flush_s").default
    assert "vm.dirty_ratio=60%" in finding.message
    # a static check at an assumed storage speed: info, and it says what it assumed
    assert finding.severity is Severity.INFO and finding.harm == "config"
    assert "assumed" in finding.message and "writeback_bytes_per_s" in finding.message
    # the assumption is a setting: storage ten times faster flushes it in time
    fast = Config(rule_settings={"DRT001": {"writeback_bytes_per_s": 100 * speed}})
    assert run(t, [RULE], fast).findings == ()
