"""SWP002 swap-nearly-full: free swap below a threshold while swap-out continues."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, counter_rates, rule

from vmrules._common import mib, rnd, time_share, timed, when


def swap_devices(swaps: pd.DataFrame | None, snapshot: object) -> list[dict[str, object]]:
    """The swap areas of one snapshot: file, type, size and use in MiB."""
    if swaps is None or "snapshot" not in swaps.columns:
        return []
    rows = swaps[swaps["snapshot"] == snapshot]
    return [
        {
            "filename": str(r["filename"]),
            "type": str(r["type"]),
            "size_mib": mib(r["size_bytes"]),
            "used_mib": mib(r["used_bytes"]),
            "priority": int(r["priority"]),
        }
        for _, r in rows.iterrows()
    ]


@rule(
    code="SWP002",
    name="swap-nearly-full",
    severity=Severity.WARNING,
    chart="swap",
    harm="measured",
    requires=("meminfo",),
    optional=("vmstat", "swaps"),
    settings=[
        Setting(
            "max_free_swap_pct",
            10.0,
            "Free swap (SwapFree / SwapTotal, percent) below which swap counts as nearly "
            "full; PCP pmie's memory.swap_low rule uses 10%.",
        ),
        Setting(
            "min_swapout_pages_per_s",
            5.0,
            "Swap-out rate (pages/s, vmstat pswpout) at or above which swap-out counts as "
            "continuing (PCP pmie's 5 pages/s).",
        ),
    ],
)
def swap_nearly_full(ctx: RuleContext) -> Iterator[Finding]:
    """Free swap is below a threshold while the kernel keeps swapping out.

    ## What it does
    Computes free swap (`SwapFree / SwapTotal` from `/proc/meminfo`) in every snapshot and, from
    `/proc/vmstat` `pswpout`, the swap-out rate of every interval. It flags the host when free
    swap is below `max_free_swap_pct` in intervals where swap-out is at least
    `min_swapout_pages_per_s`. On a single snapshot (no rates) it flags free swap below the
    threshold alone. Swap that is nearly full but no longer written to is reported as info.

    ## Why is this bad?
    When swap runs out, anonymous memory can no longer be reclaimed: reclaim falls on the page
    cache alone (thrashing), and the next shortage ends with the OOM killer. Swap-out that
    continues near the end of swap means that point is close.

    ## Example
    `/proc/meminfo` `SwapTotal: 1572864 kB`, `SwapFree: 98304 kB` (6% free) while `pswpout`
    rises by 2000 pages/s: "free swap 6% (96 MiB of 1536 MiB) ... while swap-out continued at
    2000 pages/s".

    ## Remediation
    Find what fills swap (processes with a large `VmSwap`, see SWP001 and MEM002) and reduce its
    memory use or give it more RAM; add swap space (`mkswap` + `swapon` a file or partition)
    only as a stop-gap, since a host living in swap is slow.

    ## References
    - https://man7.org/linux/man-pages/man5/proc_meminfo.5.html (SwapTotal, SwapFree)
    - PCP pmie rule memory.swap_low (src/pmieconf/memory/swap_low):
      https://github.com/performancecopilot/pcp
    """
    meminfo = ctx.tables["meminfo"]
    if not {"swap_total_bytes", "swap_free_bytes"} <= set(meminfo.columns):
        raise Skip("meminfo has no SwapTotal/SwapFree")
    mem = meminfo[meminfo["swap_total_bytes"].fillna(0) > 0]
    mem = mem.sort_values("ts") if timed(mem) else mem
    if mem.empty:
        return  # no swap configured
    threshold = float(ctx.settings["max_free_swap_pct"])
    free_pct = 100.0 * mem["swap_free_bytes"].astype(float) / mem["swap_total_bytes"]
    low = mem[free_pct < threshold]
    if low.empty:
        return
    lowest = low.loc[free_pct[low.index].idxmin()]
    lowest_pct = float(free_pct[lowest.name])
    swaps = ctx.table("swaps")
    evidence: dict[str, object] = {
        "min_free_swap_pct": rnd(lowest_pct, 1),
        "min_free_swap_at": lowest["ts"],
        "swap_free_mib": mib(lowest["swap_free_bytes"]),
        "swap_total_mib": mib(lowest["swap_total_bytes"]),
        "snapshots_below": len(low),
        "snapshots": len(mem),
        "devices": swap_devices(swaps, lowest["snapshot"]),
    }
    state = (
        f"free swap {lowest_pct:.1f}% ({mib(lowest['swap_free_bytes'])} MiB of "
        f"{mib(lowest['swap_total_bytes'])} MiB) at {when(lowest['ts'])}, below {threshold:g}%"
    )

    vmstat = ctx.table("vmstat")
    rates = (
        counter_rates(vmstat, ["pswpout"])
        if vmstat is not None and "pswpout" in vmstat.columns and timed(vmstat)
        else pd.DataFrame()
    )
    if not rates.empty:
        rates = rates[(rates["interval_s"] > 0) & rates["pswpout_per_s"].notna()]
    if rates.empty:
        evidence["single_snapshot"] = True
        yield Finding(
            message=f"{state}; swap-out rate unknown (a single snapshot)",
            start=lowest["ts"],
            end=lowest["ts"],
            evidence=evidence,
        )
        return

    # Free swap at the end of each interval, matched on the snapshot time.
    free_at = pd.Series(free_pct.to_numpy(), index=mem["ts"].to_numpy())
    rates = rates.assign(free_pct=rates["ts"].map(free_at))
    min_out = float(ctx.settings["min_swapout_pages_per_s"])
    hit = (rates["free_pct"] < threshold) & (rates["pswpout_per_s"] >= min_out)
    evidence["swapout_intervals_below"] = int(hit.sum())
    evidence["intervals"] = len(rates)
    if not hit.any():
        evidence["pswpout_per_s_max"] = rnd(rates["pswpout_per_s"].max(), 1)
        yield Finding(
            message=f"{state}; no swap-out at or above {min_out:g} pages/s meanwhile",
            start=low["ts"].min(),
            end=low["ts"].max(),
            evidence=evidence,
            severity=Severity.INFO,
            severity_reason="swap is nearly full but nothing is being swapped out",
        )
        return
    active = rates[hit]
    rate = float(active["pswpout_delta"].sum()) / float(active["interval_s"].sum())
    share = time_share(hit, rates["interval_s"])
    evidence.update(
        {
            "pswpout_per_s_mean": rnd(rate, 1),
            "pswpout_per_s_peak": rnd(active["pswpout_per_s"].max(), 1),
            "active_share": rnd(share, 3),
        }
    )
    yield Finding(
        message=(
            f"{state}; swap-out continued at {rate:.0f} pages/s (peak "
            f"{active['pswpout_per_s'].max():.0f}) in {int(hit.sum())} of {len(rates)} "
            f"intervals with free swap below {threshold:g}% ({share:.0%} of the window)"
        ),
        start=active["ts_start"].min(),
        end=active["ts"].max(),
        evidence=evidence,
    )
