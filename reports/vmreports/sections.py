"""The report's tables: top processes, configuration, collection health, rule status.

Every function takes the analyzer's tables and returns :class:`TableView` objects whose cells
are already formatted strings (the template only lays them out and escapes them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from vmanalyze.paths import PID_DIR_TEXT
from vmanalyze.process_summary import ProcessSummary, summarize_processes

from vmreports.units import (
    format_value,
    human_bytes,
    human_count,
    human_duration,
    human_rate,
    human_time,
    is_number,
    label_of,
)

__all__ = [
    "Cell",
    "Column",
    "TableView",
    "collection_health",
    "configuration",
    "frame_table",
    "process_tables",
]

#: Rows of each top-processes table.
TOP_N = 15
#: Rows of a table embedded in a finding's evidence.
EVIDENCE_ROWS = 20


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, an optional tooltip and CSS class."""

    text: str
    title: str | None = None
    cls: str | None = None


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False
    title: str | None = None


@dataclass
class TableView:
    """A formatted table, or ``empty`` saying why it has no rows."""

    id: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = "Nothing to show."
    more: int = 0


def _text(value: object, limit: int = 0) -> Cell:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return Cell("–", cls="muted")
    text = str(value)
    if limit and len(text) > limit:
        return Cell(text[: limit - 1] + "…", title=text)
    return Cell(text)


def _num(text: str) -> Cell:
    return Cell(text, cls="num muted" if text == "–" else "num")


# -- processes ---------------------------------------------------------------------------


def _ident(row: Any) -> list[Cell]:
    pid = "–" if pd.isna(row.pid) else str(int(row.pid))  # unknown: no real pid was read
    return [_text(row.comm, 32), Cell(pid, cls="num")]


def _context(row: Any) -> list[Cell]:
    return [_text(row.cgroup, 40), _text(row.cmdline, 60)]


_IDENT_COLUMNS = [Column("Process"), Column("PID", numeric=True)]
_CONTEXT_COLUMNS = [Column("Cgroup"), Column("Command line")]


def _peak_majflt_rates(data: ProcessSummary, chosen: Sequence[int]) -> dict[int, float]:
    """The highest major-fault rate per second of a few processes (summary row numbers)."""
    from vmanalyze.rates import counter_rates

    if not chosen:
        return {}
    part = data.samples[np.isin(data.codes, np.asarray(chosen))]
    rates = counter_rates(part, ["majflt"], by=["process"])
    if rates.empty:
        return {}
    peaks = rates.groupby("process")["majflt_per_s"].max()
    return {int(p): float(v) for p, v in peaks.items() if pd.notna(v)}


