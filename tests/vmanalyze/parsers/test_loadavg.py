"""loadavg parser on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.loadavg import parse_loadavg


def test_whole_record_of_real_capture(fixture_text):
    # cat proc/loadavg: 0.15 0.14 0.06 1/88 5505
    assert parse_loadavg(fixture_text("proc/loadavg")) == {
        "load1": 0.15,
        "load5": 0.14,
        "load15": 0.06,
        "runnable": 1,
        "total_threads": 88,
        "last_pid": 5505,
    }


def test_errors():
    with pytest.raises(ParseError):
        parse_loadavg("0.15 0.14 0.06 1 5505\n")
    with pytest.raises(SkipSource):
        parse_loadavg("")
