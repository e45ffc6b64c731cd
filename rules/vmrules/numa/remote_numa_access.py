"""NUMA001 remote-numa-access: a large share of allocations is served by a remote node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, parse_ranges, rule

from vmrules._common import (
    fmt_bytes,
    fmt_rate,
    node_count,
    ordered,
    stamp,
    sysctl_int,
    window_rates,
)

COUNTERS = ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"]


def node_shares(totals: pd.DataFrame) -> pd.DataFrame:
    """Per node: remote share = (other_node - interleave_hit) / (local_node + other_node),
    miss share = numa_miss / (numa_hit + numa_miss), from per-node page counts (deltas or
    since boot). Interleaved pages (``interleave_hit``) land on every node by design: they
    are counted as local or other_node like any page but are not remote access to fix."""
    out = totals.copy()
    served = out["local_node"] + out["other_node"]
    interleaved = out["interleave_hit"] if "interleave_hit" in out.columns else 0.0
    out["remote_pages"] = (out["other_node"] - interleaved).clip(lower=0.0)
    out["remote_share"] = (out["remote_pages"] / served).where(served > 0)
    wanted = out["numa_hit"] + out["numa_miss"]
    out["miss_share"] = (out["numa_miss"] / wanted).where(wanted > 0)
    return out


def home_nodes(
    process_samples: pd.DataFrame,
    status: pd.DataFrame | None,
    topology: pd.DataFrame | None,
) -> dict[int, set[int]]:
    """Each process's home nodes: the nodes of the CPUs it may run on (``Cpus_allowed_list``
    of /proc/<pid>/status: its affinity and cpuset, for all its threads). Without it, the node
    it ran on in most samples (field 39 of /proc/<pid>/stat), but only for single-threaded
    processes: field 39 is the main thread's CPU alone."""
    homes: dict[int, set[int]] = {}
    if status is not None and topology is not None and "cpus_allowed_list" in status.columns:
        node_of = {
            int(cpu): int(row.node)
            for row in topology.itertuples()
            for cpu in (row.cpus if row.cpus is not None else [])
        }
        last = status.dropna(subset=["cpus_allowed_list"]).groupby("pid").last()
        for pid, text in last["cpus_allowed_list"].items():
            try:
                cpus = parse_ranges(str(text))
            except ValueError:
                continue
            nodes = {node_of[c] for c in cpus if c in node_of}
            if nodes:
                homes[int(pid)] = nodes
    if "cpu_node" in process_samples.columns:
        ps = process_samples.dropna(subset=["cpu_node"])
        single = ps[ps["num_threads"].fillna(0) == 1] if "num_threads" in ps.columns else ps
        for pid, nodes in single.groupby("pid")["cpu_node"]:
            homes.setdefault(int(pid), {int(nodes.mode().iloc[0])})
    return homes


