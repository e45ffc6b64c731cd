"""DRT001 dirty-writeback-pressure: dirty pages at the throttling threshold, or a huge one."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import fmt_bytes, ordered, stamp, sysctl_int, when
from vmrules._common import page_size as host_page_size


def dirty_thresholds(
    meminfo: pd.DataFrame,
    vmstat: pd.DataFrame | None,
    sysctl: pd.DataFrame | None,
    page_size: int,
) -> pd.DataFrame:
    """Per meminfo snapshot: dirty + writeback bytes and the kernel's dirty thresholds.

    The threshold is vmstat's ``nr_dirty_threshold`` (the kernel's own, in pages) when
    captured, else computed like ``global_dirty_limits()``: ``dirty_bytes`` when set, else
    ``dirty_ratio``% of dirtyable memory, approximated as MemFree + Active(file) +
    Inactive(file) (the kernel also subtracts its reserves). Same for the background one.
    """
    out = ordered(meminfo)[["snapshot", "ts"]].copy()
    m = ordered(meminfo)
    out["dirty"] = m["dirty_bytes"].astype(float).fillna(0)
    out["writeback"] = m.get("writeback_bytes", pd.Series(0.0, index=m.index)).astype(float)
    out["writeback"] = out["writeback"].fillna(0)
    out["dirtyable"] = (
        m["mem_free_bytes"].astype(float)
        + m.get("active_file_bytes", 0.0)
        + m.get("inactive_file_bytes", 0.0)
    )
    ratio = sysctl_int(sysctl, "dirty_ratio") or 20
    nbytes = sysctl_int(sysctl, "dirty_bytes") or 0
    bg_ratio = sysctl_int(sysctl, "dirty_background_ratio") or 10
    bg_bytes = sysctl_int(sysctl, "dirty_background_bytes") or 0
    out["threshold"] = float(nbytes) if nbytes else out["dirtyable"] * ratio / 100.0
    out["background"] = float(bg_bytes) if bg_bytes else out["dirtyable"] * bg_ratio / 100.0
    out["source"] = "computed"
    if vmstat is not None and "nr_dirty_threshold" in vmstat.columns:
        v = vmstat.set_index("snapshot")
        kernel = out["snapshot"].map(v["nr_dirty_threshold"].astype(float) * page_size)
        kernel_bg = out["snapshot"].map(
            v["nr_dirty_background_threshold"].astype(float) * page_size
        )
        known = kernel.notna()
        out.loc[known, "threshold"] = kernel[known]
        out.loc[known, "background"] = kernel_bg[known]
        out.loc[known, "source"] = "vmstat nr_dirty_threshold"
    if sysctl is None and out["source"].eq("computed").any():
        out.loc[out["source"] == "computed", "threshold"] = float("nan")
    out["throttle_start"] = (out["threshold"] + out["background"]) / 2
    out["share"] = (out["dirty"] + out["writeback"]) / out["threshold"]
    return out.reset_index(drop=True)


@rule(
    code="DRT001",
    name="dirty-writeback-pressure",
    severity=Severity.WARNING,
    chart="memory",
    harm="stall",
    requires=("meminfo",),
    optional=("sysctl_vm", "vmstat"),
    settings=[
        Setting(
            "near_threshold_share",
            0.75,
            "(Dirty + Writeback) / dirty threshold at or above which a snapshot counts as near "
            "the threshold. balance_dirty_pages throttles writers from halfway between the "
            "background threshold and the threshold: 75% with the default ratios (10/20).",
        ),
        Setting(
            "min_time_share",
            0.2,
            "Share (0-1) of the snapshots that must be near the threshold for the pressure "
            "to count as sustained (any snapshot counts for a single-snapshot input). "
            "Our choice: 20%, a shorter burst is the background flusher catching up.",
        ),
        Setting(
            "writeback_bytes_per_s",
            200_000_000,
            "Assumed storage write throughput (bytes/s) used to estimate how long flushing a "
            "full dirty threshold takes; set it to the storage's real speed. Our choice: "
            "200 MB/s, a SATA SSD or a striped set of disks; the estimate is only as good as "
            "this assumption, which is why the static finding is info.",
        ),
        Setting(
            "max_flush_s",
            30.0,
            "Estimated seconds to flush the dirty threshold (threshold / writeback_bytes_per_s) "
            "above which the dirty settings are reported as too large for this RAM size. "
            "The kernel writes back dirty pages older than vm.dirty_expire_centisecs (30 s by "
            "default, docs.kernel.org admin-guide/sysctl/vm.html): a threshold that takes longer "
            "than that to flush outlives its own expiry.",
        ),
    ],
)
def dirty_writeback_pressure(ctx: RuleContext) -> Iterator[Finding]:
    """Dirty and writeback pages sit at the dirty threshold, or the threshold is too big for RAM.

    ## What it does
    In every snapshot, compares Dirty + Writeback (meminfo) with the kernel's dirty threshold:
    vmstat's `nr_dirty_threshold` when captured, else `vm.dirty_bytes`, or `vm.dirty_ratio`%
    of the dirtyable memory (≈ MemFree + file pages). Reports when it is at or above
    `near_threshold_share` of the threshold in at least `min_time_share` of the snapshots,
    with the peak and when: pressure measured in the capture, a warning. Separately, as info,
    reports dirty settings whose threshold would take more than `max_flush_s` to write out at
    the assumed storage speed `writeback_bytes_per_s` (a ratio on a large-RAM host): a static
    check of the settings, which nothing in the capture confirms.

    ## Why is this bad?
    At the threshold the kernel throttles every task that writes (`balance_dirty_pages`): they
    sleep until writeback catches up, so write latency jumps from microseconds to the storage's
    pace. A huge threshold lets gigabytes of dirty data pile up; a later `fsync` or the
    threshold itself then stalls for tens of seconds.

    ## Example
    `vm.dirty_bytes` 32 MiB, `vm.dirty_background_bytes` 30 MiB and a writer: "Dirty +
    Writeback reached 29.9 MiB at 15:40:02Z, 93% of the dirty threshold 32.0 MiB
    (vm.dirty_bytes=33554432), at or above 75% in 6 of 12 snapshots; writers are throttled
    above 31.0 MiB (halfway from the background threshold 30.0 MiB), reached in 0 snapshots".

    ## Remediation
    If writers are throttled at a small threshold: raise `vm.dirty_bytes` (or use
    `vm.dirty_ratio`), or give the storage more write bandwidth. If the threshold is huge: set
    `vm.dirty_background_bytes` (e.g. 256 MiB) and `vm.dirty_bytes` (e.g. 1 GiB) instead of
    ratios, sized to a few seconds of the storage's write throughput; persist them in
    `/etc/sysctl.d/`.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#dirty-bytes
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#dirty-ratio
    - https://github.com/torvalds/linux/blob/master/mm/page-writeback.c
    """
    meminfo = ctx.tables["meminfo"]
    sysctl = ctx.table("sysctl_vm")
    t = dirty_thresholds(meminfo, ctx.table("vmstat"), sysctl, host_page_size(ctx.host))
    t = t[t["threshold"].notna() & (t["threshold"] > 0)]
    if t.empty:
        raise Skip("neither vmstat nr_dirty_threshold nor the vm.dirty_* sysctls were captured")
    nbytes = sysctl_int(sysctl, "dirty_bytes") or 0
    ratio = sysctl_int(sysctl, "dirty_ratio")
    setting = (
        f"vm.dirty_bytes={nbytes}"
        if nbytes
        else (f"vm.dirty_ratio={ratio}%" if ratio is not None else "the kernel's threshold")
    )
    near = float(ctx.settings["near_threshold_share"])
    hot = t[t["share"] >= near]
    share = len(hot) / len(t)
    if not hot.empty and share >= float(ctx.settings["min_time_share"]):
        i = t["share"].idxmax()
        peak = t.loc[i]
        throttled = t[(t["dirty"] + t["writeback"]) >= t["throttle_start"]]
        yield Finding(
            subject=Subject.HOST,
            message=(
                f"Dirty + Writeback reached {fmt_bytes(peak['dirty'] + peak['writeback'])} at "
                f"{when(peak['ts'])}, {100 * peak['share']:.0f}% of the dirty threshold "
                f"{fmt_bytes(peak['threshold'])} ({setting}), at or above "
                f"{100 * near:.0f}% in {len(hot)} of {len(t)} snapshots; writers are throttled "
                f"above {fmt_bytes(peak['throttle_start'])} (halfway from the background "
                f"threshold {fmt_bytes(peak['background'])}), reached in {len(throttled)} "
                "snapshots"
            ),
            start=stamp(hot["ts"].min()),
            end=stamp(hot["ts"].max()),
            harm="stall",
            evidence={
                "dirty_max_bytes": float(t["dirty"].max()),
                "writeback_max_bytes": float(t["writeback"].max()),
                "dirty_writeback_peak_bytes": float(peak["dirty"] + peak["writeback"]),
                "threshold_bytes": float(peak["threshold"]),
                "background_threshold_bytes": float(peak["background"]),
                "threshold_source": str(peak["source"]),
                "share_peak": round(float(peak["share"]), 4),
                "throttle_start_bytes": float(peak["throttle_start"]),
                "snapshots_throttled": len(throttled),
                "snapshots_near": len(hot),
                "snapshots": len(t),
            },
        )

    speed = float(ctx.settings["writeback_bytes_per_s"])
    threshold = float(t["threshold"].iloc[-1])
    flush_s = threshold / speed if speed > 0 else 0.0
    if flush_s > float(ctx.settings["max_flush_s"]):
        mem_total = ctx.host.get("mem_total_bytes") or meminfo["mem_total_bytes"].iloc[-1]
        yield Finding(
            subject=Subject.HOST,
            message=(
                f"the dirty threshold is {fmt_bytes(threshold)} ({setting} on "
                f"{fmt_bytes(float(mem_total))} RAM): flushing it would take about "
                f"{flush_s:.0f} s at an assumed {fmt_bytes(speed)}/s (setting "
                "writeback_bytes_per_s), so an fsync or a throttled writer could stall that long"
            ),
            severity=Severity.INFO,
            severity_reason="a static check of the settings at an assumed storage speed",
            harm="config",
            evidence={
                "threshold_bytes": threshold,
                "background_threshold_bytes": float(t["background"].iloc[-1]),
                "estimated_flush_s": round(flush_s, 1),
                "writeback_bytes_per_s": speed,
                "mem_total_bytes": float(mem_total),
            },
        )
