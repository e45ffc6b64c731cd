"""THP002 thp-defrag-stalls: THP faults stall in direct compaction, or khugepaged burns CPU."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import fmt_rate, last_value, ordered, stamp, thp_setting, when, window_rates

#: USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream architecture).
USER_HZ = 100
#: defrag values under which a THP fault may enter direct reclaim/compaction.
STALLING_DEFRAG = {
    "always": "every THP fault",
    "madvise": "madvised regions",
    "defer+madvise": "madvised regions",
}


def _khugepaged_cpu(process_samples: pd.DataFrame | None) -> tuple[float, float, object]:
    """khugepaged's CPU use (share of one CPU): mean over the window, peak, peak time."""
    if process_samples is None:
        return 0.0, 0.0, None
    rows = process_samples[process_samples["comm"] == "khugepaged"]
    if rows.empty:
        return 0.0, 0.0, None
    rows = rows.assign(cpu_ticks=rows["utime"] + rows["stime"])
    window = window_rates(rows, ["cpu_ticks"], by=("pid", "starttime"))
    if window.seconds <= 0:
        return 0.0, 0.0, None
    mean = window.mean_rate("cpu_ticks") / USER_HZ
    peak, at = window.peak("cpu_ticks")
    return mean, peak / USER_HZ, at


