"""The clock of a one-shot input in a time zone other than UTC (date, date --utc, manifest)."""

from __future__ import annotations

import pandas as pd
from vmanalyze.clock import collection_clock


def _files(**texts: str) -> dict[str, list[tuple[str, bytes]]]:
    paths = {
        "date": "sos_commands/date/date",
        "utc": "sos_commands/date/date_--utc",
        "uptime": "sos_commands/host/uptime",
        "manifest": "sos_reports/manifest.json",
        "stat": "proc/stat",
    }
    return {paths[key]: [("0", text.encode())] for key, text in texts.items()}


def _utc(ns: int | None) -> pd.Timestamp:
    assert ns is not None
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def test_cet_host_offset_from_date_against_date_utc():
    wall, clock, warnings = collection_clock(
        _files(
            date="Wed Oct  2 04:54:30 CEST 2019\n",
            utc="Wed Oct  2 02:54:30 UTC 2019\n",
            uptime=" 04:54:32 up 35 min,  1 user,  load average: 0.64, 0.37, 0.23\n",
        ),
        file_time=1.0,
    )
    assert _utc(wall) == pd.Timestamp("2019-10-02 02:54:30", tz="UTC")
    assert clock["utc_offset_s"] == 7200 and warnings == []
    assert _utc(clock["boot_ns"]) == pd.Timestamp("2019-10-02 02:19:30", tz="UTC")


MANIFEST = '{"version": "4.5.0", "start_time": "2025-03-04 09:59:58.250000"}'


def test_date_in_a_numeric_zone_gives_time_and_offset():
    files = _files(date="Tue Mar  4 10:00:05 -0500 2025\n", manifest=MANIFEST)
    wall, clock, _ = collection_clock(files, file_time=None)
    assert clock["basis"] == "date" and clock["utc_offset_s"] == -18000
    assert _utc(wall) == pd.Timestamp("2025-03-04 15:00:05", tz="UTC")


def test_manifest_alone_is_read_as_utc_with_a_warning():
    # date in an ambiguous zone (EST is also Australian) and no date --utc
    files = _files(date="Tue Mar  4 10:00:05 EST 2025\n", manifest=MANIFEST)
    wall, clock, warnings = collection_clock(files, file_time=None)
    assert clock["utc_offset_s"] is None and clock["basis"].startswith("sos manifest")
    assert _utc(wall) == pd.Timestamp("2025-03-04 09:59:58.250000", tz="UTC")
    assert warnings and "read as UTC" in warnings[0]


def test_nothing_but_a_file_time_says_so():
    wall, clock, warnings = collection_clock({}, file_time=1733400000.0)
    assert clock["basis"] == "file time of proc/meminfo" and wall == 1733400000 * 10**9
    assert warnings and "can be far off" in warnings[0]
