"""SHM001 shmem-growth: shared memory (tmpfs, /dev/shm, SysV shm) that grows steadily."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from vmanalyze import Finding, RuleContext, Severity, Skip, rule

from vmrules._common import mib, rnd
from vmrules._growth import (
    describe,
    fit_evidence,
    growth_finding,
    growth_settings,
    holders,
    holders_text,
    share_text,
    steady_fit,
    timed_meminfo,
)


@rule(
    code="SHM001",
    name="shmem-growth",
    chart="memory",
    harm="measured",
    explains=("MEM001", "SWP002", "OOM001"),
    severity=Severity.WARNING,
    requires=("meminfo",),
    optional=("process_samples", "tmpfs_mounts"),
    settings=growth_settings(
        "Shmem",
        64.0,
        "64 MiB, the bar of MEM002 for a process's private memory: below it growth is "
        "noise on a server.",
    ),
)
def shmem_growth(ctx: RuleContext) -> Iterator[Finding]:
    """Shared memory (`Shmem`: tmpfs, `/dev/shm`, SysV and shared anonymous memory) grows
    steadily.

    ## What it does
    Fits a least-squares line to `Shmem` of `/proc/meminfo` against time and reports the host
    when it grows by at least `min_growth_mib` over at least `min_duration_s` and
    `min_samples` snapshots with R² >= `min_r2`. The finding lists the processes that map the
    most of it (`RssShmem` of `/proc/<pid>/status`, from their first to their last snapshot),
    how much of `Shmem` no captured process maps (files left in a tmpfs, segments nobody
    attaches), the share of RAM `Shmem` holds, and when MemAvailable would be used up at that
    slope (info beyond `max_exhaust_hours`). Where the tmpfs mounts were captured at the start
    and the end (`tmpfs_mounts`: a bundle's statvfs of each tmpfs-like mount), it names the
    mounts whose used bytes grew most, at least 1 MiB (our choice: below it a mount's growth is
    a few small files, not the cause of a growth worth a finding).

    ## Why is this bad?
    `Shmem` looks like page cache (`free` counts it in `buff/cache`, and in `shared`) but the
    kernel cannot drop it: without swap it stays in RAM until the file is deleted or the
    segment removed, and `MemAvailable` does not count it as available. Files written to a
    tmpfs (`/dev/shm`, `/run`, `/tmp` on tmpfs) and shared memory segments that are never
    removed outlive the processes that made them, so the OOM killer may kill every process
    without getting the memory back.

    ## Example
    `shmem-growth` sample bundle: "Shmem grew from 10.4 MiB to 359.1 MiB in 149 s (10:25:15Z
    to 10:27:44Z): 8863 MiB/h, R² 1.00, rising in 92% of intervals; it holds 359.1 MiB, 1.5% of
    RAM; largest holders of RssShmem: shm-filler (pid 24347) 209.2 MiB (+207.0 MiB), ...;
    140.3 MiB of Shmem is in none of their RSS (files left in a tmpfs, or segments no process
    maps); tmpfs mounts that grew most: /dev/shm (tmpfs) +348.8 MiB to 349.2 MiB; ...".

    ## Remediation
    First rule out warming up: a database filling its shared buffers (PostgreSQL
    `shared_buffers`, an Oracle SGA) grows Shmem too, up to its configured size. Otherwise find
    what grows: `df -h -t tmpfs` and `du -x` on the tmpfs mounts for files,
    `ipcs -m` for SysV segments (`nattch` 0 means nobody attaches), `ls -l /dev/shm` for
    POSIX shared memory, and the processes with the largest `RssShmem`. Delete what is left
    behind, bound the mounts (`size=` on tmpfs, `RuntimeDirectorySize=` in logind.conf for
    `/run/user`), and cap the program (`kernel.shmmax`/`shmall` for SysV).

    ## References
    - https://docs.kernel.org/filesystems/proc.html (meminfo: Shmem; status: RssShmem)
    - https://docs.kernel.org/filesystems/tmpfs.html
    - https://man7.org/linux/man-pages/man5/tmpfs.5.html
    """
    meminfo = timed_meminfo(ctx)
    if meminfo is None:
        return
    if "shmem_bytes" not in meminfo.columns or meminfo["shmem_bytes"].isna().all():
        raise Skip("meminfo has no Shmem (kernel before 2.6.32)")
    fit = steady_fit(meminfo["ts"], meminfo["shmem_bytes"], ctx.settings)
    if fit is None:
        return
    found = holders(ctx.table("process_samples"), "rss_shmem_bytes", "comm")
    share, share_value = share_text(fit.last, meminfo)
    evidence: dict[str, object] = {
        **fit_evidence(fit),
        "ram_share_last": share_value,
        "holders": found,
    }
    message = f"Shmem {describe(fit)}{share}{holders_text(found, 'RssShmem')}"
    if found:
        # Shared pages count once per process that maps them, so the remainder is approximate:
        # only a large one (a quarter of Shmem) is worth a word.
        unmapped = max(mib(fit.last) - sum(float(h["last_mib"]) for h in found), 0.0)
        evidence["unmapped_mib"] = rnd(unmapped, 1)
        if unmapped >= 0.25 * mib(fit.last):
            message += (
                f"; {unmapped:.1f} MiB of Shmem is in none of their RSS (files left in a "
                "tmpfs, or segments no process maps)"
            )
    grown = grown_mounts(ctx.table("tmpfs_mounts"))
    if grown:
        evidence["tmpfs_grown"] = grown
        message += "; tmpfs mounts that grew most: " + ", ".join(
            f"{m['mount_point']} ({m['fstype']}) {m['growth_mib']:+.1f} MiB to {m['last_mib']} MiB"
            for m in grown[:3]
        )
    yield growth_finding(ctx, fit, message, evidence)


#: A mount whose used bytes grew less than this is not named (our choice, see the docstring).
MIN_MOUNT_GROWTH_MIB = 1.0


def grown_mounts(df: pd.DataFrame | None, limit: int = 5) -> list[dict[str, Any]]:
    """The tmpfs mounts whose used bytes grew most from their first to their last snapshot."""
    if df is None or df.empty or not {"snapshot", "mount_point", "used_bytes"} <= set(df.columns):
        return []
    rows = df.dropna(subset=["used_bytes"]).sort_values("snapshot", kind="stable")
    by_mount = rows.groupby("mount_point", sort=False)
    first, last = by_mount.first(), by_mount.last()
    growth = (last["used_bytes"].astype(float) - first["used_bytes"].astype(float)).where(
        by_mount["snapshot"].nunique() > 1
    )
    top = growth[growth >= MIN_MOUNT_GROWTH_MIB * 2**20].sort_values(ascending=False)
    return [
        {
            "mount_point": str(point),
            "fstype": str(last.at[point, "fstype"]),
            "first_mib": rnd(mib(first.at[point, "used_bytes"]), 1),
            "last_mib": rnd(mib(last.at[point, "used_bytes"]), 1),
            "growth_mib": rnd(mib(value), 1),
            "size_mib": rnd(mib(last.at[point, "size_bytes"]), 1),
        }
        for point, value in top.head(limit).items()
    ]
