"""Event sources of the built-in pack: dated happenings read from the tables.

Each source turns one kind of table evidence into :class:`~vmanalyze.story.Event` objects.
Thresholds are the rules' own where a rule watches the same thing (cited there); the rest
are this project's choice, said next to them: an event is context for a story, not a
finding, so its thresholds only need to leave out noise.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Event, StoryContext, counter_rates, episodes, event_source

from vmrules._common import MIB, fmt_bytes, ordered, when
from vmrules.oom.oom_kills import kills_from_log, log_records

#: MEM001's defaults: MemAvailable under 10 % of MemTotal is low, under 5 % critical
#: (atop colours memory critical at 90 % occupation).
AVAILABLE_PCTS = (10.0, 5.0)
#: A MemAvailable decline worth a story line: at least 64 MiB and 1 % of MemTotal (our
#: choice: page-cache churn on an idle host moves it by less).
DECLINE_MIN_BYTES = 64 * MIB
DECLINE_MIN_SHARE = 0.01
#: Swap-out and reclaim: any sustained activity (1 page/s) is worth placing in time.
SWAP_OUT_PAGES_PER_S = 1.0
KSWAPD_PAGES_PER_S = 1.0
DIRECT_STALLS_PER_S = 0.1
#: PSI001's default: an interval with `some` stalled >= 10 % of its time (kernel PSI doc).
PSI_SOME_SHARE = 0.10
#: khugepaged's counters in the thp table: they move by themselves, they are no setting.
THP_COUNTERS = frozenset({"full_scans", "pages_collapsed"})
#: Refaults and major faults: 100/s is FLT001's floor for a storm's intervals.
REFAULTS_PER_S = 100.0
MAJOR_FAULTS_PER_S = 100.0


def _timed(df: pd.DataFrame | None) -> pd.DataFrame | None:
    if df is None or "ts" not in df.columns:
        return None
    df = df[df["ts"].notna()]
    return ordered(df) if len(df) >= 2 else None


def _rates(ctx: StoryContext, table: str, counters: list[str]) -> pd.DataFrame | None:
    df = _timed(ctx.table(table))
    if df is None or not any(c in df.columns for c in counters):
        return None
    return counter_rates(df, counters)


@event_source(name="available-memory")
def available_memory(ctx: StoryContext) -> Iterator[Event]:
    """MemAvailable crossing 10 % and 5 % of MemTotal (minus the hugetlb pool), and its
    largest decline over the capture (at least 64 MiB and 1 % of MemTotal)."""
    df = _timed(ctx.table("meminfo"))
    if df is None or "mem_available_bytes" not in df.columns:
        return
    total = pd.to_numeric(df.get("mem_total_bytes"), errors="coerce")
    if "hugetlb_bytes" in df.columns:
        total = total - pd.to_numeric(df["hugetlb_bytes"], errors="coerce").fillna(0)
    avail = pd.to_numeric(df["mem_available_bytes"], errors="coerce")
    ts = df["ts"].reset_index(drop=True)
    avail, total = avail.reset_index(drop=True), total.reset_index(drop=True)
    share = (avail / total * 100).where(total > 0)
    for pct in AVAILABLE_PCTS:
        below = share < pct
        crossed = below & ~below.shift(1, fill_value=False)
        for i in below[crossed].index:
            yield Event(
                ts=ts[i],
                kind="available_low",
                subject="host",
                chart="memory",
                text=f"MemAvailable under {pct:g} % ({fmt_bytes(avail[i])}, {share[i]:.1f} %)",
                evidence={"threshold_pct": pct, "available_bytes": int(avail[i])},
            )
    valid = avail.dropna()
    if len(valid) < 2 or pd.isna(total.max()):
        return
    running_max = valid.cummax()
    drop = running_max - valid
    end = int(drop.idxmax())
    size = float(drop[end])
    if size < max(DECLINE_MIN_BYTES, DECLINE_MIN_SHARE * float(total.max())):
        return
    start = int(valid.loc[:end][valid.loc[:end] == running_max[end]].index[-1])
    yield Event(
        ts=ts[start],
        end=ts[end],
        kind="available_decline",
        subject="host",
        chart="memory",
        text=(
            f"MemAvailable fell {fmt_bytes(size)}, from {fmt_bytes(valid[start])} to "
            f"{fmt_bytes(valid[end])}"
        ),
        evidence={
            "decline_bytes": int(size),
            "from_bytes": int(valid[start]),
            "to_bytes": int(valid[end]),
        },
    )


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _episode_events(
    ctx: StoryContext,
    table: str,
    counter: str,
    threshold: float,
    kind: str,
    label: str,
    unit: str = " pages",
    chart: str | None = None,
) -> Iterator[Event]:
    rates = _rates(ctx, table, [counter])
    if rates is None:
        return
    for ep in episodes(rates, f"{counter}_per_s", threshold, gap_s=5.0):
        yield Event(
            ts=ep.start,
            end=ep.end,
            kind=kind,
            subject="host",
            chart=chart,
            text=(
                f"{label} {_num(ep.mean)}{unit}/s (peak {_num(ep.peak)}{unit}/s at "
                f"{when(ep.peak_at)})"
            ),
            evidence={
                "counter": counter,
                "mean_per_s": round(ep.mean, 1),
                "peak_per_s": round(ep.peak, 1),
                "total": ep.total,
            },
        )


@event_source(name="reclaim")
def reclaim(ctx: StoryContext) -> Iterator[Event]:
    """Episodes of kswapd scanning (``pgscan_kswapd``) and of direct reclaim stalls
    (``allocstall``), from /proc/vmstat."""
    yield from _episode_events(
        ctx, "vmstat", "pgscan_kswapd", KSWAPD_PAGES_PER_S, "reclaim", "kswapd scanning"
    )
    yield from _episode_events(
        ctx,
        "vmstat",
        "allocstall",
        DIRECT_STALLS_PER_S,
        "direct_reclaim",
        "direct reclaim stalls",
        "",
    )


@event_source(name="swap-out")
def swap_out(ctx: StoryContext) -> Iterator[Event]:
    """Episodes of swap-out (``pswpout`` at 1 page/s or more), and of swap-out into zswap's
    compressed pool (``zswpout``, which ``pswpout`` does not count, at the same rate)."""
    yield from _episode_events(
        ctx, "vmstat", "pswpout", SWAP_OUT_PAGES_PER_S, "swap_out", "swap-out", chart="swap"
    )
    yield from _episode_events(
        ctx, "vmstat", "zswpout", SWAP_OUT_PAGES_PER_S, "swap_out", "zswap swap-out", chart="swap"
    )


@event_source(name="refaults")
def refaults(ctx: StoryContext) -> Iterator[Event]:
    """Episodes of page-cache refaults (``workingset_refault_file``, 100/s or more) and of
    major faults (``pgmajfault``, 100/s or more)."""
    yield from _episode_events(
        ctx,
        "vmstat",
        "workingset_refault_file",
        REFAULTS_PER_S,
        "refault",
        "page-cache refaults",
        chart="faults",
    )
    yield from _episode_events(
        ctx,
        "vmstat",
        "pgmajfault",
        MAJOR_FAULTS_PER_S,
        "major_faults",
        "major faults",
        "",
        "faults",
    )


@event_source(name="compaction-stalls")
def compaction_stalls(ctx: StoryContext) -> Iterator[Event]:
    """Episodes in which allocations stalled for compaction (``compact_stall`` grew)."""
    yield from _episode_events(
        ctx, "vmstat", "compact_stall", 0.01, "compaction_stall", "compaction stalls", ""
    )


@event_source(name="psi")
def psi(ctx: StoryContext) -> Iterator[Event]:
    """Memory PSI episodes: intervals in which some task stalled on memory for 10 % of the
    time or more (from the ``some`` total, so every interval counts, not only 10 s averages)."""
    rates = _rates(ctx, "pressure_memory", ["some_total_us", "full_total_us"])
    if rates is None or "some_total_us_per_s" not in rates.columns:
        return
    rates = rates.copy()
    rates["some_share_per_s"] = rates["some_total_us_per_s"] / 1e6
    full = rates.get("full_total_us_per_s")
    for ep in episodes(rates, "some_share_per_s", PSI_SOME_SHARE, gap_s=5.0):
        inside = (rates["ts_start"] >= ep.start) & (rates["ts"] <= ep.end)
        full_pct = float(full[inside].mean() / 1e4) if full is not None else None
        text = f"memory stalls: some {ep.mean * 100:.1f} %"
        if full_pct is not None:
            text += f", full {full_pct:.1f} %"
        yield Event(
            ts=ep.start,
            end=ep.end,
            kind="psi",
            subject="host",
            chart="psi",
            text=text + f" (peak some {ep.peak * 100:.1f} % at {when(ep.peak_at)})",
            evidence={
                "some_pct": round(ep.mean * 100, 1),
                "full_pct": None if full_pct is None else round(full_pct, 1),
                "peak_some_pct": round(ep.peak * 100, 1),
            },
        )


@event_source(name="cgroup-limits")
def cgroup_limits(ctx: StoryContext) -> Iterator[Event]:
    """Episodes of a memory cgroup hitting its limit: v1 ``failcnt``, v2 ``memory.events``
    ``max`` (hit ``memory.max``) and ``high`` (throttled above ``memory.high``)."""
    df = ctx.table("cgroup_memory")
    if df is None or "cgroup" not in df.columns:
        return
    counters = [c for c in ("failcnt", "events_max", "events_high") if c in df.columns]
    if not counters:
        return
    timed = _timed(df)
    if timed is None:
        return
    rates = counter_rates(timed, counters, by=["cgroup"])
    labels = {
        "failcnt": "hit its limit",
        "events_max": "hit memory.max",
        "events_high": "throttled above memory.high",
    }
    for cgroup, group in rates.groupby("cgroup", sort=True):
        for counter in counters:
            for ep in episodes(group, f"{counter}_per_s", 1e-9, gap_s=5.0):
                yield Event(
                    ts=ep.start,
                    end=ep.end,
                    kind="limit_hit",
                    subject=f"cgroup:{cgroup}",
                    text=f"cgroup {cgroup} {labels[counter]} ({_num(ep.mean)} times/s)",
                    evidence={"counter": counter, "total": ep.total, "peak_per_s": ep.peak},
                )


@event_source(name="kernel-log")
def kernel_log(ctx: StoryContext) -> Iterator[Event]:
    """OOM kills, page allocation failures and hung tasks the kernel logged during the
    capture (from one interval before its first sample; older ones are history, which
    OOM001 reports on its own). Kernel timestamps become wall time as OOM001 does it."""
    df = ctx.table("oom_events")
    window = ctx.window
    if df is None or window is None or "event" not in df.columns:
        return
    since = window[0] - pd.Timedelta(seconds=float(ctx.host.get("interval_s") or 5))
    kills = kills_from_log(df, ctx.table("samples"))
    for row in kills[kills["at"] >= since].itertuples(index=False):
        memcg = getattr(row, "oom_memcg", None)
        scoped = isinstance(memcg, str) and memcg not in ("", "/")
        rss = getattr(row, "anon_rss_bytes", None)
        size = f", {fmt_bytes(rss)} anon" if rss is not None and not pd.isna(rss) else ""
        where = f" in cgroup {memcg}" if scoped else ""
        yield Event(
            ts=row.at,
            kind="oom_kill",
            chart="memory",
            subject=f"cgroup:{memcg}" if scoped else "host",
            text=f"the OOM killer kills {row.victim_name} (pid {row.victim_pid}{size}){where}",
            evidence={"seq": row.seq, "victim_pid": row.victim_pid, "oom_memcg": memcg},
        )
    others = log_records(df, ("alloc_failure", "hung_task"), ctx.table("samples"))
    if others.empty:
        return
    for row in others[others["at"] >= since].itertuples(index=False):
        if row.event == "alloc_failure":
            order = getattr(row, "order", None)
            text = f"page allocation failure: order {order}, gfp {getattr(row, 'gfp_mask', '?')}"
        else:
            text = f"hung task: {getattr(row, 'message', '')}"[:120]
        yield Event(
            ts=row.at,
            kind=row.event,
            subject="host",
            text=text,
            evidence={"seq": getattr(row, "seq", None)},
        )


@event_source(name="config-changes")
def config_changes(ctx: StoryContext) -> Iterator[Event]:
    """A vm.* sysctl or THP setting whose value differs between the capture's first and last
    snapshot (someone changed it during the capture)."""
    for table, key in (("sysctl_vm", "name"), ("thp", "setting")):
        df = _timed(ctx.table(table))
        if df is None or key not in df.columns or "value" not in df.columns:
            continue
        for name, rows in df.groupby(key, sort=True):
            if table == "thp" and (
                str(name).rsplit("/", 1)[-1] in THP_COUNTERS or "stats/" in str(name)
            ):
                continue
            values = rows["value"].astype("string")
            if values.nunique(dropna=True) < 2:
                continue
            first, last = values.iloc[0], values.iloc[-1]
            changed = rows[values != first]
            label = f"vm.{name}" if table == "sysctl_vm" else f"THP {name}"
            yield Event(
                ts=changed["ts"].iloc[0],
                kind="config_change",
                subject="host",
                text=f"{label} changed from {first} to {last}",
                evidence={"setting": label, "from": first, "to": last},
            )


EVENT_SOURCES = (
    available_memory,
    reclaim,
    swap_out,
    refaults,
    compaction_stalls,
    psi,
    cgroup_limits,
    kernel_log,
    config_changes,
)
