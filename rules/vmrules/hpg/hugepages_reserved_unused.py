"""HPG001 hugepages-reserved-unused: an explicit hugepage pool that stays free and unreserved."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import fmt_bytes, ordered, stamp


def _counts(rows: pd.DataFrame, column: str) -> pd.Series:
    """A page-count column as floats, 0 where unknown (or the column is absent)."""
    if column not in rows.columns:
        return pd.Series(0.0, index=rows.index)
    return pd.to_numeric(rows[column], errors="coerce").astype(float).fillna(0.0)


#: meminfo's HugePages_* lines (the default huge page size only) as sysfs pool columns.
_MEMINFO_POOL = {
    "hugepages_total": "nr_hugepages",
    "hugepages_free": "free_hugepages",
    "hugepages_rsvd": "resv_hugepages",
    "hugepages_surp": "surplus_hugepages",
}


def pools_from_meminfo(meminfo: pd.DataFrame | None) -> pd.DataFrame | None:
    """The default-size pool from meminfo (``HugePages_Total/Free/Rsvd/Surp`` and
    ``Hugepagesize``), shaped like the ``hugepages`` table; ``None`` without those lines
    (sosreports and old kernels have meminfo but not /sys/kernel/mm/hugepages)."""
    needed = ["hugepagesize_bytes", *_MEMINFO_POOL]
    if meminfo is None or any(c not in meminfo.columns for c in needed):
        return None
    rows = meminfo.dropna(subset=needed)
    if rows.empty:
        return None
    pools = rows[["snapshot", "ts"]].copy()
    pools["page_size_kb"] = (rows["hugepagesize_bytes"].astype(float) // 1024).astype(int)
    for column, pool_column in _MEMINFO_POOL.items():
        pools[pool_column] = rows[column].astype(float)
    pools["node"] = float("nan")
    return pools.reset_index(drop=True)


@rule(
    code="HPG001",
    name="hugepages-reserved-unused",
    severity=Severity.WARNING,
    chart="memory",
    harm="config",
    explains=("MEM001", "OVC001", "SWP001", "OOM001"),
    optional=("hugepages", "meminfo", "process_samples"),
    settings=[
        Setting(
            "min_unused_bytes",
            128 * 1024 * 1024,
            "Bytes of a hugepage pool that must stay free and unreserved (free - resv) in every "
            "snapshot for the pool to be reported. "
            "Our choice: 128 MiB, below it the waste is not worth a finding.",
        ),
        Setting(
            "min_unused_share",
            0.5,
            "Share (0-1) of the pool that must stay free and unreserved in every snapshot. "
            "Our choice: half the pool unused in every snapshot is a pool sized for something that"
            " does not run.",
        ),
    ],
)
def hugepages_reserved_unused(ctx: RuleContext) -> Iterator[Finding]:
    """Explicit huge pages are allocated but stay free and unreserved: memory nobody can use.

    ## What it does
    For each huge page size, reads the global pool (`nr_hugepages`, `free_hugepages`,
    `resv_hugepages`, `surplus_hugepages`) in every snapshot. Pages that are free and not
    reserved (free − resv) are used by no mapping and promised to none. When the smallest such
    count over the whole capture is at least `min_unused_bytes` and `min_unused_share` of the
    pool, reports it in bytes, with the per-node split and the processes that do hold hugetlb
    pages (`HugetlbPages` in their status). Works on a single snapshot. Without the sysfs
    pools (a sosreport, an old kernel), it reads the default-size pool from meminfo's
    `HugePages_Total`, `HugePages_Free`, `HugePages_Rsvd`, `HugePages_Surp` and
    `Hugepagesize`.

    ## Why is this bad?
    A hugetlb pool is taken out of the normal page allocator at boot or when
    `vm.nr_hugepages` is written: the page cache, anonymous memory and the kernel cannot use
    it. An oversized pool, or one sized for a database that no longer uses huge pages (e.g.
    PostgreSQL `huge_pages=try` that fell back, an Oracle SGA that shrank), wastes that memory
    and makes the rest of the host reclaim and swap earlier.

    ## Example
    `hugepages` row 2048 kB: nr 256, free 256, resv 0: "2048 kB huge pages: 256 of 256
    (512.0 MiB) stayed free and unreserved in all 7 snapshots; no process maps hugetlb
    pages".

    ## Remediation
    Size the pool to what the application maps: for PostgreSQL `shared_memory_size_in_huge_pages`
    (`postgres -C shared_memory_size_in_huge_pages`), for Oracle the SGA size. Lower it with
    `sysctl -w vm.nr_hugepages=N` (and in `/etc/sysctl.d/` or the `hugepages=` kernel
    parameter, wherever it is set). If the application should use them, check why it does
    not (its logs, `huge_pages=on` to fail loudly, permissions of `hugetlb_shm_group`).

    ## References
    - https://docs.kernel.org/admin-guide/mm/hugetlbpage.html
    - https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-HUGE-PAGES
    """
    pools = ctx.table("hugepages")
    if pools is None:
        pools = pools_from_meminfo(ctx.table("meminfo"))
    if pools is None:
        raise Skip("neither the sysfs hugepages pools nor meminfo HugePages_* were captured")
    pools = ordered(pools)
    min_bytes = float(ctx.settings["min_unused_bytes"])
    min_share = float(ctx.settings["min_unused_share"])
    glob = pools[pools["node"].isna()] if "node" in pools.columns else pools
    per_node = pools[pools["node"].notna()] if "node" in pools.columns else pools.iloc[0:0]
    users = ctx.table("process_samples")
    for size_kb, rows in glob.groupby("page_size_kb"):
        rows = rows.copy()
        total = _counts(rows, "nr_hugepages")
        free = _counts(rows, "free_hugepages")
        resv = _counts(rows, "resv_hugepages")
        unused = (free - resv).clip(lower=0)
        if total.max() <= 0:
            continue
        page = float(size_kb) * 1024
        i = unused.idxmin()
        least, pool = float(unused[i]), float(total[i])
        if pool <= 0 or least * page < min_bytes or least / pool < min_share:
            continue
        nodes = per_node[per_node["page_size_kb"] == size_kb]
        node_table = pd.DataFrame(columns=["node", "nr_hugepages", "free_hugepages"])
        if not nodes.empty:
            last = nodes[nodes["snapshot"] == nodes["snapshot"].iloc[-1]]
            node_table = last[["node", "nr_hugepages", "free_hugepages"]].reset_index(drop=True)
        holders = pd.DataFrame(columns=["pid", "comm", "hugetlb_pages_bytes"])
        if users is not None and "hugetlb_pages_bytes" in users.columns:
            held = users[users["hugetlb_pages_bytes"].fillna(0) > 0]
            if not held.empty:
                holders = (
                    held.groupby("pid")
                    .agg(comm=("comm", "last"), hugetlb_pages_bytes=("hugetlb_pages_bytes", "max"))
                    .reset_index()
                    .sort_values("hugetlb_pages_bytes", ascending=False)
                    .head(10)
                )
        who = (
            ("; no process maps hugetlb pages" if users is not None else "")
            if holders.empty
            else "; mapped by "
            + ", ".join(
                f"{r.comm} pid {r.pid} ({fmt_bytes(r.hugetlb_pages_bytes)})"
                for r in holders.head(3).itertuples()
            )
        )
        split = ""
        if len(node_table) > 1:
            split = (
                " (per node: "
                + ", ".join(
                    f"node {int(r.node)} {int(r.free_hugepages)}/{int(r.nr_hugepages)} free"
                    for r in node_table.itertuples()
                )
                + ")"
            )
        yield Finding(
            subject=Subject.HOST,
            message=(
                f"{int(size_kb)} kB huge pages: at least {least:.0f} of {pool:.0f} "
                f"({fmt_bytes(least * page)}) stayed free and unreserved in "
                f"{'all ' + str(len(rows)) + ' snapshots' if len(rows) > 1 else 'the snapshot'}"
                f"{split}{who}"
            ),
            start=stamp(rows["ts"].min()),
            end=stamp(rows["ts"].max()),
            evidence={
                "page_size_kb": int(size_kb),
                "nr_hugepages": pool,
                "free_hugepages": float(free[i]),
                "resv_hugepages": float(resv[i]),
                "surplus_hugepages": float(_counts(rows, "surplus_hugepages")[i]),
                "unused_pages_min": least,
                "unused_bytes_min": least * page,
                "pool_bytes": pool * page,
                "snapshots": len(rows),
                "per_node": node_table,
                "hugetlb_holders": holders,
            },
        )
