"""Stand-in rules for the report tests: simple, but computed from the real tables.

The built-in rules (rules/vmrules) are written elsewhere; these give the report realistic
findings on the sample bundles (a window, numbers, evidence tables, a skipped rule and a
failing one) so the findings section is exercised and visible in the screenshots. They are
test fixtures, not diagnoses: codes are in the 9xx range to make that plain.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, Rule, RuleContext, Severity, Skip, Subject, rule
from vmanalyze.rates import counter_rates
from vmanalyze.registry import Registry
from vmanalyze.rule import RuleFunction


def _doc(summary: str, remediation: str) -> str:
    return f"""{summary}

## What it does
Test stand-in: {summary.lower()}

## Why is this bad?
The report tests need findings with real numbers; this is not a diagnosis.

## Example
A sample bundle from `sample-bundles/`.

## Remediation
{remediation}

## References
- https://docs.kernel.org/admin-guide/mm/concepts.html
"""


def _window(df: pd.DataFrame, mask: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    hits = df[mask]
    return hits["ts_start"].min(), hits["ts"].max()


def swap_thrashing(ctx: RuleContext) -> Iterator[Finding]:
    ctx.require_samples(2)
    page = int(ctx.host.get("page_size") or 4096)
    rates = counter_rates(ctx.tables["vmstat"], ["pswpin", "pswpout"])
    both = (rates["pswpin_per_s"] > 0) & (rates["pswpout_per_s"] > 0)
    if not both.any():
        return
    start, end = _window(rates, both)
    ps = ctx.tables["process_samples"]
    top = (
        ps.groupby(["pid", "comm"])["vm_swap_bytes"]
        .max()
        .dropna()
        .sort_values(ascending=False)
        .head(3)
        .reset_index()
    )
    top = top[top["vm_swap_bytes"] > 0]
    subject = Subject.HOST
    if not top.empty:
        subject = Subject.process(int(top.iloc[0]["pid"]), str(top.iloc[0]["comm"]))
    swapin = rates.loc[both, "pswpin_per_s"] * page
    swapout = rates.loc[both, "pswpout_per_s"] * page
    yield Finding(
        subject=subject,
        message=(
            f"Pages moved both ways through swap in {int(both.sum())} of {len(rates)} "
            f"intervals: swap-in up to {swapin.max() / 2**20:.0f} MiB/s and swap-out up to "
            f"{swapout.max() / 2**20:.0f} MiB/s."
        ),
        start=start,
        end=end,
        evidence={
            "swapin_peak_bytes_per_s": float(swapin.max()),
            "swapout_peak_bytes_per_s": float(swapout.max()),
            "intervals": int(both.sum()),
            "window_s": (end - start).total_seconds(),
            "top_swapped_processes": top.rename(columns={"vm_swap_bytes": "max_swap_bytes"}),
        },
    )


def major_faults(ctx: RuleContext) -> Iterator[Finding]:
    ctx.require_samples(2)
    rates = counter_rates(ctx.tables["vmstat"], ["pgmajfault"])
    high = rates["pgmajfault_per_s"] > 100
    if not high.any():
        return
    start, end = _window(rates, high)
    yield Finding(
        message=(
            f"Major faults above 100/s in {int(high.sum())} intervals, peaking at "
            f"{rates['pgmajfault_per_s'].max():,.0f}/s: tasks waited for disk to get memory back."
        ),
        start=start,
        end=end,
        evidence={
            "majflt_peak_per_s": float(rates["pgmajfault_per_s"].max()),
            "majflt_mean_per_s": float(rates.loc[high, "pgmajfault_per_s"].mean()),
        },
    )


def memory_stall(ctx: RuleContext) -> Iterator[Finding]:
    ctx.require_samples(2)
    rates = counter_rates(ctx.tables["pressure_memory"], ["some_total_us"])
    share = rates["some_total_us_delta"] / (rates["interval_s"] * 1e6) * 100
    high = share > 5
    if not high.any():
        return
    start, end = _window(rates, high)
    yield Finding(
        message=f"Tasks stalled on memory up to {share.max():.1f} % of the time.",
        start=start,
        end=end,
        evidence={"some_peak_pct": float(share.max()), "some_mean_pct": float(share[high].mean())},
    )


def thp_always(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.host.get("thp_enabled") != "always":
        return
    comms = set(ctx.tables["processes"]["comm"].astype(str))
    databases = sorted(comms & {"postgres", "redis-server", "mongod", "mysqld"})
    if databases:
        yield Finding(
            message=(
                "Transparent huge pages are 'always' while "
                + ", ".join(databases)
                + " run: latency spikes from compaction and memory bloat."
            ),
            evidence={"thp_enabled": "always", "databases": databases},
        )


def overcommit(ctx: RuleContext) -> Iterator[Finding]:
    mem = ctx.tables["meminfo"].sort_values("ts")
    limit = mem["mem_total_bytes"] + mem["swap_total_bytes"].fillna(0)
    over = mem["committed_as_bytes"] > limit
    if not over.any():
        return
    hits = mem[over]
    yield Finding(
        message=(
            f"Committed_AS reached {hits['committed_as_bytes'].max() / 2**30:.1f} GiB, "
            f"{(hits['committed_as_bytes'] / limit[over]).max() * 100:.0f} % of RAM + swap."
        ),
        start=hits["ts"].min(),
        end=hits["ts"].max(),
        evidence={
            "committed_as_peak_bytes": int(hits["committed_as_bytes"].max()),
            "ram_plus_swap_bytes": int(limit.max()),
            "commit_limit_bytes": int(mem["commit_limit_bytes"].max()),
        },
    )


def oom_kills(ctx: RuleContext) -> Iterator[Finding]:
    events = ctx.tables["oom_events"]
    kills = events[events["event"] == "oom_kill"] if "event" in events.columns else events
    kills = kills[kills["snapshot"] != "start"]  # the kernel log's history is not this capture
    if kills.empty:
        return
    yield Finding(
        subject=Subject.process(
            int(kills.iloc[-1]["victim_pid"]), str(kills.iloc[-1]["victim_name"])
        ),
        message=f"The OOM killer killed {len(kills)} process(es).",
        start=kills["ts"].min(),
        end=kills["ts"].max(),
        evidence={
            "kills": len(kills),
            "victims": kills[["ts", "victim_pid", "victim_name", "anon_rss_bytes"]],
        },
    )


def numa_remote(ctx: RuleContext) -> Iterator[Finding]:
    numastat = ctx.tables["sys_node_numastat"]
    if numastat["node"].nunique() < 2:
        raise Skip("single NUMA node")
    rates = counter_rates(numastat, ["other_node", "local_node"], by=["node"])
    for node, part in rates.groupby("node"):
        high = part["other_node_per_s"] > 1000
        if not high.any():
            continue
        start, end = _window(part, high)
        share = part.loc[high, "other_node_delta"].sum() / (
            part.loc[high, "other_node_delta"].sum() + part.loc[high, "local_node_delta"].sum()
        )
        yield Finding(
            subject=Subject.node(int(node)),
            message=(
                f"Node {node} served {part['other_node_per_s'].max():,.0f} pages/s to tasks "
                f"running on another node ({share * 100:.0f} % of its allocations)."
            ),
            start=start,
            end=end,
            evidence={
                "other_node_peak_per_s": float(part["other_node_per_s"].max()),
                "remote_share_pct": float(share * 100),
            },
        )


def broken(ctx: RuleContext) -> Iterator[Finding]:
    raise RuntimeError("deliberately broken stand-in rule")


_DOCS = {
    "SWP901": (
        "Anonymous pages are swapped out and back in at the same time.",
        "Give the workload more memory (raise its cgroup's `memory.limit_in_bytes`), or reduce "
        "its working set.\n\n```sh\ncat /sys/fs/cgroup/memory/<group>/memory.limit_in_bytes\n```",
    ),
    "FLT901": (
        "Major page faults sustained above a rate the storage cannot serve.",
        "Find the faulting processes (table *Processes with major faults*) and give them memory.",
    ),
    "PSI901": ("Tasks stall waiting for memory.", "Reduce memory demand or add memory."),
    "THP901": (
        "THP is `always` while databases that advise against it run.",
        "Set `transparent_hugepage=madvise`:\n\n"
        "```sh\necho madvise > /sys/kernel/mm/transparent_hugepage/enabled\n```",
    ),
    "OVC901": ("Committed memory is above RAM + swap.", "Find who reserves memory it never uses."),
    "OOM901": (
        "The OOM killer ran.",
        "Raise the limit of the cgroup that ran out, or fix the leak.",
    ),
    "NUMA901": ("Allocations land on remote NUMA nodes.", "Bind the workload to one node."),
    "CGR901": ("A rule that always fails.", "Nothing."),
    "MEM901": ("A finding with hostile text (test_escaping).", "Nothing."),
}


def _make(
    code: str, name: str, severity: Severity, requires: tuple[str, ...], function: RuleFunction
) -> Rule:
    function.__doc__ = _doc(*_DOCS[code])
    chart = _CHARTS[code.rstrip("0123456789")]
    return rule(code=code, name=name, severity=severity, requires=requires, chart=chart)(function)


#: The chart each stand-in's evidence is on, as its built-in counterpart declares.
_CHARTS = {
    "SWP": "swap",
    "FLT": "faults",
    "PSI": "psi",
    "THP": "thp",
    "OVC": "commit",
    "OOM": "memory",
    "NUMA": "numa",
    "CGR": "memory",
    "MEM": "memory",
}


RULES = (
    _make(
        "SWP901", "swap-thrashing", Severity.CRITICAL, ("vmstat", "process_samples"), swap_thrashing
    ),
    _make("FLT901", "major-fault-storm", Severity.WARNING, ("vmstat",), major_faults),
    _make("PSI901", "memory-stall", Severity.WARNING, ("pressure_memory",), memory_stall),
    _make("THP901", "thp-always-with-database", Severity.WARNING, ("processes",), thp_always),
    _make("OVC901", "overcommitted", Severity.CRITICAL, ("meminfo",), overcommit),
    _make("OOM901", "oom-kills", Severity.CRITICAL, ("oom_events",), oom_kills),
    _make(
        "NUMA901", "remote-numa-allocations", Severity.WARNING, ("sys_node_numastat",), numa_remote
    ),
    _make("CGR901", "broken-stand-in", Severity.INFO, ("meminfo",), broken),
)


def registry() -> Registry:
    return Registry.from_rules(RULES, package="vmtriage-report-tests", version="0")


#: Registered only for the hand-made hostile result of test_escaping.
HOSTILE_RULE = _make("MEM901", "hostile", Severity.CRITICAL, ("meminfo",), broken)
