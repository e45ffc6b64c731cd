"""SWP001 swap-thrashing: swap-in and swap-out both sustained in the same intervals."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, counter_rates, rule

from vmrules._common import MIB, mib, page_size, psi_share, rnd, time_share, timed, when


def swapping_processes(
    procs: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp, top: int
) -> pd.DataFrame:
    """Processes ranked by VmSwap growth (then major faults/s) between ``start`` and ``end``.

    VmSwap is only captured for the top processes by RSS of each sample, so a process is
    ranked on the samples where it is known. One row per process (pid + start time).
    """
    columns = ["pid", "comm", "vm_swap_first_mib", "vm_swap_max_mib", "vm_swap_growth_mib"]
    columns.append("majflt_per_s")
    if procs is None or "vm_swap_bytes" not in procs.columns:
        return pd.DataFrame(columns=columns)
    inside = procs[(procs["ts"] >= start) & (procs["ts"] <= end)]
    known = inside[inside["vm_swap_bytes"].notna()]
    if known.empty:
        return pd.DataFrame(columns=columns)
    swap = (
        known.sort_values("ts")
        .groupby(["pid", "starttime"], sort=False)
        .agg(
            comm=("comm", "last"),
            first=("vm_swap_bytes", "first"),
            peak=("vm_swap_bytes", "max"),
        )
    )
    swap["growth"] = swap["peak"] - swap["first"]
    faults = (
        counter_rates(inside, ["majflt"], by=("pid", "starttime"))
        if "majflt" in inside.columns
        else pd.DataFrame()
    )
    if not faults.empty:
        per = faults.groupby(["pid", "starttime"]).agg(
            delta=("majflt_delta", "sum"), seconds=("interval_s", "sum")
        )
        swap = swap.join(per, how="left")
        swap["majflt_per_s"] = (swap["delta"] / swap["seconds"]).where(swap["seconds"] > 0)
    else:
        swap["majflt_per_s"] = float("nan")
    swap = swap[(swap["growth"] > 0) | (swap["peak"] > 0)]
    swap = swap.sort_values(["growth", "majflt_per_s"], ascending=False).head(top).reset_index()
    return pd.DataFrame(
        {
            "pid": swap["pid"].astype(int),
            "comm": swap["comm"].astype(str),
            "vm_swap_first_mib": (swap["first"].astype(float) / MIB).round(1),
            "vm_swap_max_mib": (swap["peak"].astype(float) / MIB).round(1),
            "vm_swap_growth_mib": (swap["growth"].astype(float) / MIB).round(1),
            "majflt_per_s": swap["majflt_per_s"].astype(float).round(1),
        },
        columns=columns,
    )


@rule(
    code="SWP001",
    name="swap-thrashing",
    severity=Severity.WARNING,
    chart="swap",
    harm="stall",
    explains=("PSI001", "FLT001", "HUNG001"),
    requires=("vmstat",),
    optional=("pressure_memory", "process_samples"),
    settings=[
        Setting(
            "min_swapout_pages_per_s",
            5.0,
            "Swap-out rate (pages/s, vmstat pswpout + zswpout) at or above which an interval "
            "counts as swapping out; PCP pmie's memory.exhausted rule uses 5 pages/s.",
        ),
        Setting(
            "min_swapin_pages_per_s",
            5.0,
            "Swap-in rate (pages/s, vmstat pswpin + zswpin) at or above which an interval "
            "counts as swapping in. Our choice: the same bar as swap-out, so that both "
            "directions count alike.",
        ),
        Setting(
            "min_active_share",
            0.30,
            "Share of the window's time (0-1) in which both rates must be met; PCP pmie uses "
            "30% of the samples.",
        ),
        Setting("top_processes", 5, "How many processes to list, by VmSwap growth."),
    ],
)
def swap_thrashing(ctx: RuleContext) -> Iterator[Finding]:
    """Pages are swapped out and swapped back in during the same intervals, for much of the window.

    ## What it does
    Computes the swap-in (`pswpin` + `zswpin`) and swap-out (`pswpout` + `zswpout`) rates of
    every interval from `/proc/vmstat` (with zswap on, a page stored in or loaded from the
    compressed pool counts in `zswpout`/`zswpin` only, not in `pswp*`), and flags the host
    when both reach `min_swapin_pages_per_s` and `min_swapout_pages_per_s` in the same
    intervals for at least `min_active_share` of the window's time. The finding gives the
    rates (mean and peak, with when), the PSI memory stall share over those intervals, and
    the processes whose `VmSwap` grew the most.

    ## Why is this bad?
    Swapping out alone is how the kernel parks cold anonymous memory. Swapping in *and* out at
    the same time means the pages being evicted are needed again shortly: the working set does
    not fit in the memory it is allowed (the host, or a cgroup limit), and tasks wait on disk
    for each page (PSI memory stalls, major faults).

    ## Example
    `swap-thrash` sample bundle: a process cycling 768 MiB of anonymous memory in a 256 MiB
    cgroup; "swap-in and swap-out both >= 5 pages/s in 36 of 46 intervals (78% of the window)
    ... mean 42000 pages/s in, 42000 pages/s out ... swap-cycler VmSwap +560 MiB".

    ## Remediation
    Find what needs the memory (the listed processes, their cgroup): raise the memory limit of
    that cgroup or the host's RAM, reduce the workload's working set, or move the work elsewhere.
    Lowering `vm.swappiness` only trades swapping for page-cache thrashing; disabling swap
    turns the shortage into OOM kills.

    ## References
    - https://man7.org/linux/man-pages/man5/proc_vmstat.5.html (pswpin, pswpout)
    - https://docs.kernel.org/admin-guide/mm/zswap.html (zswpin, zswpout since 5.19: commit
      f6498b776d28 "mm: zswap: add basic meminfo and vmstat coverage")
    - PCP pmie rule memory.exhausted (src/pmieconf/memory/exhausted):
      https://github.com/performancecopilot/pcp
    - https://docs.kernel.org/accounting/psi.html
    """
    vmstat = ctx.tables["vmstat"]
    if not {"pswpin", "pswpout"} <= set(vmstat.columns):
        raise Skip("vmstat has no pswpin/pswpout counters")
    if not timed(vmstat):
        raise Skip("swap rates need at least two timestamped snapshots of vmstat")
    # zswap: a page stored in (or loaded from) the compressed pool counts in zswpout/zswpin,
    # not in pswpout/pswpin (mm/page_io.c): the swap traffic is both.
    vmstat = vmstat.copy()
    for counter in ("zswpin", "zswpout"):
        if counter not in vmstat.columns:
            vmstat[counter] = 0
        vmstat[counter] = vmstat[counter].astype(float).fillna(0.0)
    vmstat["swapin"] = vmstat["pswpin"].astype(float) + vmstat["zswpin"]
    vmstat["swapout"] = vmstat["pswpout"].astype(float) + vmstat["zswpout"]
    counters = ["swapin", "swapout", "pswpin", "pswpout", "zswpin", "zswpout"]
    rates = counter_rates(vmstat, counters)
    rates = rates[(rates["interval_s"] > 0) & rates["swapin_per_s"].notna()]
    rates = rates[rates["swapout_per_s"].notna()].reset_index(drop=True)
    if rates.empty:
        raise Skip("swap rates need at least two snapshots of vmstat")
    min_in = float(ctx.settings["min_swapin_pages_per_s"])
    min_out = float(ctx.settings["min_swapout_pages_per_s"])
    both = (rates["swapin_per_s"] >= min_in) & (rates["swapout_per_s"] >= min_out)
    share = time_share(both, rates["interval_s"])
    if share < float(ctx.settings["min_active_share"]) or not both.any():
        return
    active = rates[both]
    seconds = float(active["interval_s"].sum())
    start, end = active["ts_start"].min(), active["ts"].max()
    in_rate = float(active["swapin_delta"].sum()) / seconds
    out_rate = float(active["swapout_delta"].sum()) / seconds
    peak_in = active.loc[active["pswpin_per_s"].idxmax()]
    peak_out = active.loc[active["swapout_per_s"].idxmax()]
    page = page_size(ctx.host)
    evidence: dict[str, object] = {
        "active_intervals": int(both.sum()),
        "intervals": len(rates),
        "active_share": rnd(share, 3),
        "active_seconds": rnd(seconds, 1),
        "pswpin_per_s_mean": rnd(float(active["pswpin_delta"].sum()) / seconds, 1),
        "pswpout_per_s_mean": rnd(float(active["pswpout_delta"].sum()) / seconds, 1),
        "pswpin_per_s_peak": rnd(peak_in["pswpin_per_s"], 1),
        "pswpin_peak_at": peak_in["ts"],
        "pswpout_per_s_peak": rnd(active["pswpout_per_s"].max(), 1),
        "pswpout_peak_at": active.loc[active["pswpout_per_s"].idxmax(), "ts"],
        "pswpin_pages": int(active["pswpin_delta"].sum()),
        "pswpout_pages": int(active["pswpout_delta"].sum()),
        "zswpin_pages": int(active["zswpin_delta"].sum()),
        "zswpout_pages": int(active["zswpout_delta"].sum()),
        "swapin_per_s_mean": rnd(in_rate, 1),
        "swapout_per_s_mean": rnd(out_rate, 1),
        "page_size": page,
    }
    psi = psi_share(ctx.table("pressure_memory"), active["ts"])
    evidence.update(psi)
    top = swapping_processes(
        ctx.table("process_samples"), start, end, int(ctx.settings["top_processes"])
    )
    evidence["top_processes"] = top

    message = (
        f"swap-in and swap-out both at or above {min_in:g}/{min_out:g} pages/s in "
        f"{int(both.sum())} of {len(rates)} intervals ({share:.0%} of the window), "
        f"{when(start)} to {when(end)}: mean {in_rate:.0f} pages/s in "
        f"({mib(in_rate * page)} MiB/s) and {out_rate:.0f} pages/s out "
        f"({mib(out_rate * page)} MiB/s); peak {peak_out['swapout_per_s']:.0f} pages/s out "
        f"at {when(peak_out['ts'])}"
    )
    zswap = evidence["zswpin_pages"], evidence["zswpout_pages"]
    if any(zswap):
        message += f" (zswap: {zswap[0]} pages in, {zswap[1]} out of those)"
    if psi:
        parts = [f"{k.split('_')[1]} {v:g}%" for k, v in psi.items()]
        message += f"; PSI memory stall {', '.join(parts)} of that time"
    if not top.empty:
        first = top.iloc[0]
        message += (
            f"; most swapped: {first['comm']} (pid {first['pid']}) VmSwap "
            f"+{first['vm_swap_growth_mib']:g} MiB to {first['vm_swap_max_mib']:g} MiB"
        )
        if pd.notna(first["majflt_per_s"]):
            message += f", {first['majflt_per_s']:.0f} major faults/s"
    yield Finding(message=message, subject="host", start=start, end=end, evidence=evidence)
