"""ALLOC002 watermark-settings: min_free_kbytes / watermark_scale_factor far from sane."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, rule

from vmrules._common import fmt_bytes, last_value, ordered, page_size, rnd, sysctl_int, thp_setting

#: Zones the kernel counts as lowmem for min_free_kbytes (zone_idx <= ZONE_NORMAL).
LOWMEM_ZONES = frozenset({"DMA", "DMA32", "Normal"})
#: mm/page_alloc.c calculate_min_free_kbytes(): clamp(int_sqrt(lowmem_kbytes * 16), 128, cap).
DEFAULT_FLOOR_KB = 128
DEFAULT_CAP_KB = 262144
#: mm/khugepaged.c set_recommended_min_free_kbytes(): MIGRATE_PCPTYPES, 2 MiB pageblocks.
MIGRATE_PCPTYPES = 3
PAGEBLOCK_BYTES = 2 * 1024 * 1024
#: vm.watermark_scale_factor's default (Documentation/admin-guide/sysctl/vm.rst).
DEFAULT_SCALE_FACTOR = 10


def default_min_free_kbytes(lowmem_kb: float, zones: int, thp_on: bool, page: int = 4096) -> int:
    """The min_free_kbytes the kernel sets by itself on a host with ``lowmem_kb`` of lowmem.

    mm/page_alloc.c: ``int_sqrt(lowmem_kbytes * 16)`` clamped to 128..262144 (65536 on
    older kernels); with THP enabled, khugepaged raises it to 2 + MIGRATE_PCPTYPES^2 = 11 pageblocks
    per populated lowmem zone, never more than 5% of lowmem (mm/khugepaged.c).

    >>> default_min_free_kbytes(24684092, 3, False)
    19873
    >>> default_min_free_kbytes(24684092, 3, True)
    67584
    """
    base = min(max(math.isqrt(int(lowmem_kb * 16)), DEFAULT_FLOOR_KB), DEFAULT_CAP_KB)
    if not thp_on or zones <= 0:
        return base
    pageblock_pages = PAGEBLOCK_BYTES // page
    pages = pageblock_pages * zones * (2 + MIGRATE_PCPTYPES * MIGRATE_PCPTYPES)
    pages = min(pages, int(lowmem_kb * 1024 / page) // 20)
    return max(base, pages * page // 1024)


def _zones(zoneinfo: pd.DataFrame | None) -> pd.DataFrame:
    """The zones of the last zoneinfo snapshot that hold memory."""
    if zoneinfo is None or zoneinfo.empty or "managed" not in zoneinfo.columns:
        return pd.DataFrame()
    last = zoneinfo[zoneinfo["snapshot"] == ordered(zoneinfo)["snapshot"].iloc[-1]]
    return last[pd.to_numeric(last["managed"], errors="coerce").fillna(0) > 0]


@rule(
    code="ALLOC002",
    name="watermark-settings",
    chart="memory",
    harm="config",
    explains=("ALLOC001", "RCL001", "OOM001"),
    severity=Severity.WARNING,
    requires=("sysctl_vm",),
    optional=("zoneinfo", "meminfo", "thp"),
    settings=[
        Setting(
            "max_reserve_pct",
            5.0,
            "min_free_kbytes above this share of lowmem (percent) is too high, when it is also "
            "above the kernel's own default. The kernel never reserves more than 5% of lowmem "
            "by itself (mm/khugepaged.c set_recommended_min_free_kbytes), and vm.rst warns "
            "'Setting this too high will OOM your machine instantly'.",
        ),
        Setting(
            "min_reserve_kb",
            1024,
            "min_free_kbytes below this (KiB) is too low: the kernel's vm.rst says below "
            "1024KB 'your system will become subtly broken, and prone to deadlock'.",
        ),
        Setting(
            "min_default_ratio",
            0.5,
            "min_free_kbytes below this fraction of the kernel's own default (someone lowered "
            "it) is reported as info. Our choice: half the default leaves atomic allocations "
            "half the reserve the kernel sizes for this RAM.",
        ),
        Setting(
            "max_high_wmark_pct",
            10.0,
            "The zones' high watermarks summed, as a share of managed memory (percent), above "
            "which kswapd keeps too much memory free (page cache evicted for nothing). Our "
            "choice: 10%; the default watermark_scale_factor 10 puts high at min + 0.2% (kernel "
            "vm.rst: the distance between watermarks is watermark_scale_factor/10000 of RAM).",
        ),
    ],
)
def watermark_settings(ctx: RuleContext) -> Iterator[Finding]:
    """vm.min_free_kbytes or vm.watermark_scale_factor is set far from what the host needs.

    ## What it does
    Computes the `min_free_kbytes` the kernel would choose for this host's lowmem (the
    DMA/DMA32/Normal zones of `/proc/zoneinfo`, else MemTotal): `int_sqrt(lowmem_kbytes * 16)`
    clamped to 128..262144 KiB (mm/page_alloc.c), raised by khugepaged to 11 pageblocks per
    zone when THP is enabled (at most 5% of lowmem, mm/khugepaged.c). It flags the current
    value when it is above `max_reserve_pct` of lowmem (and above that default), below
    `min_reserve_kb`, or (info) below `min_default_ratio` of the default. From the zone
    watermarks it flags high watermarks that add up to more than `max_high_wmark_pct` of
    memory (a large `watermark_scale_factor`).

    ## Why is this bad?
    `min_free_kbytes` sets the min watermark: memory only atomic and emergency allocations may
    use. Too high, and that memory is lost to applications: the OOM killer runs with gigabytes
    "free" and direct reclaim starts early. Too low, and atomic allocations (network receive)
    fail in bursts and reclaim can deadlock. A large `watermark_scale_factor` widens the gap
    between the min, low and high watermarks: kswapd then reclaims until a large share of RAM
    is free, evicting page cache the workload still uses.

    ## Example
    A 16 GiB host with `vm.min_free_kbytes = 2097152`: "vm.min_free_kbytes is 2097152 KiB
    (2.0 GiB, 12.8% of lowmem), above 5% and the kernel default of 16384 KiB".

    ## Remediation
    Return to the kernel's value: remove the `vm.min_free_kbytes` line from
    `/etc/sysctl.conf` / `/etc/sysctl.d/` (tuned profiles set it too) and reboot, or write the
    default shown here. To make kswapd start earlier without reserving memory, raise
    `vm.watermark_scale_factor` moderately (e.g. 10 to 100) instead of `min_free_kbytes`.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#min-free-kbytes
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#watermark-scale-factor
    - mm/page_alloc.c `calculate_min_free_kbytes()`, mm/khugepaged.c
      `set_recommended_min_free_kbytes()`: https://github.com/torvalds/linux
    - https://access.redhat.com/solutions/74573 (page allocation failures and min_free_kbytes)
    """
    sysctl = ctx.tables["sysctl_vm"]
    min_free = sysctl_int(sysctl, "min_free_kbytes")
    if min_free is None:
        raise Skip("vm.min_free_kbytes was not captured")
    scale = sysctl_int(sysctl, "watermark_scale_factor")  # 4.6+
    page = page_size(ctx.host)
    zones = _zones(ctx.table("zoneinfo"))
    low_zones = zones[zones["zone"].isin(LOWMEM_ZONES)] if not zones.empty else zones
    lowmem_kb: float | None = None
    if not low_zones.empty:
        lowmem_kb = float(pd.to_numeric(low_zones["managed"]).sum()) * page / 1024
    else:
        meminfo = ctx.table("meminfo")
        total = last_value(meminfo, "mem_total_bytes") if meminfo is not None else None
        if total is None:
            total = ctx.host.get("mem_total_bytes")
        if total is not None and not pd.isna(total):
            lowmem_kb = float(total) / 1024
    if not lowmem_kb:
        raise Skip("neither zoneinfo nor MemTotal gives the host's memory size")
    enabled = thp_setting(ctx.table("thp"), "enabled")
    thp_value: Any = enabled["value"].iloc[-1] if not enabled.empty else ctx.host.get("thp_enabled")
    thp_on = isinstance(thp_value, str) and thp_value in ("always", "madvise")
    populated = int(low_zones["zone"].nunique()) if not low_zones.empty else 2
    default = default_min_free_kbytes(lowmem_kb, populated, thp_on, page)
    share = 100.0 * min_free / lowmem_kb
    evidence: dict[str, object] = {
        "min_free_kbytes": min_free,
        "kernel_default_kbytes": default,
        "lowmem_kbytes": int(lowmem_kb),
        "min_free_pct_of_lowmem": rnd(share, 2),
        "thp_raises_default": thp_on,
        "watermark_scale_factor": scale,
    }
    if not zones.empty and {"min", "low", "high"} <= set(zones.columns):
        evidence["zones"] = [
            {
                "node": int(z["node"]),
                "zone": str(z["zone"]),
                "managed_mib": rnd(float(z["managed"]) * page / 2**20, 1),
                "min_mib": rnd(float(z["min"]) * page / 2**20, 1),
                "low_mib": rnd(float(z["low"]) * page / 2**20, 1),
                "high_mib": rnd(float(z["high"]) * page / 2**20, 1),
            }
            for _, z in zones.iterrows()
        ]
    state = (
        f"vm.min_free_kbytes is {min_free} KiB ({fmt_bytes(min_free * 1024)}, {share:.1f}% of "
        f"lowmem {fmt_bytes(lowmem_kb * 1024)})"
    )
    max_pct = float(ctx.settings["max_reserve_pct"])
    if share > max_pct and min_free > default:
        yield Finding(
            message=f"{state}, above {max_pct:g}% and the kernel default of {default} KiB",
            evidence=evidence,
        )
    elif min_free < int(ctx.settings["min_reserve_kb"]):
        yield Finding(
            message=(
                f"{state}, below {int(ctx.settings['min_reserve_kb'])} KiB (the kernel default "
                f"here is {default} KiB)"
            ),
            evidence=evidence,
        )
    elif min_free < float(ctx.settings["min_default_ratio"]) * default:
        yield Finding(
            message=f"{state}, under half the kernel default of {default} KiB",
            evidence=evidence,
            severity=Severity.INFO,
            severity_reason="lowered below the kernel's own default, not below 1024 KiB",
        )
    if zones.empty or "high" not in zones.columns:
        return
    managed = float(pd.to_numeric(zones["managed"]).sum())
    high = float(pd.to_numeric(zones["high"]).sum())
    high_pct = 100.0 * high / managed if managed > 0 else 0.0
    max_high = float(ctx.settings["max_high_wmark_pct"])
    if high_pct > max_high:
        yield Finding(
            message=(
                f"the zones' high watermarks add up to {fmt_bytes(high * page)} ({high_pct:.1f}% "
                f"of {fmt_bytes(managed * page)} managed), above {max_high:g}%: kswapd reclaims "
                f"until that much is free (vm.watermark_scale_factor {scale}, default "
                f"{DEFAULT_SCALE_FACTOR}; vm.min_free_kbytes {min_free} KiB)"
            ),
            evidence={**evidence, "high_wmark_pct": rnd(high_pct, 2)},
        )
