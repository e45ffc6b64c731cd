"""SWP003 swappiness-on-database-host: vm.swappiness above what the database's vendor advises."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Subject, rule

from vmrules._common import DATABASES, database_processes, fmt_bytes, stamp, sysctl_int


@dataclass(frozen=True)
class SwapAdvice:
    """One vendor's swappiness advice: the setting holding its ceiling, what it says, where."""

    setting: str
    advice: str
    source: str


#: Vendor swappiness advice by DATABASES key. PostgreSQL, Redis/Valkey and ClickHouse publish
#: none (Redis asks for swap to be enabled, PostgreSQL's kernel-resources page is silent), so
#: their hosts are not judged by this rule.
ADVICE: dict[str, SwapAdvice] = {
    "elasticsearch": SwapAdvice(
        "max_swappiness_elasticsearch",
        "Elastic: disable swap (swapoff -a), or else set vm.swappiness=1, or lock the heap "
        "with bootstrap.memory_lock",
        "https://www.elastic.co/docs/deploy-manage/deploy/self-managed/setup-configuration-memory",
    ),
    "mongodb": SwapAdvice(
        "max_swappiness_mongodb",
        "MongoDB production notes: set vm.swappiness to 1 or 0",
        "https://www.mongodb.com/docs/manual/administration/production-notes/",
    ),
    "mysql": SwapAdvice(
        "max_swappiness_mysql",
        "MariaDB knowledge base 'Configuring Swappiness': set vm.swappiness to 1 for MariaDB "
        "(Percona gives the same value for MySQL)",
        "https://mariadb.com/kb/en/configuring-swappiness/",
    ),
    "cassandra": SwapAdvice(
        "max_swappiness_cassandra",
        "DataStax recommended production settings: disable swap entirely (swapoff --all); "
        "its tuning script also sets vm.swappiness=0",
        "https://docs.datastax.com/en/cassandra/1.2/cassandra/install/installRecommendSettings.html",
    ),
    "oracle": SwapAdvice(
        "max_swappiness_oracle",
        "Red Hat's tuning guide for Oracle databases and the TuneD 'oracle' profile set "
        "vm.swappiness=10 (Oracle's own installation guide is silent)",
        "https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/5/html/"
        "tuning_and_optimizing_red_hat_enterprise_linux_for_oracle_9i_and_10g_databases/"
        "chap-oracle_9i_and_10g_tuning_guide-swap_space",
    ),
}
_LABEL = {db.key: db.label for db in DATABASES}


def _swap_total(meminfo: pd.DataFrame | None, host: Mapping[str, Any]) -> int | None:
    """The largest SwapTotal of the capture (bytes), ``None`` when no source held it."""
    if meminfo is not None and "swap_total_bytes" in meminfo.columns:
        peak = meminfo["swap_total_bytes"].max()
        if pd.notna(peak):
            return int(peak)
    value = host.get("swap_total_bytes")
    return None if value is None or pd.isna(value) else int(value)


def _swapped(group: pd.DataFrame, samples: pd.DataFrame | None) -> int | None:
    """The largest VmSwap of the database's processes (bytes), ``None`` when never read."""
    if samples is None or "vm_swap_bytes" not in samples.columns:
        return None
    keys = set(zip(group["pid"], group["starttime"], strict=False))
    mine = samples[
        [
            (int(p), None if pd.isna(s) else int(s)) in keys
            for p, s in zip(samples["pid"], samples["starttime"], strict=False)
        ]
    ]
    values = mine["vm_swap_bytes"].dropna()
    return None if values.empty else int(values.max())


