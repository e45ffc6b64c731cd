"""SWP004 compressed-swap-thrashing: pages cycle through zswap or a zram swap device."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, rule

from vmrules._common import fmt_bytes, fmt_rate, psi_share, stamp, when, window_rates

#: zram block devices as /proc/swaps names them.
ZRAM = re.compile(r"^/dev/zram\d+$")


def zram_devices(swaps: pd.DataFrame | None) -> pd.DataFrame:
    """The zram swap areas of the capture, one row per device: size, first and peak use,
    priority (from /proc/swaps). Empty without zram swap."""
    columns = ["filename", "size_bytes", "used_first_bytes", "used_max_bytes", "priority"]
    if swaps is None or swaps.empty or "filename" not in swaps.columns:
        return pd.DataFrame(columns=columns)
    rows = swaps[swaps["filename"].astype(str).str.match(ZRAM.pattern)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    per = (
        rows.sort_values("ts")
        .groupby("filename", sort=True)
        .agg(
            size_bytes=("size_bytes", "max"),
            used_first_bytes=("used_bytes", "first"),
            used_max_bytes=("used_bytes", "max"),
            priority=("priority", "last"),
        )
        .reset_index()
    )
    return per[columns]


def zram_compression(
    zram: pd.DataFrame | None, devices: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Per zram swap device (``/dev/zramN``): bytes stored and compressed and RAM taken when it
    held the most, from its ``mm_stat`` (the ``zram`` table; absent before vmcollect read it)."""
    out: dict[str, dict[str, float]] = {}
    if zram is None or zram.empty or "orig_data_size_bytes" not in zram.columns:
        return out
    for name in devices["filename"]:
        rows = zram[zram["device"] == str(name).rsplit("/", 1)[-1]].dropna(
            subset=["orig_data_size_bytes", "compr_data_size_bytes"]
        )
        if rows.empty:
            continue
        peak = rows.loc[rows["orig_data_size_bytes"].idxmax()]
        out[str(name)] = {
            "stored_bytes": float(peak["orig_data_size_bytes"]),
            "compressed_bytes": float(peak["compr_data_size_bytes"]),
            "ram_bytes": float(peak.get("mem_used_total_bytes", float("nan"))),
        }
    return out


def _disk_swap(swaps: pd.DataFrame | None) -> list[str]:
    """The swap areas that are not zram (files, partitions)."""
    if swaps is None or swaps.empty or "filename" not in swaps.columns:
        return []
    names = {str(n) for n in swaps["filename"]}
    return sorted(n for n in names if not ZRAM.match(n))


def _pool(meminfo: pd.DataFrame | None, start: object, end: object) -> dict[str, float]:
    """zswap's pool over the window: peak compressed size (Zswap) and what it held (Zswapped)."""
    if meminfo is None or "zswap_bytes" not in meminfo.columns:
        return {}
    rows = meminfo[(meminfo["ts"] >= start) & (meminfo["ts"] <= end)]
    zswap, stored = rows["zswap_bytes"].dropna(), rows.get("zswapped_bytes")
    if zswap.empty:
        return {}
    out = {"zswap_max_bytes": float(zswap.max())}
    if stored is not None and stored.notna().any():
        out["zswapped_max_bytes"] = float(stored.max())
    total = rows["mem_total_bytes"].max() if "mem_total_bytes" in rows.columns else None
    if total is not None and pd.notna(total) and total > 0:
        out["zswap_max_pct_of_ram"] = round(100 * float(zswap.max()) / float(total), 2)
    return out