def misplaced_processes(
    process_samples: pd.DataFrame | None,
    numa_maps: pd.DataFrame | None,
    min_share: float,
    min_bytes: float,
    status: pd.DataFrame | None = None,
    topology: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Processes whose memory (numa_maps) sits mostly on nodes other than their home nodes
    (:func:`home_nodes`). A process allowed on every node (unbound, or run with
    ``numactl --interleave=all``) has no remote memory to speak of.
    """
    columns = ["pid", "comm", "cpu_node", "home_nodes", "local_bytes", "remote_bytes"]
    columns.append("remote_share")
    if process_samples is None or numa_maps is None:
        return pd.DataFrame(columns=columns)
    homes = home_nodes(process_samples, status, topology)
    comm = process_samples.groupby("pid")["comm"].last()
    latest = ordered(numa_maps)
    latest = latest[latest["snapshot"] == latest.groupby("pid")["snapshot"].transform("last")]
    rows = []
    for pid, group in latest.groupby("pid"):
        home = homes.get(int(pid))
        if not home or pid not in comm.index:
            continue
        total = float(group["bytes"].sum())
        local = float(group.loc[group["node"].isin(home), "bytes"].sum())
        remote = total - local
        if total > 0 and remote >= min_bytes and remote / total >= min_share:
            where = ",".join(str(n) for n in sorted(home))
            share = round(remote / total, 3)
            rows.append((int(pid), str(comm[pid]), min(home), where, local, remote, share))
    return pd.DataFrame(rows, columns=columns).sort_values("remote_bytes", ascending=False)


@rule(
    code="NUMA001",
    name="remote-numa-access",
    severity=Severity.WARNING,
    chart="numa",
    harm="measured",
    requires=("sys_node_numastat",),
    optional=("sysctl_vm", "numa_topology", "process_samples", "pid_numa_maps", "pid_status"),
    settings=[
        Setting(
            "max_remote_share",
            0.2,
            "Share (0-1) of a node's allocations made for tasks running on another node "
            "(other_node / (local_node + other_node)), or of allocations it served that were "
            "meant for another node (numa_miss / (numa_hit + numa_miss)), above which it is "
            "reported. "
            "Our choice: one allocation in five remote; numastat(8) gives no bar.",
        ),
        Setting(
            "min_pages_per_s",
            100.0,
            "Remote allocations per second (pages) below which a node is not reported, over a "
            "capture; so idle nodes with a few remote pages stay quiet. "
            "Our choice: 100 pages/s is 0.4 MiB/s, more than background noise.",
        ),
        Setting(
            "min_process_remote_bytes",
            64 * 1024 * 1024,
            "Bytes of a process's memory (numa_maps) on other nodes than its CPUs' from which "
            "the process is named. "
            "Our choice: 64 MiB, as MEM002's min_growth_mib.",
        ),
        Setting(
            "min_process_remote_share",
            0.5,
            "Share (0-1) of a process's mapped memory on other nodes than its CPUs' from which "
            "the process is named. "
            "Our choice: most of its memory.",
        ),
    ],
)
def remote_numa_access(ctx: RuleContext) -> Iterator[Finding]:
    """A large share of a node's allocations is remote: memory on one node, tasks on another.

    ## What it does
    On hosts with two or more NUMA nodes, reads each node's `numastat` counters and computes,
    per node, the share of its allocations made for tasks running on other nodes
    (`other_node`, less `interleave_hit`: pages of an interleave policy land on every node on
    purpose, which is the remedy, not the problem) and the share it served for allocations
    meant for another node (`numa_miss`; the preferred node counts `numa_foreign`). Over a
    capture these are rates between snapshots; a single snapshot (sosreport) uses the
    since-boot counters. Checks
    `vm.numa_stat` first: at 0 the counters are not updated and zeros mean nothing. Names the
    processes whose memory (`numa_maps`, when captured) sits mostly on other nodes than their
    home nodes: the nodes of the CPUs they may run on (`Cpus_allowed_list`, which covers all
    threads and the cpuset), or, for a single-threaded process without it, the node it ran on
    (field 39 of /proc/PID/stat). A process allowed on every node is not named.

    ## Why is this bad?
    A remote access costs more latency and less bandwidth than a local one (the node distance,
    e.g. 20 vs 10). A workload whose memory sits on another node than its CPUs runs slower
    throughout, and `numa_miss` means the preferred node had no free memory.

    ## Example
    node 1 `other_node` +20000/s against `local_node` +3000/s: "node 1: 87% of its
    allocations (20000/s) were for tasks running on another node, 35% of allocations it served
    were misses for another node, over 40 s; numa-remote pid 812 runs on node 0 with 256.0 MiB
    (100%) on other nodes".

    ## Remediation
    Run the workload where its memory is: `numactl --cpunodebind=N --membind=N` (or
    `--interleave=all` for a process larger than one node, as MongoDB advises), a cpuset /
    systemd `NUMAPolicy=`/`CPUAffinity=`; enable automatic NUMA balancing
    (`kernel.numa_balancing=1`) for long-running processes; size per-node memory use so that
    a node does not fill up and spill (numa_miss).

    ## References
    - https://docs.kernel.org/admin-guide/numastat.html
    - https://man7.org/linux/man-pages/man7/numa.7.html
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#numa-stat
    """
    nodes = node_count(ctx.host, ctx.table("numa_topology"))
    numastat = ctx.tables["sys_node_numastat"]
    nodes = max(nodes, int(numastat["node"].nunique()))
    if nodes < 2:
        raise Skip(f"the host has {nodes} NUMA node: no remote memory")
    numa_stat = sysctl_int(ctx.table("sysctl_vm"), "numa_stat")
    if numa_stat == 0:
        raise Skip("vm.numa_stat is 0: the kernel does not update the NUMA counters")
    max_share = float(ctx.settings["max_remote_share"])
    min_rate = float(ctx.settings["min_pages_per_s"])
    counters = [c for c in COUNTERS if c in numastat.columns]

    window = window_rates(numastat, counters, by=("node",)) if ctx.multi_sample else None
    if window is not None and window.seconds > 0:
        rates = window.intervals
        totals = rates.groupby("node")[[f"{c}_delta" for c in counters]].sum()
        totals.columns = counters
        seconds = rates.groupby("node")["interval_s"].sum()
        basis = f"over {float(seconds.max()):.0f} s"
        start, end = rates["ts_start"].min(), rates["ts"].max()
    else:
        last = ordered(numastat).groupby("node").last()
        totals = last[counters].astype(float)
        seconds = None
        basis = "since boot"
        start = end = None
    shares = node_shares(totals)
    boot = node_shares(ordered(numastat).groupby("node").last()[counters].astype(float))

    procs = misplaced_processes(
        ctx.table("process_samples"),
        ctx.table("pid_numa_maps"),
        float(ctx.settings["min_process_remote_share"]),
        float(ctx.settings["min_process_remote_bytes"]),
        ctx.table("pid_status"),
        ctx.table("numa_topology"),
    )
    for node, row in shares.iterrows():
        remote = row["remote_share"] if pd.notna(row["remote_share"]) else 0.0
        miss = row["miss_share"] if pd.notna(row["miss_share"]) else 0.0
        if max(remote, miss) < max_share:
            continue
        remote_pages = max(float(row["remote_pages"]), float(row["numa_miss"]))
        if seconds is not None:
            node_seconds = float(seconds.get(node, 0.0))
            if node_seconds <= 0 or remote_pages / node_seconds < min_rate:
                continue
            volume = f" ({fmt_rate(float(row['remote_pages']) / node_seconds)})"
        else:
            volume = f" ({float(row['remote_pages']):.0f} pages)"
        named = ""
        if not procs.empty:
            named = "; " + ", ".join(
                f"{r.comm} pid {r.pid} runs on node {r.home_nodes} with "
                f"{fmt_bytes(r.remote_bytes)} ({100 * r.remote_share:.0f}%) on other nodes"
                for r in procs.head(3).itertuples()
            )
        yield Finding(
            subject=Subject.node(int(node)),
            message=(
                f"node {node}: {100 * remote:.0f}% of its allocations{volume} were for tasks "
                f"running on another node, {100 * miss:.0f}% of allocations it served were "
                f"misses meant for another node, {basis}{named}"
            ),
            start=stamp(start),
            end=stamp(end),
            evidence={
                "node": int(node),
                "basis": basis,
                "remote_share": round(float(remote), 4),
                "miss_share": round(float(miss), 4),
                **{f"{c}_pages": float(row[c]) for c in counters},
                "remote_pages": float(row["remote_pages"]),
                "remote_share_since_boot": _rounded(boot.at[node, "remote_share"]),
                "miss_share_since_boot": _rounded(boot.at[node, "miss_share"]),
                "numa_stat": numa_stat,
                "misplaced_processes": procs,
            },
        )


def _rounded(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)