@rule(
    code="SWP003",
    name="swappiness-on-database-host",
    chart="swap",
    harm="config",
    explains=("SWP001",),
    severity=Severity.WARNING,
    requires=("sysctl_vm",),
    optional=("process_samples", "processes", "meminfo"),
    settings=[
        Setting(
            "max_swappiness_elasticsearch",
            1,
            "Highest vm.swappiness accepted while Elasticsearch/OpenSearch runs: Elastic's "
            "'Disable swapping' page says vm.swappiness=1 when swap cannot be turned off "
            "(../shared/reference/domain-and-peers.md B5).",
        ),
        Setting(
            "max_swappiness_mongodb",
            1,
            "Highest vm.swappiness accepted while mongod runs: MongoDB's production notes "
            "(https://www.mongodb.com/docs/manual/administration/production-notes/) say 1 or 0.",
        ),
        Setting(
            "max_swappiness_mysql",
            1,
            "Highest vm.swappiness accepted while mysqld/mariadbd runs: MariaDB's knowledge "
            "base (https://mariadb.com/kb/en/configuring-swappiness/) recommends 1.",
        ),
        Setting(
            "max_swappiness_cassandra",
            1,
            "Highest vm.swappiness accepted while Cassandra runs: DataStax asks for swap to be "
            "disabled (https://docs.datastax.com/en/cassandra/1.2/cassandra/install/"
            "installRecommendSettings.html) and its tuning script writes 0; our choice of 1, "
            "as the other vendors, so that the value 1 is not flagged.",
        ),
        Setting(
            "max_swappiness_oracle",
            10,
            "Highest vm.swappiness accepted while an Oracle instance runs: Red Hat's Oracle "
            "tuning guide (https://access.redhat.com/documentation/en-us/red_hat_enterprise_"
            "linux/5/html/tuning_and_optimizing_red_hat_enterprise_linux_for_oracle_9i_and_"
            "10g_databases/chap-oracle_9i_and_10g_tuning_guide-swap_space) and the TuneD "
            "`oracle` profile set 10.",
        ),
        Setting(
            "max_swappiness_other",
            10,
            "Highest vm.swappiness accepted on a host whose configured role is database, or "
            "for a process in extra_database_comms. Our choice: 10, the most lenient vendor "
            "value above (Red Hat's for Oracle), so that only what every vendor rejects is "
            "flagged when the database is unknown.",
        ),
        Setting(
            "extra_database_comms",
            "",
            "Comma-separated process names (comm) of other datastores to judge against "
            "max_swappiness_other, e.g. `tarantool,aerospike`.",
        ),
    ],
)
def swappiness_on_database_host(ctx: RuleContext) -> Iterator[Finding]:
    """vm.swappiness is above what the vendor of a database running on the host advises.

    ## What it does
    Reads `vm.swappiness` (the latest value captured) and looks for database processes the way
    THP001 does (`mongod`, `mysqld`, `mariadbd`, Oracle `ora_*`, `java` whose command line names
    Cassandra, Elasticsearch or OpenSearch...), or a host role of `database` from the config.
    Each database is compared with its vendor's ceiling (one setting per vendor: MongoDB 1,
    Elasticsearch/OpenSearch 1, MySQL/MariaDB 1, Cassandra 1, Oracle 10); PostgreSQL, Redis
    and ClickHouse publish no swappiness advice and are not judged. One finding per database,
    on its oldest process, with the largest VmSwap of its processes when captured. Works on a
    single snapshot (sosreports). Without any active swap area the finding is info: the value
    takes effect as soon as swap is added. cgroup v1's per-cgroup `memory.swappiness` is not
    captured: a database in a v1 cgroup that sets its own is judged by the global value.

    ## Why is this bad?
    With the kernel default of 60, reclaim swaps out anonymous memory while page cache is still
    plentiful. A database's buffer pool, WiredTiger cache or JVM heap is anonymous memory it
    touches at random: once swapped out, queries and garbage collections wait on swap-in, and
    a cluster may see the node as alive but far too slow (no failover, long tail latencies).

    ## Example
    `sysctl_vm` row `swappiness=60` while `mongod` runs: "vm.swappiness is 60 while MongoDB
    runs (1 mongod process, pid 812); MongoDB production notes: set vm.swappiness to 1 or 0;
    swap: 2.0 GiB, of which mongod holds 310.4 MiB".

    ## Remediation
    `sysctl -w vm.swappiness=1` (10 for Oracle) and persist it in `/etc/sysctl.d/` (a TuneD
    profile's `[sysctl]` section overrides sysctl.d on RHEL: set it there when TuneD is
    active). Memory already swapped out comes back only when touched. Also size the database's
    cache so that the host does not need swap; Cassandra and Elasticsearch prefer swap off.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#swappiness
    - https://www.elastic.co/docs/deploy-manage/deploy/self-managed/setup-configuration-memory
    - https://www.mongodb.com/docs/manual/administration/production-notes/
    - https://mariadb.com/kb/en/configuring-swappiness/
    - https://docs.datastax.com/en/cassandra/1.2/cassandra/install/installRecommendSettings.html
    - https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/5/html/tuning_and_optimizing_red_hat_enterprise_linux_for_oracle_9i_and_10g_databases/chap-oracle_9i_and_10g_tuning_guide-swap_space
    """
    sysctl = ctx.tables["sysctl_vm"]
    swappiness = sysctl_int(sysctl, "swappiness")
    if swappiness is None:
        return
    swap_total = _swap_total(ctx.table("meminfo"), ctx.host)
    no_swap = swap_total == 0
    swap_note = (
        "; no swap area is active (the value applies as soon as one is added)"
        if no_swap
        else ("" if swap_total is None else f"; swap: {fmt_bytes(swap_total)}")
    )
    base: dict[str, object] = {"swappiness": swappiness, "swap_total_bytes": swap_total}
    quiet = Severity.INFO if no_swap else None
    quiet_reason = "no swap area is active" if no_swap else None
    other_limit = int(ctx.settings["max_swappiness_other"])

    extra = str(ctx.settings["extra_database_comms"]).split(",")
    samples = ctx.table("process_samples")
    dbs = database_processes(samples, ctx.table("processes"), extra)
    judged = dbs[dbs["db"].isin(set(ADVICE) | {"other"})] if not dbs.empty else dbs
    if judged.empty:
        if (ctx.host_role or "").lower() == "database" and swappiness > other_limit:
            unjudged = sorted({_LABEL.get(str(k), str(k)) for k in dbs["db"]}) if len(dbs) else []
            seen = (
                f"running: {', '.join(unjudged)}, without vendor swappiness advice"
                if unjudged
                else "no known database process seen"
            )
            yield Finding(
                subject=Subject.HOST,
                message=(
                    f"vm.swappiness is {swappiness} on a host whose configured role is "
                    f"database (above {other_limit}; {seen}){swap_note}"
                ),
                evidence={**base, "max_swappiness": other_limit, "host_role": ctx.host_role},
                severity=quiet,
                severity_reason=quiet_reason,
            )
        return
    for key, group in judged.groupby("db", sort=True):
        advice = ADVICE.get(str(key))
        limit = int(ctx.settings[advice.setting]) if advice else other_limit
        if swappiness <= limit:
            continue
        group = group.sort_values(["starttime", "pid"])
        main = group.iloc[0]
        label = _LABEL.get(str(key), "a database")
        comms = ", ".join(sorted(set(group["comm"])))
        plural = "es" if len(group) > 1 else ""
        who = f"{len(group)} {comms} process{plural}, pid {int(main['pid'])}"
        swapped = _swapped(group, samples)
        held = ""
        if swapped and not no_swap:
            held = f", of which {comms} holds {fmt_bytes(swapped)}"
        said = advice.advice if advice else f"listed in extra_database_comms (limit {limit})"
        yield Finding(
            subject=Subject.process(int(main["pid"]), str(main["comm"])),
            message=(
                f"vm.swappiness is {swappiness} while {label} runs ({who}); {said}{swap_note}{held}"
            ),
            start=stamp(group["first_seen"].min()),
            end=stamp(group["last_seen"].max()),
            evidence={
                **base,
                "database": label,
                "max_swappiness": limit,
                "processes": len(group),
                "vm_swap_max_bytes": swapped,
                "guidance": said,
                "guidance_source": advice.source if advice else None,
            },
            severity=quiet,
            severity_reason=quiet_reason,
        )
