"""MEM002 process-memory-growth: a process whose private memory grows steadily."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from vmanalyze import Finding, HostFacts, RuleContext, Setting, Severity, Subject, rule

from vmrules._common import MIB, duration, mib, rnd, timed, when
from vmrules._growth import least_squares


@dataclass(frozen=True)
class Growth:
    """A least-squares line through one process's memory samples."""

    pid: int
    starttime: int
    comm: str
    measure: str
    samples: int
    first_ts: pd.Timestamp
    last_ts: pd.Timestamp
    seconds: float
    first_bytes: float
    last_bytes: float
    slope_bytes_per_s: float
    r2: float
    rising_share: float


def measure_of(proc: pd.DataFrame) -> tuple[str, pd.Series] | None:
    """The memory series of one process: anonymous RSS + VmSwap when both are known.

    Anonymous RSS leaves out shared memory and mapped files (a database touching its shared
    buffers is not growing); VmSwap is added when it was captured in every sample, so memory
    that leaks into swap still counts. Falls back to RSS when the split is unknown.
    """
    if "rss_anon_bytes" in proc.columns and proc["rss_anon_bytes"].notna().all():
        values = proc["rss_anon_bytes"].astype(float)
        name = "anonymous RSS"
        if "vm_swap_bytes" in proc.columns and proc["vm_swap_bytes"].notna().all():
            values = values + proc["vm_swap_bytes"].astype(float)
            name = "anonymous RSS + swap"
        return name, values
    if "rss_bytes" in proc.columns and proc["rss_bytes"].notna().all():
        return "RSS", proc["rss_bytes"].astype(float)
    return None


def fit(key: tuple[int, int], proc: pd.DataFrame) -> Growth | None:
    """Fit memory = a + b * t for one process (rows sorted by time)."""
    measured = measure_of(proc)
    if measured is None:
        return None
    name, values = measured
    t = (proc["ts"] - proc["ts"].iloc[0]).dt.total_seconds().to_numpy(dtype=float)
    y = values.to_numpy(dtype=float)
    if t[-1] <= 0:
        return None
    slope, r2 = least_squares(t, y)
    steps = np.diff(y)
    return Growth(
        pid=int(key[0]),
        starttime=int(key[1]),
        comm=str(proc["comm"].iloc[-1]),
        measure=name,
        samples=len(proc),
        first_ts=proc["ts"].iloc[0],
        last_ts=proc["ts"].iloc[-1],
        seconds=float(t[-1]),
        first_bytes=float(y[0]),
        last_bytes=float(y[-1]),
        slope_bytes_per_s=slope,
        r2=r2,
        rising_share=float((steps >= 0).mean()) if len(steps) else 0.0,
    )


def candidates(
    ordered: pd.DataFrame, min_samples: int, min_span: float, min_growth: float, min_r2: float
) -> np.ndarray:
    """Rows of the processes whose line could pass, all fitted at once (rows sorted by ts).

    The measure of :func:`measure_of` per process, then the least-squares slope and R² from
    per-process sums of the centred values; the caller fits the few that pass with
    :func:`fit`, whose numbers the finding reports.
    """
    keys = [ordered["pid"], ordered["starttime"]]
    group = ordered.groupby(keys, sort=False).ngroup().to_numpy()

    def every(column: str) -> np.ndarray:
        if column not in ordered.columns:
            return np.zeros(len(ordered), bool)
        known = ordered[column].notna().to_numpy()
        return np.bincount(group, weights=~known)[group] == 0

    def values(column: str) -> np.ndarray:
        return ordered[column].to_numpy(dtype=float, na_value=np.nan)

    anon, swap, rss = every("rss_anon_bytes"), every("vm_swap_bytes"), every("rss_bytes")
    y = np.full(len(ordered), np.nan)
    if rss.any():
        y = np.where(rss, values("rss_bytes"), y)
    if anon.any():
        anon_y = values("rss_anon_bytes")
        if swap.any():
            anon_y = anon_y + np.where(swap, values("vm_swap_bytes"), 0.0)
        y = np.where(anon, anon_y, y)
    seconds = (ordered["ts"] - ordered["ts"].min()).dt.total_seconds().to_numpy(dtype=float)
    count = np.bincount(group)
    first = np.full(count.size, np.inf)
    last = np.full(count.size, -np.inf)
    np.minimum.at(first, group, seconds)
    np.maximum.at(last, group, seconds)
    t = seconds - (np.bincount(group, weights=seconds) / count)[group]
    known = ~np.isnan(y)
    y_sum = np.bincount(group, weights=np.where(known, y, 0.0))
    y_centred = np.where(known, y - (y_sum / count)[group], 0.0)
    stt = np.bincount(group, weights=t * t)
    sty = np.bincount(group, weights=t * y_centred)
    syy = np.bincount(group, weights=y_centred * y_centred)
    all_known = np.bincount(group, weights=~known) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(stt > 0, sty / stt, 0.0)
        r2 = np.where((stt > 0) & (syy > 0), sty * sty / (stt * syy), 0.0)
    span = last - first
    passing = (
        all_known
        & (count >= min_samples)
        & (span >= min_span)
        & (slope * span >= min_growth)
        & (r2 >= min_r2)
    )
    return passing[group]


