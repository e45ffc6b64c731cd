"""PGC001 page-cache-thrashing: recently evicted file pages are read back at a high rate."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import (
    UNLIMITED_BYTES,
    Window,
    fmt_bytes,
    fmt_rate,
    page_size,
    psi_share,
    stamp,
    when,
    window_rates,
)

#: vmstat counters: the file-only names of 5.9+, else the single ones of 3.15-5.8 (which
#: counted file pages only: anon workingset detection came with the split).
REFAULT = ("workingset_refault_file", "workingset_refault")
ACTIVATE = ("workingset_activate_file", "workingset_activate")


def _first(columns: pd.Index, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in columns), None)


def file_lru_bytes(meminfo: pd.DataFrame | None) -> pd.DataFrame:
    """Per snapshot time: the page cache the refaults are measured against (bytes).

    Active(file) + Inactive(file), the LRU that refault distances are measured on
    (mm/workingset.c); ``Cached`` when the split is absent (kernels before 2.6.28).
    """
    if meminfo is None or meminfo.empty:
        return pd.DataFrame(columns=["ts", "file_bytes"])
    if {"active_file_bytes", "inactive_file_bytes"} <= set(meminfo.columns):
        size = meminfo["active_file_bytes"].astype(float) + meminfo["inactive_file_bytes"]
    elif "cached_bytes" in meminfo.columns:
        size = meminfo["cached_bytes"].astype(float)
    else:
        return pd.DataFrame(columns=["ts", "file_bytes"])
    out = pd.DataFrame({"ts": meminfo["ts"], "file_bytes": size})
    return out.dropna().sort_values("ts")


def refaulting_cgroups(
    cgroups: pd.DataFrame | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    page: int,
    top: int,
) -> pd.DataFrame:
    """Memory cgroups by file refaults (memory.stat ``workingset_refault_file``, v1 and v2)
    between ``start`` and ``end``: refaults/s, the cgroup's own file pages and limit, and the
    share of those file pages read back per minute. v2's memory.stat counts a cgroup's
    descendants too; v1's plain keys count the cgroup alone."""
    columns = ["cgroup", "version", "refaults", "refault_per_s", "file_mib", "limit_mib"]
    columns.append("file_share_per_min")
    counter = None
    if cgroups is not None and not cgroups.empty:
        counter = _first(
            cgroups.columns, ("stat_workingset_refault_file", "stat_workingset_refault")
        )
    if counter is None or start is None or end is None:
        return pd.DataFrame(columns=columns)
    assert cgroups is not None
    rows = cgroups[(cgroups["ts"] >= start) & (cgroups["ts"] <= end)]
    rates = window_rates(rows, [counter], by=("version", "cgroup")).intervals
    if rates.empty:
        return pd.DataFrame(columns=columns)
    per = rates.groupby(["version", "cgroup"]).agg(
        refaults=(f"{counter}_delta", "sum"), seconds=("interval_s", "sum")
    )
    per = per[(per["refaults"] > 0) & (per["seconds"] > 0)]
    if per.empty:
        return pd.DataFrame(columns=columns)
    last = rows.sort_values("ts").groupby(["version", "cgroup"]).last()
    file_col = next(
        (c for c in ("stat_file", "stat_cache") if c in last.columns), None
    )  # v2 `file`, v1 `cache`
    limit = pd.Series(float("nan"), index=last.index)
    for col in ("max", "limit_in_bytes"):
        if col in last.columns:
            limit = limit.fillna(pd.to_numeric(last[col], errors="coerce"))
    limit = limit.where(limit < UNLIMITED_BYTES)
    per = per.join(last[[file_col]] if file_col else pd.DataFrame(index=last.index), how="left")
    per["limit"] = limit.reindex(per.index)
    per["refault_per_s"] = per["refaults"] / per["seconds"]
    file_bytes = per[file_col] if file_col else pd.Series(float("nan"), index=per.index)
    per["file_share_per_min"] = (per["refault_per_s"] * 60 * page / file_bytes).where(
        file_bytes > 0
    )
    per["depth"] = [str(c).count("/") for _, c in per.index]
    per = per.sort_values(["refaults", "depth"], ascending=False).head(top).reset_index()
    return pd.DataFrame(
        {
            "cgroup": per["cgroup"].astype(str),
            "version": per["version"].astype(str),
            "refaults": per["refaults"].astype(float),
            "refault_per_s": per["refault_per_s"].astype(float).round(1),
            "file_mib": (file_bytes.reset_index(drop=True).astype(float) / 2**20).round(1),
            "limit_mib": (per["limit"].astype(float) / 2**20).round(1),
            "file_share_per_min": per["file_share_per_min"].astype(float).round(2),
        },
        columns=columns,
    )


def _named_cgroup(top: pd.DataFrame, host_refaults: float, min_share: float) -> pd.Series | None:
    """The cgroup to name: the deepest of those holding nearly the top one's refaults (a v2
    parent counts its children's), when it accounts for ``min_share`` of the host's."""
    if top.empty or host_refaults <= 0:
        return None
    best = float(top["refaults"].max())
    near = top[top["refaults"] >= 0.9 * best].copy()
    near["depth"] = near["cgroup"].str.count("/")
    row = near.sort_values("depth", ascending=False).iloc[0]
    return row if float(row["refaults"]) >= min_share * host_refaults else None


