"""NUMA003 zone-reclaim-enabled: vm.zone_reclaim_mode is not 0 on a multi-node host."""

from __future__ import annotations

from collections.abc import Iterator

from vmanalyze import Finding, RuleContext, Severity, Skip, Subject, rule

from vmrules._common import (
    DATABASES,
    database_processes,
    node_count,
    sysctl_int,
    sysctl_series,
    window_rates,
)

BITS = {1: "reclaim", 2: "write out dirty pages", 4: "swap pages"}


@rule(
    code="NUMA003",
    name="zone-reclaim-enabled",
    severity=Severity.WARNING,
    chart="numa",
    harm="config",
    explains=("NUMA001", "NUMA002", "PSI001"),
    requires=("sysctl_vm",),
    optional=("numa_topology", "process_samples", "processes", "vmstat"),
)
def zone_reclaim_enabled(ctx: RuleContext) -> Iterator[Finding]:
    """vm.zone_reclaim_mode is on, so a full node reclaims its own memory instead of using others.

    ## What it does
    Reads `vm.zone_reclaim_mode` on a host with two or more NUMA nodes and reports any
    value other than 0, naming its bits (1 reclaim, 2 write dirty pages, 4 swap). The finding
    is critical on a database host: a database process is running (as THP001 recognises
    them) or the configured host role is `database`. The `zone_reclaim_success` and
    `zone_reclaim_failed` counters over the capture show whether it acted.

    ## Why is this bad?
    With zone reclaim on, an allocation on a node with no free memory first reclaims that
    node's page cache (and with bit 2/4 writes or swaps) instead of taking free memory from
    another node. Caches of file and database servers are evicted while memory is free
    elsewhere, causing I/O and latency; the kernel documents it as off by default, to be used
    only by workloads partitioned to fit in one node. Database vendors (MongoDB/WiredTiger,
    DataStax) advise turning it off.

    ## Example
    `sysctl_vm` row `zone_reclaim_mode=1` on a 2-node host running `mongod`:
    "vm.zone_reclaim_mode is 1 (reclaim) on a 2-node host running MongoDB (mongod pid 812)".

    ## Remediation
    `sysctl -w vm.zone_reclaim_mode=0` and persist it in `/etc/sysctl.d/` (it is a real
    sysctl); check that no tuned profile or vendor script sets it back.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#zone-reclaim-mode
    - https://source.wiredtiger.com/mongodb-4.2/tune_zone_reclaim.html
    - https://docs.datastax.com/en/cassandra/1.2/cassandra/install/installRecommendSettings.html
    """
    sysctl = ctx.tables["sysctl_vm"]
    nodes = node_count(ctx.host, ctx.table("numa_topology"))
    if nodes < 2:
        raise Skip(f"the host has {nodes} NUMA node: zone_reclaim_mode has no effect")
    mode = sysctl_int(sysctl, "zone_reclaim_mode")
    if mode is None:
        raise Skip("vm.zone_reclaim_mode was not captured")
    rows = sysctl_series(sysctl, "zone_reclaim_mode")
    values = sorted({int(v) for v in rows["value_int"].dropna()}) if "value_int" in rows else []
    if mode == 0 and not any(values):
        return
    bits = ", ".join(name for bit, name in BITS.items() if mode & bit) or "off"
    evidence: dict[str, object] = {"zone_reclaim_mode": mode, "numa_nodes": nodes}
    if len(values) > 1:
        evidence["values_seen"] = values
    vmstat = ctx.table("vmstat")
    activity = ""
    if vmstat is not None and ctx.multi_sample:
        window = window_rates(vmstat, ["zone_reclaim_success", "zone_reclaim_failed"])
        if window.seconds > 0:
            ok = window.total("zone_reclaim_success")
            failed = window.total("zone_reclaim_failed")
            evidence.update(zone_reclaim_success_delta=ok, zone_reclaim_failed_delta=failed)
            if ok or failed:
                activity = (
                    f"; zone reclaim ran {ok + failed:.0f} times in {window.seconds:.0f} s "
                    f"({failed:.0f} failed)"
                )
    dbs = database_processes(ctx.table("process_samples"), ctx.table("processes"))
    labels = {db.key: db.label for db in DATABASES}
    database = ""
    if not dbs.empty:
        first = dbs.sort_values(["starttime", "pid"]).iloc[0]
        names = ", ".join(sorted({labels.get(k, k) for k in dbs["db"]}))
        database = f" running {names} ({first['comm']} pid {int(first['pid'])})"
        evidence["databases"] = sorted(set(dbs["db"]))
    elif (ctx.host_role or "").lower() == "database":
        database = " whose configured role is database"
        evidence["host_role"] = ctx.host_role
    changed = f" (values seen: {values})" if len(values) > 1 else ""
    message = f"vm.zone_reclaim_mode is {mode} ({bits}){changed} on a {nodes}-node host"
    if mode == 0:
        message = f"vm.zone_reclaim_mode was {values} during the capture on a {nodes}-node host"
    yield Finding(
        subject=Subject.HOST,
        message=message + database + activity,
        evidence=evidence,
        severity=Severity.CRITICAL if database else None,
        severity_reason="a database runs on this host" if database else None,
    )
