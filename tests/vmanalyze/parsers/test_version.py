"""/proc/version and osrelease parsers on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.version import parse_osrelease, parse_version


def test_whole_record_of_real_capture(fixture_text):
    # cat proc/version (build host redacted, see PROVENANCE.md)
    assert parse_version(fixture_text("proc/version")) == {
        "kernel_release": "6.18.44-fc-v657",
        "build_user": "builder",
        "build_host": "build-host",
        "compiler": "gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46",
        "build_version": "#1 SMP PREEMPT_DYNAMIC @0",
    }


def test_osrelease_of_real_capture(fixture_text):
    assert parse_osrelease(fixture_text("proc/sys/kernel/osrelease")) == {
        "kernel_release": "6.18.44-fc-v657",
        "build_user": None,
        "build_host": None,
        "compiler": None,
        "build_version": None,
    }


def test_old_compiler_string_with_nested_parentheses():
    parsed = parse_version(
        "Linux version 3.4.5 (builder@buildMachine) (gcc version 4.6.x-google 20120106"
        " (prerelease) (GCC) ) #1 SMP PREEMPT Sat Jan 4 12:25:12 EST 2014\n"
    )
    assert parsed["compiler"] == "gcc version 4.6.x-google 20120106 (prerelease) (GCC)"
    assert parsed["build_version"] == "#1 SMP PREEMPT Sat Jan 4 12:25:12 EST 2014"


def test_errors():
    with pytest.raises(ParseError):
        parse_version("Darwin Kernel Version 23.0.0\n")
    with pytest.raises(SkipSource):
        parse_version("")
