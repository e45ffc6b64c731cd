"""/proc/stat CPU lines of a real capture, and old kernels with fewer columns."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.proc_stat import CPU_FIELDS, parse_proc_stat, parse_proc_stat_totals

# awk '/^cpu/' proc/stat
EXPECTED_DEBIAN12 = [
    dict(
        zip(("cpu", *CPU_FIELDS), ("cpu", 5753, 0, 1322, 73333, 244, 0, 58, 8, 0, 0), strict=True)
    ),
    dict(
        zip(("cpu", *CPU_FIELDS), ("cpu0", 1785, 0, 565, 37783, 194, 0, 28, 2, 0, 0), strict=True)
    ),
    dict(zip(("cpu", *CPU_FIELDS), ("cpu1", 3968, 0, 756, 35550, 49, 0, 29, 5, 0, 0), strict=True)),
]


def test_cpu_lines_of_real_capture(fixture_text):
    assert parse_proc_stat(fixture_text("proc/stat")) == EXPECTED_DEBIAN12


def test_totals_of_real_capture(fixture_text):
    # awk for ctxt btime processes procs_running procs_blocked
    assert parse_proc_stat_totals(fixture_text("proc/stat")) == {
        "ctxt": 242021,
        "btime": 1795703261,
        "processes": 5509,
        "procs_running": 2,
        "procs_blocked": 0,
    }


def test_2_6_kernel_without_steal_and_guest_columns():
    rows = parse_proc_stat("cpu  100 2 30 4000 5 6 7\ncpu0 100 2 30 4000 5 6 7\nctxt 1\n")
    assert rows[0] == {
        "cpu": "cpu",
        "user": 100,
        "nice": 2,
        "system": 30,
        "idle": 4000,
        "iowait": 5,
        "irq": 6,
        "softirq": 7,
        "steal": None,
        "guest": None,
        "guest_nice": None,
    }


def test_errors():
    with pytest.raises(ParseError):
        parse_proc_stat("cpu  1 2\n")
    with pytest.raises(ParseError):
        parse_proc_stat("cpu  1 2 x 4\n")
