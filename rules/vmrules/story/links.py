"""Link types of the built-in pack: when one finding (or event) explains another.

Every link type states its condition in its docstring (``docs/story.md`` lists them) and
returns the numbers it checked. Confidences are this project's choice, on one scale:

- 0.9: the two sides name the same subject (the same cgroup, the same process) and the
  cause comes first;
- 0.8: the numbers tie them (the cause accounts for at least half of the effect, or the
  effect's own evidence names the cause's mechanism) and the windows overlap;
- 0.6: the windows overlap in the right order on the same host, nothing more: a likely
  explanation, not a proven one.

Order: a cause may start at most one sample interval after its effect (``SLACK_S``), since
both are dated from snapshots taken ``interval_s`` apart.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from vmanalyze import Because, Node, StoryContext, link, overlap_s

from vmrules._common import fmt_bytes

_PID_IN_TEXT = re.compile(r"\((\d+)\)\s*$")
#: Default snapshot spacing when the host facts do not give one (the collector's default).
DEFAULT_INTERVAL_S = 5.0


def _slack(ctx: StoryContext) -> pd.Timedelta:
    try:
        seconds = float(ctx.host.get("interval_s") or DEFAULT_INTERVAL_S)
    except (TypeError, ValueError):
        seconds = DEFAULT_INTERVAL_S
    return pd.Timedelta(seconds=max(seconds, 1.0))


def _precedes(ctx: StoryContext, cause: Node, effect: Node) -> float | None:
    """Seconds from the cause's start to the effect's start when the cause comes first
    (within one interval) and they touch; ``None`` otherwise."""
    slack = _slack(ctx)
    if cause.start > effect.start + slack or effect.start > cause.end + slack:
        return None
    return (effect.start - cause.start).total_seconds()


def _evidence(node: Node, key: str) -> Any:
    return node.finding.evidence.get(key) if node.finding is not None else None


def _pids(node: Node, key: str) -> set[int]:
    """The ``pid`` (or ``victim_pid``) values of an evidence table (DataFrame or records)."""
    value = _evidence(node, key)
    if isinstance(value, pd.DataFrame):
        column = next((c for c in ("pid", "victim_pid") if c in value.columns), None)
        return {int(p) for p in value[column].dropna()} if column else set()
    if isinstance(value, list):
        out = set()
        for row in value:
            if isinstance(row, str):  # "comm (pid)", as CGR001 lists its processes
                match = _PID_IN_TEXT.search(row)
                if match:
                    out.add(int(match.group(1)))
            elif isinstance(row, dict):
                pid = row.get("pid", row.get("victim_pid"))
                if pid is not None and not pd.isna(pid):
                    out.add(int(pid))
        return out
    return set()


def _cgroup(node: Node) -> str | None:
    if node.subject.startswith("cgroup:"):
        return node.subject.split(":", 1)[1]
    value = _evidence(node, "cgroup")
    return value if isinstance(value, str) else None


def _within(inner: str | None, outer: str | None) -> bool:
    if not inner or not outer:
        return False
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _global_oom(node: Node) -> bool:
    return node.subject == "host" and bool(_evidence(node, "kills"))


@link(name="limit-hits-precede-oom-kills", cause="CGR001", effect=("OOM001", "event:oom_kill"))
def limit_hits_precede_oom_kills(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A memory cgroup's limit hits (CGR001) come before OOM kills in that cgroup or one
    below it: the kernel OOM-kills inside a cgroup only when it cannot reclaim under its
    limit (kernel cgroup-v2 doc, "memory.max")."""
    limited, killed = _cgroup(cause), _cgroup(effect)
    lead = _precedes(ctx, cause, effect)
    if lead is None or not _within(killed, limited):
        return None
    same = killed == limited
    return Because(
        0.9 if same else 0.8,
        f"{effect.code} in {killed} {lead:.0f} s after {limited} started hitting its limit",
        {"cgroup": limited, "killed_in": killed, "lead_s": round(lead, 1)},
    )