@rule(
    code="SWP004",
    name="compressed-swap-thrashing",
    chart="swap",
    harm="stall",
    explains=("PSI001",),
    severity=Severity.WARNING,
    requires=("vmstat",),
    optional=("meminfo", "swaps", "zram", "pressure_memory"),
    settings=[
        Setting(
            "min_pages_per_s",
            5.0,
            "Rate (pages/s) that compressed swap-in and swap-out must both reach for an "
            "interval to count as thrashing: PCP pmie's memory.exhausted 5 pages/s, as SWP001.",
        ),
        Setting(
            "min_active_share",
            0.3,
            "Share of the window's time (0-1) in which both rates must be met; PCP pmie uses "
            "30% of the samples (as SWP001).",
        ),
        Setting(
            "critical_pages_per_s",
            25000.0,
            "Mean compressed swap-in rate (pages/s) over the thrashing intervals from which "
            "the finding is critical. Our choice: 25000 pages/s is about 100 MiB/s each way, "
            "where (de)compressing alone takes a sizeable share of a CPU at the 0.5-1 GB/s "
            "that lzo/lz4/zstd reach per core.",
        ),
    ],
)
def compressed_swap_thrashing(ctx: RuleContext) -> Iterator[Finding]:
    """Anonymous pages cycle in and out of compressed swap (zswap or zram) for much of the window.

    ## What it does
    Computes, per interval, compressed swap-out and swap-in: zswap's `zswpout`/`zswpin`
    (/proc/vmstat, kernel 5.19+: a page stored in or loaded from the pool), and, when every
    active swap area is a zram device (`/dev/zram*` in /proc/swaps), `pswpout`/`pswpin`
    (zram is a block device: its traffic is ordinary swap I/O). Flags the host when both
    directions reach `min_pages_per_s` in the same intervals for `min_active_share` of the
    window. Reports the rates, the pool (`Zswap` compressed, `Zswapped` stored, so the
    compression ratio), pages written back from the pool to the disk swap (`zswpwb`, where
    the kernel has it), the zram devices with their size and use (and, from their `mm_stat`,
    the bytes stored and compressed), and PSI memory stalls. Needs two samples.

    ## Why is this bad?
    Compressed swap makes swapping cheaper, not free: each page out is compressed and each
    page in decompressed on the faulting task's CPU, and the pool takes RAM from the working
    set it is meant to protect. Pages going out and coming back in the same intervals mean the
    working set does not fit (the host, or a cgroup limit), and tasks stall in reclaim and
    faults. When zswap's pool is full it writes pages back to the disk swap (`zswpwb`), and
    the thrashing becomes disk-bound; a full zram device makes the kernel fall back to the
    next swap area or to OOM kills.

    ## Example
    A process cycling 768 MiB in a 256 MiB cgroup with zswap in front of a swap file:
    "zswap thrashing: pages out 9638/s, in 8772/s during 37 of 47 s (peak in 16537/s at
    09:01:01Z); pool 11.4 MiB holding 519.8 MiB (45.6x), 0.05% of RAM; nothing written back
    to disk swap (zswpwb +0); PSI memory some 15.8%".

    ## Remediation
    As for any swap thrashing, give the workload the memory it uses: raise the cgroup's limit
    or the host's RAM, or shrink the working set. Compressed swap then only holds cold pages.
    If the pool is the limit (`zswpwb` climbing, zram device full), raise
    `/sys/module/zswap/parameters/max_pool_percent` or the zram `disksize` only when the
    pages compress well (a high ratio); otherwise the pool costs more RAM than it saves.

    ## References
    - https://docs.kernel.org/admin-guide/mm/zswap.html
    - https://docs.kernel.org/admin-guide/blockdev/zram.html
    - https://github.com/torvalds/linux/commit/f6498b776d280b30a4614d8261840961e993c2c8
    - PCP pmie rule memory.exhausted: https://github.com/performancecopilot/pcp
    """
    ctx.require_samples(2)
    vmstat = ctx.tables["vmstat"]
    swaps = ctx.table("swaps")
    zram = zram_devices(swaps)
    disk = _disk_swap(swaps)
    has_zswap = {"zswpin", "zswpout"} <= set(vmstat.columns)
    zram_only = not zram.empty and not disk
    if not has_zswap and zram.empty:
        raise Skip("no zswap counters (zswpin/zswpout: kernel 5.19+) and no zram swap device")
    window = window_rates(vmstat, ["zswpin", "zswpout", "zswpwb", "pswpin", "pswpout"])
    if window.seconds <= 0:
        raise Skip("no interval between two vmstat snapshots")
    rates = window.intervals
    zero = pd.Series(0.0, index=rates.index)

    def per_s(counter: str) -> pd.Series:
        col = f"{counter}_per_s"
        return rates[col].fillna(0.0) if col in rates.columns else zero

    out_rate = per_s("zswpout") + (per_s("pswpout") if zram_only else zero)
    in_rate = per_s("zswpin") + (per_s("pswpin") if zram_only else zero)
    floor = float(ctx.settings["min_pages_per_s"])
    both = (out_rate >= floor) & (in_rate >= floor)
    share = window.time_share(both)
    if not both.any() or share < float(ctx.settings["min_active_share"]):
        return

    seconds = float(rates["interval_s"][both].sum())
    mean_out = float((out_rate * rates["interval_s"])[both].sum()) / seconds
    mean_in = float((in_rate * rates["interval_s"])[both].sum()) / seconds
    peak_idx = in_rate.idxmax()
    peak_in, peak_at = float(in_rate[peak_idx]), rates.at[peak_idx, "ts"]
    zswap_out = window.total("zswpout", both)
    kinds = []
    if zswap_out > 0:
        kinds.append("zswap")
    if zram_only and window.total("pswpout", both) > 0:
        kinds.append("zram")
    what = " and ".join(kinds) or "compressed swap"
    start, end = stamp(rates["ts_start"][both].min()), stamp(rates["ts"][both].max())
    details = []
    pool = _pool(ctx.table("meminfo"), start, end) if "zswap" in kinds else {}
    if "zswap_max_bytes" in pool:
        text = f"pool {fmt_bytes(pool['zswap_max_bytes'])}"
        if pool.get("zswapped_max_bytes") and pool["zswap_max_bytes"] > 0:
            ratio = pool["zswapped_max_bytes"] / pool["zswap_max_bytes"]
            pool["compression_ratio"] = round(ratio, 2)
            text += f" holding {fmt_bytes(pool['zswapped_max_bytes'])} ({ratio:.1f}x)"
        if "zswap_max_pct_of_ram" in pool:
            text += f", {pool['zswap_max_pct_of_ram']:g}% of RAM"
        details.append(text)
    written_back = None
    if "zswap" in kinds and "zswpwb_delta" in rates.columns:
        written_back = window.total("zswpwb", both)
        details.append(
            f"{written_back:.0f} pages written back to disk swap (zswpwb)"
            if written_back
            else "nothing written back to disk swap (zswpwb +0)"
        )
    compression: dict[str, dict[str, float]] = {}
    if "zram" in kinds:
        compression = zram_compression(ctx.table("zram"), zram)
        for r in zram.itertuples():
            text = f"{r.filename} {fmt_bytes(r.used_max_bytes)} used of {fmt_bytes(r.size_bytes)}"
            c = compression.get(str(r.filename))
            if c and c["compressed_bytes"] > 0:
                ratio = c["stored_bytes"] / c["compressed_bytes"]
                c["compression_ratio"] = round(ratio, 2)
                text += (
                    f", {fmt_bytes(c['stored_bytes'])} stored in "
                    f"{fmt_bytes(c['compressed_bytes'])} ({ratio:.1f}x)"
                )
            details.append(text)
    psi = psi_share(ctx.table("pressure_memory"), rates["ts"][both])
    if "psi_some_pct" in psi:
        details.append(f"PSI memory some {psi['psi_some_pct']:g}%")
    critical = mean_in >= float(ctx.settings["critical_pages_per_s"])
    yield Finding(
        subject="host",
        message=(
            f"{what} thrashing: pages out {fmt_rate(mean_out)}, in {fmt_rate(mean_in)} "
            f"during {seconds:.0f} of {window.seconds:.0f} s (peak in {fmt_rate(peak_in)} at "
            f"{when(peak_at)})" + ("; " + "; ".join(details) if details else "")
        ),
        start=start,
        end=end,
        evidence={
            "kind": what,
            "out_pages_per_s": round(mean_out, 1),
            "in_pages_per_s": round(mean_in, 1),
            "in_peak_pages_per_s": round(peak_in, 1),
            "zswpout": zswap_out,
            "zswpin": window.total("zswpin", both),
            "zswpwb": written_back,
            "pswpout": window.total("pswpout", both),
            "pswpin": window.total("pswpin", both),
            "active_time_share": round(share, 3),
            "active_seconds": round(seconds, 1),
            "window_s": round(window.seconds, 1),
            "disk_swap": disk,
            **pool,
            **psi,
            "zram_devices": zram,
            "zram_compression": compression or None,
        },
        severity=Severity.CRITICAL if critical else None,
        severity_reason=(
            f"compressed swap-in {mean_in:.0f} pages/s, at or above critical_pages_per_s"
            if critical
            else None
        ),
    )
