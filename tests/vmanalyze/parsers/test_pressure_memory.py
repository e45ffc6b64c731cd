"""PSI parser on a real /proc/pressure/memory and cgroup memory.pressure, and edge cases."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pressure_memory import PSI_KEYS, parse_pressure_memory, parse_psi

# cat proc/pressure/memory: both lines all-zero averages, totals 559 and 432 us (the OOM test).
EXPECTED_DEBIAN12 = {
    "some_avg10": 0.0,
    "some_avg60": 0.0,
    "some_avg300": 0.0,
    "some_total_us": 559,
    "full_avg10": 0.0,
    "full_avg60": 0.0,
    "full_avg300": 0.0,
    "full_total_us": 432,
}


def test_whole_record_of_real_capture(fixture_text):
    assert parse_pressure_memory(fixture_text("proc/pressure/memory")) == EXPECTED_DEBIAN12


def test_cgroup_memory_pressure_has_the_same_format(fixture_text):
    assert parse_psi(fixture_text("sys/fs/cgroup/unified/memory.pressure")) == EXPECTED_DEBIAN12


def test_heavy_pressure_values():
    parsed = parse_pressure_memory(
        "some avg10=70.24 avg60=68.52 avg300=69.91 total=3559632828\n"
        "full avg10=57.59 avg60=58.06 avg300=60.38 total=3300487258"
    )
    assert (parsed["some_avg10"], parsed["full_total_us"]) == (70.24, 3300487258)


def test_missing_full_line_is_none():
    parsed = parse_pressure_memory("some avg10=1.50 avg60=0.50 avg300=0.10 total=12345\n")
    assert parsed["some_avg10"] == 1.5
    assert [parsed[k] for k in PSI_KEYS if k.startswith("full")] == [None] * 4


def test_empty_file_means_psi_unavailable():
    with pytest.raises(SkipSource):
        parse_pressure_memory("")


def test_malformed():
    with pytest.raises(ParseError):
        parse_pressure_memory("half avg10=0.00 total=1\n")
    with pytest.raises(ParseError):
        parse_pressure_memory("some avg10 0.00\n")
    with pytest.raises(ParseError):
        parse_pressure_memory("some avg10=high\n")
