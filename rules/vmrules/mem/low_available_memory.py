"""MEM001 low-available-memory: MemAvailable below a threshold for a sustained share."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, rule

from vmrules._common import hugetlb_bytes, mib, page_size, rnd, when


def low_watermark_bytes(
    zoneinfo: pd.DataFrame | None, sysctl_vm: pd.DataFrame | None, page: int
) -> tuple[pd.Series | None, str]:
    """Sum of the zones' low watermarks per snapshot (bytes), and where it came from.

    From `zoneinfo` (`low`, pages) when captured; else from `vm.min_free_kbytes`, whose low
    watermark is `min + min/4` on the kernels that lack MemAvailable (before 3.14, and before
    `watermark_scale_factor` existed).
    """
    if zoneinfo is not None and {"snapshot", "low"} <= set(zoneinfo.columns):
        low = zoneinfo.groupby("snapshot")["low"].sum().astype(float) * page
        return low, "zoneinfo"
    if sysctl_vm is not None and {"name", "value"} <= set(sysctl_vm.columns):
        rows = sysctl_vm[sysctl_vm["name"] == "min_free_kbytes"]
        values = pd.to_numeric(rows["value"], errors="coerce").dropna()
        if not values.empty:
            kb = float(values.iloc[-1])
            return pd.Series({"*": kb * 1024 * 5 / 4}), "vm.min_free_kbytes"
    return None, "unknown (taken as 0)"


def estimate_available(meminfo: pd.DataFrame, low: pd.Series | None) -> tuple[pd.Series, list[str]]:
    """MemAvailable as the kernel computed it when it was introduced (3.14, si_mem_available).

    `free - low + (pagecache - min(pagecache / 2, low)) + (SReclaimable - min(SReclaimable / 2,
    low))` with `pagecache = Active(file) + Inactive(file)`, clamped at 0. Returns the
    estimate per row and the meminfo fields it used.
    """
    used = ["mem_free_bytes", "active_file_bytes", "inactive_file_bytes", "s_reclaimable_bytes"]
    missing = [c for c in used[:1] if c not in meminfo.columns]
    if missing:
        raise Skip("meminfo has neither MemAvailable nor MemFree")

    def col(name: str) -> pd.Series:
        if name in meminfo.columns:
            return meminfo[name].astype(float).fillna(0.0)
        return pd.Series(0.0, index=meminfo.index)

    if low is None:
        wmark = pd.Series(0.0, index=meminfo.index)
    elif list(low.index) == ["*"]:
        wmark = pd.Series(float(low.iloc[0]), index=meminfo.index)
    else:
        wmark = meminfo["snapshot"].map(low).astype(float).fillna(float(low.median()))
    pagecache = col("active_file_bytes") + col("inactive_file_bytes")
    slab = col("s_reclaimable_bytes")
    available = col("mem_free_bytes") - wmark
    available += pagecache - pd.concat([pagecache / 2, wmark], axis=1).min(axis=1)
    available += slab - pd.concat([slab / 2, wmark], axis=1).min(axis=1)
    return available.clip(lower=0.0), [c for c in used if c in meminfo.columns]


@rule(
    code="MEM001",
    name="low-available-memory",
    severity=Severity.WARNING,
    chart="memory",
    harm="measured",
    requires=("meminfo",),
    optional=("zoneinfo", "sysctl_vm"),
    settings=[
        Setting(
            "min_available_pct",
            10.0,
            "MemAvailable (percent of MemTotal) below which memory counts as low; atop "
            "colours memory critical at 90% occupation.",
        ),
        Setting(
            "min_low_share",
            0.5,
            "Share of the snapshots (0-1) in which memory must be low for a finding; 1 "
            "snapshot of 1 is enough on a single-snapshot input. "
            "Our choice: a majority of the snapshots, so a single dip is not reported.",
        ),
        Setting(
            "critical_available_pct",
            5.0,
            "MemAvailable (percent of MemTotal) whose minimum at or below this makes the "
            "finding critical. "
            "Our choice: half of min_available_pct; atop's 'almost critical' is 80% of its "
            "critical bar, we go the other way for a second step.",
        ),
    ],
)
def low_available_memory(ctx: RuleContext) -> Iterator[Finding]:
    """Available memory stays below a share of RAM for a sustained part of the window.

    ## What it does
    Reads `MemAvailable` from `/proc/meminfo` in every snapshot (on kernels older than 3.14,
    which lack it, estimates it as the kernel does: MemFree + Active(file) + Inactive(file) +
    SReclaimable, less the zones' low watermarks from `/proc/zoneinfo` or
    `vm.min_free_kbytes`). It flags the host when available memory is below
    `min_available_pct` of `MemTotal` minus the hugetlb pool (HugePages_Total x Hugepagesize,
    or `Hugetlb`: reserved for hugetlb users, never available to others, and not counted in
    MemAvailable) in at least `min_low_share` of the snapshots, and makes the finding critical
    when its minimum reaches `critical_available_pct`.

    ## Why is this bad?
    `MemAvailable` is the kernel's estimate of how much memory can be given to applications
    without swapping. When it stays low, every new allocation has to reclaim first: page cache
    is dropped and refaulted, anonymous memory is swapped, tasks stall in direct reclaim, and the
    OOM killer is one burst away.

    ## Example
    `MemTotal: 16384000 kB` and `MemAvailable` between 700 and 1200 MiB in 40 of 60 snapshots:
    "MemAvailable below 10% of MemTotal (1600 MiB) in 40 of 60 snapshots (67%) ... minimum
    700 MiB (4.4%)".

    ## Remediation
    Find what uses the memory (largest RSS processes, cgroups, `Shmem`, unreclaimable slab,
    huge page pools) and reduce it, or add RAM. Processes that keep growing are covered by
    MEM002.

    ## References
    - https://man7.org/linux/man-pages/man5/proc_meminfo.5.html (MemAvailable)
    - Kernel commit 34e431b0ae39 "/proc/meminfo: provide estimated available memory" (3.14),
      mm/show_mem.c si_mem_available()
    - atop(1) COLORS: memory occupation thresholds
    """
    meminfo = ctx.tables["meminfo"].sort_values("ts")
    if "mem_total_bytes" not in meminfo.columns:
        raise Skip("meminfo has no MemTotal")
    page = page_size(ctx.host)
    has_field = (
        "mem_available_bytes" in meminfo.columns and meminfo["mem_available_bytes"].notna().all()
    )
    if has_field:
        available = meminfo["mem_available_bytes"].astype(float)
        source = "MemAvailable"
        detail: dict[str, object] = {}
    else:
        low, origin = low_watermark_bytes(ctx.table("zoneinfo"), ctx.table("sysctl_vm"), page)
        available, fields = estimate_available(meminfo, low)
        source = "estimate"
        detail = {"estimate_fields": fields, "low_watermark_source": origin}
    # The hugetlb pool is reserved: never available to anything but hugetlb users.
    hugetlb = hugetlb_bytes(meminfo)
    total = meminfo["mem_total_bytes"].astype(float) - hugetlb
    pct = 100.0 * available / total
    threshold = float(ctx.settings["min_available_pct"])
    below = pct < threshold
    share = float(below.mean())
    if not below.any() or share < float(ctx.settings["min_low_share"]):
        return
    low_rows = meminfo[below]
    at = pct.idxmin()
    min_pct = float(pct[at])
    name = "MemAvailable" if source == "MemAvailable" else "estimated available memory"
    evidence: dict[str, object] = {
        "source": source,
        **detail,
        "snapshots_below": int(below.sum()),
        "snapshots": len(meminfo),
        "low_share": rnd(share, 3),
        "threshold_mib": mib(float(total.iloc[-1]) * threshold / 100.0),
        "min_available_mib": mib(available[at]),
        "min_available_pct": rnd(min_pct, 2),
        "min_at": meminfo.loc[at, "ts"],
        "mean_available_mib_below": mib(available[below].mean()),
        "mem_total_mib": mib(float(meminfo["mem_total_bytes"].iloc[-1])),
        "hugetlb_mib": mib(float(hugetlb.iloc[-1])),
        "usable_mib": mib(total.iloc[-1]),
        "first_below": low_rows["ts"].min(),
        "last_below": low_rows["ts"].max(),
    }
    if "swap_free_bytes" in meminfo.columns:
        evidence["swap_free_mib_at_min"] = mib(meminfo.loc[at, "swap_free_bytes"])
    of = "MemTotal" if not hugetlb.iloc[-1] else "MemTotal minus the hugetlb pool"
    message = (
        f"{name} below {threshold:g}% of {of} ({evidence['threshold_mib']} MiB) in "
        f"{int(below.sum())} of {len(meminfo)} snapshots ({share:.0%}), "
        f"{when(low_rows['ts'].min())} to {when(low_rows['ts'].max())}; minimum "
        f"{evidence['min_available_mib']} MiB ({min_pct:.1f}%) at {when(meminfo.loc[at, 'ts'])}"
    )
    critical = float(ctx.settings["critical_available_pct"])
    severity = None
    reason = None
    if min_pct <= critical:
        severity = Severity.CRITICAL
        reason = f"available memory reached {min_pct:.1f}% of {of} (<= {critical:g}%)"
    yield Finding(
        message=message,
        start=low_rows["ts"].min(),
        end=low_rows["ts"].max(),
        evidence=evidence,
        severity=severity,
        severity_reason=reason,
    )