def process_tables(tables: Mapping[str, pd.DataFrame], top: int = TOP_N) -> list[TableView]:
    """Top processes by RSS, RSS growth, swap and major faults."""
    by_rss = TableView(
        "top-rss",
        "Largest processes (RSS)",
        "Resident memory at its highest during the capture, and at the process's last sample.",
        [
            *_IDENT_COLUMNS,
            Column("Max RSS", True),
            Column("Last RSS", True),
            Column("Anon (last)", True, "RssAnon at the last sample (status-top processes)"),
            Column("Seen", True, "first to last sample of this process"),
            *_CONTEXT_COLUMNS,
        ],
        empty="No per-process samples in this input.",
    )
    growth = TableView(
        "top-growth",
        "Fastest-growing processes (RSS)",
        "RSS at the process's last sample minus its first; a steady climb that never falls "
        "is the shape of a leak.",
        [
            *_IDENT_COLUMNS,
            Column("First RSS", True),
            Column("Last RSS", True),
            Column("Growth", True),
            Column("Rate", True, "growth divided by the time between first and last sample"),
            Column("Over", True),
            *_CONTEXT_COLUMNS,
        ],
        empty="No process grew during the capture.",
    )
    swap = TableView(
        "top-swap",
        "Processes with memory in swap",
        "VmSwap from /proc/PID/status (read for the largest processes each sample).",
        [
            *_IDENT_COLUMNS,
            Column("Max swap", True),
            Column("Last swap", True),
            Column("Last RSS", True),
            *_CONTEXT_COLUMNS,
        ],
        empty="No process had memory in swap during the capture.",
    )
    faults = TableView(
        "top-majflt",
        "Processes with major faults",
        "Major page faults (waits for I/O) between the process's first and last sample.",
        [
            *_IDENT_COLUMNS,
            Column("Major faults", True),
            Column("Average", True),
            Column("Peak", True, "highest rate over one sample interval"),
            Column("Over", True),
            *_CONTEXT_COLUMNS,
        ],
        empty="No process took a major fault during the capture.",
    )
    views = [by_rss, growth, swap, faults]
    data = summarize_processes(tables.get("process_samples"), tables.get("processes"))
    if data is None or data.summary.empty:
        for view in views[1:]:
            view.empty = by_rss.empty
        return views
    summary = data.summary
    multi = bool(summary["samples"].max() > 1)

    ranked = summary.sort_values(["rss_max", "pid"], ascending=[False, True])
    ranked = ranked[ranked["rss_max"] > 0]
    for row in ranked.head(top).itertuples():
        seen = (
            f"{human_time(row.first_seen)}–{human_time(row.last_seen)}"
            if row.samples > 1
            else human_time(row.first_seen)
        )
        by_rss.rows.append(
            [
                *_ident(row),
                _num(human_bytes(row.rss_max)),
                _num(human_bytes(row.rss_last)),
                _num(human_bytes(row.anon_last)),
                Cell(seen, cls="num"),
                *_context(row),
            ]
        )
    by_rss.more = max(0, len(ranked) - top)

    if multi:
        grown = summary[summary["rss_growth"] > 0].sort_values(
            ["rss_growth", "pid"], ascending=[False, True]
        )
        for row in grown.head(top).itertuples():
            rate = row.rss_growth / row.lifetime_s if row.lifetime_s > 0 else math.nan
            growth.rows.append(
                [
                    *_ident(row),
                    _num(human_bytes(row.rss_first)),
                    _num(human_bytes(row.rss_last)),
                    Cell("+" + human_bytes(row.rss_growth), cls="num strong"),
                    _num(f"{human_bytes(rate)}/s" if is_number(rate) else "–"),
                    _num(human_duration(row.lifetime_s)),
                    *_context(row),
                ]
            )
        growth.more = max(0, len(grown) - top)
    else:
        growth.empty = "One sample per process: growth needs two."

    swapped = summary[summary["swap_max"] > 0].sort_values(
        ["swap_max", "pid"], ascending=[False, True]
    )
    for row in swapped.head(top).itertuples():
        swap.rows.append(
            [
                *_ident(row),
                Cell(human_bytes(row.swap_max), cls="num strong"),
                _num(human_bytes(row.swap_last)),
                _num(human_bytes(row.rss_last)),
                *_context(row),
            ]
        )
    swap.more = max(0, len(swapped) - top)

    if multi:
        faulted = summary[summary["majflt_delta"] > 0].sort_values(
            ["majflt_delta", "pid"], ascending=[False, True]
        )
        chosen = faulted.head(top)
        peaks = _peak_majflt_rates(data, chosen.index.tolist())
        for row in chosen.itertuples():
            avg = row.majflt_delta / row.lifetime_s if row.lifetime_s > 0 else math.nan
            faults.rows.append(
                [
                    *_ident(row),
                    Cell(human_count(row.majflt_delta), cls="num strong"),
                    _num(human_rate(avg)),
                    _num(human_rate(peaks.get(int(row.Index)))),
                    _num(human_duration(row.lifetime_s)),
                    *_context(row),
                ]
            )
        faults.more = max(0, len(faulted) - top)
    else:
        faults.empty = "One sample per process: fault counts need two."
    return views


# -- configuration -----------------------------------------------------------------------

