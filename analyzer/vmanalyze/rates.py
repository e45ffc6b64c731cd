"""Turn cumulative kernel counters into per-second rates.

Kernel counters (vmstat, numastat, PSI ``total``, a process's ``majflt``) only grow, so the
useful number is the change per second between consecutive snapshots. Two things break a
naive difference:

- **counter resets**: a counter that goes down (a reboot between snapshots, a cgroup that was
  recreated, a 32-bit wrap) gives a negative delta; that interval's rate is null, not negative;
- **pid reuse**: a pid that belongs to a new process is a new series. Group processes by
  ``("pid", "starttime")``, never by pid alone.

Every rule and chart uses :func:`counter_rates`, and :func:`stall_pct` for the share of time
a PSI ``total`` counter says tasks stalled.

>>> import pandas as pd
>>> df = pd.DataFrame({
...     "ts": pd.to_datetime([0, 5, 10, 15], unit="s", utc=True),
...     "pgmajfault": [100, 600, 50, 150],
... })
>>> counter_rates(df, ["pgmajfault"])["pgmajfault_per_s"].tolist()
[100.0, nan, 20.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["counter_rates", "stall_pct"]


def counter_rates(
    df: pd.DataFrame,
    counters: Sequence[str],
    by: Sequence[str] = (),
    time: str = "ts",
) -> pd.DataFrame:
    """Per-second rates of `counters` between consecutive rows of each `by` group.

    Returns one row per interval: the `by` columns, ``ts_start``, ``ts`` (the interval's end),
    ``interval_s``, ``<counter>_delta`` and ``<counter>_per_s`` (null on a reset or a missing
    value). Rows are sorted by `by` then time.
    """
    counters = [c for c in counters if c in df.columns]
    keys = list(by)
    if df.empty or not counters:
        return pd.DataFrame(columns=[*keys, "ts_start", time, "interval_s"])
    ordered = df.sort_values([*keys, time], kind="stable")
    times = ordered[time]
    grouped = ordered.groupby(keys, sort=False) if keys else None
    prev_time = grouped[time].shift(1) if grouped is not None else times.shift(1)
    interval = (times - prev_time).dt.total_seconds()
    out = ordered[keys].copy() if keys else pd.DataFrame(index=ordered.index)
    out["ts_start"] = prev_time
    out[time] = times
    out["interval_s"] = interval
    for col in counters:
        values = pd.to_numeric(ordered[col], errors="coerce").astype("float64")
        prev = (
            grouped[col].shift(1).pipe(pd.to_numeric, errors="coerce").astype("float64")
            if grouped is not None
            else values.shift(1)
        )
        delta = values - prev
        delta = delta.where(delta >= 0)
        out[f"{col}_delta"] = delta
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{col}_per_s"] = (delta / interval).where(interval > 0)
    out = out[out["ts_start"].notna()]
    return out.reset_index(drop=True)


def stall_pct(stalled_us: Any, seconds: Any) -> Any:
    """The share of ``seconds`` (percent) during which tasks stalled ``stalled_us``
    microseconds: a PSI ``total`` delta over its interval (/proc/pressure/memory, a cgroup's
    memory.pressure). Numbers, numpy arrays and Series alike; not clipped.

    >>> stall_pct(1_500_000, 10.0)
    15.0
    """
    return 100.0 * stalled_us / 1e6 / seconds
