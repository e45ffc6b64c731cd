"""RCL001 reclaim-stalls: tasks reclaim memory themselves (direct reclaim) instead of kswapd."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, rule

from vmrules._common import fmt_bytes, page_size, rnd, timed, when, window_rates
from vmrules.psi.memory_pressure_stalls import stall_shares

#: Reclaimers whose scans and steals /proc/vmstat counts apart (mm/vmscan.c).
RECLAIMERS = ("kswapd", "direct")


def reclaim_counters(vmstat: pd.DataFrame) -> pd.DataFrame:
    """``scan_<who>``/``steal_<who>`` for kswapd and direct reclaim, on every kernel.

    4.8 and later print ``pgscan_kswapd``/``pgscan_direct`` (and ``pgsteal_*``); 3.x-4.7 split
    them per zone (``pgscan_direct_normal``...), summed here; 2.6.32 splits ``pgsteal`` per zone
    only (no reclaimer: ``steal_*`` stay null). ``pgscan_direct_throttle`` counts throttling
    events, not pages, and is left out. A counter the kernel does not print is null, never 0.

    >>> df = pd.DataFrame({"pgscan_direct_dma32": [1, 3], "pgscan_direct_normal": [10, 20],
    ...                    "pgscan_direct_throttle": [5, 5], "pgscan_kswapd": [7, 9]})
    >>> reclaim_counters(df)[["scan_direct", "scan_kswapd", "steal_direct"]].values.tolist()
    [[11.0, 7.0, nan], [23.0, 9.0, nan]]
    """
    out = pd.DataFrame(index=vmstat.index)
    for kind in ("scan", "steal"):
        for who in RECLAIMERS:
            name = f"pg{kind}_{who}"
            if name in vmstat.columns:
                out[f"{kind}_{who}"] = pd.to_numeric(vmstat[name], errors="coerce")
                continue
            parts = [
                c
                for c in vmstat.columns
                if c.startswith(name + "_") and c != "pgscan_direct_throttle"
            ]
            out[f"{kind}_{who}"] = (
                vmstat[parts].apply(pd.to_numeric, errors="coerce").sum(axis=1, min_count=1)
                if parts
                else float("nan")
            )
    return out


def _pct(part: float, whole: float) -> float | None:
    return rnd(100.0 * part / whole, 1) if whole > 0 else None


@rule(
    code="RCL001",
    name="reclaim-stalls",
    chart="psi",
    harm="stall",
    explains=("PSI001", "HUNG001"),
    severity=Severity.WARNING,
    requires=("vmstat",),
    optional=("pressure_memory",),
    settings=[
        Setting(
            "min_direct_scan_pages_per_s",
            100.0,
            "Pages scanned by direct reclaim per second (vmstat pgscan_direct) at or above "
            "which an interval counts as a direct-reclaim interval. Our choice: sar -B's "
            "pgscand/s means a process is stalled (../shared/reference/domain-and-peers.md A3) "
            "but sar gives no threshold; 100 "
            "pages/s (400 KiB/s with 4 KiB pages) leaves out the odd stall of an idle host.",
        ),
        Setting(
            "min_allocstalls_per_s",
            0.1,
            "Direct-reclaim entries per second (vmstat allocstall, summed over zones) at or "
            "above which an interval counts as a direct-reclaim interval even when few pages "
            "were scanned. Our choice, the one the story's direct-reclaim events use: one "
            "task entering direct reclaim every 10 s is no longer an isolated event.",
        ),
        Setting(
            "min_direct_share",
            0.1,
            "Share of the window's time (0-1) in direct-reclaim intervals needed for a "
            "finding. Our choice: 10%, so that one burst in a 10-minute capture is an info "
            "finding, not a warning.",
        ),
        Setting(
            "min_direct_scan_pct",
            10.0,
            "Share of all reclaim scanning (pgscan_direct / (pgscan_direct + pgscan_kswapd), "
            "percent) done by direct reclaim, in the direct-reclaim intervals, needed for a "
            "warning. Our choice: below 10% kswapd did nearly all the work and the stalls were "
            "short, so the finding is info.",
        ),
        Setting(
            "low_efficiency_pct",
            50.0,
            "Direct reclaim efficiency (pgsteal_direct / pgscan_direct, percent) below which "
            "the finding says reclaim is struggling. sysstat's former %vmeff "
            "(pgsteal / pgscan, sar(1)): near 100% is healthy, 'less than 30%' means the VM "
            "'is having some difficulties'; 50% is our choice between the two.",
        ),
    ],
)
def reclaim_stalls(ctx: RuleContext) -> Iterator[Finding]:
    """Tasks reclaim memory themselves (direct reclaim) because kswapd does not keep up.

    ## What it does
    From `/proc/vmstat` it computes, per interval, the pages scanned and reclaimed ("stolen")
    by kswapd (`pgscan_kswapd`, `pgsteal_kswapd`) and by allocating tasks themselves
    (`pgscan_direct`, `pgsteal_direct`, the per-zone counters of 3.x-4.7 summed) and the
    direct-reclaim entries (`allocstall`, summed over `allocstall_<zone>`). An interval with at
    least `min_direct_scan_pages_per_s` pages scanned directly or `min_allocstalls_per_s`
    entries is a direct-reclaim interval. It reports them with the direct share of all
    scanning, the reclaim efficiency (pgsteal/pgscan) of both reclaimers and the PSI memory
    stall share of those intervals: a warning when they cover at least `min_direct_share` of
    the window and direct reclaim did at least `min_direct_scan_pct` of the scanning, else
    info (a short burst, or kswapd doing nearly all the work).

    These host counters count **global** reclaim only: mm/vmscan.c counts them when
    `!cgroup_reclaim(sc)` (`global_reclaim(sc)` before 5.x), so a memory cgroup reclaiming at
    its own limit does not appear here (see CGR001 and the cgroup's `memory.stat`).

    ## Why is this bad?
    Direct reclaim runs in the allocating task: a page fault or `read()` waits until the task
    has scanned the LRU lists and freed pages itself, often writing back or swapping. That
    wait is latency the application sees (PSI memory `some`); a low steal/scan ratio means
    reclaim scans many pages to free few, so each stall lasts longer.

    ## Example
    `allocstall_normal` rising by 40/s and `pgscan_direct` by 30000 pages/s for 3 minutes of
    a 10-minute capture, `pgsteal_direct` by 9000: "direct reclaim in 36 of 120 intervals
    (30% of the window): ... direct reclaim efficiency 30%".

    ## Remediation
    Find what fills memory (MEM001, MEM002) and reduce it, or add RAM. Let kswapd start
    earlier so tasks do not have to reclaim: raise `vm.watermark_scale_factor` (e.g. 10 to
    100-200, the gap between the watermarks in 0.01% of RAM) rather than `min_free_kbytes`.
    A low efficiency with much dirty or mapped page cache points to writeback (DRT001) or to
    swap being needed for anonymous memory.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#watermark-scale-factor
    - https://man7.org/linux/man-pages/man5/proc_vmstat.5.html (allocstall, pgscan, pgsteal)
    - https://docs.kernel.org/accounting/psi.html
    - mm/vmscan.c (`cgroup_reclaim()`, `__count_vm_events(PGSCAN_DIRECT...)`):
      https://github.com/torvalds/linux/blob/master/mm/vmscan.c
    """
    vmstat = ctx.tables["vmstat"]
    if not timed(vmstat):
        raise Skip("a single snapshot: reclaim rates need at least two samples")
    counters = reclaim_counters(vmstat)
    if counters["scan_direct"].isna().all() and (
        "allocstall" not in vmstat.columns or vmstat["allocstall"].isna().all()
    ):
        raise Skip("vmstat has neither pgscan_direct nor allocstall (kernel without them)")
    df = pd.concat([vmstat[["ts"]], counters], axis=1)
    if "allocstall" in vmstat.columns:
        df["allocstall"] = pd.to_numeric(vmstat["allocstall"], errors="coerce")
    names = [c for c in df.columns if c != "ts" and df[c].notna().any()]
    win = window_rates(df[df["ts"].notna()], names)
    rates = win.intervals
    if rates.empty or win.seconds <= 0:
        raise Skip("no interval with a positive length")
    min_scan = float(ctx.settings["min_direct_scan_pages_per_s"])
    min_stalls = float(ctx.settings["min_allocstalls_per_s"])
    scan_rate = rates.get("scan_direct_per_s", pd.Series(float("nan"), index=rates.index))
    stall_rate = rates.get("allocstall_per_s", pd.Series(float("nan"), index=rates.index))
    direct = (scan_rate >= min_scan) | (stall_rate >= min_stalls)
    if not direct.any():
        return
    share = win.time_share(direct)
    page = page_size(ctx.host)
    scanned = {who: win.total(f"scan_{who}", direct) for who in RECLAIMERS}
    stolen = {who: win.total(f"steal_{who}", direct) for who in RECLAIMERS}
    stalls = win.total("allocstall", direct)
    active = rates[direct]
    seconds = float(active["interval_s"].sum())
    direct_share = _pct(scanned["direct"], scanned["direct"] + scanned["kswapd"])
    efficiency = {
        who: (
            _pct(stolen[who], scanned[who])
            if f"steal_{who}_delta" in rates.columns and scanned[who] > 0
            else None
        )
        for who in RECLAIMERS
    }
    peak, peak_at = win.peak("scan_direct")
    evidence: dict[str, object] = {
        "direct_intervals": int(direct.sum()),
        "intervals": len(rates),
        "direct_share_of_window": rnd(share, 3),
        "allocstalls": int(stalls),
        "allocstalls_per_s": rnd(stalls / seconds, 2) if seconds > 0 else None,
        "pgscan_direct_pages": int(scanned["direct"]),
        "pgscan_kswapd_pages": int(scanned["kswapd"]),
        "pgsteal_direct_pages": int(stolen["direct"]),
        "pgsteal_kswapd_pages": int(stolen["kswapd"]),
        "direct_share_of_scanning_pct": direct_share,
        "direct_efficiency_pct": efficiency["direct"],
        "kswapd_efficiency_pct": efficiency["kswapd"],
        "pgscan_direct_per_s_peak": rnd(peak, 1),
        "pgscan_direct_peak_at": peak_at,
        "page_size": page,
    }
    parts = [
        f"direct reclaim in {int(direct.sum())} of {len(rates)} intervals ({share:.0%} of the "
        f"window): {int(stalls)} stalls ({stalls / seconds:.1f}/s)"
        if seconds > 0
        else "direct reclaim"
    ]
    if scanned["direct"] > 0 or scanned["kswapd"] > 0:
        parts.append(
            f"{fmt_bytes(scanned['direct'] * page)} scanned directly against "
            f"{fmt_bytes(scanned['kswapd'] * page)} by kswapd"
            + (f" ({direct_share:.1f}% direct)" if direct_share is not None else "")
        )
    eff = [
        f"{label} {efficiency[who]:.0f}%"
        for who, label in (("direct", "direct"), ("kswapd", "kswapd"))
        if efficiency[who] is not None
    ]
    if eff:
        parts.append("reclaim efficiency (pgsteal/pgscan) " + ", ".join(eff))
    pressure = ctx.table("pressure_memory")
    if pressure is not None and timed(pressure):
        shares = stall_shares(pressure)
        inside = shares[shares["ts"].isin(set(active["ts"]))]
        secs = float(inside["interval_s"].sum())
        if secs > 0:
            for kind in ("some", "full"):
                pct = float((inside[f"{kind}_pct"] * inside["interval_s"]).sum()) / secs
                evidence[f"psi_{kind}_pct"] = rnd(pct, 1)
            parts.append(
                f"PSI memory some {evidence['psi_some_pct']}%, full {evidence['psi_full_pct']}% "
                "in those intervals"
            )
    low = float(ctx.settings["low_efficiency_pct"])
    message = "; ".join(parts)
    if efficiency["direct"] is not None and efficiency["direct"] < low:
        message += f" (direct reclaim frees under {low:g}% of what it scans)"
    if peak_at is not None and peak > 0:
        message += f"; direct scanning peaked at {peak:.0f} pages/s at {when(peak_at)}"
    minimum = float(ctx.settings["min_direct_share"])
    min_pct = float(ctx.settings["min_direct_scan_pct"])
    reason = None
    if share < minimum:
        reason = f"direct reclaim covered under {minimum:.0%} of the window"
    elif direct_share is not None and direct_share < min_pct:
        reason = f"kswapd did over {100 - min_pct:g}% of the scanning: the stalls were short"
    yield Finding(
        message=message,
        start=active["ts_start"].min(),
        end=active["ts"].max(),
        evidence=evidence,
        severity=Severity.INFO if reason else None,
        severity_reason=reason,
    )
