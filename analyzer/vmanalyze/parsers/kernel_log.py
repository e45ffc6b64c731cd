r"""kernel_log - the kernel log as text: ``dmesg``, the journal, ``messages``/``kern.log``
===================================================================================

A sosreport or Insights archive holds the kernel log as text instead of ``/dev/kmsg``
records: ``sos_commands/kernel/dmesg`` (and Insights' ``insights_commands/dmesg``), the
journal as ``journalctl`` printed it (``sos_commands/logs/journalctl_--no-pager...``,
``sos_commands/kernel/journalctl_...``), and the syslog files ``var/log/messages``,
``kern.log`` and ``syslog`` with their rotated copies (``messages-20240101``, ``kern.log.1``).
The memory events are the same as those of :mod:`~vmanalyze.parsers.kmsg` (OOM kills with
their scope, allocation failures, hung tasks) and are found by the same code.

Two line formats:

* :func:`parse_dmesg`: ``[  399.013224] message`` (seconds.microseconds since boot; a
  leading ``<4>`` level of ``dmesg -r`` is read too). A line without timestamp (a kernel
  booted with ``printk.time=0``, RHEL 6) has ``usec`` null.
* :func:`parse_syslog`: ``Dec  6 06:18:13 host kernel: message`` (syslog and ``journalctl``'s
  ``short`` format, local time without year; ``Dec 06 06:18:13.123456`` of
  ``short-precise``) or ``2026-12-06T06:18:13.123456+00:00 host kernel: message`` (RFC 3339:
  rsyslog's default on newer distributions, ``journalctl -o short-iso``). Only ``kernel:``
  lines count; the journal's ``-- Boot ... --`` and ``-- Logs begin ...`` lines are skipped.
  A ``[  399.013224]`` at the start of the message (rsyslog with kernel timestamps) gives
  ``usec``.

Sample input (``dmesg`` of a Debian 12 sosreport, memory cgroup OOM)::

    [  399.013006] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
    [  399.013224] Memory cgroup out of memory: Killed process 10740 (python3)
        total-vm:221384kB, anon-rss:65256kB, file-rss:6644kB, shmem-rss:0kB, UID:0
        pgtables:200kB oom_score_adj:0

Output: ``list[dict]``, one event per memory record, with the keys of
:data:`~vmanalyze.parsers.kmsg.EVENT_KEYS` (``seq`` and ``level`` are null: text logs have
no sequence number) and ``log_time``: the time as the syslog line prints it (null for
``dmesg``). The analyzer turns ``usec`` and ``log_time`` into UTC with the report's boot time,
clock and time zone (:func:`syslog_time` reads ``log_time``).

Examples:
    >>> ev = parse_dmesg(SAMPLE)
    >>> [(e["event"], e["usec"], e["scope"]) for e in ev]
    [('oom_invoked', 399013006, None), ('oom_kill', 399013224, 'cgroup')]
    >>> ev[1]["victim_pid"], ev[1]["victim_name"], ev[1]["anon_rss_bytes"]
    (10740, 'python3', 66822144)
    >>> e = parse_syslog(SYSLOG_SAMPLE)[0]
    >>> e["event"], e["log_time"], e["usec"], e["victim_pid"]
    ('oom_kill', 'Dec  6 06:18:12', 399013224, 10740)
    >>> syslog_time("Dec  6 06:18:12", 2026), syslog_time("2026-12-06T06:18:12.5+01:00", 0)
    ('2026-12-06T06:18:12', '2026-12-06T06:18:12.5+01:00')
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.parsers._common import numbered_lines
from vmanalyze.parsers.kmsg import carry_scope, memory_event

SOURCE = "kernel_log"

SAMPLE = (
    "[  399.013006] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0,"
    " oom_score_adj=0\n"
    "[  399.013133] Memory cgroup stats for /h13oom:\n"
    "[  399.013224] Memory cgroup out of memory: Killed process 10740 (python3)"
    " total-vm:221384kB, anon-rss:65256kB, file-rss:6644kB, shmem-rss:0kB, UID:0"
    " pgtables:200kB oom_score_adj:0\n"
)
SYSLOG_SAMPLE = (
    "-- Journal begins at Sun 2026-12-06 06:11:27 UTC. --\n"
    "Dec  6 06:18:12 vm systemd[1]: Started session-1.scope.\n"
    "Dec  6 06:18:12 vm kernel: [  399.013224] Memory cgroup out of memory: Killed process"
    " 10740 (python3) total-vm:221384kB, anon-rss:65256kB, file-rss:6644kB, shmem-rss:0kB,"
    " UID:0 pgtables:200kB oom_score_adj:0\n"
)

_DMESG_RE = re.compile(r"^(?:<(?P<level>\d+)>)?\[\s*(?P<secs>\d+)\.(?P<frac>\d+)\]\s?(?P<msg>.*)$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SYSLOG_RE = re.compile(
    r"^(?P<ts>(?:" + "|".join(_MONTHS) + r") [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+ kernel: (?P<msg>.*)$"
)
_SHORT_RE = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d+) (?P<hms>\d\d:\d\d:\d\d(?:\.\d+)?)$")


def _usec(secs: str, frac: str) -> int:
    return int(secs) * 1_000_000 + int((frac + "000000")[:6])


def _events(items: list[tuple[str, int | None, str | None]]) -> list[dict[str, Any]]:
    events = []
    for message, usec, log_time in items:
        event = memory_event(message)
        if event is not None:
            event["usec"] = usec
            event["log_time"] = log_time
            events.append(event)
    return carry_scope(events)


def parse_dmesg(text: str) -> list[dict[str, Any]]:
    """Parse ``dmesg`` output into memory events (see the module docstring)."""
    items: list[tuple[str, int | None, str | None]] = []
    for _lineno, line in numbered_lines(text):
        match = _DMESG_RE.match(line)
        if match:
            items.append((match["msg"], _usec(match["secs"], match["frac"]), None))
        else:
            items.append((line, None, None))
    return _events(items)


def parse_syslog(text: str) -> list[dict[str, Any]]:
    """Parse the kernel lines of a syslog file or ``journalctl`` output into memory events."""
    items: list[tuple[str, int | None, str | None]] = []
    for _lineno, line in numbered_lines(text):
        match = _SYSLOG_RE.match(line)
        if not match:
            continue
        message, usec = match["msg"], None
        stamp = _DMESG_RE.match(message)
        if stamp:
            message, usec = stamp["msg"], _usec(stamp["secs"], stamp["frac"])
        items.append((message, usec, match["ts"]))
    return _events(items)


def syslog_time(log_time: str, year: int) -> str | None:
    """An ISO 8601 time of a syslog time stamp; a ``Dec  6 06:18:12`` one gets `year`.

    The result has an offset only when the log printed one (RFC 3339); otherwise it is the
    host's local time. ``None`` when the text is not a syslog time.
    """
    short = _SHORT_RE.match(log_time)
    if short:
        month = _MONTHS.index(short["mon"]) + 1
        return f"{year:04d}-{month:02d}-{int(short['day']):02d}T{short['hms']}"
    if re.match(r"^\d{4}-\d\d-\d\dT", log_time):
        return log_time.replace(",", ".")
    return None
