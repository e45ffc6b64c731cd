"""FRAG001 high-order-fragmentation: no free high-order blocks, and compaction stalls."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, counter_rates, rule

from vmrules._common import mib, page_size, rnd, timed, when

COMPACTION = ("compact_stall", "compact_fail", "compact_success")


def order_columns(buddyinfo: pd.DataFrame) -> list[tuple[int, str]]:
    """(order, column) of the ``order_N`` columns, by order."""
    out = []
    for col in buddyinfo.columns:
        if col.startswith("order_") and col[6:].isdigit():
            out.append((int(col[6:]), col))
    return sorted(out)


def compaction_rates(vmstat: pd.DataFrame | None) -> dict[str, float]:
    """Window-wide compaction rates (events/s) and counts, from vmstat."""
    if vmstat is None or not timed(vmstat):
        return {}
    present = [c for c in COMPACTION if c in vmstat.columns]
    rates = counter_rates(vmstat, present)
    out: dict[str, float] = {}
    if rates.empty:
        return out
    seconds = float(rates["interval_s"].sum())
    for col in present:
        delta = float(rates[f"{col}_delta"].fillna(0).sum())
        out[f"{col}_delta"] = delta
        out[f"{col}_per_s"] = delta / seconds if seconds > 0 else float("nan")
    return out


@rule(
    code="FRAG001",
    name="high-order-fragmentation",
    severity=Severity.WARNING,
    chart="memory",
    harm="stall",
    explains=("PSI001", "ALLOC001"),
    requires=("buddyinfo",),
    optional=("vmstat",),
    settings=[
        Setting(
            "min_order",
            4,
            "Lowest buddy order counted as high-order (order 4 = 16 contiguous pages, 64 KiB "
            "with 4 KiB pages; THP needs order 9). "
            "PAGE_ALLOC_COSTLY_ORDER is 3 in the kernel (include/linux/mmzone.h): orders above it "
            "are the costly ones compaction serves.",
        ),
        Setting(
            "max_high_order_blocks",
            0,
            "A zone counts as exhausted when it has at most this many free blocks of order "
            ">= min_order. "
            "Our choice: none free means every such allocation needs compaction.",
        ),
        Setting("zones", "Normal", "Comma-separated zone names checked (buddyinfo names)."),
        Setting(
            "min_exhausted_share",
            0.5,
            "Share of the snapshots (0-1) in which the zone must be exhausted. "
            "Our choice: half the capture, as MEM001.",
        ),
        Setting(
            "min_compact_stall_per_s",
            0.1,
            "Direct compaction stalls per second (vmstat compact_stall) over the window at "
            "or above which compaction counts as active. "
            "Our choice: one stall every 10 s is more than an idle host shows.",
        ),
        Setting(
            "min_compact_fail_per_s",
            0.1,
            "Failed compactions per second (vmstat compact_fail) over the window at or above "
            "which compaction counts as failing. "
            "Our choice: the same bar as min_compact_stall_per_s.",
        ),
    ],
)
def high_order_fragmentation(ctx: RuleContext) -> Iterator[Finding]:
    """A zone has no free high-order blocks while allocations stall in compaction.

    ## What it does
    For each node's zones named in `zones`, counts the free blocks of order >= `min_order` in
    `/proc/buddyinfo` in every snapshot. A zone with at most `max_high_order_blocks` such blocks
    in `min_exhausted_share` of the snapshots is flagged when, over the window, direct
    compaction stalls (`compact_stall`) or fails (`compact_fail`) at the configured rates
    (`/proc/vmstat`). On a single snapshot the exhausted zone is reported as info with the
    compaction counters since boot.

    ## Why is this bad?
    Memory can be free yet unusable for anything larger than a few pages: allocations of
    contiguous blocks (transparent huge pages, network buffers, kernel stacks, slab caches of
    high order) must then compact memory synchronously (latency spikes in the allocating task)
    or fail (THP fallback, `page allocation failure` messages).

    ## Example
    `/proc/buddyinfo` `Node 0, zone Normal 51234 10212 1870 96 0 0 0 0 0 0 0` in every snapshot
    with `compact_stall` rising 12/s and `compact_fail` 9/s: "zone Normal of node 0 had no free
    block of order >= 4 in 60 of 60 snapshots ... 12.0 compaction stalls/s, 9.0 failures/s".

    ## Remediation
    Raise `vm.min_free_kbytes` (more free memory kept, more room to merge) and let kcompactd work
    ahead (`vm.compaction_proactiveness`, 5.9+); trigger a one-off `echo 1 >
    /proc/sys/vm/compact_memory`; for workloads that need huge pages, reserve hugetlbfs pages at
    boot instead of relying on THP; find who pins unmovable memory (slab growth, drivers).

    ## References
    - https://docs.kernel.org/admin-guide/mm/concepts.html
    - https://man7.org/linux/man-pages/man5/proc_buddyinfo.5.html
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#compaction-proactiveness
    """
    buddy = ctx.tables["buddyinfo"]
    orders = order_columns(buddy)
    min_order = int(ctx.settings["min_order"])
    high = [col for order, col in orders if order >= min_order]
    if not high:
        return
    wanted = {z.strip() for z in str(ctx.settings["zones"]).split(",") if z.strip()}
    rows = buddy[buddy["zone"].isin(wanted)] if wanted else buddy
    if rows.empty:
        return
    limit = int(ctx.settings["max_high_order_blocks"])
    compaction = compaction_rates(ctx.table("vmstat"))
    vmstat = ctx.table("vmstat")
    page = page_size(ctx.host)
    rows = rows.sort_values("ts") if timed(rows) else rows
    for (node, zone), zrows in rows.groupby(["node", "zone"], sort=True):
        blocks = zrows[high].sum(axis=1)
        exhausted = blocks <= limit
        share = float(exhausted.mean())
        if not exhausted.any() or share < float(ctx.settings["min_exhausted_share"]):
            continue
        last = zrows.iloc[-1]
        free_pages = sum(int(last[col]) << order for order, col in orders)
        worst = zrows[exhausted]
        evidence: dict[str, object] = {
            "node": int(node),
            "zone": str(zone),
            "min_order": min_order,
            "snapshots_exhausted": int(exhausted.sum()),
            "snapshots": len(zrows),
            "exhausted_share": rnd(share, 3),
            "high_order_blocks_max": int(blocks.max()),
            "free_mib_last": mib(free_pages * page),
            "free_blocks_last": {col: int(last[col]) for _, col in orders},
        }
        subject = f"zone:{int(node)}:{zone}"
        state = (
            f"zone {zone} of node {int(node)} had at most {limit} free block(s) of order >= "
            f"{min_order} in {int(exhausted.sum())} of {len(zrows)} snapshots ({share:.0%}), "
            f"{when(worst['ts'].min())} to {when(worst['ts'].max())}, with "
            f"{mib(free_pages * page)} MiB free in smaller blocks"
        )
        if not ctx.multi_sample or not compaction:
            since_boot = {}
            if vmstat is not None:
                latest = (vmstat.sort_values("ts") if timed(vmstat) else vmstat).iloc[-1]
                since_boot = {c: int(latest[c]) for c in COMPACTION if c in vmstat.columns}
            evidence["compaction_since_boot"] = since_boot
            counts = ", ".join(f"{k} {v}" for k, v in since_boot.items()) or "unknown"
            yield Finding(
                message=f"{state}; compaction since boot: {counts}",
                subject=subject,
                start=worst["ts"].min(),
                end=worst["ts"].max(),
                evidence=evidence,
                severity=Severity.INFO,
                severity_reason="a single snapshot: compaction rates are unknown",
            )
            continue
        stall = compaction.get("compact_stall_per_s", 0.0)
        fail = compaction.get("compact_fail_per_s", 0.0)
        if not (
            stall >= float(ctx.settings["min_compact_stall_per_s"])
            or fail >= float(ctx.settings["min_compact_fail_per_s"])
        ):
            continue
        evidence.update({k: rnd(v, 3) for k, v in compaction.items()})
        stalls = compaction.get("compact_stall_delta", 0.0)
        fails = compaction.get("compact_fail_delta", 0.0)
        yield Finding(
            message=(
                f"{state}; meanwhile {stall:.1f} direct compaction stalls/s and {fail:.1f} "
                f"compaction failures/s (compact_stall +{stalls:.0f}, compact_fail +{fails:.0f})"
            ),
            subject=subject,
            start=worst["ts"].min(),
            end=worst["ts"].max(),
            evidence=evidence,
        )
