"""CGR001 cgroup-memory-limit: cgroups hitting their memory limit (v1 and v2)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Subject, counter_rates, rule

from vmrules._common import UNLIMITED_BYTES, mib, rnd, timed, when


@dataclass(frozen=True)
class Layout:
    """Where one cgroup version keeps usage, limit and the limit-hit counters."""

    usage: str
    limit: str
    hits: str  # limit reached (v1 failcnt, v2 events max)
    oom_kill: str
    high: str | None = None  # v2 memory.high throttling events
    under_oom: str | None = None
    anon: tuple[str, ...] = field(default_factory=tuple)
    file: tuple[str, ...] = field(default_factory=tuple)


V1 = Layout(
    usage="usage_in_bytes",
    limit="limit_in_bytes",
    hits="failcnt",
    oom_kill="oom_control_oom_kill",
    under_oom="oom_control_under_oom",
    anon=("stat_total_rss", "stat_rss"),
    file=("stat_total_cache", "stat_cache"),
)
V2 = Layout(
    usage="current",
    limit="max",
    hits="events_max",
    oom_kill="events_oom_kill",
    high="events_high",
    anon=("stat_anon",),
    file=("stat_file",),
)


def v2_layout(columns: pd.Index) -> Layout:
    """Prefer ``memory.events.local`` (this cgroup's own events) over the hierarchical ones."""
    if "events_local_max" in columns:
        return Layout(
            usage="current",
            limit="max",
            hits="events_local_max",
            oom_kill="events_local_oom_kill",
            high="events_local_high",
            anon=V2.anon,
            file=V2.file,
        )
    return V2


def first_present(row: pd.Series, names: tuple[str, ...]) -> float | None:
    for name in names:
        if name in row.index and pd.notna(row[name]):
            return float(row[name])
    return None


def members(processes: pd.DataFrame | None, cgroup: str, limit: int = 5) -> list[str]:
    """``comm (pid)`` of the processes seen in the cgroup (``processes`` table)."""
    if processes is None or "cgroup" not in processes.columns:
        return []
    inside = processes[processes["cgroup"] == cgroup]
    if "max_rss_bytes" in inside.columns:
        inside = inside.sort_values("max_rss_bytes", ascending=False)
    return [f"{r['comm']} ({r['pid']})" for _, r in inside.head(limit).iterrows()]


@rule(
    code="CGR001",
    name="cgroup-memory-limit",
    severity=Severity.WARNING,
    chart="memory",
    harm="stall",
    explains=("OOM001", "SWP001", "FLT001", "PSI001", "MEM002", "PGC001", "SWP004"),
    requires=("cgroup_memory",),
    optional=("processes",),
    settings=[
        Setting(
            "min_limit_hits_per_s",
            1.0,
            "Rate (per second, over the window) of limit hits (v1 `memory.failcnt`, v2 "
            "`memory.events` max) at or above which the cgroup counts as hitting its limit. "
            "Our choice: one hit per second is the limit hit again and again, not once.",
        ),
        Setting(
            "min_high_events_per_s",
            1.0,
            "Rate of v2 `memory.events` high (throttled above memory.high) at or above which "
            "the cgroup counts as throttled. "
            "Our choice: the same bar as min_limit_hits_per_s.",
        ),
        Setting(
            "at_limit_pct",
            98.0,
            "Usage (percent of the limit) at or above which a snapshot counts as at the limit. "
            "Our choice: within 2% of the limit is at it (usage moves by a few pages between "
            "reads).",
        ),
        Setting(
            "min_at_limit_share",
            0.5,
            "Share of the snapshots (0-1) at the limit that is enough on its own for a finding. "
            "Our choice: half the capture, the same majority MEM001 asks for.",
        ),
        Setting(
            "min_anon_growth_pct",
            5.0,
            "cgroup v1: growth of anonymous memory (memory.stat total_rss) over the capture, "
            "as a percent of the limit, that counts as pressure. Our choice: below 5% of the "
            "limit, anonymous memory is steady and what fills the limit is page cache.",
        ),
    ],
)
def cgroup_memory_limit(ctx: RuleContext) -> Iterator[Finding]:
    """A memory cgroup keeps hitting its limit, is throttled above memory.high, or OOM-kills.

    ## What it does
    For every memory cgroup with a limit, reads the counters of its limit: cgroup v1
    `memory.failcnt` (charges that hit `memory.limit_in_bytes`) and `memory.oom_control`
    (`oom_kill`, `under_oom`); cgroup v2 `memory.events` (`max`, `high`, `oom_kill`; the
    `.local` file when captured). It flags the cgroup when limit hits reach
    `min_limit_hits_per_s`, v2 `high` events reach `min_high_events_per_s`, the OOM killer
    killed in it, or usage sits at `at_limit_pct` of the limit in `min_at_limit_share` of the
    snapshots. OOM kills make the finding critical. On a single snapshot, usage at the limit,
    `under_oom` or OOM kills since the cgroup was created are reported. A cgroup v1 charges
    page cache to the cgroup and reclaims it at the limit: a v1 cgroup at its limit is a
    warning only with a sign of pressure (anonymous memory growing by `min_anon_growth_pct`
    of the limit, refaults, swap growing, OOM), and info when only page cache fills it.

    ## Why is this bad?
    A cgroup at its limit reclaims its own memory on every allocation: its page cache is
    evicted and refaulted, its anonymous memory is swapped (or, without swap, its processes
    are OOM-killed), and its tasks stall, even when the host has plenty of free memory. With
    `memory.high` (v2) the kernel throttles the cgroup's allocations on purpose.

    ## Example
    `swap-thrash` sample bundle (cgroup v1, limit 256 MiB): "cgroup /vmtriage-sample-swap-thrash
    hit its 256 MiB limit 35000 times/s (failcnt +1539722) and was at >= 98% of it in 80% of
    the snapshots".

    ## Remediation
    Size the limit to the workload's working set (`memory.max` / v1
    `memory.limit_in_bytes`, or the service's `MemoryMax=`/`MemoryHigh=`), or reduce what the
    workload keeps in memory. A limit reached only by page cache is mostly harmless; one reached
    by anonymous memory means swapping or OOM kills.

    ## References
    - https://docs.kernel.org/admin-guide/cgroup-v2.html#memory-interface-files
    - https://docs.kernel.org/admin-guide/cgroup-v1/memory.html
    """
    cgroups = ctx.tables["cgroup_memory"]
    processes = ctx.table("processes")
    ordered = cgroups.sort_values("ts") if timed(cgroups) else cgroups
    for (cgroup, version), rows in ordered.groupby(["cgroup", "version"], sort=True):
        layout = V1 if version == "v1" else v2_layout(rows.columns)
        finding = judge(ctx, str(cgroup), str(version), layout, rows, processes)
        if finding is not None:
            yield finding


def judge(
    ctx: RuleContext,
    cgroup: str,
    version: str,
    layout: Layout,
    rows: pd.DataFrame,
    processes: pd.DataFrame | None,
) -> Finding | None:
    """The finding for one cgroup, or None."""
    cols = rows.columns
    if layout.limit not in cols:
        return None
    limits = pd.to_numeric(rows[layout.limit], errors="coerce").astype(float)
    limits = limits.where(limits < UNLIMITED_BYTES)
    has_limit = bool(limits.notna().any())
    high_set = bool(
        layout.high is not None
        and "high" in cols
        and (pd.to_numeric(rows["high"], errors="coerce") < UNLIMITED_BYTES).any()
    )
    if not has_limit and not high_set:
        return None  # no limit to hit: kills there are global OOM victims (OOM001)
    usage = (
        pd.to_numeric(rows[layout.usage], errors="coerce").astype(float)
        if layout.usage in cols
        else pd.Series(float("nan"), index=rows.index)
    )
    pct = 100.0 * usage / limits
    at_limit = pct >= float(ctx.settings["at_limit_pct"])
    share = float(at_limit.mean())
    last = rows.iloc[-1]
    limit_bytes = float(limits.dropna().iloc[-1]) if has_limit else None

    counters = [c for c in (layout.hits, layout.oom_kill, layout.high) if c and c in cols]
    deltas: dict[str, float] = {}
    seconds = 0.0
    active: list[pd.Timestamp] = list(rows.loc[at_limit, "ts"])
    if ctx.multi_sample and timed(rows) and counters:
        rates = counter_rates(rows, counters)
        seconds = float(rates["interval_s"].sum())
        deltas = {c: float(rates[f"{c}_delta"].fillna(0).sum()) for c in counters}
        rising = rates[(rates[[f"{c}_delta" for c in counters]].fillna(0) > 0).any(axis=1)]
        active += list(rising["ts_start"]) + list(rising["ts"])

    def per_s(col: str | None) -> float:
        return deltas.get(col, 0.0) / seconds if col and seconds > 0 else 0.0

    hits_rate = per_s(layout.hits)
    high_rate = per_s(layout.high)
    kills = int(deltas.get(layout.oom_kill, 0.0))
    under_oom = (
        bool(layout.under_oom in cols and (pd.to_numeric(rows[layout.under_oom]) > 0).any())
        if layout.under_oom
        else False
    )

    reasons: list[str] = []
    limit_text = f"{mib(limit_bytes)} MiB limit" if limit_bytes is not None else "limit"
    if seconds > 0:
        if has_limit and hits_rate >= float(ctx.settings["min_limit_hits_per_s"]):
            name = "failcnt" if version == "v1" else layout.hits.replace("_", " ")
            reasons.append(
                f"hit its {limit_text} {hits_rate:.1f} times/s ({name} +{deltas[layout.hits]:.0f})"
            )
        if layout.high and high_rate >= float(ctx.settings["min_high_events_per_s"]):
            reasons.append(
                f"was throttled above memory.high {high_rate:.1f} times/s (+"
                f"{deltas[layout.high]:.0f})"
            )
        if kills > 0:
            reasons.append(f"had {kills} OOM kill{'s' if kills > 1 else ''}")
    else:
        since = last.get(layout.oom_kill)
        if pd.notna(since) and int(since) > 0:
            kills = int(since)
            reasons.append(f"has {kills} OOM kill(s) since it was created")
    if (
        has_limit
        and at_limit.any()
        and (share >= float(ctx.settings["min_at_limit_share"]) or reasons or seconds == 0)
    ):
        reasons.append(
            f"was at >= {float(ctx.settings['at_limit_pct']):g}% of its {limit_text} in "
            f"{int(at_limit.sum())} of {len(rows)} snapshots ({share:.0%}), peak "
            f"{mib(usage.max())} MiB"
        )
    if under_oom:
        reasons.append("was under OOM (oom_control under_oom=1)")
    if not reasons:
        return None

    anon = first_present(last, layout.anon)
    file = first_present(last, layout.file)
    evidence: dict[str, object] = {
        "cgroup": cgroup,
        "version": version,
        "limit_mib": mib(limit_bytes) if limit_bytes is not None else None,
        "usage_mib_last": mib(usage.iloc[-1]) if pd.notna(usage.iloc[-1]) else None,
        "usage_mib_peak": mib(usage.max()) if usage.notna().any() else None,
        "at_limit_snapshots": int(at_limit.sum()),
        "snapshots": len(rows),
        "at_limit_share": rnd(share, 3),
        "limit_hits_delta": deltas.get(layout.hits),
        "limit_hits_per_s": rnd(hits_rate, 2),
        "oom_kills": kills,
        "anon_mib_last": mib(anon) if anon is not None else None,
        "file_mib_last": mib(file) if file is not None else None,
        "processes": members(processes, cgroup),
    }
    if layout.high:
        evidence["high_events_delta"] = deltas.get(layout.high)
        evidence["high_events_per_s"] = rnd(high_rate, 2)
    message = f"cgroup {cgroup} ({version}) " + "; ".join(reasons)
    if anon is not None and file is not None:
        message += f"; at the end {mib(anon)} MiB anonymous, {mib(file)} MiB page cache"
    if evidence["processes"]:
        message += f"; processes: {', '.join(evidence['processes'])}"  # type: ignore[arg-type]
    start = min(active) if active else rows["ts"].min()
    end = max(active) if active else rows["ts"].max()
    message += f" ({when(start)} to {when(end)})"
    severity = Severity.CRITICAL if kills > 0 else None
    reason = "the OOM killer killed processes in this cgroup" if kills > 0 else None
    harm = "kill" if kills > 0 else "stall"
    if version == "v1" and kills == 0 and not under_oom:
        pressure = v1_pressure(rows, limit_bytes, float(ctx.settings["min_anon_growth_pct"]))
        evidence["pressure"] = pressure
        if not pressure:
            # v1 charges page cache to the cgroup and reclaims it at the limit: by itself
            # that is the limit working, not the workload short of memory.
            severity, harm = Severity.INFO, "config"
            reason = (
                "v1 cgroup at its limit with page cache only: no anonymous growth, "
                "refaults, swap or OOM"
            )
            message += "; page cache only (v1 charges it to the cgroup): no sign of pressure"
        else:
            message += "; pressure: " + ", ".join(pressure)
    return Finding(
        message=message,
        subject=Subject.cgroup(cgroup),
        start=start,
        end=end,
        evidence=evidence,
        severity=severity,
        severity_reason=reason,
        harm=harm,
    )


#: v1 memory.stat counters whose growth shows the workload short of memory in its cgroup.
_V1_REFAULTS = (
    "stat_total_workingset_refault_file",
    "stat_total_workingset_refault_anon",
    "stat_total_workingset_refault",
    "stat_workingset_refault_file",
    "stat_workingset_refault_anon",
    "stat_workingset_refault",
)


def _growth(rows: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return float(values.iloc[-1] - values.iloc[0]) if len(values) > 1 else 0.0


def v1_pressure(rows: pd.DataFrame, limit: float | None, min_anon_pct: float) -> list[str]:
    """What shows a v1 cgroup short of memory, beyond page cache filling its limit:
    anonymous memory growing by ``min_anon_pct`` of the limit, refaults, swap growing."""
    found: list[str] = []
    anon = next((c for c in V1.anon if c in rows.columns), None)
    if anon and limit:
        grown = _growth(rows, anon)
        if grown >= limit * min_anon_pct / 100.0:
            found.append(f"anonymous memory +{mib(grown)} MiB")
    refault = next((c for c in _V1_REFAULTS if c in rows.columns), None)
    refaults = sum(_growth(rows, c) for c in _V1_REFAULTS[:2] if c in rows.columns)
    if refault and not refaults:
        refaults = _growth(rows, refault)
    if refaults > 0:
        found.append(f"{refaults:.0f} refaults")
    swap = next((c for c in ("stat_total_swap", "stat_swap") if c in rows.columns), None)
    if swap and _growth(rows, swap) > 0:
        found.append(f"swap +{mib(_growth(rows, swap))} MiB")
    return found
