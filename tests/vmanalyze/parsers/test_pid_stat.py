"""/proc/<pid>/stat parser: real captures (comm with ') ', spaces, a newline), old kernels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pid_stat import parse_pid_stat

# Field names of proc(5) ("/proc/pid/stat"), typed from the man page, 1-based order.
PROC5 = [
    "pid",
    "comm",
    "state",
    "ppid",
    "pgrp",
    "session",
    "tty_nr",
    "tpgid",
    "flags",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime",
    "stime",
    "cutime",
    "cstime",
    "priority",
    "nice",
    "num_threads",
    "itrealvalue",
    "starttime",
    "vsize",
    "rss",
    "rsslim",
    "startcode",
    "endcode",
    "startstack",
    "kstkesp",
    "kstkeip",
    "signal",
    "blocked",
    "sigignore",
    "sigcatch",
    "wchan",
    "nswap",
    "cnswap",
    "exit_signal",
    "processor",
    "rt_priority",
    "policy",
    "delayacct_blkio_ticks",
    "guest_time",
    "cguest_time",
    "start_data",
    "end_data",
    "start_brk",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
    "exit_code",
]


def record(pid: int, comm: str, state: str, *numbers: int) -> dict[str, object]:
    return dict(zip(PROC5, (pid, comm, state, *numbers), strict=True))


# Fields 4-52: everything after the last ') ' (sed 's/.*) //'), split with awk.
EXPECTED = {
    "1": record(
        1,
        "process_api",
        "S",
        0,
        0,
        0,
        0,
        -1,
        4194560,
        33147,
        511430,
        0,
        142,
        53,
        116,
        3994,
        609,
        20,
        0,
        13,
        0,
        9,
        44654592,
        3364,
        18446744073709551615,
        1,
        1,
        0,
        0,
        0,
        0,
        0,
        4096,
        1256,
        0,
        0,
        0,
        17,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ),
    "45": record(
        45,
        "kswapd0",
        "S",
        2,
        0,
        0,
        0,
        -1,
        2230336,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        20,
        0,
        1,
        0,
        17,
        0,
        0,
        18446744073709551615,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2147483647,
        0,
        1,
        0,
        0,
        17,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ),
    "5399": record(
        5399,
        "x) S 1 (y z",
        "S",
        5394,
        5394,
        3007,
        0,
        -1,
        4194304,
        2927,
        6534,
        0,
        0,
        5,
        0,
        3,
        1,
        20,
        0,
        1,
        0,
        40338,
        17145856,
        3415,
        18446744073709551615,
        94128524128256,
        94128524128597,
        140722421092640,
        0,
        0,
        0,
        0,
        16781318,
        0,
        1,
        0,
        0,
        17,
        1,
        0,
        0,
        0,
        0,
        0,
        94128524139952,
        94128524140568,
        94128664670208,
        140722421098671,
        140722421098714,
        140722421098714,
        140722421100495,
        0,
    ),
    "5400": record(
        5400,
        "two\nlines",
        "S",
        5394,
        5394,
        3007,
        0,
        -1,
        4194304,
        2927,
        6513,
        0,
        0,
        1,
        2,
        3,
        0,
        20,
        0,
        1,
        0,
        40338,
        17145856,
        3432,
        18446744073709551615,
        94055486504960,
        94055486505301,
        140734102518832,
        0,
        0,
        0,
        0,
        16781318,
        0,
        1,
        0,
        0,
        17,
        0,
        0,
        0,
        0,
        0,
        0,
        94055486516656,
        94055486517272,
        94056226078720,
        140734102522031,
        140734102522074,
        140734102522074,
        140734102523855,
        0,
    ),
}


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_whole_record_of_real_capture(fixture_text, pid):
    assert parse_pid_stat(fixture_text(f"proc/{pid}/stat")) == EXPECTED[pid]


def test_named_fields_of_the_trap_comm(fixture_text):
    st = parse_pid_stat(fixture_text("proc/5399/stat"))
    assert (st["ppid"], st["minflt"], st["utime"], st["num_threads"]) == (5394, 2927, 5, 1)
    assert (st["starttime"], st["vsize"], st["rss"], st["processor"]) == (40338, 17145856, 3415, 1)


def test_2_6_32_kernel_prints_44_fields():
    text = "1 (init) S 0 1 1 0 -1 4202752 4393 1597396 15 1297 2 145 6433 2154 20 0 1 0 2 " + (
        "19361792 385 18446744073709551615 1 1 0 0 0 0 0 4096 536962595 0 0 0 17 3 0 0 4 0 0"
    )
    st = parse_pid_stat(text)
    assert (st["processor"], st["delayacct_blkio_ticks"], st["guest_time"]) == (3, 4, 0)
    assert st["cguest_time"] == 0 and st["start_data"] is None and st["exit_code"] is None


def test_very_old_kernel_without_processor_field():
    st = parse_pid_stat("1 (init) S 0 1 1 0 -1 256 1 2 3 4 5 6 7 8 16 0 1 0 9 100 20 4294967295")
    assert (st["starttime"], st["vsize"], st["rss"], st["rsslim"]) == (9, 100, 20, 4294967295)
    assert st["processor"] is None


def test_extra_text_after_the_stat_line_is_ignored():
    st = parse_pid_stat("7 ((a) b) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n#!/bin/cat x\n")
    assert (st["comm"], st["state"], st["starttime"]) == ("(a) b", "R", 5)


def test_errors():
    with pytest.raises(ParseError):
        parse_pid_stat("1 init S 0 1\n")
    with pytest.raises(ParseError):
        parse_pid_stat("1 (init) S 0 1 1\n")  # too few fields
    with pytest.raises(ParseError):
        parse_pid_stat("x (init) S 0 1 1 0 -1 256 1 2 3 4 5 6 7 8 16 0 1 0 9\n")
    with pytest.raises(SkipSource):
        parse_pid_stat("")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs a Linux /proc")
def test_live_self_matches_os():
    st = parse_pid_stat(Path("/proc/self/stat").read_text())
    assert st["pid"] == os.getpid() and st["ppid"] == os.getppid()
