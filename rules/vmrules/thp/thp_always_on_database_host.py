"""THP001 thp-always-on-database-host: THP ``enabled=always`` while a database runs."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Subject, rule

from vmrules._common import (
    DATABASES,
    database_processes,
    fmt_bytes,
    last_value,
    stamp,
    thp_setting,
    window_rates,
)

_BY_KEY = {db.key: db for db in DATABASES}
_SERVICE = {
    "postgresql": "postgresql.service",
    "mysql": "mysqld.service / mariadb.service",
    "mongodb": "mongod.service",
    "redis": "redis-server.service",
    "oracle": "the Oracle instance",
    "cassandra": "cassandra.service",
    "elasticsearch": "elasticsearch.service",
    "clickhouse": "clickhouse-server.service",
}


def effective_enabled(thp: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot: the global ``enabled`` value and the PMD-size (2 MiB) one in effect.

    ``hugepages-2048kB/enabled`` overrides the global value unless it is ``inherit``.
    """
    top = thp_setting(thp, "enabled")[["snapshot", "ts", "value"]].rename(
        columns={"value": "enabled"}
    )
    pmd = thp_setting(thp, "hugepages-2048kB/enabled")[["snapshot", "value"]].rename(
        columns={"value": "pmd"}
    )
    out = top.merge(pmd, on="snapshot", how="left")
    out["effective"] = [
        e if not isinstance(p, str) or p == "inherit" else p
        for e, p in zip(out["enabled"], out["pmd"], strict=False)
    ]
    return out


def remediation_for(db_key: str | None) -> str:
    service = _SERVICE.get(db_key or "", "the database service")
    extra = ""
    if db_key == "redis":
        extra = " Redis 6.2+ can also turn THP off for itself: keep `disable-thp yes`."
    if db_key == "oracle":
        extra = " Oracle advises `madvise` on UEK7+ kernels, `never` on older ones."
    return (
        "Set THP to `madvise` (or `never`) now: `echo madvise > "
        "/sys/kernel/mm/transparent_hugepage/enabled`, and persist it in one of these ways "
        "(`/etc/sysctl.d` cannot: THP is not a sysctl): the kernel command line "
        "`transparent_hugepage=madvise` (or `=never`; grubby / GRUB_CMDLINE_LINUX, then a "
        f"reboot); a systemd oneshot unit ordered `Before={service}` that writes the value to "
        "`enabled` and `defrag`; or a TuneD profile with `[bootloader] cmdline = "
        "transparent_hugepage=madvise` (on RHEL an active TuneD profile otherwise re-enables "
        "THP). The setting only affects new allocations: restart the database afterwards so "
        f"its memory is faulted in with 4 KiB pages.{extra}"
    )


def _thp_activity(ctx: RuleContext) -> dict[str, float]:
    out: dict[str, float] = {}
    meminfo = ctx.table("meminfo")
    if meminfo is not None and "anon_hugepages_bytes" in meminfo.columns:
        peak = meminfo["anon_hugepages_bytes"].max()
        if pd.notna(peak):
            out["anon_hugepages_max_bytes"] = int(peak)
    vmstat = ctx.table("vmstat")
    if vmstat is not None and ctx.multi_sample:
        window = window_rates(vmstat, ["thp_fault_alloc", "compact_stall"])
        if window.seconds > 0:
            out["thp_fault_alloc_delta"] = window.total("thp_fault_alloc")
            out["compact_stall_delta"] = window.total("compact_stall")
            out["window_s"] = round(window.seconds, 1)
    return out


