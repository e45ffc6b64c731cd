"""PSI001 memory-pressure-stalls: PSI memory stall share, from the `total` counters."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import (
    Finding,
    RuleContext,
    Setting,
    Severity,
    Skip,
    counter_rates,
    rule,
    stall_pct,
)

from vmrules._common import rnd, time_share, timed, when


def stall_shares(pressure: pd.DataFrame) -> pd.DataFrame:
    """Per interval: ``some_pct``/``full_pct``, microseconds stalled / interval length, in %.

    Clipped to 0..100 (the wall-clock timestamps and the kernel's stall clock are read a few
    microseconds apart, which can push a very short interval slightly over 100%).
    """
    rates = counter_rates(pressure, ["some_total_us", "full_total_us"])
    rates = rates[rates["interval_s"] > 0].reset_index(drop=True)
    for kind in ("some", "full"):
        col = f"{kind}_total_us_delta"
        if col not in rates.columns:
            rates[f"{kind}_pct"] = float("nan")
            continue
        share = stall_pct(rates[col], rates["interval_s"])
        rates[f"{kind}_pct"] = share.clip(lower=0.0, upper=100.0)
    return rates


@rule(
    code="PSI001",
    name="memory-pressure-stalls",
    severity=Severity.WARNING,
    chart="psi",
    harm="stall",
    requires=("pressure_memory",),
    settings=[
        Setting(
            "min_some_pct",
            10.0,
            "Share of an interval (percent) during which some task stalled on memory "
            "(PSI `some`) at or above which the interval counts as stalled. "
            "Our choice: 10% of the time; the kernel's psi.rst gives no threshold.",
        ),
        Setting(
            "min_full_pct",
            5.0,
            "Share of an interval (percent) during which all non-idle tasks stalled on "
            "memory at once (PSI `full`) at or above which the interval counts as stalled. "
            "Our choice: half of min_some_pct, full stalls being the thrashing kind (psi.rst).",
        ),
        Setting(
            "min_stalled_share",
            0.3,
            "Share of the window's time (0-1) that must be in stalled intervals for a "
            "finding (the sustained part, as SWP001 and PCP pmie count 30%).",
        ),
        Setting(
            "critical_full_pct",
            20.0,
            "PSI `full` share (percent) over the stalled intervals at or above which the "
            "finding is critical. "
            "Our choice: a fifth of the time all tasks wait on memory.",
        ),
    ],
)
def memory_pressure_stalls(ctx: RuleContext) -> Iterator[Finding]:
    """Tasks stall on memory (PSI) for a sustained share of the window.

    ## What it does
    From the cumulative stall times of `/proc/pressure/memory` (`some total=` and `full total=`,
    microseconds), computes for every interval the share of time during which at least one task
    (`some`) or every non-idle task (`full`) was stalled waiting for memory. An interval is
    stalled when `some` reaches `min_some_pct` or `full` reaches `min_full_pct`; the host is
    flagged when stalled intervals cover `min_stalled_share` of the window. The finding gives
    the stall shares over those intervals, the peak interval and when. On a single snapshot,
    the kernel's own 60-second averages (`avg60`) are compared with the same thresholds.

    ## Why is this bad?
    A memory stall is time a task could have run but spent reclaiming memory, waiting for a
    page to come back from swap, or refaulting evicted page cache. `some` is lost latency for
    part of the workload; `full` is time in which no useful work was done at all (the kernel
    documentation calls it thrashing).

    ## Example
    `swap-thrash` sample bundle: "memory stalls in 34 of 46 intervals (76% of the window) ...
    some 15.4% and full 11.8% of that time; peak some 24.0% at 14:50:31Z".

    ## Remediation
    Memory pressure is a symptom: look at the swap (SWP001), page-cache thrashing, cgroup limit
    (CGR001) and availability (MEM001) findings for its cause, then give the workload more
    memory or reduce its working set. Per-cgroup `memory.pressure` (cgroup v2) shows which
    workload stalls.

    ## References
    - https://docs.kernel.org/accounting/psi.html
    - Kernel commit eb414681d5a0 "psi: pressure stall information for CPU, memory, and IO"
      (4.20)
    """
    pressure = ctx.tables["pressure_memory"]
    min_some = float(ctx.settings["min_some_pct"])
    min_full = float(ctx.settings["min_full_pct"])
    critical = float(ctx.settings["critical_full_pct"])
    shares = stall_shares(pressure) if timed(pressure) else pd.DataFrame()
    if shares.empty or shares[["some_pct", "full_pct"]].isna().all().all():
        yield from from_averages(pressure, min_some, min_full, critical)
        return
    shares = shares[shares["some_pct"].notna() | shares["full_pct"].notna()]
    stalled = (shares["some_pct"] >= min_some) | (shares["full_pct"] >= min_full)
    share = time_share(stalled, shares["interval_s"])
    if not stalled.any() or share < float(ctx.settings["min_stalled_share"]):
        return
    hot = shares[stalled]
    seconds = float(hot["interval_s"].sum())
    some = stall_pct(float(hot["some_total_us_delta"].sum()), seconds)
    full = (
        stall_pct(float(hot["full_total_us_delta"].sum()), seconds)
        if "full_total_us_delta" in hot.columns and hot["full_total_us_delta"].notna().any()
        else float("nan")
    )
    # The peak is taken over intervals of at least half the typical length, so the few
    # milliseconds between a bundle's last sample and its end snapshot can't dominate it.
    typical = float(shares["interval_s"].median())
    long_enough = hot[hot["interval_s"] >= typical / 2]
    peak = (long_enough if not long_enough.empty else hot).sort_values("some_pct").iloc[-1]
    start, end = hot["ts_start"].min(), hot["ts"].max()
    evidence: dict[str, object] = {
        "stalled_intervals": int(stalled.sum()),
        "intervals": len(shares),
        "stalled_share": rnd(share, 3),
        "stalled_seconds": rnd(seconds, 1),
        "some_pct": rnd(some, 1),
        "full_pct": rnd(full, 1),
        "peak_some_pct": rnd(peak["some_pct"], 1),
        "peak_full_pct": rnd(peak["full_pct"], 1),
        "peak_at": peak["ts"],
        "window_some_pct": rnd(
            stall_pct(shares["some_total_us_delta"].sum(), shares["interval_s"].sum()), 1
        ),
    }
    message = (
        f"memory stalls (some >= {min_some:g}% or full >= {min_full:g}%) in "
        f"{int(stalled.sum())} of {len(shares)} intervals ({share:.0%} of the window), "
        f"{when(start)} to {when(end)}: some {some:.1f}% and full {full:.1f}% of that time; "
        f"peak some {peak['some_pct']:.1f}% (full {peak['full_pct']:.1f}%) in the interval "
        f"ending {when(peak['ts'])}"
    )
    severity, reason = None, None
    if full >= critical:
        severity = Severity.CRITICAL
        reason = f"all tasks stalled {full:.1f}% of the time (>= {critical:g}%)"
    yield Finding(
        message=message,
        start=start,
        end=end,
        evidence=evidence,
        severity=severity,
        severity_reason=reason,
    )


def from_averages(
    pressure: pd.DataFrame, min_some: float, min_full: float, critical: float
) -> Iterator[Finding]:
    """Single snapshot: the kernel's 60 s running averages against the same thresholds."""
    if "some_avg60" not in pressure.columns:
        raise Skip("stall shares need two snapshots of PSI totals or the avg60 averages")
    row = (pressure.sort_values("ts") if timed(pressure) else pressure).iloc[-1]
    some = float(row["some_avg60"])
    full = float(row["full_avg60"]) if pd.notna(row.get("full_avg60")) else float("nan")
    if not (some >= min_some or full >= min_full):
        return
    evidence = {
        "some_avg10": rnd(row["some_avg10"], 2),
        "some_avg60": rnd(some, 2),
        "some_avg300": rnd(row["some_avg300"], 2),
        "full_avg10": rnd(row.get("full_avg10", float("nan")), 2),
        "full_avg60": rnd(full, 2),
        "full_avg300": rnd(row.get("full_avg300", float("nan")), 2),
        "single_snapshot": True,
    }
    severity, reason = None, None
    if full >= critical:
        severity = Severity.CRITICAL
        reason = f"all tasks stalled {full:.1f}% of the last minute (>= {critical:g}%)"
    moment = when(row["ts"]) if "ts" in row.index and pd.notna(row["ts"]) else "the snapshot"
    yield Finding(
        message=(
            f"memory stalls over the minute before {moment}: some {some:.1f}% and "
            f"full {full:.1f}% (kernel avg60; avg300 some {row['some_avg300']:.1f}%)"
        ),
        start=row["ts"],
        end=row["ts"],
        evidence=evidence,
        severity=severity,
        severity_reason=reason,
    )
