"""OOM001 oom-kills: the OOM killer killed processes (vmstat oom_kill, kernel log records)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, counter_rates, rule

from vmrules._common import duration, listed, mib, stamp, timed, when

VICTIM_COLUMNS = [
    "at",
    "victim_pid",
    "victim_name",
    "anon_rss_mib",
    "total_vm_mib",
    "oom_score_adj",
    "constraint",
    "oom_memcg",
    "task_memcg",
    "seq",
]


def kills_from_log(events: pd.DataFrame, samples: pd.DataFrame | None) -> pd.DataFrame:
    """One row per ``oom_kill`` record, with its constraint and its wall-clock time.

    The constraint line (``oom-kill:constraint=...``, 4.19+) printed just before a kill is
    joined on the victim's pid; before 4.19, the "Task in A killed as a result of limit of B"
    and "Kill process N (x) score S or sacrifice child" lines give the scope instead. ``at``
    converts the record's kernel timestamp to UTC through the bundle's first sample (its wall
    and monotonic clocks); without them, the time the record was read. ``read_at`` is the
    snapshot that first read the record.
    """
    kills = events[events["event"] == "oom_kill"].copy()
    if kills.empty:
        return kills
    constraints = events[events["event"] == "oom_kill_constraint"]
    for col in ("constraint", "oom_memcg", "task_memcg"):
        if col not in kills.columns:
            kills[col] = None
    if not constraints.empty:
        by_pid = (
            constraints.sort_values("seq")
            .drop_duplicates("victim_pid", keep="last")
            .set_index("victim_pid")
        )
        for col in ("constraint", "oom_memcg", "task_memcg"):
            if col in by_pid.columns:
                kills[col] = kills[col].fillna(kills["victim_pid"].map(by_pid[col]))
    kills = _pre_4_19_scope(kills, events)
    kills["at"] = kills["ts"]
    if samples is not None and {"mono_s", "ts"} <= set(samples.columns) and "usec" in kills:
        first = samples.sort_values("ts").iloc[0]
        if pd.notna(first["mono_s"]) and pd.notna(first["ts"]):
            offset = pd.to_timedelta(
                kills["usec"].astype(float) / 1e6 - float(first["mono_s"]), "s"
            )
            kills["at"] = (first["ts"] + offset).where(kills["usec"].notna(), kills["ts"])
    kills["read_at"] = kills["snapshot"]
    return kills.sort_values("seq" if "seq" in kills.columns else "at").reset_index(drop=True)


def log_records(
    events: pd.DataFrame, kinds: tuple[str, ...], samples: pd.DataFrame | None
) -> pd.DataFrame:
    """The kernel-log records of ``kinds`` (``alloc_failure``, ``hung_task``...) with ``at``,
    their wall time converted exactly as :func:`kills_from_log` converts a kill's, and
    ``before_window``: True when the first snapshot read it (it happened before the capture;
    False on a single snapshot, where there is no window)."""
    picked = events[events["event"].isin(kinds)]
    if picked.empty:
        return picked.assign(at=pd.Series(dtype="datetime64[ns, UTC]"), before_window=False)
    as_kills = picked.assign(event="oom_kill", victim_pid=range(len(picked)))
    converted = kills_from_log(as_kills, samples).set_index("victim_pid")["at"]
    at = pd.Series(converted.reindex(range(len(picked))).to_numpy(), index=picked.index)
    before = pd.Series(False, index=picked.index)
    if samples is not None and len(samples) > 1 and "snapshot" in picked.columns:
        first = str(samples.sort_values("ts")["snapshot"].iloc[0])
        before = picked["snapshot"].astype(str) == first
    out = picked.assign(at=at, before_window=before)
    return out.sort_values("seq" if "seq" in out.columns else "at").reset_index(drop=True)


def _pre_4_19_scope(kills: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Kernels before 4.19 print no constraint line. A memory cgroup OOM there logs "Task in A
    killed as a result of limit of B" (``oom_memcg_limit``) before its kill, and "Memory
    cgroup out of memory: Kill process N (x) score S or sacrifice child" (the selected
    victim, with its scope), while the "Killed process N (x)..." line has no scope. Each kill
    without a constraint takes the last such limit line since the previous kill, and the
    scope of the selection of the same pid since then."""
    if "seq" not in kills.columns or kills["seq"].isna().all():
        return kills
    limits = events[events["event"] == "oom_memcg_limit"].dropna(subset=["seq"])
    selected = events[events["event"] == "oom_victim_selected"].dropna(subset=["seq"])
    if limits.empty and selected.empty:
        return kills
    kills = kills.sort_values("seq").copy()
    previous = -1
    for index, kill in kills.iterrows():
        seq = kill["seq"]
        if pd.isna(seq):
            continue
        since = (events["seq"] > previous) & (events["seq"] < seq)
        previous = seq
        limit = limits[since.reindex(limits.index, fill_value=False)]
        if not limit.empty and (pd.isna(kill["constraint"]) or kill["constraint"] is None):
            last = limit.sort_values("seq").iloc[-1]
            for col in ("constraint", "oom_memcg", "task_memcg"):
                kills.at[index, col] = last[col]
            kills.at[index, "memcg_oom"] = True
        pick = selected[since.reindex(selected.index, fill_value=False)]
        pick = pick[pick["victim_pid"] == kill["victim_pid"]]
        flagged = kill.get("memcg_oom")
        if not pick.empty and (flagged is None or pd.isna(flagged)):
            kills.at[index, "memcg_oom"] = bool(pick.iloc[-1]["memcg_oom"])
    return kills


