"""ALLOC001 page-allocation-failures: the kernel logged failed page allocations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, rule

from vmrules._common import listed, stamp, when
from vmrules.oom.oom_kills import log_records

_GFP_NAMES = re.compile(r"\(([^)]*)\)")
#: gfp flag names of allocations that may not sleep, so may not reclaim (include/linux/gfp.h).
NON_SLEEPING = ("GFP_ATOMIC", "GFP_NOWAIT")


def gfp_label(mode: object) -> str:
    """The gfp flags of a ``mode:`` field by name when the kernel printed them (4.10+:
    ``0xcc0(GFP_KERNEL)``), else the hex value (``0x20``) or ``?``.

    >>> gfp_label("0x4a20(GFP_ATOMIC|__GFP_COMP)"), gfp_label("0x20"), gfp_label(None)
    ('GFP_ATOMIC|__GFP_COMP', '0x20', '?')
    """
    if not isinstance(mode, str) or not mode:
        return "?"
    names = _GFP_NAMES.search(mode)
    return names.group(1) if names and names.group(1) else mode


def is_atomic(label: str) -> bool | None:
    """True for GFP_ATOMIC/GFP_NOWAIT, False for other named flags, None when only hex."""
    if label == "?" or "GFP_" not in label:
        return None
    return any(name in label.split("|") for name in NON_SLEEPING)


def by_order_and_gfp(records: pd.DataFrame) -> list[dict[str, Any]]:
    """The failures grouped by order and gfp flags: count, processes, first and last time."""
    rows: list[dict[str, Any]] = []
    groups = records.assign(gfp=records["gfp_mask"].map(gfp_label)).groupby(
        ["order", "gfp"], sort=True, dropna=False
    )
    for (order, gfp), group in groups:
        procs = group["invoking_process"].dropna().astype(str)
        rows.append(
            {
                "order": None if pd.isna(order) else int(order),
                "gfp": str(gfp),
                "atomic": is_atomic(str(gfp)),
                "count": len(group),
                "processes": sorted(set(procs))[:5],
                "first_at": stamp(group["at"].min()),
                "last_at": stamp(group["at"].max()),
            }
        )
    return sorted(rows, key=lambda r: (-int(r["count"]), -(r["order"] or 0)))


def _free_blocks(buddyinfo: pd.DataFrame | None, order: int) -> int | None:
    """Free blocks of at least ``order`` over every zone at the last snapshot (None if unknown)."""
    if buddyinfo is None or buddyinfo.empty:
        return None
    last = buddyinfo[buddyinfo["snapshot"] == buddyinfo["snapshot"].max()]
    columns = [f"order_{o}" for o in range(order, 11) if f"order_{o}" in last.columns]
    return int(last[columns].sum().sum()) if columns else None


def _describe(groups: list[dict[str, Any]], limit: int = 3) -> str:
    parts = []
    for g in groups[:limit]:
        who = ", ".join(str(p) for p in g["processes"])
        parts.append(f"order {g['order']} {g['gfp']} x{g['count']} ({who or '?'})")
    return listed(parts, len(groups) - limit, "kinds")


@rule(
    code="ALLOC001",
    name="page-allocation-failures",
    chart="memory",
    harm="stall",
    severity=Severity.WARNING,
    requires=("oom_events",),
    optional=("samples", "buddyinfo"),
    settings=[
        Setting(
            "min_failures",
            1,
            "Page allocation failures in the window at or above which the rule fires. Our "
            "choice: any, since the kernel prints one only when an allocation that did not "
            "ask for silence (__GFP_NOWARN) failed, rate-limited (mm/page_alloc.c warn_alloc).",
        ),
        Setting(
            "critical_order",
            4,
            "Lowest order of a failed allocation that makes the finding critical when it "
            "failed without GFP_ATOMIC/GFP_NOWAIT (the task could reclaim and compact and "
            "still failed). Our choice: order 4 (64 KiB) is above PAGE_ALLOC_COSTLY_ORDER 3, "
            "where the kernel stops retrying (mm/page_alloc.c).",
        ),
    ],
)
def page_allocation_failures(ctx: RuleContext) -> Iterator[Finding]:
    """The kernel logged "page allocation failure" warnings: allocations it could not satisfy.

    ## What it does
    Reads the `page allocation failure: order:N, mode:0x...(GFP_...)` records of the kernel
    log (`warn_alloc()` in mm/page_alloc.c) and groups them by order (2^N contiguous pages)
    and gfp flags, naming the processes that allocated. Failures during the capture give the
    finding; those the log held from before it are reported as info. A failure of order
    `critical_order` or more by an allocation that could sleep (not GFP_ATOMIC/GFP_NOWAIT)
    is critical. On a single snapshot (a sosreport) every failure of the boot counts. The
    free blocks of that order and above (`/proc/buddyinfo`) are added when captured.

    ## Why is this bad?
    The allocating code got no memory: a driver drops packets (GFP_ATOMIC in network
    receive), a file system or device fails an I/O, a `fork()` or module load fails. Order-0
    failures mean the free-page reserve ran out; higher orders with free memory left mean
    fragmentation (FRAG001). Atomic allocations cannot reclaim, so they fail when free pages
    fall below the min watermark: a `min_free_kbytes` too low for bursts (ALLOC002).

    ## Example
    `swapper/0: page allocation failure: order:3, mode:0x4a20(GFP_ATOMIC|__GFP_COMP)` logged
    4 times: "4 page allocation failures during the capture: order 3 GFP_ATOMIC|__GFP_COMP x4
    (swapper/0)".

    ## Remediation
    For atomic failures (network drivers): raise `vm.min_free_kbytes` moderately (not far
    above the kernel's default: too high a reserve causes OOMs, ALLOC002) or
    `vm.watermark_scale_factor`, and check the NIC's ring and MTU settings (jumbo frames need
    high-order pages). For high-order failures with free memory: reduce fragmentation
    (FRAG001: `vm.compaction_proactiveness`, THP defrag). For order-0 failures: the host is
    out of memory, see MEM001 and OOM001.

    ## References
    - mm/page_alloc.c `warn_alloc()`, `__alloc_pages_slowpath()`:
      https://github.com/torvalds/linux/blob/master/mm/page_alloc.c
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#min-free-kbytes
    - https://access.redhat.com/solutions/74573 (what a page allocation failure message means)
    - https://access.redhat.com/solutions/90883 (order:1 mode:0x20 atomic failures)
    """
    events = ctx.tables["oom_events"]
    if "event" not in events.columns:
        raise Skip("the kernel-log table has no event column")
    records = log_records(events, ("alloc_failure",), ctx.table("samples"))
    if records.empty:
        return
    for col in ("order", "gfp_mask", "invoking_process"):
        if col not in records.columns:
            records[col] = None
    before = records[records["before_window"]]
    inside = records[~records["before_window"]]
    buddy = ctx.table("buddyinfo")
    critical_order = int(ctx.settings["critical_order"])
    for part, history in ((inside, False), (before, True)):
        if part.empty or (not history and len(part) < int(ctx.settings["min_failures"])):
            continue
        groups = by_order_and_gfp(part)
        top = max(int(o) for o in part["order"].dropna()) if part["order"].notna().any() else 0
        where = (
            "before the capture"
            if history
            else ("during the capture" if ctx.multi_sample else "in the kernel log of this boot")
        )
        n = len(part)
        message = (
            f"{n} page allocation failure{'s' if n > 1 else ''} {where} (first at "
            f"{when(part['at'].min())}, last at {when(part['at'].max())}): {_describe(groups)}"
        )
        evidence: dict[str, object] = {
            "failures": n,
            "max_order": top,
            "by_order_and_gfp": groups,
            "free_blocks_at_or_above_max_order": _free_blocks(buddy, top),
        }
        severity, reason = None, None
        sleeping = [
            g for g in groups if g["atomic"] is False and (g["order"] or 0) >= critical_order
        ]
        if history:
            severity, reason = Severity.INFO, "the failures happened before the capture"
        elif sleeping:
            severity = Severity.CRITICAL
            reason = (
                f"an allocation that could reclaim and compact failed at order "
                f"{max(int(g['order'] or 0) for g in sleeping)}"
            )
        yield Finding(
            message=message,
            start=stamp(part["at"].min()),
            end=stamp(part["at"].max()),
            evidence=evidence,
            severity=severity,
            severity_reason=reason,
        )
