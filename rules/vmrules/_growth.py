"""Steady growth of a host-wide memory gauge (KMEM001, SHM001, MLK001): a least-squares line
through the samples, the settings that decide when the line is a trend, and the processes that
hold the memory.

Pure: reads DataFrames, returns numbers. The per-process fit of MEM002 stays in its module (it
fits thousands of processes at once); this one fits a few host-wide series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity

from vmrules._common import MIB, duration, mib, rnd, timed, when


@dataclass(frozen=True)
class LineFit:
    """A least-squares line ``value = a + slope * t`` through one series (bytes against s)."""

    samples: int
    first_ts: pd.Timestamp
    last_ts: pd.Timestamp
    seconds: float
    first: float
    last: float
    slope: float
    r2: float
    rising_share: float

    @property
    def growth(self) -> float:
        """Growth of the fitted line over the observed time (bytes)."""
        return self.slope * self.seconds


def least_squares(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The least-squares slope of ``y`` against ``t`` and the fit's R² (0 for a flat ``y``).

    >>> slope, r2 = least_squares(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    >>> round(slope, 9), round(r2, 9)
    (2.0, 1.0)
    """
    slope, intercept = np.polyfit(t, y, 1)
    residual = float(((y - (slope * t + intercept)) ** 2).sum())
    spread = float(((y - y.mean()) ** 2).sum())
    return float(slope), 1.0 - residual / spread if spread > 0 else 0.0


def line_fit(ts: pd.Series, values: pd.Series) -> LineFit | None:
    """Fit ``values`` (bytes) against time; None with fewer than two known points or no span.

    >>> ts = pd.Series(pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:00:10",
    ...                                "2026-01-01 00:00:20"], utc=True))
    >>> fit = line_fit(ts, pd.Series([0.0, 10 * MIB, 20 * MIB]))
    >>> round(fit.slope / MIB, 6), fit.r2, round(fit.growth / MIB, 6), fit.rising_share
    (1.0, 1.0, 20.0, 1.0)
    >>> line_fit(ts[:1], pd.Series([1.0])) is None
    True
    """
    known = pd.DataFrame({"ts": ts.to_numpy(), "y": values.to_numpy(dtype=float, na_value=np.nan)})
    known = known.dropna().sort_values("ts", kind="stable")
    if len(known) < 2:
        return None
    t = (known["ts"] - known["ts"].iloc[0]).dt.total_seconds().to_numpy(dtype=float)
    y = known["y"].to_numpy(dtype=float)
    if t[-1] <= 0:
        return None
    slope, r2 = least_squares(t, y)
    steps = np.diff(y)
    return LineFit(
        samples=len(y),
        first_ts=known["ts"].iloc[0],
        last_ts=known["ts"].iloc[-1],
        seconds=float(t[-1]),
        first=float(y[0]),
        last=float(y[-1]),
        slope=slope,
        r2=r2,
        rising_share=float((steps > 0).mean()),
    )


def growth_settings(what: str, min_growth_mib: float, why: str) -> list[Setting]:
    """The settings that decide when a fitted line is steady growth of ``what``."""
    return [
        Setting(
            "min_growth_mib",
            min_growth_mib,
            f"Growth of the fitted line of {what} over the capture (MiB) below which nothing "
            f"is reported. Our choice: {why}",
        ),
        Setting(
            "min_r2",
            0.9,
            "Coefficient of determination (R², 0-1) of the linear fit at or above which the "
            "growth counts as steady. Our choice: 0.9, a straight line (as MEM002).",
        ),
        Setting(
            "min_samples",
            5,
            "Fewest snapshots needed to fit a line. Our choice: five points, so that one "
            "outlier cannot make a line (as MEM002).",
        ),
        Setting(
            "min_duration_s",
            120.0,
            "Shortest capture (s) over which a line counts as a trend. Our choice: two "
            "minutes, so that a burst (a build, a backup starting) is not read as a leak.",
        ),
        Setting(
            "max_exhaust_hours",
            24.0,
            "Growth whose projected time to use up MemAvailable is longer than this (hours) "
            "is reported as info, not warning. Our choice: a day, longer than a capture can "
            "extrapolate (as MEM002).",
        ),
    ]


def is_steady(fit: LineFit | None, settings: Mapping[str, Any]) -> bool:
    """Whether ``fit`` passes the :func:`growth_settings` thresholds."""
    return (
        fit is not None
        and fit.samples >= int(settings["min_samples"])
        and fit.seconds >= float(settings["min_duration_s"])
        and fit.growth >= float(settings["min_growth_mib"]) * MIB
        and fit.r2 >= float(settings["min_r2"])
    )


def timed_meminfo(ctx: RuleContext) -> pd.DataFrame | None:
    """The meminfo table when it is a time series (Skip with fewer than two samples)."""
    ctx.require_samples(2)
    meminfo = ctx.tables["meminfo"]
    return meminfo if timed(meminfo) else None


def steady_fit(ts: pd.Series, values: pd.Series, settings: Mapping[str, Any]) -> LineFit | None:
    """The line through ``values`` when it is steady growth (:func:`is_steady`), else None."""
    fit = line_fit(ts, values)
    return fit if fit is not None and is_steady(fit, settings) else None