@rule(
    code="THP002",
    name="thp-defrag-stalls",
    severity=Severity.WARNING,
    chart="thp",
    harm="stall",
    requires=("thp", "vmstat"),
    optional=("process_samples", "samples"),
    settings=[
        Setting(
            "min_compact_stall_per_s",
            0.5,
            "Direct compaction stalls per second (vmstat compact_stall), averaged over the "
            "capture, from which THP defrag is reported as stalling allocations. "
            "Our choice: one stall every 2 s of the capture.",
        ),
        Setting(
            "max_khugepaged_cpu",
            0.25,
            "khugepaged CPU use, as a share of one CPU averaged over the capture, above which "
            "it is reported. "
            "Our choice: a quarter of a CPU; DataStax reports khugepaged near 100% as the problem.",
        ),
    ],
)
def thp_defrag_stalls(ctx: RuleContext) -> Iterator[Finding]:
    """THP defrag makes page faults stall in direct compaction, or khugepaged uses a lot of CPU.

    ## What it does
    Reads `transparent_hugepage/enabled`, `defrag` and the `compact_stall` rate (direct
    compaction entries per second) over the capture. Compaction stalls are THP's only when THP
    is in use: `enabled=always`, or `madvise` with THP faults (`thp_fault_alloc` +
    `thp_fault_fallback`) in the window; with `enabled=never`, or no THP fault in the window,
    the stalls come from other allocations and belong to FRAG001, so this rule stays quiet
    about them. With `defrag=always` every THP fault may compact synchronously; with `madvise`
    or `defer+madvise` only madvised regions do, so those count only when THP faults happen in
    the window. With `defer` or `never` THP faults never stall. It also measures khugepaged's
    CPU time (utime + stime of the `khugepaged` thread). On a single snapshot it uses the
    since-boot average (`compact_stall` / uptime), and only with `enabled=always` and
    `defrag=always`.

    ## Why is this bad?
    A direct compaction stall blocks the faulting thread while the kernel migrates pages to
    build a 2 MiB block: milliseconds to seconds, paid on the application's latency path.
    khugepaged collapsing pages at high CPU (with `khugepaged/defrag=1`) competes with the
    workload and is a known cause of database latency.

    ## Example
    `defrag=always`, `compact_stall` rising 3.2/s over 49 s: "direct compaction stalls
    3.2/s over 49 s (peak 14/s at 14:49:30Z, 71% failed) with THP defrag=always: every THP
    fault may stall; thp_fault_alloc 12.0/s, thp_fault_fallback 3.0/s".

    ## Remediation
    Set `defrag` to `defer+madvise` (or `madvise`): `echo defer+madvise >
    /sys/kernel/mm/transparent_hugepage/defrag`, persisted with a systemd unit or TuneD
    profile (not `/etc/sysctl.d`). If madvised regions stall (JVM `-XX:+UseTransparentHugePages`,
    MongoDB 8), pre-touch them at start (`-XX:+AlwaysPreTouch`) or use `defer+madvise`. For
    khugepaged CPU, raise `khugepaged/scan_sleep_millisecs`, lower `pages_to_scan`, or set
    `khugepaged/defrag` to 0.

    ## References
    - https://docs.kernel.org/admin-guide/mm/transhuge.html
    - https://docs.datastax.com/en/dse-trblshoot/doc/troubleshooting/highCPU.html
    """
    thp = ctx.tables["thp"]
    vmstat = ctx.tables["vmstat"]
    defrag = last_value(thp_setting(thp, "defrag"), "value")
    khugepaged_defrag = last_value(thp_setting(thp, "khugepaged/defrag"), "value")
    enabled = last_value(thp_setting(thp, "enabled"), "value")
    min_stalls = float(ctx.settings["min_compact_stall_per_s"])
    max_cpu = float(ctx.settings["max_khugepaged_cpu"])
    base = {"thp_enabled": enabled, "thp_defrag": defrag, "khugepaged_defrag": khugepaged_defrag}
    if "compact_stall" not in vmstat.columns:
        raise Skip("vmstat has no compact_stall counter (kernel without CONFIG_COMPACTION)")

    if not ctx.multi_sample:
        samples = ctx.table("samples")
        uptime = last_value(samples, "mono_s") if samples is not None else None
        if uptime is None or float(uptime) <= 0:
            raise Skip("a single snapshot without uptime: no compaction-stall rate")
        row = ordered(vmstat).iloc[-1]
        rate = float(row["compact_stall"]) / float(uptime)
        # since boot, stalls of madvised regions cannot be told from other ones: always only
        if enabled == "always" and defrag == "always" and rate >= min_stalls:
            yield Finding(
                subject=Subject.HOST,
                message=(
                    f"direct compaction stalls averaged {fmt_rate(rate)} since boot "
                    f"({int(row['compact_stall'])} in {float(uptime) / 3600:.1f} h) with THP "
                    f"defrag={defrag}: {STALLING_DEFRAG[defrag]} may stall"
                ),
                evidence={**base, "compact_stall_per_s_since_boot": round(rate, 3)},
            )
        return

    counters = ["compact_stall", "compact_fail", "compact_success", "thp_fault_alloc"]
    counters.append("thp_fault_fallback")
    window = window_rates(vmstat, counters)
    if window.seconds <= 0:
        raise Skip("no interval between two vmstat snapshots")
    stalls = window.mean_rate("compact_stall")
    peak, peak_at = window.peak("compact_stall")
    thp_faults = window.total("thp_fault_alloc") + window.total("thp_fault_fallback")
    evidence = {
        **base,
        "window_s": round(window.seconds, 1),
        "compact_stall_per_s": round(stalls, 3),
        "compact_stall_peak_per_s": round(peak, 3),
        "compact_stall_delta": window.total("compact_stall"),
        "compact_fail_delta": window.total("compact_fail"),
        "thp_fault_alloc_per_s": round(window.mean_rate("thp_fault_alloc"), 3),
        "thp_fault_fallback_per_s": round(window.mean_rate("thp_fault_fallback"), 3),
    }
    # THP only causes the stalls when it is on and faulted in the window (else: FRAG001).
    thp_in_use = enabled == "always" or (enabled == "madvise" and thp_faults > 0)
    stalling = thp_in_use and thp_faults > 0 and defrag in STALLING_DEFRAG
    if stalling and stalls >= min_stalls and defrag is not None:
        done = window.total("compact_fail") + window.total("compact_success")
        failed = f", {100 * window.total('compact_fail') / done:.0f}% failed" if done else ""
        yield Finding(
            subject=Subject.HOST,
            message=(
                f"direct compaction stalls {fmt_rate(stalls)} over {window.seconds:.0f} s "
                f"(peak {fmt_rate(peak)} at {when(peak_at)}{failed}) with THP defrag={defrag}: "
                f"{STALLING_DEFRAG[defrag]} may stall; thp_fault_alloc "
                f"{fmt_rate(evidence['thp_fault_alloc_per_s'])}, thp_fault_fallback "
                f"{fmt_rate(evidence['thp_fault_fallback_per_s'])}"
            ),
            start=stamp(window.start),
            end=stamp(window.end),
            evidence=evidence,
        )

    cpu, cpu_peak, cpu_at = _khugepaged_cpu(ctx.table("process_samples"))
    if cpu >= max_cpu and enabled in ("always", "madvise"):
        yield Finding(
            subject=Subject.HOST,
            message=(
                f"khugepaged used {100 * cpu:.0f}% of a CPU over {window.seconds:.0f} s (peak "
                f"{100 * cpu_peak:.0f}% at {when(cpu_at)}) with THP enabled={enabled}, "
                f"khugepaged/defrag={khugepaged_defrag}"
            ),
            start=stamp(window.start),
            end=stamp(window.end),
            evidence={
                **base,
                "khugepaged_cpu_share": round(cpu, 3),
                "khugepaged_cpu_peak_share": round(cpu_peak, 3),
            },
        )
