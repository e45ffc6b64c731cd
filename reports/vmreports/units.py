"""Human-readable numbers for the report: sizes, rates, shares, durations and times.

Every number in the report goes through one of these, so a value reads the same in a finding,
a table and a chart's legend (``static/report.js`` mirrors them for the charts).

>>> human_bytes(25276510208)
'23.5 GiB'
>>> human_rate(1376.4, "pages")
'1,376 pages/s'
>>> human_duration(3725)
'1 h 2 min'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = [
    "format_value",
    "human_bytes",
    "human_count",
    "human_duration",
    "human_pct",
    "human_rate",
    "human_time",
    "is_number",
    "label_of",
]

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def is_number(value: object) -> bool:
    """True for a finite int or float (numpy scalars included), False for bools and NaN.

    >>> is_number(3), is_number(float("nan")), is_number(True), is_number("3")
    (True, False, False, False)
    """
    if isinstance(value, bool) or value is None:
        return False
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if isinstance(value, str):
        return False
    return math.isfinite(number)


def _significant(value: float) -> str:
    """Three significant digits, at most two decimals: 1.50, 23.5, 742."""
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value) and magnitude < 10_000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def human_bytes(value: object) -> str:
    """A size in binary units: ``'0 B'``, ``'512 KiB'``, ``'1.50 GiB'``; ``'–'`` if unknown.

    >>> [human_bytes(v) for v in (0, 1023, 1536, 805306368, -2147483648, None)]
    ['0 B', '1,023 B', '1.50 KiB', '768 MiB', '-2.00 GiB', '–']
    """
    if not is_number(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    magnitude = abs(number)
    unit = 0
    while magnitude >= 1024 and unit < len(_BINARY) - 1:
        magnitude /= 1024
        unit += 1
    if unit == 0:
        return f"{number:,.0f} B"
    scaled = math.copysign(magnitude, number)
    if magnitude >= 100:
        text = f"{scaled:,.0f}"
    elif magnitude >= 10:
        text = f"{scaled:.1f}"
    else:
        text = f"{scaled:.2f}"
    return f"{text} {_BINARY[unit]}"


def human_count(value: object) -> str:
    """A count or plain number: thousands separators, large values in k/M/G.

    >>> [human_count(v) for v in (0, 7, 12.5, 1376.4, 2_500_000, 3.1e9)]
    ['0', '7', '12.5', '1,376', '2.50 M', '3.10 G']
    """
    if not is_number(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    magnitude = abs(number)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if magnitude >= limit:
            return f"{_significant(number / limit)} {suffix}"
    if magnitude >= 100 or number == int(number):
        return f"{number:,.0f}"
    if magnitude >= 10:
        return f"{number:.1f}"
    if magnitude >= 0.01 or number == 0:
        return f"{number:.2f}"
    return f"{number:.2g}"


def human_rate(value: object, what: str = "") -> str:
    """A per-second rate: ``'1,376 pages/s'``, ``'0.50/s'``.

    >>> human_rate(0.5), human_rate(1376.4, "faults"), human_rate(None)
    ('0.50/s', '1,376 faults/s', '–')
    """
    if not is_number(value):
        return "–"
    return f"{human_count(value)} {what}/s" if what else f"{human_count(value)}/s"


def human_pct(value: object, digits: int = 1) -> str:
    """A percentage given in percent: ``human_pct(12.345) == '12.3 %'``.

    >>> human_pct(12.345), human_pct(0.04), human_pct(286.2, 0)
    ('12.3 %', '0.04 %', '286 %')
    """
    if not is_number(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    if 0 < abs(number) < 0.1:
        return f"{number:.2f} %"
    return f"{number:.{digits}f} %"


def human_duration(seconds: object) -> str:
    """A duration: ``'0.5 s'``, ``'45 s'``, ``'6 min'``, ``'6 min 30 s'``, ``'1 h 2 min'``.

    >>> [human_duration(s) for s in (0.5, 45, 360, 390, 3725, 90000)]
    ['0.5 s', '45 s', '6 min', '6 min 30 s', '1 h 2 min', '1 d 1 h']
    """
    if not is_number(seconds):
        return "–"
    total = float(seconds)  # type: ignore[arg-type]
    if total < 10:
        return f"{total:.3g} s"
    whole = round(total)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def human_time(value: object, *, date: bool = False) -> str:
    """A timestamp in UTC: ``'14:50:13'`` or, with ``date``, ``'2026-11-26 14:50:13'``.

    Naive timestamps are UTC (the tables' convention).

    >>> human_time(pd.Timestamp("2026-11-26 14:50:13.87", tz="UTC"), date=True)
    '2026-11-26 14:50:13'
    """
    if value is None or value is pd.NaT:
        return "–"
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if pd.isna(ts):
        return "–"
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


# Evidence and column names carry their unit as a suffix (the tables' convention).
_SUFFIXES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("_bytes_per_s", lambda v: f"{human_bytes(v)}/s" if is_number(v) else "–"),
    ("_mib_per_s", lambda v: f"{human_bytes(float(v) * 1024**2)}/s" if is_number(v) else "–"),
    ("_mib_per_h", lambda v: f"{human_bytes(float(v) * 1024**2)}/h" if is_number(v) else "–"),
    ("_pages_per_s", lambda v: human_rate(v, "pages")),
    ("_ticks", lambda v: f"{_plain(v)} clock ticks"),
    ("_bytes", human_bytes),
    ("_kib", lambda v: human_bytes(float(v) * 1024) if is_number(v) else "–"),
    ("_kb", lambda v: human_bytes(float(v) * 1024) if is_number(v) else "–"),
    ("_mib", lambda v: human_bytes(float(v) * 1024**2) if is_number(v) else "–"),
    ("_gib", lambda v: human_bytes(float(v) * 1024**3) if is_number(v) else "–"),
    ("_per_s", human_rate),
    ("_per_min", lambda v: f"{human_count(v)}/min" if is_number(v) else "–"),
    ("_pct", human_pct),
    ("_percent", human_pct),
    ("_share", lambda v: human_pct(float(v) * 100) if is_number(v) else "–"),
    ("_ratio", lambda v: human_count(v)),
    ("_seconds", human_duration),
    ("_s", human_duration),
    ("_us", lambda v: human_duration(float(v) / 1e6) if is_number(v) else "–"),
    ("_ms", lambda v: human_duration(float(v) / 1e3) if is_number(v) else "–"),
)

_INFIXES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("bytes", human_bytes),
    ("kib", lambda v: human_bytes(float(v) * 1024)),
    ("kb", lambda v: human_bytes(float(v) * 1024)),
    ("mib", lambda v: human_bytes(float(v) * 1024**2)),
    ("gib", lambda v: human_bytes(float(v) * 1024**3)),
    ("pct", human_pct),
    ("percent", human_pct),
)
_INFIX_DROP = re.compile(r"_(bytes|kib|kb|mib|gib|pct|percent)(?=_)")

_LABEL_DROP = re.compile(r"_(bytes|kib|kb|mib|gib|pct|percent|seconds|s|us|ms)$")


#: Keys whose numbers are identifiers or raw kernel values: printed as is, no separators.
IDENTIFIER_KEYS = frozenset(
    {"pid", "ppid", "tgid", "uid", "gid", "node", "cpu", "seq", "starttime", "order"}
    | {"victim_pid", "last_pid", "processor", "snapshot", "oom_score_adj"}
)


def _plain(value: object) -> str:
    """An identifier or clock-tick count: ``2019``, never ``2,019``."""
    if not is_number(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number == int(number) else str(value)


def format_value(key: str, value: object) -> str:
    """Format one evidence value by its key's unit suffix (``rss_bytes`` -> ``'1.50 GiB'``).

    >>> format_value("swap_used_bytes", 1610612736), format_value("majflt_per_s", 812.0)
    ('1.50 GiB', '812/s')
    >>> format_value("stall_pct", 12.5), format_value("window_s", 390), format_value("comm", "x")
    ('12.5 %', '6 min 30 s', 'x')
    >>> format_value("usage_mib_last", 256), format_value("rss_bytes_max", 2048)
    ('256 MiB', '2.00 KiB')
    >>> format_value("pid", 2019), format_value("starttime", 274939), format_value("node", 1)
    ('2019', '274939', '1')
    >>> format_value("slope_mib_per_s", 16.2), format_value("delayacct_blkio_ticks", 12000)
    ('16.2 MiB/s', '12000 clock ticks')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return human_time(value, date=True) + " UTC"
    if is_number(value):
        lowered = key.lower()
        if lowered in IDENTIFIER_KEYS or lowered.endswith(("_pid", "_node", "_id")):
            return _plain(value)
        for suffix, fmt in _SUFFIXES:
            if lowered.endswith(suffix):
                return fmt(value)
        tokens = lowered.split("_")
        for token, fmt in _INFIXES:  # a unit inside the name: usage_mib_last, rss_bytes_max
            if token in tokens[:-1]:
                return fmt(value)
        return human_count(value)
    return str(value)


def label_of(key: str) -> str:
    """A column or evidence key as a label: ``'rss_growth_bytes'`` -> ``'rss growth'``.

    >>> label_of("majflt_per_s"), label_of("swap_used_bytes"), label_of("swapin_bytes_per_s")
    ('majflt/s', 'swap used', 'swapin/s')
    >>> label_of("usage_mib_last"), label_of("rss_bytes_max")
    ('usage last', 'rss max')
    """
    per_second = key.endswith("_per_s")
    base = _LABEL_DROP.sub("", key[: -len("_per_s")]) if per_second else _LABEL_DROP.sub("", key)
    base = _INFIX_DROP.sub("", base)
    label = base.replace("_", " ").strip() or key
    return f"{label}/s" if per_second else label
