"""kernel_log and ps parsers: the line formats of sosreports' text logs and process lists."""

from __future__ import annotations

import pandas as pd
from vmanalyze.clock import local_to_ns
from vmanalyze.parsers.kernel_log import parse_dmesg, parse_syslog, syslog_time
from vmanalyze.parsers.ps import parse_ps
from vmanalyze.tables import TableBuilder

KILL = (
    "Out of memory: Killed process 812 (java) total-vm:8434216kB, anon-rss:6120400kB,"
    " file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:12504kB oom_score_adj:0"
)


def test_syslog_formats_rfc3339_short_precise_and_traditional():
    text = (
        f"2026-12-06T06:18:06.123456+01:00 db01 kernel: {KILL}\n"
        f"Dec 06 06:18:06.123456 db01 kernel: {KILL}\n"
        f"Dec  6 06:18:06 db01 kernel: [  399.013224] {KILL}\n"
        f"Dec  6 06:18:06 db01 java[812]: {KILL}\n"  # not a kernel line
        "-- Boot 2f1c5d8e4b6a4c1e9d3f7a2b5c8e1d4f --\n"
    )
    events = parse_syslog(text)
    assert [e["log_time"] for e in events] == [
        "2026-12-06T06:18:06.123456+01:00",
        "Dec 06 06:18:06.123456",
        "Dec  6 06:18:06",
    ]
    assert [e["usec"] for e in events] == [None, None, 399013224]
    assert {(e["victim_pid"], e["scope"], e["anon_rss_bytes"]) for e in events} == {
        (812, "global", 6120400 * 1024)
    }
    assert syslog_time("Dec 06 06:18:06.123456", 2026) == "2026-12-06T06:18:06.123456"
    # an RFC 3339 time carries its own offset: the host's offset is not needed
    assert (
        local_to_ns("2026-12-06T06:18:06+01:00", None)
        == pd.Timestamp("2026-12-06 05:18:06", tz="UTC").value
    )


def test_dmesg_without_timestamps_and_with_levels():
    # printk.time=0 (RHEL 6 default): no time stamp at all; dmesg -r: a <level> before it
    events = parse_dmesg(f"{KILL}\n<3>[ 12.5] {KILL}\n")
    assert [e["usec"] for e in events] == [None, 12500000]
    assert parse_dmesg("[    0.000000] Linux version 6.1.0\n") == []


def test_a_december_line_in_a_january_report_is_last_year():
    now = pd.Timestamp("2027-01-02 10:00:00", tz="UTC")
    event = {"log_time": "Dec 31 23:59:00", "usec": None}
    at = TableBuilder._event_ns(event, 0, None, now)
    assert at == pd.Timestamp("2026-12-31 23:59:00", tz="UTC").value


def test_ps_start_of_an_older_process_is_two_words():
    # ps -o start prints "Oct 02" for a process started more than a day ago
    text = "  PID USER     STARTED CMD\n  812 mysql     Oct 02 /usr/sbin/mysqld --basedir=/usr\n"
    [row] = parse_ps(text)
    assert (row["pid"], row["user"], row["start"], row["command"]) == (
        812,
        "mysql",
        "Oct 02",
        "/usr/sbin/mysqld --basedir=/usr",
    )
