"""KMEM001 kernel-memory-growth: unreclaimable kernel memory that grows steadily."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Severity, Skip, rule

from vmrules._common import mib, timed
from vmrules._growth import (
    describe,
    fit_evidence,
    growth_finding,
    growth_settings,
    line_fit,
    share_text,
    steady_fit,
    timed_meminfo,
)

#: The meminfo parts of kernel memory that reclaim cannot free, which do not overlap.
PARTS = {
    "s_unreclaim_bytes": "SUnreclaim",
    "kernel_stack_bytes": "KernelStack",
    "page_tables_bytes": "PageTables",
    "sec_page_tables_bytes": "SecPageTables",
    "percpu_bytes": "Percpu",
}
#: Counts vmalloc'ed kernel stacks (CONFIG_VMAP_STACK) again: only its growth beyond
#: KernelStack's is added.
VMALLOC = "vmalloc_used_bytes"


def kernel_series(meminfo: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per snapshot (ts order): every part, ``vmalloc_beyond_stacks``, and ``kernel``, their
    sum; and the meminfo names of the parts this kernel prints."""
    ordered = meminfo.sort_values("ts", kind="stable")
    cols = [c for c in PARTS if c in ordered.columns and ordered[c].notna().any()]
    out = pd.DataFrame({"ts": ordered["ts"]})
    for col in cols:
        out[col] = ordered[col].astype(float)
    names = [PARTS[c] for c in cols]
    total = out[cols].sum(axis=1, min_count=len(cols)) if cols else None
    if VMALLOC in ordered.columns and ordered[VMALLOC].fillna(0).gt(0).any():
        stacks = out["kernel_stack_bytes"] if "kernel_stack_bytes" in cols else 0.0
        beyond = (ordered[VMALLOC].astype(float) - stacks).dropna()
        if not beyond.empty:
            # VmallocUsed is a level (other vmalloc users); only its change adds to the sum.
            out["vmalloc_beyond_stacks"] = beyond - beyond.iloc[0]
            change = out["vmalloc_beyond_stacks"]
            total = change if total is None else total + change
            names.append("VmallocUsed")
    if total is not None:
        out["kernel"] = total
    return out, names


def slab_growth(slabinfo: pd.DataFrame | None, limit: int) -> list[dict[str, object]]:
    """The slab caches that grew most between the first and the last slabinfo snapshot."""
    if slabinfo is None or slabinfo.empty or not timed(slabinfo.drop_duplicates("ts")):
        return []
    stamps = sorted(slabinfo["ts"].dropna().unique())
    first = slabinfo[slabinfo["ts"] == stamps[0]][["name", "cache_size_bytes", "objects"]]
    last = slabinfo[slabinfo["ts"] == stamps[-1]]
    both = last.merge(first, on="name", how="left", suffixes=("", "_first")).set_index("name")
    both = both.fillna({"cache_size_bytes_first": 0, "objects_first": 0})
    both["growth"] = both["cache_size_bytes"].astype(float) - both["cache_size_bytes_first"]
    both = both[both["growth"] > 0].sort_values("growth", ascending=False, kind="stable")
    return [
        {
            "name": str(name),
            "first_mib": mib(row["cache_size_bytes_first"]),
            "last_mib": mib(row["cache_size_bytes"]),
            "growth_mib": mib(row["growth"]),
            "objects_first": int(row["objects_first"]),
            "objects_last": int(row["objects"]),
            "object_size_bytes": int(row["object_size_bytes"]),
        }
        for name, row in both.head(limit).iterrows()
    ]