@rule(
    code="MEM002",
    name="process-memory-growth",
    severity=Severity.WARNING,
    chart="memory",
    harm="measured",
    explains=("MEM001", "SWP002", "OOM001"),
    requires=("process_samples",),
    optional=("meminfo",),
    settings=[
        Setting(
            "min_growth_mib",
            64.0,
            "Growth of the fitted line over the process's observed time (MiB) below which "
            "a process is not reported. "
            "Our choice: 64 MiB, below it growth is noise on a server.",
        ),
        Setting(
            "min_r2",
            0.9,
            "Coefficient of determination (R², 0-1) of the linear fit at or above which the "
            "growth counts as steady (a leak draws a straight line, R² close to 1). Lower it "
            "for garbage-collected heaps whose sawtooth hides the trend. "
            "Our choice: 0.9, a straight line.",
        ),
        Setting(
            "min_coverage",
            0.8,
            "Share of the window (0-1) the process must be seen for: growth across the "
            "bundle, not a process that starts and exits inside it. "
            "Our choice: 80% of the window.",
        ),
        Setting(
            "min_samples",
            5,
            "Fewest samples of the process needed to fit a line. Our choice: five points, "
            "so that one outlier cannot make a line.",
        ),
        Setting(
            "min_age_s",
            300.0,
            "A process that started during the capture, or less than this many seconds "
            "before it, is reported as info at most: growth since start is what warming up "
            "looks like (imports, caches, a database being filled). Our choice: services "
            "usually warm up within minutes; five minutes keeps a leak in a long-running "
            "process a warning.",
        ),
        Setting(
            "max_exhaust_hours",
            24.0,
            "A process whose projected time to exhaust MemAvailable is longer than this "
            "(hours) is reported as info, not warning. "
            "Our choice: a day, longer than a capture can extrapolate.",
        ),
    ],
)
def process_memory_growth(ctx: RuleContext) -> Iterator[Finding]:
    """A process's private memory grows steadily across the whole window.

    ## What it does
    For every process (pid + start time) seen in at least `min_coverage` of the window and
    `min_samples` samples, fits a least-squares line to its anonymous RSS (`RssAnon`, plus
    `VmSwap` when captured in every sample; `RSS` when the split is unknown) against time. It
    reports the process when the line grows by at least `min_growth_mib` over the time it was
    seen and fits with R² >= `min_r2`: slope, fit quality, start and end sizes, the share of
    intervals in which memory rose, and the time until MemAvailable (last snapshot) would be
    used up at that slope.

    A process that started during the capture or less than `min_age_s` before it (its
    `starttime` dated with the boot time and clock tick of the bundle; without them, a
    process absent from the first snapshot) is at most info: "growing since it started: may be
    warming up". So is growth measured on total RSS alone (no `RssAnon`): it may be shared
    memory (a database touching its shared buffers), not private growth.

    ## Why is this bad?
    Memory that grows at a constant rate and never falls back is the signature of a leak or an
    unbounded cache. It ends with the host reclaiming, swapping and finally OOM-killing, often
    another process than the one growing.

    ## Example
    `memory-leak` sample bundle: "leaky-cache (pid 5794) anonymous RSS grew from 15 MiB to
    541 MiB in 35 s: 15.0 MiB/s, R² 1.00, rising in 100% of intervals; MemAvailable
    (22.6 GiB) used up in 25 min at that rate".

    ## Remediation
    Check whether the growth is expected (a cache warming up, a load test filling a database:
    in a short capture it draws the same line as a leak):
    if not, take a heap profile of the process and fix the leak; bound its caches; restart it as
    a stop-gap, or cap it with a cgroup memory limit (`memory.max`) so it cannot take the host
    down with it.

    ## References
    - https://man7.org/linux/man-pages/man5/proc_pid_status.5.html (RssAnon, VmSwap)
    - https://docs.kernel.org/filesystems/proc.html
    """
    ctx.require_samples(2)  # growth needs a time series: one snapshot says so, not silence
    procs = ctx.tables["process_samples"]
    if not timed(procs):
        return  # a single snapshot: no growth to see
    window = float((procs["ts"].max() - procs["ts"].min()).total_seconds())
    if window <= 0:
        return  # a single snapshot: no growth to see
    min_samples = int(ctx.settings["min_samples"])
    min_cov = float(ctx.settings["min_coverage"])
    min_growth = float(ctx.settings["min_growth_mib"]) * MIB
    min_r2 = float(ctx.settings["min_r2"])
    meminfo = ctx.table("meminfo")
    available: float | None = None
    if meminfo is not None and "mem_available_bytes" in meminfo.columns:
        last = meminfo.sort_values("ts")["mem_available_bytes"].dropna()
        available = float(last.iloc[-1]) if not last.empty else None

    found: list[Growth] = []
    ordered = procs.sort_values("ts", kind="stable")
    # Fit every process at once with a loose bar, then each one that may pass exactly: a
    # host runs thousands of processes and a line per process costs a millisecond.
    maybe = ordered[
        candidates(ordered, min_samples, min_cov * window, 0.99 * min_growth, min_r2 - 0.01)
    ]
    for key, proc in maybe.groupby(["pid", "starttime"], sort=False):
        growth = fit((int(key[0]), int(key[1])), proc)  # samples and coverage: checked
        if growth is None:
            continue
        if growth.slope_bytes_per_s * growth.seconds < min_growth or growth.r2 < min_r2:
            continue
        found.append(growth)

    found.sort(key=lambda g: -g.slope_bytes_per_s)
    facts = HostFacts.from_mapping(ctx.host)
    window_start = procs["ts"].min()
    min_age = float(ctx.settings["min_age_s"])
    limit_h = float(ctx.settings["max_exhaust_hours"])
    for g in found:
        rate = g.slope_bytes_per_s
        evidence: dict[str, object] = {
            "pid": g.pid,
            "starttime": g.starttime,
            "comm": g.comm,
            "measure": g.measure,
            "samples": g.samples,
            "seconds": rnd(g.seconds, 1),
            "coverage": rnd(g.seconds / window, 3),
            "first_mib": mib(g.first_bytes),
            "last_mib": mib(g.last_bytes),
            "slope_mib_per_s": rnd(rate / MIB, 3),
            "slope_mib_per_h": rnd(rate * 3600 / MIB, 1),
            "r2": rnd(g.r2, 4),
            "rising_share": rnd(g.rising_share, 3),
        }
        message = (
            f"{g.comm} (pid {g.pid}) {g.measure} grew from {mib(g.first_bytes)} MiB to "
            f"{mib(g.last_bytes)} MiB in {g.seconds:.0f} s ({when(g.first_ts)} to "
            f"{when(g.last_ts)}): {rate / MIB:.2f} MiB/s, R² {g.r2:.2f}, rising in "
            f"{g.rising_share:.0%} of intervals"
        )
        severity = None
        reason = None
        if available is not None:
            exhaust_s = available / rate
            evidence["mem_available_mib"] = mib(available)
            evidence["exhaust_seconds"] = rnd(exhaust_s, 0)
            message += (
                f"; at that rate MemAvailable ({mib(available)} MiB) is used up in "
                f"{duration(exhaust_s)}"
            )
            if exhaust_s > limit_h * 3600:
                severity = Severity.INFO
                reason = f"MemAvailable would last more than {limit_h:g} h at this rate"
        started = facts.process_start(g.starttime)
        if started is not None:
            evidence["started"] = started.isoformat()
            young = started >= window_start - pd.Timedelta(seconds=min_age)
            age = (window_start - started).total_seconds()
            since = (
                f"{age:.0f} s before the capture began"
                if age > 0
                else f"{-age:.0f} s into the capture"
            )
        else:  # no boot time: the process was not there in the first snapshot
            young = bool(g.first_ts > window_start)
            since = "during the capture"
        if young:
            severity, reason = Severity.INFO, f"started {since}: may be warming up"
            message += f"; growing since it started ({since}): may be warming up"
        elif g.measure == "RSS":
            severity = Severity.INFO
            reason = "only total RSS is known: the growth may be shared memory"
            message += "; only total RSS is known, which counts shared memory too"
        yield Finding(
            message=message,
            subject=Subject.process(g.pid, g.comm),
            start=g.first_ts,
            end=g.last_ts,
            evidence=evidence,
            severity=severity,
            severity_reason=reason,
        )
