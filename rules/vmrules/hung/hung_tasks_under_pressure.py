"""HUNG001 hung-tasks-under-pressure: hung-task reports while memory was under pressure."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, counter_rates, rule

from vmrules._common import listed, ordered, rnd, stamp, timed, when
from vmrules.oom.oom_kills import log_records
from vmrules.psi.memory_pressure_stalls import stall_shares


def _overlapping(rates: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return rates[(rates["ts"] >= start) & (rates["ts_start"] <= end)]


def pressure_signals(
    ctx: RuleContext, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[dict[str, float], bool]:
    """The memory-pressure signals seen between ``start`` and ``end`` (the time the task was
    blocked), and whether any of the tables covered that time at all."""
    signals: dict[str, float] = {}
    covered = False
    pressure = ctx.table("pressure_memory")
    if pressure is not None and timed(pressure):
        inside = _overlapping(stall_shares(pressure), start, end)
        if not inside.empty:
            covered = True
            peak = float(inside["some_pct"].max())
            if peak >= float(ctx.settings["min_some_pct"]):
                signals["psi_some_pct_peak"] = rnd(peak, 1)
    vmstat = ctx.table("vmstat")
    if vmstat is not None and timed(vmstat):
        counters = [c for c in ("allocstall", "pswpin", "pswpout") if c in vmstat.columns]
        inside = _overlapping(counter_rates(vmstat, counters), start, end)
        if not inside.empty:
            covered = True
            stalls = inside.get("allocstall_per_s")
            if stalls is not None and stalls.max() >= float(ctx.settings["min_allocstalls_per_s"]):
                signals["allocstalls_per_s_peak"] = rnd(stalls.max(), 1)
            swap = sum(
                inside[f"{c}_per_s"].fillna(0) for c in ("pswpin", "pswpout") if c in counters
            )
            if isinstance(swap, pd.Series) and swap.max() >= float(
                ctx.settings["min_swap_pages_per_s"]
            ):
                signals["swap_pages_per_s_peak"] = rnd(swap.max(), 1)
    meminfo = ctx.table("meminfo")
    if meminfo is not None and {"mem_available_bytes", "mem_total_bytes"} <= set(meminfo.columns):
        rows = ordered(meminfo)
        rows = rows[(rows["ts"] >= start) & (rows["ts"] <= end)]
        if not rows.empty:
            covered = True
            share = 100.0 * rows["mem_available_bytes"].astype(float) / rows["mem_total_bytes"]
            low = float(share.min())
            if low < float(ctx.settings["max_available_pct"]):
                signals["mem_available_pct_min"] = rnd(low, 1)
    return signals, covered


def _describe(signals: dict[str, float]) -> str:
    labels = {
        "psi_some_pct_peak": "PSI memory some up to {}%",
        "allocstalls_per_s_peak": "direct reclaim up to {}/s",
        "swap_pages_per_s_peak": "swapping up to {} pages/s",
        "mem_available_pct_min": "MemAvailable down to {}%",
    }
    return ", ".join(labels[k].format(v) for k, v in signals.items())


def _tasks(rows: pd.DataFrame, limit: int = 5) -> str:
    """One entry per task (comm:pid): the longest block reported and the last report's time
    (the watchdog reports a task again every timeout while it stays blocked)."""
    per_task = (
        rows.groupby(["victim_name", "victim_pid"], sort=False, dropna=False)
        .agg(blocked=("blocked", "max"), at=("at", "max"), reports=("at", "size"))
        .reset_index()
    )
    names = [
        f"{r['victim_name']}:{r['victim_pid']} (blocked > {r['blocked']:.0f} s at {when(r['at'])}"
        + (f", {r['reports']} reports" if r["reports"] > 1 else "")
        + ")"
        for _, r in per_task.head(limit).iterrows()
    ]
    return listed(names, len(per_task) - limit)


@rule(
    code="HUNG001",
    name="hung-tasks-under-pressure",
    chart="psi",
    harm="stall",
    severity=Severity.WARNING,
    requires=("oom_events",),
    optional=("samples", "pressure_memory", "vmstat", "meminfo"),
    settings=[
        Setting(
            "min_some_pct",
            10.0,
            "PSI memory `some` share of an interval (percent) that counts as pressure: "
            "PSI001's threshold (our choice there; the kernel's psi.rst gives none).",
        ),
        Setting(
            "min_allocstalls_per_s",
            1.0,
            "Direct-reclaim entries per second (vmstat allocstall) that count as pressure: "
            "RCL001's threshold (our choice there).",
        ),
        Setting(
            "min_swap_pages_per_s",
            5.0,
            "Swap-in plus swap-out pages per second that count as pressure: PCP pmie's "
            "5 pages/s swap-out rate.",
        ),
        Setting(
            "max_available_pct",
            10.0,
            "MemAvailable below this share of MemTotal (percent) counts as pressure: MEM001's "
            "threshold (atop colours memory critical at 90% occupation).",
        ),
    ],
)
def hung_tasks_under_pressure(ctx: RuleContext) -> Iterator[Finding]:
    """The kernel reported hung tasks while memory was under pressure.

    ## What it does
    Reads the `INFO: task <comm>:<pid> blocked for more than N seconds.` records of the kernel
    log (kernel/hung_task.c: a task in uninterruptible sleep, D state, for longer than
    `kernel.hung_task_timeout_secs`) and, for each, looks at the N seconds the task was
    blocked: PSI memory `some` at `min_some_pct` or more, direct reclaim at
    `min_allocstalls_per_s`, swapping at `min_swap_pages_per_s`, MemAvailable under
    `max_available_pct`. Hung tasks during any of these give the finding, naming the
    signals. Hung tasks without any are reported as info: a hung task is worth knowing in a
    memory triage, but its cause is then I/O, a lock or a driver, not memory (our choice
    rather than silence, so the reader knows the rule looked). Reports from before the
    capture, or on a single snapshot (a sosreport: no rates), are info too.

    ## Why is this bad?
    Under memory pressure, tasks block in D state on reclaim: waiting for writeback of the
    pages reclaim chose, for swap-in, for a page lock held by a task that is itself in
    direct reclaim, or for a file system frozen behind dirty pages it cannot flush. Two
    minutes of that is an outage for whatever the task serves (a database checkpoint, a
    journal commit), and the hung-task watchdog may be set to panic the host
    (`kernel.hung_task_panic`).

    ## Example
    `INFO: task postgres:4242 blocked for more than 120 seconds.` while PSI memory `some` was
    at 45%: "1 hung-task report while memory was under pressure: postgres:4242 (blocked >
    120 s at 10:02:13Z); PSI memory some up to 45.0%".

    ## Remediation
    Relieve the memory pressure first (RCL001, PSI001, SWP001, MEM001: what fills memory,
    which cgroup reclaims), then read the task's stack in the kernel log (the lines after
    the report) to see what it waited on. Lowering `vm.dirty_ratio`/`dirty_bytes` shortens
    writeback waits (DRT001). Do not just raise `kernel.hung_task_timeout_secs`: it hides the
    stall, it does not end it.

    ## References
    - kernel/hung_task.c: https://github.com/torvalds/linux/blob/master/kernel/hung_task.c
    - https://docs.kernel.org/admin-guide/sysctl/kernel.html#hung-task-timeout-secs
    - https://docs.kernel.org/accounting/psi.html
    """
    events = ctx.tables["oom_events"]
    if "event" not in events.columns:
        raise Skip("the kernel-log table has no event column")
    records = log_records(events, ("hung_task",), ctx.table("samples"))
    if records.empty:
        return
    blocked = pd.to_numeric(
        records.get("blocked_seconds", pd.Series(0, index=records.index)), errors="coerce"
    ).fillna(0.0)
    records = records.assign(blocked=blocked.astype(float))
    before = records[records["before_window"]]
    inside = records[~records["before_window"]]
    if not before.empty:
        yield Finding(
            message=(
                f"{len(before)} hung-task report{'s' if len(before) > 1 else ''} before the "
                f"capture: {_tasks(before)}"
            ),
            start=stamp(before["at"].min()),
            end=stamp(before["at"].max()),
            evidence={"hung_tasks": len(before), "tasks": _task_table(before)},
            severity=Severity.INFO,
            severity_reason="before the capture: memory pressure then is unknown",
        )
    if inside.empty:
        return
    if not ctx.multi_sample:
        yield Finding(
            message=(
                f"{len(inside)} hung-task report{'s' if len(inside) > 1 else ''} in the kernel "
                f"log of this boot: {_tasks(inside)}; memory pressure at the time is unknown "
                "(a single snapshot)"
            ),
            start=stamp(inside["at"].min()),
            end=stamp(inside["at"].max()),
            evidence={"hung_tasks": len(inside), "tasks": _task_table(inside)},
            severity=Severity.INFO,
            severity_reason="a single snapshot: no rates to tell whether memory was short",
        )
        return
    pressed, calm, unknown = [], [], []
    merged: dict[str, float] = {}
    for index, row in inside.iterrows():
        end = row["at"]
        start = end - pd.Timedelta(seconds=float(row["blocked"]))
        signals, covered = pressure_signals(ctx, start, end)
        if signals:
            pressed.append(index)
            for key, value in signals.items():
                worse = min if key == "mem_available_pct_min" else max
                merged[key] = worse(merged.get(key, value), value)
        elif covered:
            calm.append(index)
        else:
            unknown.append(index)
    if pressed:
        rows = inside.loc[pressed]
        yield Finding(
            message=(
                f"{len(rows)} hung-task report{'s' if len(rows) > 1 else ''} while memory was "
                f"under pressure: {_tasks(rows)}; {_describe(merged)}"
            ),
            start=stamp((rows["at"] - pd.to_timedelta(rows["blocked"], "s")).min()),
            end=stamp(rows["at"].max()),
            evidence={"hung_tasks": len(rows), "tasks": _task_table(rows), **merged},
        )
    for group, why in ((calm, "no memory pressure"), (unknown, "no sample covered")):
        if not group:
            continue
        rows = inside.loc[group]
        yield Finding(
            message=(
                f"{len(rows)} hung-task report{'s' if len(rows) > 1 else ''} with {why} while "
                f"the task{'s were' if len(rows) > 1 else ' was'} blocked: {_tasks(rows)}"
            ),
            start=stamp(rows["at"].min()),
            end=stamp(rows["at"].max()),
            evidence={"hung_tasks": len(rows), "tasks": _task_table(rows)},
            severity=Severity.INFO,
            severity_reason=f"{why}: the cause is likely I/O, a lock or a driver, not memory",
        )


def _task_table(rows: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {
            "at": stamp(r["at"]),
            "comm": r["victim_name"],
            "pid": None if pd.isna(r["victim_pid"]) else int(r["victim_pid"]),
            "blocked_seconds": int(r["blocked"]),
            "seq": None if pd.isna(r.get("seq")) else int(r["seq"]),
        }
        for _, r in rows.iterrows()
    ]