def _share_series(window: Window, refault: str, lru: pd.DataFrame, page: int) -> pd.Series:
    """Per interval: the page cache re-read per minute (refaulted bytes / file LRU size)."""
    rates = window.intervals
    if lru.empty:
        return pd.Series(float("nan"), index=rates.index)
    sizes = pd.merge_asof(
        rates[["ts"]].reset_index().sort_values("ts"), lru, on="ts", direction="nearest"
    ).set_index("index")["file_bytes"]
    sizes = sizes.reindex(rates.index)
    per_min = rates[f"{refault}_per_s"] * 60 * page
    return (per_min / sizes).where(sizes > 0)


@rule(
    code="PGC001",
    name="page-cache-thrashing",
    chart="faults",
    harm="stall",
    explains=("PSI001",),
    severity=Severity.WARNING,
    requires=("vmstat",),
    optional=("meminfo", "cgroup_memory", "pressure_memory"),
    settings=[
        Setting(
            "min_refault_pages_per_s",
            256.0,
            "System-wide file refaults per second (vmstat workingset_refault_file) from which "
            "an interval can count as thrashing. Our choice: 256 pages/s is 1 MiB/s of 4 KiB "
            "pages, below which re-reads are noise for any disk.",
        ),
        Setting(
            "min_share_per_min",
            0.1,
            "Share of the page cache (Active(file) + Inactive(file)) refaulted per minute "
            "from which an interval counts as thrashing. Our choice: a tenth per minute means "
            "pages the kernel had just evicted come back fast enough to turn over the whole "
            "cache in ten minutes; normal cache churn refaults far less (a refault is a page "
            "needed again within its refault distance, mm/workingset.c).",
        ),
        Setting(
            "min_time_share",
            0.3,
            "Share of the capture's time (0-1) that the thrashing intervals must cover to be "
            "sustained. As PCP pmie's memory.exhausted rule (and FLT001): 30% of the samples.",
        ),
        Setting(
            "critical_share_per_min",
            1.0,
            "Mean share of the page cache refaulted per minute over the thrashing intervals "
            "from which the finding is critical. Our choice: the whole page cache read back "
            "every minute, ten times min_share_per_min.",
        ),
        Setting(
            "min_majflt_share",
            0.3,
            "Major faults per refault (0-1) from which the refaults count as coming through "
            "page faults (mmap access) rather than read(). Our choice: FLT001's 30% cause "
            "share; read()-based I/O takes no page fault at all, so it stays near 0.",
        ),
        Setting(
            "min_cgroup_share",
            0.5,
            "Share (0-1) of the host's refaults one memory cgroup must account for to be named "
            "as the one refaulting. Our choice: a majority.",
        ),
        Setting("top_cgroups", 5, "How many cgroups to list, by file refaults."),
    ],
)
def page_cache_thrashing(ctx: RuleContext) -> Iterator[Finding]:
    """File pages the kernel just evicted are read back at a rate that turns over the page cache.

    ## What it does
    Computes `workingset_refault_file` (`workingset_refault` before 5.9) and
    `workingset_activate_file` per second between consecutive snapshots, and the share of the
    page cache (`Active(file)` + `Inactive(file)`) refaulted per minute. When the intervals at
    or above both `min_refault_pages_per_s` and `min_share_per_min` cover `min_time_share` of
    the capture, reports the rate, its share of the page cache, how many refaults were
    activated (pages of the working set) and whether they came with major faults (mmap access:
    FLT001 reports those too) or without (read()/pread() I/O, which FLT001 cannot see). Names
    the memory cgroup that refaults from its own `memory.stat` (`workingset_refault_file`,
    cgroup v1 and v2) when one accounts for `min_cgroup_share` of the host's refaults. Needs
    two samples.

    ## Why is this bad?
    A refault is a read of a file page that was evicted recently enough that a little more
    memory would have kept it. At a high rate the working set of files does not fit in the
    memory it may use (the host's, or a cgroup's limit): every re-read is disk I/O and, for
    the tasks doing it, a stall in reclaim and on the read. Databases doing buffered I/O
    (PostgreSQL, MySQL without O_DIRECT) thrash this way without a single major fault, so
    fault counters alone miss it.

    ## Example
    A reader in a 256 MiB cgroup scanning a 1 GiB file with read(): "page cache refaulted
    5400/s during 40 of 45 s (peak 8030/s at 10:01:12Z), 210% of the page cache (1.0 GiB)
    per minute; without major faults (0.01 per refault): read()-based I/O; 2% activated (the
    working set); cgroup /vmtriage-sample-pagecache-read-thrash (limit 256.0 MiB) 99% of the
    refaults".

    ## Remediation
    Give the file working set the memory it needs: raise the cgroup's limit (`memory.max`,
    `memory.limit_in_bytes`) or the host's memory, or move other memory users away. Otherwise
    shrink what is re-read: database buffer pool sizing (a larger shared_buffers or
    innodb_buffer_pool_size keeps hot pages in the process instead of the page cache), indexes
    that avoid full scans, or `posix_fadvise(POSIX_FADV_DONTNEED)`/`O_DIRECT` for one-shot
    streams that push the hot set out.

    ## References
    - https://github.com/torvalds/linux/blob/master/mm/workingset.c
    - https://docs.kernel.org/admin-guide/cgroup-v2.html#memory-interface-files
    - https://docs.kernel.org/admin-guide/cgroup-v1/memory.html
    """
    ctx.require_samples(2)
    vmstat = ctx.tables["vmstat"]
    refault = _first(vmstat.columns, REFAULT)
    if refault is None:
        raise Skip("vmstat has no workingset_refault counter (kernel before 3.15)")
    activate = _first(vmstat.columns, ACTIVATE)
    counters = [refault, "pgmajfault"] + ([activate] if activate else [])
    window = window_rates(vmstat, counters)
    if window.seconds <= 0:
        raise Skip("no interval between two vmstat snapshots")
    page = page_size(ctx.host)
    rates = window.intervals
    lru = file_lru_bytes(ctx.table("meminfo"))
    if lru.empty:
        raise Skip("no page cache size (meminfo Active(file)/Inactive(file) or Cached)")
    share = _share_series(window, refault, lru, page)
    heavy = (rates[f"{refault}_per_s"] >= float(ctx.settings["min_refault_pages_per_s"])) & (
        share >= float(ctx.settings["min_share_per_min"])
    )
    heavy = heavy.fillna(False)
    time_share = window.time_share(heavy)
    if not heavy.any() or time_share < float(ctx.settings["min_time_share"]):
        return

    heavy_s = float(rates["interval_s"][heavy].sum())
    mean = window.mean_rate(refault, heavy)
    peak, peak_at = window.peak(refault)
    cache = float(lru["file_bytes"].median())
    mean_share = mean * 60 * page / cache if cache > 0 else float("nan")
    refaults = window.total(refault, heavy)
    majflt = window.total("pgmajfault", heavy)
    per_refault = majflt / refaults if refaults > 0 else 0.0
    via_faults = per_refault >= float(ctx.settings["min_majflt_share"])
    how = (
        f"with major faults ({per_refault:.2f} per refault): mmap access, see FLT001"
        if via_faults
        else f"without major faults ({per_refault:.2f} per refault): read()-based I/O"
    )
    activated = window.total(activate, heavy) if activate else None
    active_note = ""
    if activated is not None and refaults > 0:
        active_note = f"; {100 * activated / refaults:.0f}% activated (the working set)"

    start, end = stamp(rates["ts_start"][heavy].min()), stamp(rates["ts"][heavy].max())
    top = refaulting_cgroups(
        ctx.table("cgroup_memory"), start, end, page, int(ctx.settings["top_cgroups"])
    )
    host_refaults = window.total(refault, heavy)
    named = _named_cgroup(top, host_refaults, float(ctx.settings["min_cgroup_share"]))
    who = ""
    subject = Subject.HOST
    if named is not None:
        limit = named["limit_mib"]
        limit_note = f" (limit {limit:.1f} MiB)" if pd.notna(limit) else ""
        who = (
            f"; cgroup {named['cgroup']}{limit_note} "
            f"{min(100.0, 100 * float(named['refaults']) / host_refaults):.0f}% of the refaults"
        )
        subject = Subject.cgroup(str(named["cgroup"]))
    psi = psi_share(ctx.table("pressure_memory"), rates["ts"][heavy])
    stalls = f"; PSI memory some {psi['psi_some_pct']:g}%" if "psi_some_pct" in psi else ""
    critical = mean_share >= float(ctx.settings["critical_share_per_min"])
    yield Finding(
        subject=subject,
        message=(
            f"page cache refaulted {fmt_rate(mean)} during {heavy_s:.0f} of "
            f"{window.seconds:.0f} s (peak {fmt_rate(peak)} at {when(peak_at)}), "
            f"{100 * mean_share:.0f}% of the page cache ({fmt_bytes(cache)}) per minute; "
            f"{how}{active_note}{who}{stalls}"
        ),
        start=start,
        end=end,
        evidence={
            "refault_per_s": round(mean, 1),
            "refault_peak_per_s": round(peak, 1),
            "refaults": refaults,
            "share_per_min": round(mean_share, 3),
            "page_cache_bytes": int(cache),
            "majflt": majflt,
            "majflt_per_refault": round(per_refault, 3),
            "access": "mmap (major faults)" if via_faults else "read() (no major faults)",
            "activations": activated,
            "heavy_time_share": round(time_share, 3),
            "heavy_seconds": round(heavy_s, 1),
            "window_s": round(window.seconds, 1),
            "counter": refault,
            "cgroup": None if named is None else str(named["cgroup"]),
            **psi,
            "top_cgroups": top,
        },
        severity=Severity.CRITICAL if critical else None,
        severity_reason=(
            f"{100 * mean_share:.0f}% of the page cache refaulted per minute, at or above "
            "critical_share_per_min"
            if critical
            else None
        ),
    )