def victims(kills: pd.DataFrame) -> pd.DataFrame:
    """The victims as a small evidence table (sizes in MiB)."""
    out = pd.DataFrame(index=kills.index)
    out["at"] = kills["at"]
    out["victim_pid"] = kills["victim_pid"]
    out["victim_name"] = kills["victim_name"]
    for col in ("anon_rss", "total_vm"):
        src = f"{col}_bytes"
        out[f"{col}_mib"] = (
            (kills[src].astype("Float64") / (1024 * 1024)).round(1) if src in kills else None
        )
    for col in ("oom_score_adj", "constraint", "oom_memcg", "task_memcg", "seq"):
        out[col] = kills[col] if col in kills.columns else None
    return out[VICTIM_COLUMNS].reset_index(drop=True)


def domain(row: pd.Series) -> tuple[str, str]:
    """(subject, description) of the OOM domain of one kill: a memory cgroup or the host."""
    constraint = row.get("constraint")
    memcg = row.get("oom_memcg")
    if isinstance(memcg, str) and memcg and constraint == "CONSTRAINT_MEMCG":
        return Subject.cgroup(memcg), f"memory cgroup {memcg} (its limit, not the host)"
    flagged = row.get("memcg_oom")
    if constraint == "CONSTRAINT_MEMCG" or (
        flagged is not None and pd.notna(flagged) and bool(flagged)
    ):
        return Subject.HOST, "a memory cgroup (which one is not in the log)"
    if isinstance(constraint, str) and constraint not in ("", "CONSTRAINT_NONE"):
        return Subject.HOST, f"the host, constrained by {constraint}"
    return Subject.HOST, "the whole host (global OOM)"


def describe(kills: pd.DataFrame, limit: int) -> str:
    parts = []
    for _, k in kills.head(limit).iterrows():
        rss = k.get("anon_rss_bytes")
        size = f", anon-rss {mib(rss)} MiB" if pd.notna(rss) else ""
        parts.append(f"{k['victim_name']} (pid {k['victim_pid']}{size}) at {when(k['at'])}")
    return listed(parts, len(kills) - limit)


