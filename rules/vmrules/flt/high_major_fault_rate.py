"""FLT001 high-major-fault-rate: sustained major page faults, with their cause and processes."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import Window, fmt_rate, psi_share, stamp, when, window_rates

CAUSES = {
    "swap-in": "swap-in of anonymous memory (pswpin, workingset_refault_anon)",
    "page-cache refaults": "page-cache refaults: file pages evicted and read again "
    "(workingset_refault_file)",
    "first-touch file reads": "first reads of file pages not recently evicted (cold reads, "
    "mmap of new files)",
}


def classify(window: Window, mask: pd.Series, min_share: float) -> tuple[str, dict[str, float]]:
    """The cause of the major faults of the intervals in ``mask``, and its numbers.

    All in pages over those intervals: swap-in = max(pswpin, workingset_refault_anon) (pswpin
    includes swap readahead, refault_anon only pages evicted recently); page-cache refaults =
    workingset_refault_file (workingset_refault on kernels before the anon/file split);
    first-touch = major faults not explained by either. Swap-in, then refaults, is the cause
    when it explains at least ``min_share`` of the major faults; first-touch reads otherwise.
    """
    majflt = window.total("pgmajfault", mask)
    swapin = max(window.total("pswpin", mask), window.total("workingset_refault_anon", mask))
    file_refaults = window.total("workingset_refault_file", mask)
    if "workingset_refault_file_delta" not in window.intervals.columns:
        file_refaults = window.total("workingset_refault", mask)
    first_touch = max(0.0, majflt - swapin - file_refaults)
    cause = "first-touch file reads"
    if majflt > 0 and swapin / majflt >= min_share and swapin >= file_refaults:
        cause = "swap-in"
    elif majflt > 0 and file_refaults / majflt >= min_share:
        cause = "page-cache refaults"
    return cause, {
        "majflt_pages": majflt,
        "swapin_pages": swapin,
        "file_refault_pages": file_refaults,
        "first_touch_pages": first_touch,
    }


def top_faulting(
    process_samples: pd.DataFrame | None,
    ends: set[pd.Timestamp],
    system_majflt: float,
    top: int,
) -> pd.DataFrame:
    """Processes by major faults per second (field 12 of /proc/<pid>/stat) in the intervals."""
    columns = ["pid", "comm", "majflt_per_s", "majflt_delta", "share_of_system"]
    if process_samples is None or process_samples.empty:
        return pd.DataFrame(columns=columns)
    rates = window_rates(process_samples, ["majflt"], by=("pid", "starttime")).intervals
    if rates.empty:
        return pd.DataFrame(columns=columns)
    rates = rates[rates["ts"].isin(ends)]
    comm = process_samples.groupby(["pid", "starttime"])["comm"].last()
    per = rates.groupby(["pid", "starttime"]).agg(
        majflt_delta=("majflt_delta", "sum"), seconds=("interval_s", "sum")
    )
    per = per[per["majflt_delta"] > 0]
    if per.empty:
        return pd.DataFrame(columns=columns)
    per["majflt_per_s"] = per["majflt_delta"] / per["seconds"]
    per["comm"] = comm.reindex(per.index)
    per["share_of_system"] = per["majflt_delta"] / system_majflt if system_majflt else None
    per = per.sort_values("majflt_delta", ascending=False).head(top).reset_index()
    return pd.DataFrame(
        {
            "pid": per["pid"].astype(int),
            "comm": per["comm"].astype(str),
            "majflt_per_s": per["majflt_per_s"].astype(float).round(1),
            "majflt_delta": per["majflt_delta"].astype(float),
            "share_of_system": per["share_of_system"].astype(float).round(3),
        },
        columns=columns,
    )


@rule(
    code="FLT001",
    name="high-major-fault-rate",
    severity=Severity.WARNING,
    chart="faults",
    harm="stall",
    requires=("vmstat",),
    optional=("process_samples", "pressure_memory"),
    settings=[
        Setting(
            "min_majflt_per_s",
            500.0,
            "System-wide major faults per second (vmstat pgmajfault) from which an interval "
            "counts as faulting heavily. "
            "Our choice: 500/s is about 2 MiB/s of 4 KiB random reads, the order of a disk's "
            "random IOPS (sar -B majflt/s has no threshold of its own).",
        ),
        Setting(
            "min_time_share",
            0.3,
            "Share of the capture's time (0-1) that must be spent at or above "
            "min_majflt_per_s for the rate to count as sustained. "
            "As PCP pmie's memory.exhausted rule: 30% of the samples.",
        ),
        Setting(
            "critical_majflt_per_s",
            5000.0,
            "Mean major faults per second over the heavy intervals from which the finding "
            "is critical. "
            "Our choice: ten times min_majflt_per_s, beyond what one SSD serves at low latency.",
        ),
        Setting(
            "min_cause_share",
            0.3,
            "Share (0-1) of the major faults that swap-in or page-cache refaults must explain "
            "to be named the cause; below it the faults are first-touch file reads. "
            "Our choice: the same 30% share as min_time_share.",
        ),
        Setting(
            "min_stall_pct",
            5.0,
            "PSI memory `some` stall share (percent of the heavy intervals' time) from which "
            "first-touch faults count as stalling tasks; below it (or without PSI) they are "
            "info. Our choice: 5%, half of PSI001's min_some_pct, so that stalls too short "
            "for PSI001 still make the faults count.",
        ),
        Setting("top_processes", 5, "How many processes to list, by major faults per second."),
    ],
)
def high_major_fault_rate(ctx: RuleContext) -> Iterator[Finding]:
    """Major page faults are sustained above a rate storage can serve without stalling tasks.

    ## What it does
    Computes `pgmajfault` per second between consecutive snapshots. When the intervals at or
    above `min_majflt_per_s` cover at least `min_time_share` of the capture, reports their
    mean and peak rate and classifies the cause from the same intervals: swap-in (`pswpin`,
    `workingset_refault_anon`), page-cache refaults (`workingset_refault_file`) or
    first-touch file reads (faults neither explains). Lists the processes with the most
    major faults per second (`majflt`, field 12 of `/proc/<pid>/stat`). Needs two samples.
    First-touch reads are I/O, not a memory shortage: without memory stalls (PSI `some` below
    `min_stall_pct` over the heavy intervals, or no PSI) that finding is info.

    ## Why is this bad?
    Every major fault blocks the faulting thread on a disk read. Thousands per second mean
    tasks spend their time waiting for storage: a working set that no longer fits in memory
    (swap-in or page-cache refaults), or a cgroup limit that is too small for it.

    ## Example
    `pgmajfault` rising 12327/s while a cgroup-limited reader rescans mmap'd files: "major
    faults 12327/s during 41 of 45 s (peak 23584/s at 15:01:36Z); cause: page-cache refaults
    (of 510312 major faults: swap-in 0%, page-cache refaults 49%, first-touch 51%); top:
    mmap-scanner pid 21718 12316/s (98%)".

    ## Remediation
    For swap-in: give the workload more memory (or a higher cgroup `memory.max` /
    `memory.limit_in_bytes`), reduce its footprint, or move other memory users away. For
    page-cache refaults: the file working set does not fit; raise the cgroup limit or memory,
    or shrink the data set the process scans. For first-touch reads: expected while caches
    warm up after a start; otherwise check the access pattern (readahead, `madvise`).

    ## References
    - https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
    - https://docs.kernel.org/admin-guide/mm/concepts.html
    - https://github.com/torvalds/linux/blob/master/mm/workingset.c
    """
    ctx.require_samples(2)
    counters = ["pgmajfault", "pswpin", "workingset_refault_anon", "workingset_refault_file"]
    counters.append("workingset_refault")
    vmstat = ctx.tables["vmstat"]
    if "pgmajfault" not in vmstat.columns:
        raise Skip("vmstat has no pgmajfault counter")
    window = window_rates(vmstat, counters)
    if window.seconds <= 0:
        raise Skip("no interval between two vmstat snapshots")
    threshold = float(ctx.settings["min_majflt_per_s"])
    rates = window.intervals
    heavy = rates["pgmajfault_per_s"] >= threshold
    share = window.time_share(heavy)
    if not heavy.any() or share < float(ctx.settings["min_time_share"]):
        return
    mean = window.mean_rate("pgmajfault", heavy)
    peak, peak_at = window.peak("pgmajfault")
    cause, pages = classify(window, heavy, float(ctx.settings["min_cause_share"]))
    heavy_seconds = float(rates["interval_s"][heavy].sum())
    top = top_faulting(
        ctx.table("process_samples"),
        set(rates["ts"][heavy]),
        window.total("pgmajfault", heavy),
        int(ctx.settings["top_processes"]),
    )
    named = ""
    # the message names processes with at least 1% of the faults; evidence lists the top N
    shown = top[top["share_of_system"].fillna(1.0) >= 0.01].head(3)
    if not shown.empty:
        named = "; top: " + ", ".join(
            f"{r.comm} pid {r.pid} {fmt_rate(r.majflt_per_s)}"
            + (
                f" ({min(100.0, 100 * r.share_of_system):.0f}%)"
                if pd.notna(r.share_of_system)
                else ""
            )
            for r in shown.itertuples()
        )
    detail = ""
    if pages["majflt_pages"]:
        mf = pages["majflt_pages"]
        detail = (
            f" (of {mf:.0f} major faults: swap-in "
            f"{min(100.0, 100 * pages['swapin_pages'] / mf):.0f}%, page-cache refaults "
            f"{min(100.0, 100 * pages['file_refault_pages'] / mf):.0f}%, first-touch "
            f"{100 * pages['first_touch_pages'] / mf:.0f}%)"
        )
    critical = mean >= float(ctx.settings["critical_majflt_per_s"])
    psi = psi_share(ctx.table("pressure_memory"), rates["ts"][heavy])
    min_stall = float(ctx.settings["min_stall_pct"])
    stalled = psi.get("psi_some_pct", 0.0) >= min_stall
    severity: Severity | None = Severity.CRITICAL if critical else None
    reason = f"mean {mean:.0f}/s is at or above critical_majflt_per_s" if critical else None
    stalls = f"; PSI memory some {psi['psi_some_pct']:g}%" if "psi_some_pct" in psi else ""
    if cause == "first-touch file reads" and not stalled:
        # Reading files for the first time is I/O, not a memory problem, unless tasks stall.
        severity = Severity.INFO
        reason = (
            f"first-touch reads without memory stalls (PSI some below {min_stall:g}%)"
            if psi
            else "first-touch reads, and no PSI to show stalls"
        )
    yield Finding(
        subject=Subject.HOST,
        message=(
            f"major faults {fmt_rate(mean)} during {heavy_seconds:.0f} of {window.seconds:.0f} s "
            f"(peak {fmt_rate(peak)} at {when(peak_at)}); cause: {cause}{detail}{stalls}{named}"
        ),
        harm="stall" if stalled or cause != "first-touch file reads" else "measured",
        start=stamp(rates["ts_start"][heavy].min()),
        end=stamp(rates["ts"][heavy].max()),
        evidence={
            "majflt_per_s": round(mean, 1),
            "majflt_peak_per_s": round(peak, 1),
            "majflt_window_per_s": round(window.mean_rate("pgmajfault"), 1),
            "heavy_time_share": round(share, 3),
            "heavy_seconds": round(heavy_seconds, 1),
            "window_s": round(window.seconds, 1),
            "cause": cause,
            "cause_detail": CAUSES[cause],
            **{k: float(v) for k, v in pages.items()},
            **psi,
            "top_processes": top,
        },
        severity=severity,
        severity_reason=reason,
    )
