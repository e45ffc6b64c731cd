"""Small helpers shared by the built-in rules: units, time windows, time-weighted shares.

Rules compute their numbers from the tables themselves; these helpers only keep the
formatting and the few repeated calculations identical across rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

MIB = 1024 * 1024
#: Limits at or above this are "no limit" (cgroup v1 prints PAGE_COUNTER_MAX * page size).
UNLIMITED_BYTES = 1 << 62


def page_size(host: Mapping[str, Any]) -> int:
    """The page size from the host facts (``ctx.host``), 4096 when unknown."""
    value = host.get("page_size")
    try:
        size = int(value) if value is not None and not pd.isna(value) else 0
    except (TypeError, ValueError):
        size = 0
    return size if size > 0 else 4096


def mib(value: float) -> float:
    """Bytes to MiB, rounded to 0.1."""
    return round(float(value) / MIB, 1)


def rnd(value: float, digits: int = 2) -> float:
    """A float rounded for messages and evidence (NaN stays NaN)."""
    return round(float(value), digits)


def when(ts: Any) -> str:
    """A timestamp as ``HH:MM:SSZ`` for messages (``?`` when unknown)."""
    if ts is None:
        return "?"
    try:
        stamp = pd.Timestamp(ts)
    except (TypeError, ValueError):
        return "?"
    if pd.isna(stamp):
        return "?"
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%H:%M:%SZ")


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``, ``2.1 d``: a human duration for messages."""
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def time_share(mask: pd.Series, interval_s: pd.Series) -> float:
    """The share (0..1) of the total interval time during which ``mask`` holds.

    Intervals are weighted by their length, so the short intervals next to a bundle's
    ``start``/``end`` snapshots and late samples count for what they cover.
    """
    total = float(interval_s.sum())
    if total <= 0:
        return 0.0
    return float(interval_s[mask.fillna(False).astype(bool)].sum()) / total


def sample_snapshots(samples: pd.DataFrame | None) -> list[str]:
    """The snapshot labels of the ``samples`` table, in time order (``[]`` without one)."""
    if samples is None or samples.empty or "snapshot" not in samples.columns:
        return []
    ordered = samples.sort_values("ts") if "ts" in samples.columns else samples
    return [str(s) for s in ordered["snapshot"]]


def timed(df: pd.DataFrame | None) -> bool:
    """True when ``df`` has at least two timestamped rows, so counter rates can be computed.

    One-snapshot inputs (a sosreport, a copied /proc) have a single row or no ``ts`` at all.
    """
    if df is None or "ts" not in df.columns:
        return False
    ts = df["ts"]
    return bool(pd.api.types.is_datetime64_any_dtype(ts) and ts.notna().sum() >= 2)


def stamp(value: Any) -> pd.Timestamp | None:
    """``value`` as a Timestamp for ``Finding.start``/``end``, or None when it is unknown."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(ts) else ts
