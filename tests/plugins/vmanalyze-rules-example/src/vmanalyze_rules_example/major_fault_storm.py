"""EXA002 major-fault-storm."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, rule


@rule(
    code="EXA002",
    name="major-fault-storm",
    severity=Severity.WARNING,
    requires=("vmstat",),
    chart="faults",  # the report marks each finding's window on its page-fault chart
    settings=[
        Setting(
            "min_majflt_per_s",
            500.0,
            "Mean system-wide major faults per second, over the whole input, that is flagged.",
        ),
        Setting(
            "critical_factor",
            10.0,
            "The finding is critical when the peak interval rate reaches this multiple of "
            "min_majflt_per_s.",
        ),
    ],
)
def major_fault_storm(ctx: RuleContext) -> Iterator[Finding]:
    """Major page faults sustained at a rate that keeps the storage busy reading pages back.

    ## What it does
    Turns the cumulative `pgmajfault` counter of the `vmstat` table (one row per sample,
    with its time in `ts`) into a rate per interval and flags a mean rate above
    `min_majflt_per_s`. Needs at least two samples.

    ## Why is this bad?
    A major fault blocks the faulting thread on I/O. Thousands per second mean the working
    set does not fit in memory: pages are evicted and read back again (thrashing).

    ## Example
    Two samples 10 s apart with `pgmajfault` going from 1000 to 9000: 800 faults/s.

    ## Remediation
    Find the processes with the most major faults (`pid_stat.majflt`), then give the host
    or their cgroup more memory, or reduce the working set.

    ## References
    - https://docs.kernel.org/admin-guide/mm/concepts.html
    """
    ctx.require_samples(2)
    vmstat = ctx.tables["vmstat"].sort_values("ts")
    seconds = vmstat["ts"].diff().dt.total_seconds()
    faults = vmstat["pgmajfault"].diff()
    rates = pd.DataFrame({"end": vmstat["ts"], "majflt_per_s": faults / seconds}).dropna()
    rates = rates[rates["majflt_per_s"] >= 0]  # a counter reset is not a negative rate
    if rates.empty:
        return
    threshold = float(ctx.settings["min_majflt_per_s"])
    mean = float(rates["majflt_per_s"].mean())
    if mean < threshold:
        return
    peak = float(rates["majflt_per_s"].max())
    critical = peak >= threshold * float(ctx.settings["critical_factor"])
    yield Finding(
        subject="host",
        message=f"{mean:.0f} major faults/s on average (peak {peak:.0f}/s), "
        f"threshold {threshold:.0f}/s",
        start=vmstat["ts"].iloc[0],
        end=vmstat["ts"].iloc[-1],
        evidence={
            "mean_majflt_per_s": round(mean, 1),
            "peak_majflt_per_s": round(peak, 1),
            "top_intervals": rates.nlargest(3, "majflt_per_s").reset_index(drop=True),
        },
        severity=Severity.CRITICAL if critical else None,
        severity_reason=(f"peak is {peak / threshold:.0f}x the threshold" if critical else None),
    )
