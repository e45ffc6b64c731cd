"""The per-process summary: one row per process (pid + start time) of ``process_samples``.

Computed here once for the ``processes`` table (vmanalyze.tables) and the report's
top-process tables (vmreports.sections), so that a process's first and last sighting,
its sample count and its largest RSS are the same fact wherever they are shown.

A pid or a start time no real process can have is unknown (null), never a number made up
from it: a pid above :data:`PID_MAX_LIMIT`, a start time of :data:`MAX_START_TICKS` ticks or
more (a crafted ``/proc/PID/stat`` may say ``9223372036854775807``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MAX_START_TICKS", "PID_MAX_LIMIT", "ProcessSummary", "summarize_processes"]

#: The kernel's PID_MAX_LIMIT on 64-bit (include/linux/threads.h): ``pid_max`` is at most this.
PID_MAX_LIMIT = 4_194_304
#: Our bound on a start time in clock ticks after boot: the largest count a float64 holds
#: exactly (rules compute times from it in floats); at USER_HZ 100 it is 2.8 million years.
MAX_START_TICKS = 2**53


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

    pid, pid_known = _bounded_ints(ps, "pid", PID_MAX_LIMIT, order)
    start_ticks, start_known = _bounded_ints(ps, "starttime", MAX_START_TICKS - 1, order)
    # one integer key per (pid, starttime) pair, unknown ones included, codes in order of
    # first sighting; each part is factorized first, so the key cannot overflow
    pid_codes, pid_values = pd.factorize(pid)
    start_codes, _ = pd.factorize(start_ticks)
    codes, _ = pd.factorize(start_codes.astype("int64") * len(pid_values) + pid_codes)
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
            "pid": _nullable(pid[first], pid_known[first]),
            "starttime": _nullable(start_ticks[first], start_known[first]),
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


def _bounded_ints(
    frame: pd.DataFrame, name: str, high: int, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Column `name` of `frame` as int64 in `order` (unknown ones -1) and where it is known:
    an integer from 0 to `high`. Never through float64, which rounds int64 max up past it."""
    if name not in frame.columns:
        return np.full(len(order), -1, dtype="int64"), np.zeros(len(order), dtype=bool)
    series = frame[name]
    if not pd.api.types.is_integer_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    values = series.iloc[order].reset_index(drop=True)
    known = (values.notna() & (values >= 0) & (values <= high)).fillna(False)
    if not pd.api.types.is_integer_dtype(values.dtype):
        known &= (values % 1 == 0).fillna(False)
    ints = values.where(known, -1).astype("int64").to_numpy()
    return ints, known.to_numpy(dtype=bool)


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """`values` as Int64, null where not `known`."""
    out = pd.array(values, dtype="Int64")
    out[~known] = pd.NA
    return out