@rule(
    code="KMEM001",
    name="kernel-memory-growth",
    chart="memory",
    harm="measured",
    explains=("MEM001", "OOM001"),
    severity=Severity.WARNING,
    requires=("meminfo",),
    optional=("slabinfo",),
    settings=[
        *growth_settings(
            "unreclaimable kernel memory",
            32.0,
            "32 MiB; a kernel at rest holds its slab, stacks and page tables flat within a "
            "few MiB, so 32 MiB of steady growth in minutes is a leak or a runaway count of "
            "kernel objects (threads, sockets), and a smaller slope cannot be told from "
            "noise in a short capture.",
        ),
    ],
)
def kernel_memory_growth(ctx: RuleContext) -> Iterator[Finding]:
    """Kernel memory that reclaim cannot free grows steadily across the capture.

    ## What it does
    Sums, in every snapshot of `/proc/meminfo`, the kernel memory that reclaim cannot free:
    `SUnreclaim` (unreclaimable slab), `KernelStack`, `PageTables`, `SecPageTables` and
    `Percpu` (those the kernel prints), plus the change of `VmallocUsed` beyond that of
    `KernelStack` (vmalloc'ed kernel stacks are counted in both). It fits a least-squares line
    to the sum against time and reports the host when the line grows by at least
    `min_growth_mib` over at least `min_duration_s` and `min_samples` snapshots with
    R² >= `min_r2`. The finding gives each part's growth, the share of RAM kernel memory
    holds at the end, the slab caches that grew most between the first and the last
    `/proc/slabinfo` (read at start and end, as root), and when MemAvailable would be used up
    at that slope (info beyond `max_exhaust_hours`).

    ## Why is this bad?
    This memory belongs to no process: `ps` and `top` do not show it, the OOM killer cannot
    free it by killing anyone, and the host runs out of memory while every process looks
    small. Steady growth is a kernel or driver leak, or a user-space leak of kernel objects:
    threads that never exit (a kernel stack, a task_struct and page tables each), sockets,
    pipes or file descriptors that are never closed, cgroups that are removed but pinned
    (zombie memcgs and their per-cpu data).

    ## Example
    `kernel-thread-leak` sample bundle (a process starting 20 threads/s that never end):
    "unreclaimable kernel memory (SUnreclaim + KernelStack + ...) grew from 114.7 MiB to
    174.0 MiB in 152 s (09:14:35Z to 09:17:07Z): 1278 MiB/h, R² 0.97, rising in 82% of
    intervals: KernelStack +39.4 MiB, SUnreclaim +17.8 MiB, PageTables +2.1 MiB; it holds
    174.1 MiB, 0.7% of RAM; slab caches that grew most: task_struct +15.7 MiB, ...".

    ## Remediation
    Find the objects behind the largest parts: `KernelStack` and `task_struct`/`pid` slabs
    are threads (`ps -eLf | wc -l`, the process with a growing `num_threads`); `sock_inode_cache`,
    `TCP`, `kmalloc-*` with `/proc/net/sockstat` are sockets; `Percpu` with many
    `memory.stat` directories under `/sys/fs/cgroup` are zombie cgroups. Fix the leaking
    program; for a kernel or driver leak, enable `kmemleak` or slab debugging
    (`slub_debug=U`, `/sys/kernel/slab/<cache>/alloc_calls`) and update the kernel or driver.

    ## References
    - https://docs.kernel.org/filesystems/proc.html (meminfo: SUnreclaim, KernelStack,
      PageTables, Percpu, VmallocUsed)
    - https://man7.org/linux/man-pages/man5/slabinfo.5.html
    - https://docs.kernel.org/dev-tools/kmemleak.html
    """
    meminfo = timed_meminfo(ctx)
    if meminfo is None:
        return
    series, names = kernel_series(meminfo)
    if "kernel" not in series.columns:
        raise Skip("meminfo has none of SUnreclaim, KernelStack, PageTables, Percpu")
    fit = steady_fit(series["ts"], series["kernel"], ctx.settings)
    if fit is None:
        return
    parts: dict[str, float] = {}
    for col in [*PARTS, "vmalloc_beyond_stacks"]:
        part = line_fit(series["ts"], series[col]) if col in series.columns else None
        if part is not None:
            parts[PARTS.get(col, "VmallocUsed")] = part.last - part.first
    ordered_parts = sorted(parts.items(), key=lambda kv: -kv[1])
    level = float(series[[c for c in PARTS if c in series.columns]].iloc[-1].sum())
    share, share_value = share_text(level, meminfo)
    slabs = slab_growth(ctx.table("slabinfo"), 5)
    evidence: dict[str, object] = {
        **fit_evidence(fit),
        "parts": names,
        "growth_by_part_mib": {name: mib(value) for name, value in ordered_parts},
        "kernel_mib_last": mib(level),
        "ram_share_last": share_value,
        "slab_caches": slabs,
    }
    grown = [f"{n} {mib(v):+.1f} MiB" for n, v in ordered_parts if abs(v) >= 1 << 20]
    message = f"unreclaimable kernel memory ({' + '.join(names)}) {describe(fit)}: "
    message += ", ".join(grown) + share
    if slabs:
        message += "; slab caches that grew most: " + ", ".join(
            f"{s['name']} {s['growth_mib']:+.1f} MiB" for s in slabs[:3]
        )
    else:
        message += "; which slab caches grew is unknown (no /proc/slabinfo at start and end)"
    yield growth_finding(ctx, fit, message, evidence)
