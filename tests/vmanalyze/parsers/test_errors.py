"""The error family of vmanalyze.errors."""

from __future__ import annotations

import pytest
from vmanalyze.errors import (
    InputError,
    ParseError,
    SkipSource,
    UnsupportedFormatError,
    VmanalyzeError,
)
from vmanalyze.parsers.meminfo import parse_meminfo


def test_parse_error_carries_position_and_shortens_long_lines():
    error = ParseError("meminfo", 3, "x" * 500, "expected 'Key: value'")
    assert (error.source, error.lineno, error.reason) == ("meminfo", 3, "expected 'Key: value'")
    assert error.line == "x" * 500  # kept whole on the object
    assert len(str(error)) < 200  # shortened in the message


def test_one_family():
    for error in (
        ParseError("s", 1, "l"),
        SkipSource("s", "empty"),
        InputError("bundle.tar.gz", "not a vmcollect bundle"),
        UnsupportedFormatError("format_version 2"),
    ):
        assert isinstance(error, VmanalyzeError)
    assert str(InputError("b.tgz", "truncated")) == "b.tgz: truncated"


def test_parsers_raise_the_family():
    with pytest.raises(VmanalyzeError):
        parse_meminfo("garbage\n")