@rule(
    code="THP001",
    name="thp-always-on-database-host",
    severity=Severity.WARNING,
    chart="thp",
    harm="config",
    explains=("MEM002", "THP002", "FRAG001"),
    requires=("thp",),
    optional=("process_samples", "processes", "meminfo", "vmstat"),
    settings=[
        Setting(
            "mongodb_major_version",
            0,
            "Major version of the MongoDB server on this host (8 and later recommend THP "
            "`always`). 0 means unknown: the host then counts as set up for MongoDB 8 when "
            "defrag is `defer+madvise` and khugepaged/max_ptes_none is 0, as MongoDB 8 documents.",
        ),
        Setting(
            "extra_database_comms",
            "",
            "Comma-separated process names (comm) of other latency-sensitive datastores to "
            "treat as databases, e.g. `tarantool,aerospike`.",
        ),
    ],
)
def thp_always_on_database_host(ctx: RuleContext) -> Iterator[Finding]:
    """Transparent huge pages are `always` on while a database whose vendor advises against it runs.

    ## What it does
    Reads `transparent_hugepage/enabled` (and the 2 MiB size's own `enabled`, which overrides
    it unless `inherit`) at the start and end of the capture. When it is `always`, looks for
    database processes by name (`postgres`, `mysqld`, `mariadbd`, `mongod`, `redis-server`,
    `valkey-server`, Oracle `ora_*`, `clickhouse*`, and `java` whose command line names
    Cassandra, Elasticsearch or OpenSearch), or a host role of `database` from the config.
    One finding per database, on its oldest process, with the processes, AnonHugePages and
    `thp_fault_alloc` over the window. `madvise` and `never` are not flagged.

    Exceptions: MongoDB 8.0+ recommends `always` (an informational finding says so); Redis
    6.2+ and MariaDB turn THP off for their own process, which `/proc/<pid>/status` shows as
    `THP_enabled: 0` (the finding is then informational).

    ## Why is this bad?
    With `always`, every anonymous mapping is backed by 2 MiB pages when possible. Databases
    touch memory sparsely and fork (Redis BGSAVE): huge pages inflate their RSS, make
    copy-on-write copy 2 MiB at a time, and stall faults on compaction and khugepaged,
    showing up as latency spikes. Most vendors advise `madvise` or `never`.

    ## Example
    `thp` row `enabled=always` while `postgres` runs: "THP enabled=always (defrag=madvise)
    while PostgreSQL runs: 14 postgres processes, oldest pid 970, largest RSS 290.6 MiB;
    AnonHugePages peaked at 1.0 GiB, thp_fault_alloc +570 in 49 s".

    ## Remediation
    Set THP to `madvise` (or `never`) and persist it through the kernel command line
    (`transparent_hugepage=madvise`), a systemd oneshot unit ordered before the database that
    writes `enabled` and `defrag`, or a TuneD profile. `/etc/sysctl.d` cannot persist it: THP
    lives under `/sys/kernel/mm/`, not `/proc/sys/`. Restart the database afterwards: the
    setting only affects new allocations.

    ## References
    - https://docs.kernel.org/admin-guide/mm/transhuge.html
    - https://docs.oracle.com/en/database/oracle/oracle-database/21/cwlin/disabling-transparent-hugepages.html
    - https://www.mongodb.com/docs/manual/tutorial/transparent-huge-pages/
    - https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/
    - https://github.com/MariaDB/server/commit/c777429cf9
    - https://docs.datastax.com/en/dse-trblshoot/doc/troubleshooting/highCPU.html
    """
    thp = ctx.tables["thp"]
    states = effective_enabled(thp)
    always = states[states["effective"] == "always"]
    if always.empty:
        return
    defrag = last_value(thp_setting(thp, "defrag"), "value")
    max_ptes_none = last_value(thp_setting(thp, "khugepaged/max_ptes_none"), "value")
    enabled_note = "enabled=always" + (
        "" if (always["enabled"] == "always").all() else " (hugepages-2048kB/enabled=always)"
    )
    # sos copies `enabled` only: an unknown defrag is said so, not printed as None.
    setting = f"THP {enabled_note} (defrag={defrag or 'not captured'})"
    base: dict[str, object] = {
        "thp_enabled": str(always["enabled"].iloc[-1]),
        "thp_defrag": defrag,
        "always_in_snapshots": [str(s) for s in always["snapshot"]],
    }
    numbers = _thp_activity(ctx)
    base.update(numbers)
    activity = ""
    if "anon_hugepages_max_bytes" in numbers:
        activity = f"; AnonHugePages peaked at {fmt_bytes(numbers['anon_hugepages_max_bytes'])}"
    if "thp_fault_alloc_delta" in numbers:
        activity += (
            f", thp_fault_alloc +{numbers['thp_fault_alloc_delta']:.0f} in "
            f"{numbers['window_s']:.0f} s"
        )

    extra = str(ctx.settings["extra_database_comms"]).split(",")
    dbs = database_processes(ctx.table("process_samples"), ctx.table("processes"), extra)
    if dbs.empty:
        if (ctx.host_role or "").lower() == "database":
            yield Finding(
                subject=Subject.HOST,
                message=(
                    f"{setting} on a host whose configured role is database (no known "
                    f"database process seen in the capture){activity}"
                ),
                evidence={**base, "host_role": ctx.host_role},
                remediation=remediation_for(None),
            )
        return

    mongo_version = int(ctx.settings["mongodb_major_version"])
    for key, group in dbs.groupby("db", sort=True):
        group = group.sort_values(["starttime", "pid"])
        db = _BY_KEY.get(str(key))
        label = db.label if db else "database"
        main = group.iloc[0]
        largest = group["rss_max_bytes"].max()
        with_thp = group[group["thp_enabled"] != 0]
        opted_out = group[group["thp_enabled"] == 0]
        comms = ", ".join(sorted(set(group["comm"])))
        who = (
            f"{len(group)} {comms} process{'es' if len(group) > 1 else ''}, oldest pid "
            f"{int(main['pid'])}"
            + (f", largest RSS {fmt_bytes(float(largest))}" if pd.notna(largest) else "")
        )
        table = group.sort_values("rss_max_bytes", ascending=False).head(20)
        evidence = {
            **base,
            "database": label,
            "processes": len(group),
            "processes_thp_disabled": len(opted_out),
            "guidance": db.guidance if db else "listed in extra_database_comms",
            "guidance_source": db.source if db else None,
            "process_table": table[["pid", "comm", "rss_max_bytes", "thp_enabled"]].reset_index(
                drop=True
            ),
        }
        severity: Severity | None = None
        reason: str | None = None
        message = f"{setting} while {label} runs: {who}{activity}"
        if key == "mongodb":
            mongo8 = mongo_version >= 8 or (
                mongo_version == 0 and defrag == "defer+madvise" and str(max_ptes_none) == "0"
            )
            evidence["khugepaged_max_ptes_none"] = max_ptes_none
            evidence["mongodb_major_version"] = mongo_version or None
            if mongo8:
                severity = Severity.INFO
                reason = "MongoDB 8.0+ recommends THP enabled=always"
                message = (
                    f"{setting} while MongoDB runs: {who}. This is what MongoDB 8.0+ recommends "
                    "(with defrag=defer+madvise and khugepaged/max_ptes_none=0), not a problem"
                )
            else:
                message += (
                    " (MongoDB 7.0 and older advise never; 8.0+ advise always: set "
                    "mongodb_major_version if this is 8.0+)"
                )
        elif not group.empty and with_thp.empty:
            severity = Severity.INFO
            reason = f"every {label} process shows THP_enabled: 0 (disabled for itself)"
            message = (
                f"{setting} while {label} runs, but its processes turned THP off for themselves "
                f"(THP_enabled: 0 in /proc/<pid>/status): {who}"
            )
        elif db is not None and not db.advises_against:
            severity = Severity.INFO
            reason = f"{label} does not advise against THP always on current kernels"
            message += f" ({db.guidance})"
        elif len(opted_out):
            message += f"; {len(opted_out)} of them show THP_enabled: 0"
        yield Finding(
            subject=Subject.process(int(main["pid"]), str(main["comm"])),
            message=message,
            start=stamp(group["first_seen"].min()),
            end=stamp(group["last_seen"].max()),
            evidence=evidence,
            remediation=remediation_for(str(key)),
            severity=severity,
            severity_reason=reason,
        )
