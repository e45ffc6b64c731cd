"""The per-process summary: one row per process (pid + start time) of ``process_samples``.

Computed here once for the ``processes`` table (vmanalyze.tables) and the report's
top-process tables (vmreports.sections), so that a process's first and last sighting,
its sample count and its largest RSS are the same fact wherever they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ProcessSummary", "summarize_processes"]


@dataclass
class ProcessSummary:
    """Per-process summary rows; the samples (time order) with the row of their process."""

    summary: pd.DataFrame
    samples: pd.DataFrame
    codes: np.ndarray


def summarize_processes(
    process_samples: pd.DataFrame | None, processes: pd.DataFrame | None = None
) -> ProcessSummary | None:
    """One row per process (pid, starttime) of ``process_samples``: its ``comm`` (at its last
    sample), ``first_seen``/``last_seen``, ``samples``, and first/last/max of RSS, swap and
    fault counts; ``cmdline`` and ``cgroup`` from ``processes`` when given. ``None`` when no
    process sample has a time (a sample without one cannot be placed and is not counted).

    A one-hour bundle has about 1.5 million process samples, so this works on numpy arrays:
    rows put in time order by one argsort, one integer key per process, then first, last and
    max by ``ufunc.at``. No DataFrame of that size is copied or sorted.
    """
    ps = process_samples
    if not isinstance(ps, pd.DataFrame) or ps.empty or "ts" not in ps.columns:
        return None
    ts_all = pd.to_datetime(ps["ts"], utc=True)
    ns = ts_all.array.asi8
    valid = ~ts_all.isna().to_numpy()
    order = np.argsort(ns, kind="stable")
    order = order[valid[order]]  # time order, rows without a time dropped
    if not len(order):
        return None

    def column(name: str) -> np.ndarray:
        if name not in ps.columns:
            return np.full(len(order), np.nan)
        series = ps[name]
        if pd.api.types.is_numeric_dtype(series.dtype):
            values = series.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = np.asarray(pd.to_numeric(series, errors="coerce"), dtype="float64")
        return values[order]

    pid = np.nan_to_num(column("pid"), nan=-1).astype("int64")
    start_ticks = np.nan_to_num(column("starttime"), nan=0).astype("int64")
    codes, _ = pd.factorize(start_ticks * 4_194_304 + pid)  # pid_max is at most 2**22
    k = int(codes.max()) + 1
    rows = np.arange(len(codes))
    first = np.full(k, len(codes), dtype="int64")
    np.minimum.at(first, codes, rows)
    last = np.full(k, -1, dtype="int64")
    np.maximum.at(last, codes, rows)

    def peak(values: np.ndarray) -> np.ndarray:
        out = np.full(k, np.nan)
        np.fmax.at(out, codes, values)
        return out

    rss, anon = column("rss_bytes"), column("rss_anon_bytes")
    swap, majflt = column("vm_swap_bytes"), column("majflt")
    comm = (
        ps["comm"].iloc[order[last]].to_numpy(dtype=object)
        if "comm" in ps.columns
        else np.full(k, None, dtype=object)
    )
    out = pd.DataFrame(
        {
            "pid": pid[first],
            "starttime": start_ticks[first],
            "comm": comm,
            "first_seen": ts_all.iloc[order[first]].reset_index(drop=True),
            "last_seen": ts_all.iloc[order[last]].reset_index(drop=True),
            "samples": np.bincount(codes, minlength=k),
            "rss_first": rss[first],
            "rss_last": rss[last],
            "rss_max": peak(rss),
            "anon_last": anon[last],
            "swap_max": peak(swap),
            "swap_last": swap[last],
            "majflt_first": majflt[first],
            "majflt_last": majflt[last],
        }
    )
    out["lifetime_s"] = (out["last_seen"] - out["first_seen"]).dt.total_seconds()
    out["rss_growth"] = out["rss_last"] - out["rss_first"]
    out["majflt_delta"] = (out["majflt_last"] - out["majflt_first"]).clip(lower=0)
    out["cmdline"] = None
    out["cgroup"] = None
    procs = processes
    if isinstance(procs, pd.DataFrame) and not procs.empty and "pid" in procs.columns:
        info = procs.drop_duplicates(["pid", "starttime"], keep="last").set_index(
            ["pid", "starttime"]
        )
        where = pd.MultiIndex.from_arrays([out["pid"], out["starttime"]])
        for col in ("cmdline", "cgroup"):
            if col in info.columns:
                out[col] = info[col].reindex(where).to_numpy()
    samples = pd.DataFrame(
        {"ts": ts_all.iloc[order].reset_index(drop=True), "majflt": majflt, "process": codes}
    )
    return ProcessSummary(out, samples, codes)
