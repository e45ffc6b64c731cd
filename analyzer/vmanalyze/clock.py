"""When a one-shot input (a sosreport, an Insights archive) was taken, and when its host booted.

A bundle records its own clock. A sosreport does not, and the times it holds are the host's
local time (``date``, sos's manifest, ``ps`` start times, syslog lines). The file times in the
archive are no help: sos copies ``/proc`` files with their times, and a procfs file's time is
when its inode was created, not when it was read; taking ``proc/meminfo``'s time made a fresh
report look a day old. So, in this order:

* collection time: ``date --utc``; else ``date`` when its zone is UTC or numeric; else sos's
  manifest ``start_time`` read as UTC (its zone is unknown then; with a warning); the file time
  of ``proc/meminfo`` only when none of these exists (with a warning);
* UTC offset of the host: ``date`` against ``date --utc`` (to the quarter hour), else the zone
  ``date`` prints when unambiguous, else ``uptime``'s local time of day against ``date --utc``
  (sos 3.x collects no plain ``date``);
* boot time: ``btime`` of ``proc/stat`` (to the second), else the collection time minus
  ``uptime`` (to the minute).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers import SOURCES, match_sources
from vmanalyze.parsers.proc_stat import parse_proc_stat_totals

NS = 1_000_000_000


def _parsed(
    by_path: dict[str, list[tuple[str, bytes]]], source: str, name: str = ""
) -> dict[str, Any] | None:
    """The parsed file of a source (the one whose path ends with `name`, if given)."""
    parse: Callable[[str], Any] = SOURCES[source].parse
    for path in sorted(by_path):
        if source not in match_sources(path) or (name and not path.endswith(name)):
            continue
        try:
            value = parse(by_path[path][0][1].decode("utf-8", "replace"))
        except (ParseError, SkipSource, ValueError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _naive(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


def _ns(moment: datetime) -> int:
    return int(round(moment.replace(tzinfo=UTC).timestamp() * 1e6)) * 1000


def _offset_of_time_of_day(time_of_day: str, utc: datetime) -> int:
    """UTC offset (to the quarter hour) of a local ``HH:MM:SS`` read moments from `utc`.

    >>> _offset_of_time_of_day("08:54:32", datetime(2019, 10, 2, 2, 54, 30))
    21600
    >>> _offset_of_time_of_day("22:00:05", datetime(2019, 10, 2, 3, 0, 0))
    -18000
    """
    hours, minutes, seconds = (int(part) for part in time_of_day.split(":"))
    local = hours * 3600 + minutes * 60 + seconds
    delta = (local - (utc.hour * 3600 + utc.minute * 60 + utc.second)) % 86400
    if delta > 14 * 3600:  # offsets run from -12:00 to +14:00
        delta -= 86400
    return int(round(delta / 900.0)) * 900


def collection_clock(
    by_path: dict[str, list[tuple[str, bytes]]], file_time: float | None
) -> tuple[int | None, dict[str, Any], list[str]]:
    """(collection time in ns, clock facts for the manifest, warnings) of a one-shot input.

    The facts: ``basis`` (where the time came from), ``utc_offset_s``, ``boot_ns`` and
    ``boot_basis``; each ``None`` when unknown.
    """
    warnings: list[str] = []
    utc = _parsed(by_path, "date", "date_--utc")
    local = _parsed(by_path, "date", "/date")
    manifest = _parsed(by_path, "sos_manifest")
    offset: int | None = None
    if utc and local:
        seconds = (_naive(str(local["local"])) - _naive(str(utc["local"]))).total_seconds()
        offset = int(round(seconds / 900.0)) * 900
    elif local and local["utc_offset_s"] is not None:
        offset = int(local["utc_offset_s"])
    up = _parsed(by_path, "uptime")
    if offset is None and utc and up:  # uptime prints the local time of day
        offset = _offset_of_time_of_day(str(up["time_of_day"]), _naive(str(utc["local"])))
    wall: int | None = None
    basis: str | None = None
    if utc:
        wall, basis = _ns(_naive(str(utc["local"]))), "date --utc"
    elif local and offset is not None:
        wall = _ns(_naive(str(local["local"])) - timedelta(seconds=offset))
        basis = "date"
    elif manifest and manifest["start_time"]:
        wall = _ns(_naive(str(manifest["start_time"])))
        basis = "sos manifest start_time (zone unknown: read as UTC)"
        warnings.append(
            "collection time: sos's manifest gives local time and no date output "
            "gives the zone; read as UTC"
        )
    elif file_time and file_time > 0:
        wall, basis = int(file_time * 1e9), "file time of proc/meminfo"
        warnings.append(
            "collection time: no date output or sos manifest; the file time of "
            "proc/meminfo is used, which can be far off"
        )
    boot: int | None = None
    boot_basis: str | None = None
    if "proc/stat" in by_path:
        try:
            totals = parse_proc_stat_totals(by_path["proc/stat"][0][1].decode("utf-8", "replace"))
            btime = totals.get("btime")
            if btime:
                boot, boot_basis = btime * NS, "proc/stat btime"
        except (ParseError, SkipSource, ValueError):
            pass
    if boot is None and up and wall is not None:
        boot, boot_basis = wall - int(up["up_s"]) * NS, "uptime (to the minute)"
    facts = {"basis": basis, "utc_offset_s": offset, "boot_ns": boot, "boot_basis": boot_basis}
    return wall, facts, warnings


def local_to_ns(text: str, offset_s: int | None) -> int | None:
    """ns since the epoch of an ISO local time (or one with its own offset); None if unknown."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return int(round(moment.timestamp() * 1e6)) * 1000
    if offset_s is None:
        return None
    return _ns(moment - timedelta(seconds=offset_s))
