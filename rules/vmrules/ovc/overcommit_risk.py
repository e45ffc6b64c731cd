"""OVC001 overcommit-risk: commitments near the strict limit, or far beyond RAM + swap."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import (
    database_processes,
    fmt_bytes,
    hugetlb_bytes,
    last_value,
    ordered,
    stamp,
    sysctl_int,
    thp_setting,
    when,
)

MODES = {0: "heuristic", 1: "always overcommit", 2: "strict (never overcommit)"}


def commit_limit(
    mem_total: pd.Series,
    swap_total: pd.Series,
    hugetlb: pd.Series,
    ratio: int,
    kbytes: int,
) -> pd.Series:
    """The kernel's strict-mode limit (mm/util.c ``vm_commit_limit``): ``overcommit_kbytes``
    when set, else (MemTotal - hugetlb) x overcommit_ratio / 100; plus SwapTotal."""
    if kbytes > 0:
        allowed = pd.Series(float(kbytes) * 1024, index=mem_total.index)
    else:
        allowed = (mem_total.astype(float) - hugetlb) * ratio / 100.0
    return allowed + swap_total.astype(float)


def largest_virtual(process_samples: pd.DataFrame | None, at: object, top: int) -> pd.DataFrame:
    """The processes with the largest virtual size at snapshot time ``at`` (an upper bound
    of what each has committed: VmSize also counts read-only and MAP_NORESERVE mappings)."""
    columns = ["pid", "comm", "vsize_bytes", "rss_bytes"]
    if process_samples is None or "vsize" not in process_samples.columns:
        return pd.DataFrame(columns=columns)
    rows = process_samples[process_samples["ts"] == at]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.sort_values("vsize", ascending=False).head(top)
    return pd.DataFrame(
        {
            "pid": rows["pid"].astype(int),
            "comm": rows["comm"].astype(str),
            "vsize_bytes": rows["vsize"].astype(float),
            "rss_bytes": rows["rss_bytes"].astype(float),
        }
    ).reset_index(drop=True)


@rule(
    code="OVC001",
    name="overcommit-risk",
    severity=Severity.WARNING,
    chart="commit",
    harm="config",
    explains=("OOM001",),
    requires=("meminfo",),
    optional=("sysctl_vm", "process_samples", "processes", "thp"),
    settings=[
        Setting(
            "near_limit_share",
            0.9,
            "Mode 2: Committed_AS / CommitLimit at or above which allocations are close to "
            "failing with ENOMEM. "
            "Our choice: 90%, within reach of one large allocation or fork.",
        ),
        Setting(
            "min_limit_share_of_ram",
            0.75,
            "Mode 2: a CommitLimit below this share of MemTotal is reported as a "
            "misconfiguration (memory that can never be committed). "
            "Our choice: 75%, the ratio 50 default leaves 50%, which the kernel docs' "
            "overcommit-accounting describes.",
        ),
        Setting(
            "max_commit_share",
            1.5,
            "Modes 0 and 1: Committed_AS / (MemTotal + SwapTotal) above which the host is "
            "exposed to the OOM killer if the commitments are used. "
            "atop colours the SWP line when committed exceeds the limit; our choice is 150% of RAM"
            " + swap, as modes 0/1 do not enforce a limit.",
        ),
        Setting("top_processes", 5, "How many processes to list, by virtual size."),
    ],
)
def overcommit_risk(ctx: RuleContext) -> Iterator[Finding]:
    """Committed memory is close to the strict commit limit, or far beyond RAM plus swap.

    ## What it does
    Reads `vm.overcommit_memory` and `Committed_AS` in every snapshot. In mode 2 (strict),
    computes the commit limit as the kernel does (`overcommit_kbytes` when set, else
    (MemTotal − hugetlb pool) × `overcommit_ratio` / 100, plus SwapTotal; the hugetlb pool is
    HugePages_Total × Hugepagesize), compares it with meminfo's `CommitLimit`, and reports
    `Committed_AS` at or above `near_limit_share` of it, and a limit below
    `min_limit_share_of_ram` of RAM minus the hugetlb pool (ratio 50 without swap leaves half
    the RAM unusable; what can never be committed is RAM − CommitLimit). Without
    `vm.overcommit_memory`, or in mode 2 without the ratio, `overcommit_kbytes` and
    meminfo's CommitLimit, it is skipped with the reason. In
    modes 0 and 1 the limit is not enforced: it reports `Committed_AS` above
    `max_commit_share` × (MemTotal + SwapTotal). Mode 1 is expected on Redis and MongoDB 8
    hosts (their vendors set it), so that finding is informational there (MongoDB counts as 8
    when THP is set up as its 8.0 documentation does: defrag `defer+madvise`,
    `khugepaged/max_ptes_none` 0).

    ## Why is this bad?
    In mode 2, allocations fail (malloc returns NULL, fork fails) once Committed_AS reaches
    the limit, even with free memory. In modes 0 and 1 nothing stops the commitments: if the
    processes touch what they reserved, the memory runs out and the OOM killer picks a
    victim.

    ## Example
    mode 0, Committed_AS 67.4 GiB on 23.5 GiB RAM and no swap: "Committed_AS peaked at 67.4
    GiB at 15:02:31Z, 287% of RAM + swap (23.5 GiB), above 150% for 19 of 39 s
    (vm.overcommit_memory=0, heuristic); largest virtual sizes: reserver-4 pid 9 16.0 GiB".

    ## Remediation
    Find who commits without using (large VmSize/VmData, small RSS): preallocated JVM heaps,
    mmap'd arenas without MAP_NORESERVE, many threads with big stacks; size them to what is
    used. Add swap or memory if the commitments are real. In mode 2, raise
    `vm.overcommit_ratio` (or set `vm.overcommit_kbytes`) so that CommitLimit covers RAM minus
    the hugetlb pool, and persist it in `/etc/sysctl.d/`. Note `overcommit_ratio=50` means
    swap + 50% of (RAM − hugetlb), not 50% more than RAM + swap, and it only matters in mode 2.

    ## References
    - https://docs.kernel.org/mm/overcommit-accounting.html
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#overcommit-memory
    - https://docs.kernel.org/filesystems/proc.html#meminfo
    """
    meminfo = ordered(ctx.tables["meminfo"]).reset_index(drop=True)
    sysctl = ctx.table("sysctl_vm")
    mode = sysctl_int(sysctl, "overcommit_memory")
    if mode is None:
        mode = ctx.host.get("overcommit_memory")  # a host fact: an int or None, never NaN
    if mode is None:
        raise Skip("vm.overcommit_memory was not captured")
    needed = ["mem_total_bytes", "committed_as_bytes"]
    if any(c not in meminfo.columns for c in needed):
        raise Skip("meminfo has no MemTotal or Committed_AS")
    committed = meminfo["committed_as_bytes"].astype(float)
    mem_total = meminfo["mem_total_bytes"].astype(float)
    swap = meminfo.get("swap_total_bytes", pd.Series(0.0, index=meminfo.index)).astype(float)
    swap = swap.fillna(0.0)
    top = int(ctx.settings["top_processes"])
    base = {"overcommit_memory": mode, "mode": MODES.get(mode, str(mode))}
    seconds = (meminfo["ts"].iloc[-1] - meminfo["ts"].iloc[0]).total_seconds()
    seconds = 0.0 if pd.isna(seconds) else float(seconds)

    if mode == 2:
        ratio = sysctl_int(sysctl, "overcommit_ratio")
        if ratio is None:
            ratio = ctx.host.get("overcommit_ratio")
        kbytes = sysctl_int(sysctl, "overcommit_kbytes")
        if kbytes is None:
            kbytes = ctx.host.get("overcommit_kbytes")
        hugetlb = hugetlb_bytes(meminfo)
        kernel = meminfo.get("commit_limit_bytes")
        kernel_limit = (
            pd.to_numeric(kernel, errors="coerce").astype(float)
            if kernel is not None
            else pd.Series(float("nan"), index=meminfo.index)
        )
        if ratio is None and not kbytes and kernel_limit.isna().all():
            raise Skip(
                "strict mode 2, but neither vm.overcommit_ratio/overcommit_kbytes nor "
                "meminfo CommitLimit was captured: the commit limit is unknown"
            )
        ratio = 50 if ratio is None else int(ratio)  # the kernel default, when CommitLimit is
        kbytes = int(kbytes or 0)
        computed = commit_limit(mem_total, swap, hugetlb, ratio, kbytes)
        limit = kernel_limit.fillna(computed)
        share = committed / limit
        i = int(share.idxmax())
        formula = (
            f"overcommit_kbytes {kbytes} kB + swap"
            if kbytes
            else f"swap + (RAM - hugetlb) x {ratio}%"
        )
        evidence = {
            **base,
            "overcommit_ratio": ratio,
            "overcommit_kbytes": kbytes,
            "mem_total_bytes": float(mem_total.iloc[i]),
            "swap_total_bytes": float(swap.iloc[i]),
            "hugetlb_bytes": float(hugetlb.iloc[i]),
            "commit_limit_computed_bytes": float(computed.iloc[i]),
            "commit_limit_bytes": float(limit.iloc[i]),
            "committed_as_max_bytes": float(committed.iloc[i]),
            "commit_share_max": round(float(share.iloc[i]), 4),
        }
        near = float(ctx.settings["near_limit_share"])
        if share.iloc[i] >= near:
            above = meminfo["ts"][share >= near]
            yield Finding(
                subject=Subject.HOST,
                message=(
                    f"Committed_AS peaked at {fmt_bytes(committed.iloc[i])} at "
                    f"{when(meminfo['ts'].iloc[i])}, {100 * share.iloc[i]:.0f}% of CommitLimit "
                    f"{fmt_bytes(limit.iloc[i])} ({formula}) in strict mode 2: allocations "
                    f"fail at 100%; at or above {100 * near:.0f}% in {len(above)} of "
                    f"{len(meminfo)} snapshots"
                ),
                start=stamp(above.min()),
                end=stamp(above.max()),
                evidence={
                    **evidence,
                    "largest_virtual": largest_virtual(
                        ctx.table("process_samples"), meminfo["ts"].iloc[i], top
                    ),
                },
                severity=Severity.CRITICAL if share.iloc[i] >= 1.0 else None,
                severity_reason="Committed_AS reached CommitLimit"
                if share.iloc[i] >= 1.0
                else None,
            )
        low = float(ctx.settings["min_limit_share_of_ram"])
        last = len(meminfo) - 1
        # The hugetlb pool is never committed through CommitLimit: compare with the rest.
        usable = mem_total.iloc[last] - hugetlb.iloc[last]
        if usable > 0 and limit.iloc[last] < low * usable:
            unusable = mem_total.iloc[last] - limit.iloc[last]
            yield Finding(
                subject=Subject.HOST,
                message=(
                    f"CommitLimit is {fmt_bytes(limit.iloc[last])} ({formula}), "
                    f"{100 * limit.iloc[last] / usable:.0f}% of RAM minus the hugetlb pool "
                    f"{fmt_bytes(usable)}, in strict mode 2: about "
                    f"{fmt_bytes(max(0.0, unusable))} of RAM (RAM - CommitLimit) can never be "
                    "committed"
                ),
                evidence={
                    **evidence,
                    "usable_ram_bytes": float(usable),
                    "unusable_bytes": float(max(0.0, unusable)),
                },
                remediation=(
                    "Raise `vm.overcommit_ratio` so that swap + (RAM − hugetlb) × ratio/100 "
                    "covers the RAM the workload may use (e.g. 90-100 without swap), or set "
                    "`vm.overcommit_kbytes`; persist it in `/etc/sysctl.d/`. Or use mode 0 if "
                    "strict accounting was not intended."
                ),
            )
        return

    capacity = mem_total + swap
    share = committed / capacity
    i = int(share.idxmax())
    limit_share = float(ctx.settings["max_commit_share"])
    if share.iloc[i] <= limit_share:
        return
    above = meminfo[share > limit_share]
    above_s = (above["ts"].max() - above["ts"].min()).total_seconds() if len(above) > 1 else 0.0
    procs = largest_virtual(ctx.table("process_samples"), meminfo["ts"].iloc[i], top)
    named = ""
    if not procs.empty:
        named = "; largest virtual sizes: " + ", ".join(
            f"{r.comm} pid {r.pid} {fmt_bytes(r.vsize_bytes)}" for r in procs.head(4).itertuples()
        )
    severity: Severity | None = None
    reason: str | None = None
    expected = ""
    if mode == 1:
        dbs = database_processes(ctx.table("process_samples"), ctx.table("processes"))
        kinds = set(dbs["db"]) if not dbs.empty else set()
        thp = ctx.table("thp")
        # MongoDB 8's documented setup unit writes these THP values and overcommit_memory=1
        mongo8 = (
            "mongodb" in kinds
            and last_value(thp_setting(thp, "defrag"), "value") == "defer+madvise"
            and str(last_value(thp_setting(thp, "khugepaged/max_ptes_none"), "value")) == "0"
        )
        asking = [name for name, ok in (("Redis", "redis" in kinds), ("MongoDB 8", mongo8)) if ok]
        if asking:
            severity = Severity.INFO
            reason = f"mode 1 is what {' and '.join(asking)} ask(s) for"
            expected = (
                f"; mode 1 is expected here: {' and '.join(asking)} run(s) on this host and "
                "ask(s) for it (Redis for fork-based saves, MongoDB 8 in its setup)"
            )
    yield Finding(
        subject=Subject.HOST,
        message=(
            f"Committed_AS peaked at {fmt_bytes(committed.iloc[i])} at "
            f"{when(meminfo['ts'].iloc[i])}, {100 * share.iloc[i]:.0f}% of RAM + swap "
            f"({fmt_bytes(capacity.iloc[i])}), above {100 * limit_share:.0f}% in {len(above)} "
            f"of {len(meminfo)} snapshots ({above_s:.0f} of {seconds:.0f} s; "
            f"vm.overcommit_memory={mode}, {MODES.get(mode, '?')}){named}{expected}"
        ),
        start=stamp(above["ts"].min()),
        end=stamp(above["ts"].max()),
        evidence={
            **base,
            "committed_as_max_bytes": float(committed.iloc[i]),
            "mem_total_bytes": float(mem_total.iloc[i]),
            "swap_total_bytes": float(swap.iloc[i]),
            "commit_share_max": round(float(share.iloc[i]), 4),
            "snapshots_above": len(above),
            "snapshots": len(meminfo),
            "commit_limit_bytes": _number(meminfo, "commit_limit_bytes", i),
            "largest_virtual": procs,
        },
        severity=severity,
        severity_reason=reason,
    )


def _number(df: pd.DataFrame, column: str, row: int) -> float | None:
    """``df[column]`` at ``row`` as a float, ``None`` when absent or null."""
    if column not in df.columns:
        return None
    value = pd.to_numeric(df[column], errors="coerce").iloc[row]
    return None if pd.isna(value) else float(value)
