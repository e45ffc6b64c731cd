"""Chart series from the tables, and min/max downsampling that keeps every peak.

Each chart is a :class:`Chart`: one x axis (UTC seconds since the epoch), series of values in
one unit (``bytes``, ``rate``, ``pct``) on the left axis and optionally a second unit on the
right, and either data or the reason there is none for this input (``empty``). The browser
draws them with uPlot (``static/report.js``); nothing here knows about HTML.

Rates of cumulative kernel counters come from :func:`vmanalyze.rates.counter_rates` (a reset
gives a gap, not a negative rate); a PSI stall share is ``delta total_us / (interval_s * 1e6)``.

>>> x = np.arange(10.0)
>>> xs, (ys,) = minmax_downsample(x, [np.array([0, 1, 9, 1, 0, 0, -5, 0, 1, 0.0])], 4)
>>> xs.tolist(), ys.tolist()
([0.0, 4.0, 5.0, 9.0], [0.0, 9.0, -5.0, 1.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from vmanalyze.rates import counter_rates, stall_pct

from vmreports.units import human_bytes

__all__ = [
    "Chart",
    "Mark",
    "Series",
    "build_charts",
    "epoch_seconds",
    "minmax_downsample",
]

Unit = Literal["bytes", "bytes_per_s", "rate", "pct"]

#: Points per series at most; longer series are downsampled (min and max of each bucket).
MAX_POINTS = 2000

ONE_SNAPSHOT = "This input holds a single snapshot (a sosreport or one sample): no time series."


@dataclass
class Series:
    """One line: its label, colour, values (aligned with the chart's x) and axis."""

    label: str
    color: str
    values: np.ndarray
    axis: Literal["y", "y2"] = "y"
    dash: bool = False
    width: float = 1.5
    fill: bool = False
    stack: bool = False


@dataclass(frozen=True)
class Mark:
    """A finding's time window, shaded on a chart (UTC epoch seconds)."""

    start: float
    end: float
    severity: str
    code: str
    label: str
    #: ``"before"`` / ``"after"`` when the window lies outside the charted samples: drawn as
    #: a labelled marker at that edge, not as a sliver of shading.
    outside: str | None = None


@dataclass
class Chart:
    """One chart: its data, or ``empty`` saying why this input has none."""

    id: str
    title: str
    description: str
    unit: Unit
    x: np.ndarray = field(default_factory=lambda: np.empty(0))
    series: list[Series] = field(default_factory=list)
    unit2: Unit | None = None
    empty: str | None = None
    note: str | None = None
    marks: list[Mark] = field(default_factory=list)
    points_before: int = 0
    #: What a "rate" axis counts per second (``faults/s``); the other units name themselves.
    rate_unit: str = "events/s"

    def axis_label(self, unit: Unit | None) -> str | None:
        """The y axis title: every axis says its unit.

        >>> c = Chart("f", "t", "d", "rate", rate_unit="faults/s", unit2="bytes")
        >>> c.axis_label(c.unit), c.axis_label(c.unit2), c.axis_label(None)
        ('faults/s', 'bytes', None)
        """
        if unit is None:
            return None
        return {"bytes": "bytes", "bytes_per_s": "bytes/s", "pct": "% of time"}.get(
            unit, self.rate_unit
        )

    @property
    def drawn(self) -> bool:
        return self.empty is None

    def to_json(self) -> dict[str, Any]:
        """The chart as plain JSON types (NaN -> null), values rounded for their unit."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "unit2": self.unit2,
            "label": self.axis_label(self.unit),
            "label2": self.axis_label(self.unit2),
            "empty": self.empty,
            "marks": [m.__dict__ for m in self.marks],
        }
        if self.empty is None:
            out["x"] = _clean(self.x, 3)
            out["series"] = [
                {
                    "label": s.label,
                    "color": s.color,
                    "axis": s.axis,
                    "dash": s.dash,
                    "width": s.width,
                    "fill": s.fill,
                    "stack": s.stack,
                    "values": _clean(
                        s.values, _digits(self.unit2 if s.axis == "y2" else self.unit)
                    ),
                }
                for s in self.series
            ]
        return out


def _digits(unit: Unit | None) -> int:
    return {"bytes": 0, "bytes_per_s": 0, "rate": 2, "pct": 3}.get(unit or "rate", 2)


def _clean(values: np.ndarray, digits: int) -> list[float | int | None]:
    """JSON-ready numbers: NaN and infinities -> None, rounded to ``digits``.

    >>> _clean(np.array([1.23456, np.nan, 2048.0]), 2), _clean(np.array([3.7]), 0)
    ([1.23, None, 2048.0], [4])
    """
    rounded = np.round(np.asarray(values, dtype="float64"), digits)
    finite = np.isfinite(rounded)
    items = rounded.astype("int64").tolist() if digits == 0 else rounded.tolist()
    if finite.all():
        return items
    return [v if ok else None for v, ok in zip(items, finite.tolist(), strict=True)]


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    """UTC timestamps (aware or naive-as-UTC) as float seconds since the epoch.

    >>> epoch_seconds(pd.Series(pd.to_datetime(["1970-01-01 00:00:01.5"], utc=True))).tolist()
    [1.5]
    """
    values = pd.to_datetime(ts, utc=True)
    return np.asarray((values - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), dtype="float64")


def minmax_downsample(
    x: np.ndarray, ys: Sequence[np.ndarray], max_points: int = MAX_POINTS
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cut ``x`` and the series ``ys`` to at most ``max_points`` points, keeping every peak.

    The points are split into ``max_points // 2`` buckets of consecutive samples. Each bucket
    becomes two points, at its first and its last x: every series gets its minimum and its
    maximum in the bucket, in the order they occurred. So the highest and lowest value of
    every series survives exactly (shifted in time by less than one bucket), and a spike
    of a single sample is never averaged away. NaN (a gap) is ignored; an all-NaN bucket
    stays NaN. Shorter input is returned unchanged.

    >>> x = np.arange(8.0)
    >>> xs, (a, b) = minmax_downsample(x, [np.arange(8.0), np.array([5, 0, 0, 0, 0, 0, 7, 0.0])], 4)
    >>> xs.tolist(), a.tolist(), b.tolist()
    ([0.0, 3.0, 4.0, 7.0], [0.0, 3.0, 4.0, 7.0], [5.0, 0.0, 0.0, 7.0])
    >>> minmax_downsample(np.arange(3.0), [np.ones(3)], 4)[0].tolist()
    [0.0, 1.0, 2.0]
    """
    n = len(x)
    if n <= max_points or max_points < 2:
        return x, [np.asarray(y) for y in ys]
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype("int64")
    starts, ends = edges[:-1], edges[1:] - 1  # inclusive bucket bounds (each has >= 2 points)
    x_out = np.empty(2 * buckets, dtype="float64")
    x_out[0::2] = x[starts]
    x_out[1::2] = x[ends]
    ys_out: list[np.ndarray] = []
    for y in ys:
        values = np.asarray(y, dtype="float64")
        out = np.full(2 * buckets, np.nan)
        low = np.where(np.isnan(values), np.inf, values)
        high = np.where(np.isnan(values), -np.inf, values)
        for b, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            i_min = s + int(np.argmin(low[s : e + 1]))
            i_max = s + int(np.argmax(high[s : e + 1]))
            if math.isinf(low[i_min]):
                continue  # the whole bucket is a gap
            first, second = (i_min, i_max) if i_min <= i_max else (i_max, i_min)
            out[2 * b], out[2 * b + 1] = values[first], values[second]
        ys_out.append(out)
    return x_out, ys_out


# -- extraction --------------------------------------------------------------------------


def _edge_snapshots(tables: Mapping[str, pd.DataFrame]) -> set[int]:
    """The start and end snapshots (``samples.phase``), when the input has periodic samples."""
    samples = tables.get("samples")
    if not isinstance(samples, pd.DataFrame) or not {"phase", "snapshot"} <= set(samples):
        return set()
    if int((samples["phase"] == "sample").sum()) < 2:
        return set()  # a one-shot input: its only snapshots are what there is
    return set(samples.loc[samples["phase"] != "sample", "snapshot"].tolist())


def _table(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    """A time series to chart: its samples only.

    The start and end snapshots are taken right before the first and after the last sample
    (87 ms after it, in one bundle): as chart points they would add a spurious last
    interval, with a rate computed over milliseconds, and become the legend's resting value.
    """
    df = tables.get(name)
    if not isinstance(df, pd.DataFrame) or df.empty or "ts" not in df.columns:
        return None
    df = df[df["ts"].notna()]
    edges = _edge_snapshots(tables)
    if edges and "snapshot" in df.columns:
        df = df[~df["snapshot"].isin(edges)]
    return df if not df.empty else None


def _by_time(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by time, one per timestamp."""
    return df.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")


def _meminfo_timeline(chart: Chart, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """meminfo one row per time, or None with the chart's reason set (absent, one snapshot)."""
    df = _table(tables, "meminfo")
    if df is None:
        chart.empty = "No /proc/meminfo in this input."
        return None
    df = _by_time(df)
    if len(df) < 2:
        chart.empty = ONE_SNAPSHOT
        return None
    return df


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return np.asarray(pd.to_numeric(df[name], errors="coerce"), dtype="float64")


def _has_data(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).any())


def memory_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Used, page cache, anonymous, slab, free and available memory from meminfo.

    ``used`` is what ``free(1)`` calls used: MemTotal - MemFree - Buffers - Cached -
    SReclaimable; ``page cache`` is Cached + Buffers (shmem included, as the kernel counts it).
    """
    chart = Chart(
        "memory",
        "Memory breakdown",
        "Where the RAM goes (meminfo). Available estimates what a new workload can get "
        "without swapping: a falling Available is the warning sign.",
        "bytes",
    )
    df = _meminfo_timeline(chart, tables)
    if df is None:
        return chart
    total = _col(df, "mem_total_bytes")
    free = _col(df, "mem_free_bytes")
    buffers = np.nan_to_num(_col(df, "buffers_bytes"))
    cached = _col(df, "cached_bytes")
    sreclaim = np.nan_to_num(_col(df, "s_reclaimable_bytes"))
    chart.x = epoch_seconds(df["ts"])
    chart.series = [
        Series("Used", "#2563eb", total - free - buffers - cached - sreclaim, width=2),
        Series("Page cache", "#16a34a", cached + buffers),
        Series("Anonymous", "#9333ea", _col(df, "anon_pages_bytes")),
        Series("Slab", "#ea580c", _col(df, "slab_bytes")),
        Series("Free", "#94a3b8", free),
        Series("Available", "#0891b2", _col(df, "mem_available_bytes"), dash=True, width=2),
    ]
    chart.series = [s for s in chart.series if _has_data(s.values)]
    if np.isfinite(total).any():
        chart.description += f" MemTotal {human_bytes(float(np.nanmax(total)))}."
    return chart


def _vmstat_rates(tables: Mapping[str, pd.DataFrame], counters: Sequence[str]) -> pd.DataFrame:
    df = _table(tables, "vmstat")
    if df is None:
        return pd.DataFrame()
    return counter_rates(_by_time(df), list(counters))


def faults_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Major faults per second, stacked by cause: swap-in, file refaults, other.

    pswpin counts pages, and swap readahead brings in several pages per fault, so the split is
    capped at the fault count: swap-in = min(pswpin, pgmajfault), file refaults =
    min(workingset_refault_file, what is left), other = the rest. The raw page rates are on
    the swap chart.
    """
    chart = Chart(
        "faults",
        "Major page faults by cause",
        "Faults that waited for I/O (pgmajfault), stacked by cause: swap-in (pswpin), file "
        "refaults (workingset_refault_file) and other; capped at the fault count.",
        "rate",
        rate_unit="faults/s",
    )
    rates = _vmstat_rates(tables, ("pgmajfault", "pswpin", "workingset_refault_file"))
    if rates.empty or "pgmajfault_per_s" not in rates.columns:
        chart.empty = _no_rates_reason(tables, "vmstat")
        return chart
    total = _col(rates, "pgmajfault_per_s")
    known = np.nan_to_num(total)
    swapin = np.minimum(np.nan_to_num(_col(rates, "pswpin_per_s")), known)
    refault = np.minimum(
        np.nan_to_num(_col(rates, "workingset_refault_file_per_s")), known - swapin
    )
    other = known - swapin - refault
    gap = np.isnan(total)
    chart.x = epoch_seconds(rates["ts"])
    chart.series = [
        Series("Swap-in", "#dc2626", np.where(gap, np.nan, swapin), fill=True, stack=True),
        Series("File refaults", "#d97706", np.where(gap, np.nan, refault), fill=True, stack=True),
        Series("Other", "#94a3b8", np.where(gap, np.nan, other), fill=True, stack=True),
        Series("All major faults", "#111827", total, width=1.5),
    ]
    if not known.any():
        chart.note = "No major faults during the capture."
    return chart


def _no_rates_reason(tables: Mapping[str, pd.DataFrame], name: str) -> str:
    df = _table(tables, name)
    if df is None:
        return f"No {name} data in this input."
    if len(_by_time(df)) < 2:
        return ONE_SNAPSHOT + " Rates need two samples."
    return f"The {name} counters this chart needs are not in this input."


def swap_chart(tables: Mapping[str, pd.DataFrame], page_size: int) -> Chart:
    """Swap-in and swap-out in bytes per second, and swap in use (right axis)."""
    chart = Chart(
        "swap",
        "Swap traffic",
        "Bytes written to swap (pswpout) and read back (pswpin) per second; both at once, "
        "sustained, is thrashing. Dashed: swap in use (right axis).",
        "bytes_per_s",
        unit2="bytes",
    )
    rates = _vmstat_rates(tables, ("pswpin", "pswpout"))
    meminfo = _table(tables, "meminfo")
    swap_total = 0.0
    if meminfo is not None:
        swap_total = float(np.nanmax(_col(meminfo, "swap_total_bytes"), initial=0.0))
    if rates.empty or "pswpin_per_s" not in rates.columns:
        chart.empty = _no_rates_reason(tables, "vmstat")
        return chart
    swapin = _col(rates, "pswpin_per_s") * page_size
    swapout = _col(rates, "pswpout_per_s") * page_size
    traffic = bool(np.nan_to_num(swapin).any() or np.nan_to_num(swapout).any())
    if swap_total <= 0 and not traffic:
        chart.empty = "No swap is configured on this host (SwapTotal 0) and nothing was swapped."
        return chart
    chart.x = epoch_seconds(rates["ts"])
    chart.series = [
        Series("Swap-in", "#dc2626", swapin, width=2),
        Series("Swap-out", "#2563eb", swapout, width=2),
    ]
    if meminfo is not None:
        levels = _by_time(meminfo)
        used = _col(levels, "swap_total_bytes") - _col(levels, "swap_free_bytes")
        aligned = pd.Series(used, index=epoch_seconds(levels["ts"]))
        aligned = aligned[~aligned.index.duplicated()]
        chart.series.append(
            Series(
                "Swap used",
                "#9333ea",
                aligned.reindex(chart.x).to_numpy(dtype="float64"),
                axis="y2",
                dash=True,
            )
        )
    if not traffic:
        chart.note = "No swap traffic during the capture."
    return chart


def psi_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Share of time some / all tasks stalled on memory (PSI), per interval, in percent."""
    chart = Chart(
        "psi",
        "Memory pressure stall (PSI)",
        "Share of time in which some task, or every runnable task (full), waited for memory, "
        "per sample interval (/proc/pressure/memory).",
        "pct",
    )
    df = _table(tables, "pressure_memory")
    if df is None:
        chart.empty = (
            "No /proc/pressure/memory in this input (kernel older than 4.20, or PSI "
            "disabled: psi=0 on the kernel command line)."
        )
        return chart
    rates = counter_rates(_by_time(df), ["some_total_us", "full_total_us"])
    if rates.empty:
        chart.empty = ONE_SNAPSHOT + " Stall shares need two samples."
        return chart
    interval_s = np.asarray(rates["interval_s"], dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        some = stall_pct(_col(rates, "some_total_us_delta"), interval_s)
        full = stall_pct(_col(rates, "full_total_us_delta"), interval_s)
    chart.x = epoch_seconds(rates["ts"])
    chart.series = [
        Series("some", "#d97706", np.clip(some, 0, 100), width=2, fill=True),
        Series("full", "#dc2626", np.clip(full, 0, 100), width=2, fill=True),
    ]
    if not np.nan_to_num(some).any():
        chart.note = "No task stalled on memory during the capture."
    return chart


_NODE_COLORS = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#65a30d")


def _nodes(df: pd.DataFrame) -> list[int]:
    return sorted(int(n) for n in df["node"].dropna().unique())


def _several_nodes(
    chart: Chart, df: pd.DataFrame | None, missing: str, single: str
) -> list[int] | None:
    """The nodes of a per-node table, or None after saying on the chart why there is nothing
    to compare (no such table, or one node)."""
    if df is None or "node" not in df.columns:
        chart.empty = missing
        return None
    nodes = _nodes(df)
    if len(nodes) < 2:
        chart.empty = (
            f"This host has a single NUMA node (node {nodes[0] if nodes else 0}): {single}"
        )
        return None
    return nodes


def numa_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Per node: pages allocated on the local node vs on another node, per second."""
    chart = Chart(
        "numa",
        "NUMA allocations by node",
        "Pages allocated per second on each node's own memory (local_node, solid) and on "
        "another node (other_node, dashed): remote memory is slower.",
        "rate",
        rate_unit="pages/s",
    )
    df = _table(tables, "sys_node_numastat")
    nodes = _several_nodes(
        chart,
        df,
        "No per-node NUMA statistics in this input (/sys/devices/system/node).",
        "every allocation is local, there is nothing to compare.",
    )
    if df is None or nodes is None:
        return chart
    rates = counter_rates(df, ["local_node", "other_node"], by=["node"])
    if rates.empty:
        chart.empty = ONE_SNAPSHOT + " Rates need two samples."
        return chart
    chart.x, columns = _pivot_nodes(rates, ["local_node_per_s", "other_node_per_s"], nodes)
    for i, node in enumerate(nodes):
        color = _NODE_COLORS[i % len(_NODE_COLORS)]
        chart.series.append(Series(f"node {node} local", color, columns[(node, 0)], width=2))
        chart.series.append(Series(f"node {node} remote", color, columns[(node, 1)], dash=True))
    return chart


def numa_free_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Free memory of each NUMA node."""
    chart = Chart(
        "numa_free",
        "Free memory by NUMA node",
        "MemFree of each node: one node running out while another has room means remote "
        "allocations or local reclaim.",
        "bytes",
    )
    df = _table(tables, "sys_node_meminfo")
    nodes = _several_nodes(
        chart,
        df,
        "No per-node memory information in this input.",
        "its free memory is the host's, shown in the memory breakdown.",
    )
    if df is None or nodes is None:
        return chart
    if df["ts"].nunique() < 2:
        chart.empty = ONE_SNAPSHOT
        return chart
    chart.x, columns = _pivot_nodes(df, ["mem_free_bytes"], nodes)
    for i, node in enumerate(nodes):
        color = _NODE_COLORS[i % len(_NODE_COLORS)]
        chart.series.append(Series(f"node {node} free", color, columns[(node, 0)], width=2))
    return chart


def _pivot_nodes(
    df: pd.DataFrame, columns: Sequence[str], nodes: Sequence[int]
) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """One x for all nodes (the union of times); node values aligned on it (NaN if absent)."""
    df = df.sort_values("ts", kind="stable")
    x = np.unique(epoch_seconds(df["ts"]))
    out: dict[tuple[int, int], np.ndarray] = {}
    for node in nodes:
        part = df[df["node"] == node].drop_duplicates("ts", keep="last")
        times = epoch_seconds(part["ts"])
        for j, column in enumerate(columns):
            series = pd.Series(_col(part, column), index=times)
            out[(node, j)] = series.reindex(x).to_numpy(dtype="float64")
    return x, out


def thp_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """THP faults that got a huge page vs fell back to small pages; AnonHugePages (right)."""
    chart = Chart(
        "thp",
        "Transparent huge pages",
        "Faults served with a huge page (thp_fault_alloc) and those that fell back to small "
        "pages (thp_fault_fallback), per second. Dashed: AnonHugePages (right axis).",
        "rate",
        unit2="bytes",
        rate_unit="faults/s",
    )
    rates = _vmstat_rates(tables, ("thp_fault_alloc", "thp_fault_fallback"))
    if rates.empty or "thp_fault_alloc_per_s" not in rates.columns:
        chart.empty = _no_rates_reason(tables, "vmstat")
        if "counters" in chart.empty:
            chart.empty = "The kernel reports no THP counters (built without THP support)."
        return chart
    chart.x = epoch_seconds(rates["ts"])
    alloc = _col(rates, "thp_fault_alloc_per_s")
    fallback = _col(rates, "thp_fault_fallback_per_s")
    chart.series = [
        Series("Huge page faults", "#16a34a", alloc, width=2),
        Series("Fallbacks", "#dc2626", fallback, width=2),
    ]
    meminfo = _table(tables, "meminfo")
    if meminfo is not None and "anon_hugepages_bytes" in meminfo.columns:
        levels = _by_time(meminfo)
        aligned = pd.Series(_col(levels, "anon_hugepages_bytes"), index=epoch_seconds(levels["ts"]))
        aligned = aligned[~aligned.index.duplicated()]
        chart.series.append(
            Series(
                "AnonHugePages",
                "#9333ea",
                aligned.reindex(chart.x).to_numpy(dtype="float64"),
                axis="y2",
                dash=True,
            )
        )
    if not (np.nan_to_num(alloc).any() or np.nan_to_num(fallback).any()):
        chart.note = "No THP faults during the capture."
    return chart


def commit_chart(tables: Mapping[str, pd.DataFrame]) -> Chart:
    """Committed_AS against CommitLimit and against RAM + swap."""
    chart = Chart(
        "commit",
        "Committed memory",
        "Memory promised to processes (Committed_AS) against CommitLimit (enforced only with "
        "vm.overcommit_memory=2) and RAM + swap, above which promises cannot all be kept.",
        "bytes",
    )
    df = _meminfo_timeline(chart, tables)
    if df is None:
        return chart
    chart.x = epoch_seconds(df["ts"])
    chart.series = [
        Series("Committed_AS", "#dc2626", _col(df, "committed_as_bytes"), width=2, fill=True),
        Series("CommitLimit", "#111827", _col(df, "commit_limit_bytes"), dash=True),
        Series(
            "RAM + swap",
            "#64748b",
            _col(df, "mem_total_bytes") + np.nan_to_num(_col(df, "swap_total_bytes")),
            dash=True,
        ),
    ]
    chart.series = [s for s in chart.series if _has_data(s.values)]
    if not chart.series:
        chart.empty = "meminfo has no Committed_AS or CommitLimit."
    return chart


def build_charts(
    tables: Mapping[str, pd.DataFrame], *, page_size: int = 4096, max_points: int = MAX_POINTS
) -> list[Chart]:
    """Every chart of the report, in order, each downsampled to ``max_points``."""
    charts = [
        memory_chart(tables),
        faults_chart(tables),
        swap_chart(tables, page_size),
        psi_chart(tables),
        numa_chart(tables),
        numa_free_chart(tables),
        thp_chart(tables),
        commit_chart(tables),
    ]
    for chart in charts:
        chart.points_before = len(chart.x)
        if chart.empty is None and chart.series:
            chart.x, values = minmax_downsample(
                chart.x, [s.values for s in chart.series], max_points
            )
            for s, v in zip(chart.series, values, strict=True):
                s.values = v
        elif chart.empty is None:
            chart.empty = "No data for this chart in this input."
    return charts
