"""zram mm_stat: the live devices of this host, the zram-thrash sample's device, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.sys_block_zram import COLUMNS, parse_sys_block_zram


def test_routes():
    assert match_sources("sys/block/zram0/mm_stat") == ["sys_block_zram"]
    assert match_sources("sys/block/zram12/mm_stat") == ["sys_block_zram"]
    assert match_sources("sys/block/sda/mm_stat") == []


def test_live_devices():
    devices = sorted(Path("/sys/block").glob("zram*/mm_stat"))
    if not devices:
        pytest.skip("no zram device on this host")
    for path in devices:
        text = path.read_text()
        parsed = parse_sys_block_zram(text)
        values = [int(v) for v in text.split()]
        assert list(parsed) == list(COLUMNS[: len(values)])
        assert list(parsed.values()) == values[: len(COLUMNS)]


def test_older_kernels_print_fewer_columns():
    # 4.2-4.18: no huge_pages column; the first seven keep their meaning
    parsed = parse_sys_block_zram("  545288192 11821056 12627968 0 12627968 2871 0\n")
    assert parsed["orig_data_size_bytes"] == 545288192
    assert parsed["same_pages"] == 2871
    assert "huge_pages" not in parsed


def test_bad_input():
    with pytest.raises(SkipSource):
        parse_sys_block_zram("")
    with pytest.raises(ParseError):
        parse_sys_block_zram("12 x 3 4\n")
    with pytest.raises(ParseError):
        parse_sys_block_zram("12\n")