#: Sysctls that matter most for memory diagnosis, listed first and highlighted.
KEY_SYSCTLS = (
    "overcommit_memory",
    "overcommit_ratio",
    "overcommit_kbytes",
    "swappiness",
    "min_free_kbytes",
    "watermark_scale_factor",
    "zone_reclaim_mode",
    "vfs_cache_pressure",
    "dirty_ratio",
    "dirty_background_ratio",
    "nr_hugepages",
    "max_map_count",
    "panic_on_oom",
    "oom_kill_allocating_task",
)


def _setting_text(value: object) -> str:
    """A setting's value; unreadable (write-only) ones are None or NaN: ``'–'``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = str(value)
    return "–" if text.lower() == "nan" else text


def _changed(first: object, last: object) -> bool:
    return _setting_text(first) != _setting_text(last)


def configuration(tables: Mapping[str, pd.DataFrame]) -> list[TableView]:
    """vm.* sysctls, THP settings and hugepage pools (values at the end of the capture)."""
    sysctl = TableView(
        "sysctl",
        "Kernel memory settings (sysctl vm.*)",
        "Values at the end of the capture; a value that changed during it shows both.",
        [Column("Setting"), Column("Value", True)],
        empty="No /proc/sys/vm values in this input.",
    )
    df = tables.get("sysctl_vm")
    if isinstance(df, pd.DataFrame) and not df.empty and {"name", "value"} <= set(df.columns):
        ordered = df.sort_values("ts", kind="stable") if "ts" in df.columns else df
        grouped = ordered.groupby("name", sort=False)["value"]
        first, last = grouped.first(), grouped.last()
        names = sorted(last.index, key=lambda n: (n not in KEY_SYSCTLS, _key_rank(n), n))
        for name in names:
            value = _setting_text(last[name])
            cls = "key" if name in KEY_SYSCTLS else None
            text = value
            if _changed(first[name], last[name]):
                text = f"{_setting_text(first[name])} → {value}"
                cls = "changed"
            sysctl.rows.append([Cell(f"vm.{name}", cls=cls), Cell(text, cls="num")])

    thp = TableView(
        "thp-settings",
        "Transparent huge pages",
        "/sys/kernel/mm/transparent_hugepage (hover a value for the choices). Per-size "
        "settings (mTHP) follow the top-level ones.",
        [Column("Setting"), Column("Value", True)],
        empty="No transparent_hugepage settings in this input.",
    )
    df = tables.get("thp")
    if isinstance(df, pd.DataFrame) and not df.empty and "setting" in df.columns:
        ordered = df.sort_values("ts", kind="stable") if "ts" in df.columns else df
        grouped = ordered.groupby("setting", sort=False)
        first, latest = grouped.first(), grouped.last()
        names = [n for n in latest.index if "/stats/" not in str(n)]
        names.sort(key=lambda n: (str(n).startswith("hugepages-"), _size_key(str(n)), str(n)))
        for name in names:
            row = latest.loc[name]
            value = str(row["value"])
            options = row.get("options")
            cls = "key" if name in ("enabled", "defrag", "shmem_enabled") else None
            counter = name in _THP_COUNTERS
            if not counter and _changed(first.loc[name, "value"], row["value"]):
                value = f"{first.loc[name, 'value']} → {value}"
                cls = "changed"
            thp.rows.append(
                [
                    Cell(_thp_label(str(name)), cls=cls),
                    Cell(value, title=options if isinstance(options, str) and options else None),
                ]
            )

    pools = TableView(
        "hugepages",
        "HugeTLB pools",
        "Pre-allocated huge pages by size (and node), at the end of the capture.",
        [
            Column("Page size", True),
            Column("Node", True),
            Column("Total", True),
            Column("Free", True),
            Column("Reserved", True),
            Column("Surplus", True),
            Column("Memory", True, "total pages times page size"),
        ],
        empty="No hugepage pools in this input.",
    )
    df = tables.get("hugepages")
    if isinstance(df, pd.DataFrame) and not df.empty and "page_size_kb" in df.columns:
        ordered = df.sort_values("ts", kind="stable") if "ts" in df.columns else df
        keys = [c for c in ("node", "page_size_kb") if c in df.columns]
        latest = ordered.drop_duplicates(keys, keep="last").sort_values(keys, na_position="first")
        if (
            "node" in latest.columns
            and latest["node"].nunique() < 2
            and latest["node"].isna().any()
        ):
            latest = latest[latest["node"].isna()]  # one node: its pools are the host's
        for row in latest.itertuples():
            node = getattr(row, "node", None)
            size = float(row.page_size_kb) * 1024
            total = getattr(row, "nr_hugepages", None)
            pools.rows.append(
                [
                    _num(human_bytes(size)),
                    _num("all" if node is None or pd.isna(node) else str(int(node))),
                    _num(human_count(total)),
                    _num(human_count(getattr(row, "free_hugepages", None))),
                    _num(human_count(getattr(row, "resv_hugepages", None))),
                    _num(human_count(getattr(row, "surplus_hugepages", None))),
                    _num(human_bytes(float(total) * size) if is_number(total) else "–"),  # type: ignore[arg-type]
                ]
            )
    return [sysctl, thp, pools]


#: khugepaged's activity counters: they change by themselves, unlike settings.
_THP_COUNTERS = frozenset({"khugepaged/full_scans", "khugepaged/pages_collapsed"})
_SIZE = re.compile(r"^hugepages-([0-9]+)kB/(.*)$")


def _size_key(name: str) -> int:
    match = _SIZE.match(name)
    return int(match.group(1)) if match else 0


def _thp_label(name: str) -> str:
    """``hugepages-2048kB/enabled`` -> ``2.00 MiB enabled``; other names unchanged.

    >>> _thp_label("hugepages-64kB/shmem_enabled"), _thp_label("khugepaged/defrag")
    ('64 KiB shmem_enabled', 'khugepaged/defrag')
    """
    match = _SIZE.match(name)
    if not match:
        return name
    kib = int(match.group(1))
    size = f"{kib // 1024} MiB" if kib >= 1024 and kib % 1024 == 0 else f"{kib} KiB"
    return f"{size} {match.group(2)}"


def _key_rank(name: str) -> int:
    return KEY_SYSCTLS.index(name) if name in KEY_SYSCTLS else len(KEY_SYSCTLS)


# -- collection health -------------------------------------------------------------------

_PID_PATH = re.compile("(^|/)" + PID_DIR_TEXT)
_NODE_PATH = re.compile(r"node[0-9]+")


@dataclass
class HealthView:
    """How complete the capture is: file problems, late samples, loader warnings."""

    files: TableView
    samples_total: int = 0
    samples_late: int = 0
    skipped_slots: int = 0
    max_duration: str = "–"
    median_duration: str = "–"
    late: TableView | None = None
    warnings: list[str] = field(default_factory=list)
    problems: int = 0


def collection_health(
    tables: Mapping[str, pd.DataFrame], warnings: Sequence[str] = ()
) -> HealthView:
    """Files absent, denied, timed out or gone (grouped by path pattern), and late samples."""
    files = TableView(
        "collection-files",
        "Files that were not captured every time",
        "Per-process files are grouped (proc/[pid]/...). 'gone' is a process that exited "
        "between listing and reading: normal. 'denied' and 'timed_out' hide evidence.",
        [
            Column("Path"),
            Column("Outcome"),
            Column("Times", True, "how many reads had this outcome"),
            Column("Error"),
        ],
        empty="Every file was read every time it was due.",
    )
    view = HealthView(files, warnings=list(warnings))
    df = tables.get("collection_health")
    if isinstance(df, pd.DataFrame) and not df.empty:
        bad = df[df["outcome"] != "captured"].copy()
        if not bad.empty:
            bad["pattern"] = (
                bad["path"].astype(str).str.replace(_PID_PATH, r"\1proc/[pid]/", regex=True)
            )
            bad["pattern"] = bad["pattern"].str.replace(_NODE_PATH, "node[N]", regex=True)
            grouped = (
                bad.groupby(["pattern", "outcome"], sort=False)
                .agg(count=("count", "sum"), error=("error", "first"))
                .reset_index()
            )
            severity = {"failed": 0, "unparsable": 0, "timed_out": 1, "denied": 2, "absent": 3}
            grouped["rank"] = grouped["outcome"].map(severity).fillna(4)
            grouped = grouped.sort_values(["rank", "count"], ascending=[True, False])
            view.problems = int((grouped["outcome"] != "gone").sum())
            for row in grouped.head(40).itertuples():
                outcome = str(row.outcome)
                files.rows.append(
                    [
                        _text(row.pattern, 60),
                        Cell(outcome, cls=f"outcome outcome-{outcome}"),
                        Cell(human_count(row.count), cls="num"),
                        _text(row.error, 90),
                    ]
                )
            files.more = max(0, len(grouped) - 40)

    samples = tables.get("samples")
    if isinstance(samples, pd.DataFrame) and not samples.empty:
        view.samples_total = len(samples)
        late = samples["late"].fillna(False).astype(bool) if "late" in samples.columns else None
        if late is not None:
            view.samples_late = int(late.sum())
        if "skipped_slots" in samples.columns:
            view.skipped_slots = int(pd.to_numeric(samples["skipped_slots"]).fillna(0).sum())
        if "duration_s" in samples.columns:
            durations = pd.to_numeric(samples["duration_s"], errors="coerce").dropna()
            if not durations.empty:
                view.max_duration = human_duration(float(durations.max()))
                view.median_duration = human_duration(float(durations.median()))
        if late is not None and late.any():
            table = TableView(
                "late-samples",
                "Late samples",
                "Samples taken after their due time (the host was too busy, or reading was "
                "slow): their intervals are longer than the rest.",
                [
                    Column("Sample", True),
                    Column("Time (UTC)", True),
                    Column("Took", True),
                    Column("Skipped slots", True),
                ],
            )
            for row in samples[late].head(30).itertuples():
                table.rows.append(
                    [
                        Cell(_snapshot_name(row), cls="num"),
                        Cell(human_time(row.ts), cls="num"),
                        _num(human_duration(getattr(row, "duration_s", None))),
                        _num(human_count(getattr(row, "skipped_slots", None))),
                    ]
                )
            table.more = max(0, int(late.sum()) - 30)
            view.late = table
    view.problems += view.samples_late + len(view.warnings)
    return view


# -- evidence ----------------------------------------------------------------------------


def frame_table(data: pd.DataFrame | list[Any], limit: int = EVIDENCE_ROWS) -> TableView:
    """A DataFrame, or a list of records, from a finding's evidence as a small table.

    Columns are formatted by their unit suffix (``rss_bytes`` -> ``1.50 GiB``).
    """
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index() if not isinstance(data.index, pd.RangeIndex) else data
    else:
        records = [r if isinstance(r, Mapping) else {"value": r} for r in data]
        frame = pd.DataFrame.from_records(records)
    columns = [str(c) for c in frame.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]
    view = TableView(
        "evidence",
        "",
        "",
        [Column(label_of(c), n, c) for c, n in zip(columns, numeric, strict=True)],
        empty="(empty table)",
    )
    for record in frame.head(limit).itertuples(index=False):
        view.rows.append(
            [
                Cell(format_value(c, v), cls="num" if n else None)
                for c, v, n in zip(columns, record, numeric, strict=True)
            ]
        )
    view.more = max(0, len(frame) - limit)
    return view


def _snapshot_name(row: Any) -> str:
    """A sample's number, or ``start``/``end`` for those snapshots (``samples.phase``)."""
    phase = getattr(row, "phase", "sample")
    return str(row.snapshot) if phase == "sample" else str(phase)
