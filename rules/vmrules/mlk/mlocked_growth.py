"""MLK001 mlocked-growth: locked (unevictable) memory that grows steadily."""

from __future__ import annotations

from collections.abc import Iterator

from vmanalyze import Finding, RuleContext, Severity, Skip, rule

from vmrules._common import mib
from vmrules._growth import (
    describe,
    fit_evidence,
    growth_finding,
    growth_settings,
    holders,
    holders_text,
    line_fit,
    share_text,
    steady_fit,
    timed_meminfo,
)

#: meminfo gauges: the first one this kernel prints is fitted.
GAUGES = (("mlocked_bytes", "Mlocked"), ("unevictable_bytes", "Unevictable"))


@rule(
    code="MLK001",
    name="mlocked-growth",
    chart="memory",
    harm="measured",
    explains=("MEM001", "OOM001"),
    severity=Severity.WARNING,
    requires=("meminfo",),
    optional=("pid_status",),
    settings=growth_settings(
        "Mlocked (Unevictable when Mlocked is absent)",
        32.0,
        "32 MiB; locked memory is set up once (a database's buffers, a real-time process's "
        "working set) and then stays flat, so 32 MiB of steady growth in minutes is a "
        "program locking more and more.",
    ),
)
def mlocked_growth(ctx: RuleContext) -> Iterator[Finding]:
    """Memory locked with mlock() grows steadily, out of reach of reclaim and swap.

    ## What it does
    Fits a least-squares line to `Mlocked` of `/proc/meminfo` (`Unevictable` on a kernel
    without it) against time and reports the host when it grows by at least `min_growth_mib`
    over at least `min_duration_s` and `min_samples` snapshots with R² >= `min_r2`. The
    finding gives the growth of `Unevictable` too (mlocked pages plus ramfs, `SHM_LOCK`ed
    segments and other pages the kernel may not evict), the processes with the most locked
    memory (`VmLck` of `/proc/<pid>/status`, from their first to their last snapshot), the
    share of RAM it holds, and when MemAvailable would be used up at that slope (info beyond
    `max_exhaust_hours`).

    ## Why is this bad?
    Locked pages sit on the unevictable list: reclaim skips them and they never go to swap.
    Every locked page makes the rest of memory smaller, so a program that keeps locking
    (`mlockall(MCL_FUTURE)` and a growing heap, a leaking cache in locked memory) pushes the
    page cache and every other process into reclaim, swap and finally the OOM killer, which
    then has less to choose from.

    ## Example
    `mlock-growth` sample bundle: "Mlocked grew from 15.1 MiB to 226.6 MiB in 150 s (09:28:53Z
    to 09:31:24Z): 5334 MiB/h, R² 1.00, rising in 95% of intervals; it holds 226.6 MiB, 0.9% of
    RAM (Unevictable 18.4 -> 229.9 MiB); largest holders of VmLck: mlock-grower (pid 16793)
    212.2 MiB (+210.0 MiB), ...".

    ## Remediation
    Find the process with the growing `VmLck` and bound what it locks: lock a fixed pool
    instead of `mlockall(MCL_FUTURE)`, or cap it with `LimitMEMLOCK=` (systemd) or
    `ulimit -l` (`RLIMIT_MEMLOCK`); check database settings that lock their buffers
    (`memlock` in Elasticsearch, `lock_sga` in Oracle, `--memlock` in mysqld) against RAM.

    ## References
    - https://docs.kernel.org/mm/unevictable-lru.html
    - https://man7.org/linux/man-pages/man2/mlock.2.html
    - https://docs.kernel.org/filesystems/proc.html (meminfo: Mlocked, Unevictable;
      status: VmLck)
    """
    meminfo = timed_meminfo(ctx)
    if meminfo is None:
        return
    known = [(c, n) for c, n in GAUGES if c in meminfo.columns and meminfo[c].notna().any()]
    if not known:
        raise Skip("meminfo has neither Mlocked nor Unevictable (kernel before 2.6.28)")
    col, name = known[0]
    fit = steady_fit(meminfo["ts"], meminfo[col], ctx.settings)
    if fit is None:
        return
    found = holders(ctx.table("pid_status"), "vm_lck_bytes", "name")
    share, share_value = share_text(fit.last, meminfo)
    evidence: dict[str, object] = {
        "measure": name,
        **fit_evidence(fit),
        "ram_share_last": share_value,
        "holders": found,
    }
    message = f"{name} {describe(fit)}{share}"
    if name == "Mlocked" and "unevictable_bytes" in meminfo.columns:
        other = line_fit(meminfo["ts"], meminfo["unevictable_bytes"])
        if other is not None:
            evidence["unevictable_first_mib"] = mib(other.first)
            evidence["unevictable_last_mib"] = mib(other.last)
            message += f" (Unevictable {mib(other.first)} -> {mib(other.last)} MiB)"
    yield growth_finding(ctx, fit, message + holders_text(found, "VmLck"), evidence)