@rule(
    code="OOM001",
    name="oom-kills",
    severity=Severity.WARNING,
    chart="memory",
    harm="kill",
    optional=("vmstat", "oom_events", "samples"),
    settings=[
        Setting(
            "min_kills",
            1,
            "OOM kills (vmstat oom_kill increments or kernel-log records) in the window at "
            "or above which the rule fires; PCP pmie's memory.oom_kill fires on any.",
        ),
        Setting("max_listed_victims", 5, "How many victims the message names."),
    ],
)
def oom_kills(ctx: RuleContext) -> Iterator[Finding]:
    """The kernel's OOM killer killed processes.

    ## What it does
    Counts OOM kills during the window from the `oom_kill` counter of `/proc/vmstat` (4.13+) and
    reads the kernel log (`/dev/kmsg`) records of each kill: victim pid and name, its anonymous
    RSS, and whether the OOM was confined to a memory cgroup (`CONSTRAINT_MEMCG`, with the
    cgroup; before 4.19, from the "Task in A killed as a result of limit of B" and "Memory
    cgroup out of memory: Kill process" lines) or global. Kills in the window give one finding
    per OOM domain (the cgroup, or the host; a global OOM is critical). Kills the kernel log
    records from before the capture started are reported once, as info. On a single snapshot (a
    sosreport) there is no window, and every kill of this boot is reported at the rule's
    severity.

    ## Why is this bad?
    The OOM killer is the kernel's last resort: a process was killed without warning, losing
    its work and its clients' connections. A cgroup OOM means the workload's memory limit is
    too small for it (or it leaks); a global OOM means the whole host ran out of memory and
    swap.

    ## Example
    `oom-kill` sample bundle: "3 OOM kills in memory cgroup /vmtriage-sample-oom-kill (its
    limit, not the host) between 14:50:24Z and 14:50:43Z: oom-hog (pid 5252, anon-rss
    199.1 MiB) ...".

    ## Remediation
    For a cgroup OOM: raise the cgroup's memory limit (`memory.max`, v1
    `memory.limit_in_bytes`) to what the workload needs, or fix its memory growth. For a
    global OOM: find what filled memory (MEM001, MEM002, the victims' sizes), add RAM or
    swap, and protect critical services with `oom_score_adj`/`OOMScoreAdjust=`.

    ## References
    - https://docs.kernel.org/admin-guide/mm/concepts.html#oom-killer
    - https://man7.org/linux/man-pages/man5/proc_vmstat.5.html (oom_kill)
    - mm/oom_kill.c (kernel log formats); PCP pmie rule memory.oom_kill
    """
    vmstat = ctx.table("vmstat")
    events = ctx.table("oom_events")
    samples = ctx.table("samples")
    if (vmstat is None or "oom_kill" not in vmstat.columns) and events is None:
        raise Skip("neither the vmstat oom_kill counter nor kernel-log OOM records are present")
    limit = int(ctx.settings["max_listed_victims"])
    min_kills = int(ctx.settings["min_kills"])
    usable = events is not None and {"event", "victim_pid"} <= set(events.columns)
    kills = kills_from_log(events, samples) if usable and events is not None else pd.DataFrame()

    counter_delta: int | None = None
    since_boot: int | None = None
    if vmstat is not None and "oom_kill" in vmstat.columns:
        ordered = vmstat.sort_values("ts") if timed(vmstat) else vmstat
        counts = ordered["oom_kill"].dropna()
        since_boot = int(counts.iloc[-1]) if not counts.empty else None
        rates = counter_rates(vmstat, ["oom_kill"]) if timed(vmstat) else pd.DataFrame()
        if not rates.empty:
            counter_delta = int(rates["oom_kill_delta"].fillna(0).sum())

    if not ctx.multi_sample or samples is None:
        yield from single_snapshot(kills, since_boot, limit, min_kills)
        return

    # The first snapshot drains the kernel log: what it read happened before the window.
    first_label = str(samples.sort_values("ts")["snapshot"].iloc[0])
    if kills.empty:
        inside, before = kills, kills
    else:
        inside = kills[kills["read_at"].astype(str) != first_label]
        before = kills[kills["read_at"].astype(str) == first_label]

    logged = len(inside)
    total = max(logged, counter_delta or 0)
    if total >= min_kills:
        domains = inside.apply(domain, axis=1) if logged else pd.Series(dtype=object)
        for (subject, what), group in inside.groupby(domains, sort=False):
            global_oom = what.startswith("the whole host")
            yield Finding(
                message=(
                    f"{len(group)} OOM kill{'s' if len(group) > 1 else ''} in {what} between "
                    f"{when(group['at'].min())} and {when(group['at'].max())}: "
                    f"{describe(group, limit)}"
                ),
                subject=subject,
                start=stamp(group["at"].min()),
                end=stamp(group["at"].max()),
                evidence={
                    "kills": len(group),
                    "oom_kill_counter_delta": counter_delta,
                    "victims": victims(group),
                },
                severity=Severity.CRITICAL if global_oom else None,
                severity_reason="the whole host ran out of memory" if global_oom else None,
            )
        unlogged = (counter_delta or 0) - logged
        if unlogged > 0:
            assert vmstat is not None  # counter_delta comes from it
            rates = counter_rates(vmstat, ["oom_kill"])
            rising = rates[rates["oom_kill_delta"] > 0]
            yield Finding(
                message=(
                    f"the vmstat oom_kill counter rose by {counter_delta} during the window "
                    f"({unlogged} kill{'s' if unlogged > 1 else ''} without a kernel-log record:"
                    " the log was not readable, rate-limited or cleared), first between "
                    f"{when(rising['ts_start'].min())} and {when(rising['ts'].min())}"
                ),
                start=rising["ts_start"].min(),
                end=rising["ts"].max(),
                evidence={
                    "oom_kill_counter_delta": counter_delta,
                    "logged_kills": logged,
                    "intervals": rising[["ts_start", "ts", "oom_kill_delta"]].reset_index(
                        drop=True
                    ),
                },
            )
    if not before.empty:
        start = samples["ts"].min()
        last = before["at"].max()
        ago = (
            f"; the last {duration((start - last).total_seconds())} before it started"
            if pd.notna(start) and pd.notna(last)
            else ""
        )
        kinds = before.apply(domain, axis=1)
        memcg = int(sum(subject != Subject.HOST for subject, _ in kinds))
        split = f"{len(before) - memcg} global or constrained, {memcg} in memory cgroups"
        yield Finding(
            message=(
                f"the kernel log holds {len(before)} OOM kill{'s' if len(before) > 1 else ''} "
                f"from before the capture ({split}{ago}): {describe(before.iloc[::-1], limit)}"
            ),
            start=stamp(before["at"].min()),
            end=stamp(last),
            evidence={
                "kills": len(before),
                "oom_kill_since_boot": since_boot,
                "victims": victims(before),
            },
            severity=Severity.INFO,
            severity_reason="the kills happened before the capture window",
        )


def single_snapshot(
    kills: pd.DataFrame, since_boot: int | None, limit: int, min_kills: int
) -> Iterator[Finding]:
    """One snapshot (a sosreport): every kill of this boot, from the log and the counter."""
    total = max(len(kills), since_boot or 0)
    if total < min_kills or total == 0:
        return
    if kills.empty:
        yield Finding(
            message=(
                f"the vmstat oom_kill counter is {since_boot}: OOM kills since boot, with no "
                "kernel-log record left to name the victims"
            ),
            evidence={"oom_kill_since_boot": since_boot, "logged_kills": 0},
        )
        return
    for (subject, what), group in kills.groupby(kills.apply(domain, axis=1), sort=False):
        yield Finding(
            message=(
                f"the kernel log of this boot holds {len(group)} OOM "
                f"kill{'s' if len(group) > 1 else ''} in {what}, the last at "
                f"{when(group['at'].max())}: {describe(group.iloc[::-1], limit)}"
            ),
            subject=subject,
            start=stamp(group["at"].min()),
            end=stamp(group["at"].max()),
            evidence={
                "kills": len(group),
                "oom_kill_since_boot": since_boot,
                "victims": victims(group),
            },
        )