def growth_finding(
    ctx: RuleContext, fit: LineFit, message: str, evidence: dict[str, object]
) -> Finding:
    """The finding of one steady growth: ``message`` and ``evidence`` with the time until
    MemAvailable is used up at the fitted slope (info beyond ``max_exhaust_hours``)."""
    tail, more, severity, reason = exhaustion(fit, ctx.tables["meminfo"], ctx.settings)
    return Finding(
        message=message + tail,
        start=fit.first_ts,
        end=fit.last_ts,
        evidence={**evidence, **more},
        severity=severity,
        severity_reason=reason,
    )


def share_text(level: float, meminfo: pd.DataFrame) -> tuple[str, float | None]:
    """``; it holds 12.5% of RAM`` and the share rounded for evidence ("" and None unknown)."""
    share = ram_share(level, meminfo)
    if share is None:
        return "", None
    return f"; it holds {mib(level)} MiB, {share:.1%} of RAM", rnd(share, 4)


def describe(fit: LineFit) -> str:
    """``grew from 10.0 MiB to 90.0 MiB in 300 s (08:00:00Z to 08:05:00Z): 960 MiB/h, R² 0.99,
    rising in 95% of intervals``."""
    return (
        f"grew from {mib(fit.first)} MiB to {mib(fit.last)} MiB in {fit.seconds:.0f} s "
        f"({when(fit.first_ts)} to {when(fit.last_ts)}): {fit.slope * 3600 / MIB:.0f} MiB/h, "
        f"R² {fit.r2:.2f}, rising in {fit.rising_share:.0%} of intervals"
    )


def fit_evidence(fit: LineFit) -> dict[str, object]:
    """The numbers of one fit for a finding's evidence."""
    return {
        "samples": fit.samples,
        "seconds": rnd(fit.seconds, 1),
        "first_mib": mib(fit.first),
        "last_mib": mib(fit.last),
        "growth_mib": mib(fit.growth),
        "slope_mib_per_s": rnd(fit.slope / MIB, 4),
        "slope_mib_per_h": rnd(fit.slope * 3600 / MIB, 1),
        "r2": rnd(fit.r2, 4),
        "rising_share": rnd(fit.rising_share, 3),
    }


def exhaustion(
    fit: LineFit, meminfo: pd.DataFrame, settings: Mapping[str, Any]
) -> tuple[str, dict[str, object], Severity | None, str | None]:
    """When MemAvailable (last snapshot) is used up at the fitted slope: message tail,
    evidence, and info severity (with its reason) when that is further than
    ``max_exhaust_hours``."""
    if "mem_available_bytes" not in meminfo.columns or fit.slope <= 0:
        return "", {}, None, None
    last = meminfo.sort_values("ts")["mem_available_bytes"].dropna()
    if last.empty:
        return "", {}, None, None
    available = float(last.iloc[-1])
    seconds = available / fit.slope
    tail = f"; at that rate MemAvailable ({mib(available)} MiB) is used up in {duration(seconds)}"
    evidence: dict[str, object] = {
        "mem_available_mib": mib(available),
        "exhaust_seconds": rnd(seconds, 0),
    }
    limit = float(settings["max_exhaust_hours"])
    if seconds > limit * 3600:
        return tail, evidence, Severity.INFO, f"MemAvailable would last more than {limit:g} h"
    return tail, evidence, None, None


def ram_share(value: float, meminfo: pd.DataFrame) -> float | None:
    """``value`` bytes as a share (0-1) of MemTotal (last snapshot), None when unknown."""
    if "mem_total_bytes" not in meminfo.columns:
        return None
    total = meminfo.sort_values("ts")["mem_total_bytes"].dropna()
    return float(value) / float(total.iloc[-1]) if not total.empty and total.iloc[-1] > 0 else None


def holders(
    df: pd.DataFrame | None, column: str, name: str, limit: int = 5
) -> list[dict[str, Any]]:
    """The processes holding the most ``column`` (bytes) in their last snapshot: pid, name,
    the value in their first and last snapshot (MiB) and its growth; only those holding some.

    ``df`` is a per-process table with ``pid``, ``ts``, ``column`` and ``name`` (``comm``).
    """
    if df is None or df.empty or not {"pid", "ts", name, column} <= set(df.columns):
        return []
    rows = df[["pid", "ts", name, column]].dropna(subset=[column])
    if rows.empty:
        return []
    rows = rows.sort_values("ts", kind="stable")
    first = rows.groupby("pid", sort=False).first()
    last = rows.groupby("pid", sort=False).last()
    last = last[last[column].astype(float) > 0]
    top = last.sort_values(column, ascending=False, kind="stable").head(limit)
    return [
        {
            "pid": int(pid),
            "comm": str(row[name]),
            "first_mib": mib(first.at[pid, column]),
            "last_mib": mib(row[column]),
            "growth_mib": mib(float(row[column]) - float(first.at[pid, column])),
        }
        for pid, row in top.iterrows()
    ]


def holders_text(found: list[dict[str, Any]], what: str) -> str:
    """``; largest holders of RssShmem: postgres (pid 12) 512.0 MiB (+300.0), ...``."""
    if not found:
        return f"; no captured process holds {what}"
    parts = [
        f"{h['comm']} (pid {h['pid']}) {h['last_mib']} MiB ({h['growth_mib']:+.1f} MiB)"
        for h in found[:3]
    ]
    return f"; largest holders of {what}: " + ", ".join(parts)