def _process_growth_bytes(ctx: StoryContext, node: Node, start: Any, end: Any) -> float | None:
    """How much the grower's memory rose between ``start`` and ``end`` (MEM002's measure)."""
    first, last = _evidence(node, "first_mib"), _evidence(node, "last_mib")
    seconds = _evidence(node, "seconds")
    slope = _evidence(node, "slope_mib_per_s")
    if slope is None and (first is None or last is None):
        return None
    span = (min(end, node.end) - max(start, node.start)).total_seconds()
    if span <= 0:
        return None
    if slope is not None:
        return float(slope) * span * 1024 * 1024
    return (float(last) - float(first)) * 1024 * 1024 * span / max(float(seconds or span), 1.0)


@link(name="growth-drains-available", cause="MEM002", effect=("event:available_decline", "MEM001"))
def growth_drains_available(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A process's growth (MEM002) overlaps the decline of MemAvailable and accounts for at
    least half of it."""
    drained = _drained(ctx, cause, effect)
    if drained is None:
        return None
    grown, decline, share = drained
    return Because(
        0.9 if share >= 0.8 else 0.8,
        f"{cause.subject.split(':')[-1]} grew {fmt_bytes(grown)} while MemAvailable fell "
        f"{fmt_bytes(decline)} ({min(share, 1.0):.0%} of it)",
        {"grown_bytes": round(grown), "decline_bytes": int(decline), "share": round(share, 2)},
    )


def _drained(ctx: StoryContext, cause: Node, effect: Node) -> tuple[float, float, float] | None:
    """What the cause grew, what MemAvailable fell and the share, while they overlap; None
    unless the growth accounts for at least half of the decline."""
    if overlap_s(cause, effect) <= 0:
        return None
    if effect.finding is None:
        decline = effect.event.evidence.get("decline_bytes")
    else:
        decline = _available_drop(ctx, effect.start, effect.end)
    grown = _process_growth_bytes(ctx, cause, effect.start, effect.end)
    if not decline or grown is None or decline <= 0:
        return None
    share = grown / float(decline)
    return None if share < 0.5 else (grown, float(decline), share)


def _available_drop(ctx: StoryContext, start: Any, end: Any) -> float | None:
    df = ctx.table("meminfo")
    if df is None or "mem_available_bytes" not in df.columns:
        return None
    rows = df[(df["ts"] >= start) & (df["ts"] <= end)]
    values = pd.to_numeric(rows["mem_available_bytes"], errors="coerce").dropna()
    if values.empty:
        return None
    return float(values.cummax().sub(values).max())


#: Rules whose finding is host-wide memory that grows steadily (slope_mib_per_s in evidence).
HOST_GROWTH = ("KMEM001", "SHM001", "MLK001")
_HOST_GROWTH_WHAT = {
    "KMEM001": "unreclaimable kernel memory",
    "SHM001": "Shmem",
    "MLK001": "locked memory",
}


@link(
    name="host-growth-drains-available",
    cause=HOST_GROWTH,
    effect=("event:available_decline", "MEM001"),
)
def host_growth_drains_available(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Kernel memory (KMEM001), shared memory (SHM001) or locked memory (MLK001) grows while
    MemAvailable declines, and accounts for at least half of the decline: memory that no
    process's private RSS shows, and that reclaim cannot free."""
    drained = _drained(ctx, cause, effect)
    if drained is None:
        return None
    grown, decline, share = drained
    return Because(
        0.8,
        f"{_HOST_GROWTH_WHAT.get(cause.code or '', cause.code)} grew {fmt_bytes(grown)} while "
        f"MemAvailable fell {fmt_bytes(decline)} ({min(share, 1.0):.0%} of it)",
        {"grown_bytes": round(grown), "decline_bytes": int(decline), "share": round(share, 2)},
    )


@link(
    name="growth-precedes-oom", cause=("MEM002", *HOST_GROWTH), effect=("OOM001", "event:oom_kill")
)
def growth_precedes_oom(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A process (MEM002), kernel memory (KMEM001), shared memory (SHM001) or locked memory
    (MLK001) grows and then the global OOM killer runs; the link is stronger when the growing
    process is the victim."""
    lead = _precedes(ctx, cause, effect)
    if lead is None or (effect.finding is not None and not _global_oom(effect)):
        return None
    if effect.finding is None and effect.subject != "host":
        return None
    pid = _evidence(cause, "pid")
    victim_pids: set[Any]
    if effect.finding is None:
        victim_pids = {effect.event.evidence.get("victim_pid")}
    else:
        victim_pids = _pids(effect, "victims")
    victim = pid is not None and pid in victim_pids
    return Because(
        0.9 if victim else 0.6,
        ("the grower was killed" if victim else "global OOM kills followed the growth")
        + f" {lead:.0f} s after it started growing",
        {"lead_s": round(lead, 1), "grower_killed": victim},
    )


def _overlap_after(
    ctx: StoryContext, cause: Node, effect: Node, confidence: float, what: str
) -> Because | None:
    lead = _precedes(ctx, cause, effect)
    shared = overlap_s(cause, effect)
    if lead is None or (shared <= 0 and lead > _slack(ctx).total_seconds()):
        return None
    return Because(
        confidence,
        f"{what}: {effect.code} began {lead:.0f} s after {cause.code} and they overlap "
        f"{shared:.0f} s",
        {"lead_s": round(lead, 1), "overlap_s": round(shared, 1)},
    )


@link(name="low-memory-drives-swap-and-stalls", cause="MEM001", effect=("SWP001", "PSI001"))
def low_memory_drives_swap(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Low MemAvailable (MEM001) comes first and overlaps swap thrashing or memory stalls
    on the same host: reclaim under low memory is what swaps and stalls."""
    return _overlap_after(ctx, cause, effect, 0.8, "reclaim under low memory")


@link(name="low-memory-precedes-oom", cause=("MEM001", "OVC001"), effect="OOM001")
def low_memory_precedes_oom(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Low MemAvailable (MEM001) or an overcommitted host (OVC001) comes before global OOM
    kills (kills in a cgroup are its limit's doing, not the host's)."""
    if not _global_oom(effect):
        return None
    return _overlap_after(ctx, cause, effect, 0.6, "host-wide memory shortage")


def _cgroup_swap_growth(ctx: StoryContext, cgroup: str, start: Any, end: Any) -> float | None:
    df = ctx.table("cgroup_memory")
    if df is None or "cgroup" not in df.columns:
        return None
    column = next(
        (c for c in ("stat_swap", "swap_current", "memsw_usage_in_bytes") if c in df.columns),
        None,
    )
    if column is None:
        return None
    rows = df[(df["cgroup"] == cgroup) & (df["ts"] >= start) & (df["ts"] <= end)]
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return float(values.max() - values.iloc[0]) if len(values) >= 2 else None


@link(name="cgroup-limit-drives-swap", cause="CGR001", effect=("SWP001", "SWP004"))
def cgroup_limit_drives_swap(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A memory cgroup at its limit (CGR001) swaps: its anonymous memory has to go to swap
    to stay under the limit, so host swap-in/out (SWP001), or its compressed form through
    zswap or zram (SWP004), starts with it and overlaps it."""
    cgroup = _cgroup(cause)
    lead = _precedes(ctx, cause, effect)
    if cgroup is None or lead is None or overlap_s(cause, effect) <= 0:
        return None
    anon = _evidence(cause, "anon_mib_last")
    if not (_pids(cause, "processes") & _pids(effect, "top_processes")) and not anon:
        return None
    swapped = _cgroup_swap_growth(ctx, cgroup, cause.start, cause.end)
    if (anon is None or float(anon) <= 0) and not swapped:
        return None
    numbers: dict[str, Any] = {
        "lead_s": round(lead, 1),
        "overlap_s": round(overlap_s(cause, effect), 1),
    }
    if swapped:
        numbers["cgroup_swap_growth_bytes"] = int(swapped)
    if anon is not None:
        numbers["anon_mib_last"] = anon
    swap_out = [e for e in ctx.events if e.kind == "swap_out" and overlap_s(e, effect) > 0]
    return Because(
        0.8,
        f"cgroup {cgroup} held {anon} MiB anonymous at its limit while the host swapped",
        numbers,
        events=tuple(swap_out[:1]),
    )


@link(name="cgroup-limit-drives-refaults", cause="CGR001", effect="FLT001")
def cgroup_limit_drives_refaults(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A memory cgroup at its limit (CGR001) evicts its own page cache, and reading it back
    is a major-fault storm of page-cache refaults (FLT001): the storm's processes include one
    of the cgroup's, and the refaults begin only once the cgroup hits its limit (a first read
    of a file faults too, but does not refault). Swap-in storms go through SWP001."""
    cgroup = _cgroup(cause)
    if cgroup is None or overlap_s(cause, effect) <= 0:
        return None
    shared = _pids(cause, "processes") & _pids(effect, "top_processes")
    if not shared:
        return None
    if _evidence(effect, "cause") != "page-cache refaults":
        return None
    kind = "refault"
    onsets = [
        e
        for e in ctx.events
        if e.kind == kind and e.subject == "host" and e.ts >= cause.start - _slack(ctx)
    ]
    first = min(onsets, key=lambda e: e.ts, default=None)
    if first is None or first.ts > effect.end:
        return None
    onset = first.ts
    return Because(
        0.9,
        f"the major faults ({_evidence(effect, 'cause')}) came from pid "
        f"{', '.join(str(p) for p in sorted(shared))} in cgroup {cgroup}, and refaults began "
        f"{(onset - cause.start).total_seconds():.0f} s after it hit its limit",
        {
            "pids": sorted(shared),
            "fault_cause": _evidence(effect, "cause"),
            "onset_after_limit_s": round((onset - cause.start).total_seconds(), 1),
        },
        events=(first,),
    )


@link(name="cgroup-limit-drives-read-refaults", cause="CGR001", effect="PGC001")
def cgroup_limit_drives_read_refaults(
    ctx: StoryContext, cause: Node, effect: Node
) -> Because | None:
    """A memory cgroup at its limit (CGR001) evicts its own page cache, and PGC001 finds
    that same cgroup (or one below it) refaulting it: the limit is smaller than the files
    the cgroup re-reads, with or without major faults (read() takes none)."""
    limited, refaulting = _cgroup(cause), _cgroup(effect)
    if not _within(refaulting, limited) or overlap_s(cause, effect) <= 0:
        return None
    lead = _precedes(ctx, cause, effect)
    if lead is None:
        return None
    return Because(
        0.9,
        f"cgroup {refaulting} refaulted its page cache ({_evidence(effect, 'access')}) "
        f"while {limited} was at its limit",
        {
            "cgroup": refaulting,
            "access": _evidence(effect, "access"),
            "lead_s": round(lead, 1),
            "overlap_s": round(overlap_s(cause, effect), 1),
        },
    )


def _cgroup_stall_share(ctx: StoryContext, cgroup: str, start: Any, end: Any) -> float | None:
    """The share of time (0-1) some task of ``cgroup`` stalled on memory between ``start`` and
    ``end``, from its own ``memory.pressure`` (cgroup v2) ``some total``."""
    df = ctx.table("cgroup_memory")
    if df is None or "pressure_some_total_us" not in df.columns:
        return None
    rows = df[(df["cgroup"] == cgroup) & (df["ts"] >= start) & (df["ts"] <= end)]
    values = pd.to_numeric(rows["pressure_some_total_us"], errors="coerce").dropna()
    if len(values) < 2:
        return None
    seconds = (rows["ts"].max() - rows["ts"].min()).total_seconds()
    stalled = float(values.iloc[-1] - values.iloc[0]) / 1e6
    # the cgroup's stall clock and the snapshot times are read microseconds apart: cap at 1
    return min(stalled / seconds, 1.0) if seconds > 0 and stalled >= 0 else None


@link(name="cgroup-pressure-is-host-stall", cause="CGR001", effect=("PSI001", "event:psi"))
def cgroup_pressure_is_host_stall(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A memory cgroup at its limit or throttled above memory.high (CGR001) stalls on memory
    itself (its own memory.pressure `some` at 10 % of the time or more, PSI001's threshold)
    while the host's memory stalls (PSI001 or a PSI episode) overlap: the host's stall is
    that cgroup's (kernel PSI doc: a cgroup's pressure is part of its parents')."""
    cgroup = _cgroup(cause)
    if cgroup is None or _precedes(ctx, cause, effect) is None or overlap_s(cause, effect) <= 0:
        return None
    start, end = max(cause.start, effect.start), min(cause.end, effect.end)
    share = _cgroup_stall_share(ctx, cgroup, start, end)
    if share is None or share < 0.10:
        return None
    return Because(
        0.8,
        f"cgroup {cgroup}'s own tasks stalled on memory {share:.0%} of the time while the "
        "host stalled",
        {"cgroup": cgroup, "cgroup_some_share": round(share, 3)},
    )


@link(name="swap-in-is-major-faults", cause="SWP001", effect="FLT001")
def swap_in_is_major_faults(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Swap thrashing (SWP001) explains a major-fault storm (FLT001) whose own evidence says
    most major faults were swap-ins."""
    if _evidence(effect, "cause") != "swap-in" or overlap_s(cause, effect) <= 0:
        return None
    return Because(
        0.9,
        "FLT001 attributes the major faults to swap-in, and swap-in ran throughout",
        {"fault_cause": "swap-in", "overlap_s": round(overlap_s(cause, effect), 1)},
    )


@link(
    name="thrashing-causes-stalls",
    cause=("SWP001", "FLT001", "PGC001", "SWP004"),
    effect=("PSI001", "event:psi"),
)
def thrashing_causes_stalls(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Swap thrashing (SWP001, SWP004 for zswap/zram), a major-fault storm (FLT001) or
    page-cache refault thrashing (PGC001) starts no later than memory stalls (PSI001 or a
    PSI episode) and overlaps them: tasks waiting on swap-in or on refaulted pages (the
    kernel counts refaults of the working set as memory stall) are what PSI memory counts
    (kernel PSI doc)."""
    return _overlap_after(ctx, cause, effect, 0.8, "waiting on faults is memory stall")


@link(name="direct-reclaim-is-stall", cause="RCL001", effect=("PSI001", "event:psi"))
def direct_reclaim_is_stall(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Direct reclaim (RCL001) starts no later than memory stalls (PSI001 or a PSI episode)
    and overlaps them: a task reclaiming for its own allocation is what PSI memory counts as
    stalled (kernel PSI doc: "tasks are reclaiming")."""
    return _overlap_after(ctx, cause, effect, 0.8, "a task in direct reclaim is stalled")


@link(
    name="pressure-blocks-tasks",
    cause=("RCL001", "SWP001", "PSI001", "CGR001"),
    effect="HUNG001",
)
def pressure_blocks_tasks(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """Reclaim, swapping or memory stalls (RCL001, SWP001, PSI001, a cgroup at its limit:
    CGR001) start no later than the time a hung task was blocked (HUNG001) and overlap it:
    tasks wait on writeback, swap-in and page locks under reclaim. Only a likely
    explanation: the hung task's own stack (kernel log) says what it waited on."""
    return _overlap_after(ctx, cause, effect, 0.6, "tasks block on reclaim and swap-in")


@link(name="thp-always-then-compaction", cause="THP001", effect=("THP002", "FRAG001"))
def thp_always_then_compaction(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """THP enabled=always on a database host (THP001) comes with compaction stalls and
    fragmentation (THP002, FRAG001): huge-page faults are what compaction runs for."""
    return _overlap_after(ctx, cause, effect, 0.6, "THP faults need contiguous memory")


@link(name="full-node-spills-remote", cause="NUMA002", effect="NUMA001")
def full_node_spills_remote(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A NUMA node at its low watermark (NUMA002) while another has memory free is followed
    by remote allocations on that other node (NUMA001): the page allocator falls back to the
    next node in the zonelist when the local one is below its watermark."""
    full, remote = _evidence(cause, "node"), _evidence(effect, "node")
    other = _evidence(cause, "other_node")
    if full is None or remote is None or full == remote or overlap_s(cause, effect) <= 0:
        return None
    if _precedes(ctx, cause, effect) is None:  # remote before the node filled: not a spill
        return None
    return Because(
        0.9 if other == remote else 0.8,
        f"node {full} was at its low watermark while node {remote} served allocations for "
        "tasks on other nodes",
        {"full_node": full, "remote_node": remote, "overlap_s": round(overlap_s(cause, effect), 1)},
    )


LINK_TYPES = (
    limit_hits_precede_oom_kills,
    growth_drains_available,
    host_growth_drains_available,
    growth_precedes_oom,
    low_memory_drives_swap,
    low_memory_precedes_oom,
    cgroup_limit_drives_swap,
    cgroup_limit_drives_refaults,
    cgroup_limit_drives_read_refaults,
    cgroup_pressure_is_host_stall,
    swap_in_is_major_faults,
    thrashing_causes_stalls,
    direct_reclaim_is_stall,
    pressure_blocks_tasks,
    thp_always_then_compaction,
    full_node_spills_remote,
)
