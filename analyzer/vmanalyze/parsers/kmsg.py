r"""kmsg - file /dev/kmsg (OOM kills, allocation failures, hung tasks)
==================================================================

Kernel log records in the /dev/kmsg format, one per line: ``prio,seq,usec,flags;message``
(``prio`` = facility * 8 + level, ``seq`` = record number, ``usec`` = CLOCK_MONOTONIC
microseconds since boot; non-printable bytes of the message are escaped as ``\xNN``).
Continuation lines start with a space and carry ``KEY=VALUE`` dictionary entries: ignored.
This parser turns the memory-related records into events; every other record is skipped.
Formats follow mm/oom_kill.c, mm/page_alloc.c (warn_alloc) and kernel/hung_task.c:

* ``<comm> invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0``
  (``oom_invoked``; 2.6.x-3.x also print ``oom_adj=``);
* ``Out of memory: Kill process 1234 (x) score 900 or sacrifice child``
  (``oom_victim_selected``, kernels before 5.0; ``Memory cgroup out of memory:`` for a memcg);
* ``Task in /foo/bar killed as a result of limit of /foo`` (``oom_memcg_limit``, memory
  cgroup OOMs of kernels before 4.19, mm/memcontrol.c ``mem_cgroup_print_oom_info``: the
  cgroup whose limit was hit, and the victim's);
* ``oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,
  oom_memcg=/foo,task_memcg=/foo/bar,task=name,pid=1234,uid=0`` (``oom_kill_constraint``, 4.19+;
  ``global_oom`` instead of ``oom_memcg=`` for a system-wide OOM);
* ``Out of memory: Killed process 1234 (postgres) total-vm:..kB, anon-rss:..kB, file-rss:..kB,
  shmem-rss:..kB, UID:.. pgtables:..kB oom_score_adj:..`` (``oom_kill``; older kernels print
  ``Killed process 1234 (x) total-vm:...`` alone, RHEL 6 ``Killed process 1234, UID 0, (x)``,
  RHEL 7 ``Killed process 1234 (x), UID 0, total-vm:...``);
* ``oom_reaper: reaped process 1234 (x), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB``
  (``oom_reaper``, 4.6+);
* ``<comm>: page allocation failure: order:N, mode:0x...`` (``alloc_failure``; ``failure.``
  before 3.x);
* ``INFO: task <comm>:<pid> blocked for more than N seconds.`` (``hung_task``);
* (``Task in ...`` above: memory cgroup OOMs before 4.19 have no ``oom-kill:`` line).

``scope`` says whose limit was hit: ``cgroup`` (a memory cgroup's limit), ``global`` (the
whole system, or a cpuset/mempolicy) or ``None`` when the record does not tell. Before 4.19
the ``Killed process`` line of a memory cgroup OOM carries no prefix: it takes the scope of the
``Kill process`` (victim selection) or ``Task in`` record before it for the same victim.

See https://www.kernel.org/doc/Documentation/ABI/testing/dev-kmsg

Sample input (two records, each on one line, wrapped here)::

    4,348,382651636,-;mem hog (x) invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0,
        oom_score_adj=0
    3,425,382652012,-;Memory cgroup out of memory: Killed process 5274 (mem hog (x))
        total-vm:82536kB, anon-rss:72448kB, file-rss:6784kB, shmem-rss:0kB, UID:0
        pgtables:204kB oom_score_adj:0

Output: ``list[dict]``, one event per matching record, every key of :data:`EVENT_KEYS` present
(``None`` when the record does not carry it): ``event``, ``seq``, ``usec`` (kernel timestamp,
microseconds since boot), ``level``, ``victim_pid``, ``victim_name``, ``total_vm_bytes``,
``anon_rss_bytes``, ``file_rss_bytes``, ``shmem_rss_bytes``, ``pgtables_bytes`` (bytes),
``uid``, ``oom_score_adj``, ``score``, ``memcg_oom`` (True for a memory cgroup OOM),
``constraint``, ``nodemask``, ``cpuset``, ``mems_allowed``, ``oom_memcg``, ``task_memcg``,
``invoking_process``, ``gfp_mask``, ``order``, ``blocked_seconds``, ``message``, ``scope``.

Examples:
    >>> ev = parse_kmsg(SAMPLE)
    >>> [e["event"] for e in ev]
    ['oom_invoked', 'oom_kill']
    >>> ev[0]["invoking_process"], ev[0]["order"], ev[0]["gfp_mask"], ev[0]["seq"]
    ('mem hog (x)', 0, '0xcc0(GFP_KERNEL)', 348)
    >>> k = ev[1]
    >>> k["victim_pid"], k["victim_name"], k["anon_rss_bytes"], k["memcg_oom"], k["usec"]
    (5274, 'mem hog (x)', 74186752, True, 382652012)
    >>> [e["scope"] for e in events_of_messages(OLD_MEMCG)]
    ['cgroup', 'cgroup', 'cgroup']
    >>> old = parse_kmsg(SAMPLE_PRE_4_19)
    >>> [e["event"] for e in old]
    ['oom_memcg_limit', 'oom_victim_selected', 'oom_kill']
    >>> old[0]["oom_memcg"], old[0]["task_memcg"], old[1]["memcg_oom"], old[1]["score"]
    ('/app', '/app/worker', True, 972)
    >>> old[2]["victim_pid"], old[2]["uid"], old[2]["anon_rss_bytes"], old[2]["total_vm_bytes"]
    (4242, 1000, 257949696, 1346371584)
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines

SOURCE = "kmsg"

SAMPLE = (
    "4,348,382651636,-;mem hog (x) invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0,"
    " oom_score_adj=0\n"
    "3,425,382652012,-;Memory cgroup out of memory: Killed process 5274 (mem hog (x))"
    " total-vm:82536kB, anon-rss:72448kB, file-rss:6784kB, shmem-rss:0kB, UID:0 pgtables:204kB"
    " oom_score_adj:0\n"
)

#: A memory cgroup OOM of a 3.10 kernel (RHEL 7): three records, no ``oom-kill:`` line.
OLD_MEMCG = (
    "Task in /system.slice/app.service killed as a result of limit of /system.slice/app.service",
    "Memory cgroup out of memory: Kill process 4711 (java) score 1000 or sacrifice child",
    "Killed process 4711 (java) total-vm:4216736kB, anon-rss:1046260kB, file-rss:1320kB,"
    " shmem-rss:0kB",
)

#: A memory cgroup OOM as a RHEL 7 kernel (3.10) logs it: the lines of
#: mem_cgroup_print_oom_info and oom_kill_process, with the UID after the name.
SAMPLE_PRE_4_19 = (
    "6,901,7302117391,-;Task in /app/worker killed as a result of limit of /app\n"
    "6,902,7302117400,-;memory: usage 262144kB, limit 262144kB, failcnt 5821\n"
    "3,903,7302118012,-;Memory cgroup out of memory: Kill process 4242 (java) score 972 or"
    " sacrifice child\n"
    "3,904,7302118950,-;Killed process 4242 (java), UID 1000, total-vm:1314816kB,"
    " anon-rss:251904kB, file-rss:10236kB, shmem-rss:0kB\n"
)

EVENT_KEYS: tuple[str, ...] = (
    "event",
    "seq",
    "usec",
    "level",
    "victim_pid",
    "victim_name",
    "total_vm_bytes",
    "anon_rss_bytes",
    "file_rss_bytes",
    "shmem_rss_bytes",
    "pgtables_bytes",
    "uid",
    "oom_score_adj",
    "score",
    "memcg_oom",
    "constraint",
    "nodemask",
    "cpuset",
    "mems_allowed",
    "oom_memcg",
    "task_memcg",
    "invoking_process",
    "gfp_mask",
    "order",
    "blocked_seconds",
    "message",
    "scope",
)

_RECORD_RE = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$")
_SCOPE = r"(?:(?P<scope>Out of memory|Memory cgroup out of memory)(?: \([a-z_]+\))?: )?"
_KILLED_RE = re.compile(
    _SCOPE + r"Killed process (?P<pid>\d+)(?:, UID (?P<old_uid>\d+),)? \((?P<name>.*?)\)"
    r"(?:, UID (?P<rhel7_uid>\d+),)?"
    r"(?:(?= total-vm:)|,|$)"
    r"(?: total-vm:(?P<total_vm>\d+)kB, anon-rss:(?P<anon>\d+)kB, file-rss:(?P<file>\d+)kB"
    r"(?:, shmem-rss:(?P<shmem>\d+)kB)?"
    r"(?:,? UID:(?P<uid>\d+) pgtables:(?P<pgtables>\d+)kB oom_score_adj:(?P<adj>-?\d+))?)?"
)
_SELECT_RE = re.compile(
    r"^(?P<scope>Out of memory|Memory cgroup out of memory): [Kk]ill process (?P<pid>\d+)"
    r" \((?P<name>.*)\) score (?P<score>\d+) or (?:sacrifice|a) child"
)
_CONSTRAINT_RE = re.compile(
    r"^oom-kill:constraint=(?P<constraint>[^,]*),nodemask=(?P<nodemask>.*?),"
    r"cpuset=(?P<cpuset>.*?),mems_allowed=(?P<mems>.*?)"
    r"(?:,oom_memcg=(?P<oom_memcg>.*?)|,global_oom)?(?:,task_memcg=(?P<task_memcg>.*?))?"
    r",task=(?P<task>.*),pid=(?P<pid>\d+),uid=(?P<uid>\d+)$"
)
_TASK_IN_RE = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<limit>\S+)$")
_INVOKED_RE = re.compile(r"^(?P<comm>.*) invoked oom-killer: (?P<args>.*)$")
_REAPER_RE = re.compile(
    r"^oom_reaper: reaped process (?P<pid>\d+) \((?P<name>.*)\), now anon-rss:(?P<anon>\d+)kB,"
    r" file-rss:(?P<file>\d+)kB, shmem-rss:(?P<shmem>\d+)kB"
)
_ALLOC_RE = re.compile(
    r"^(?P<comm>.*): page allocation failure[:.] order:(?P<order>\d+), mode:(?P<mode>[^,\s]+)"
)
_HUNG_RE = re.compile(
    r"^INFO: task (?P<comm>.*):(?P<pid>\d+) blocked for more than (?P<secs>\d+) seconds\."
)


def _kib(value: str | None) -> int | None:
    return int(value) * KIB if value is not None else None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _event(message: str) -> dict[str, Any] | None:
    """Return the event fields of one message, ``None`` when it is not memory related."""
    if match := _KILLED_RE.match(message):
        return {
            "event": "oom_kill",
            "victim_pid": int(match["pid"]),
            "victim_name": match["name"],
            "total_vm_bytes": _kib(match["total_vm"]),
            "anon_rss_bytes": _kib(match["anon"]),
            "file_rss_bytes": _kib(match["file"]),
            "shmem_rss_bytes": _kib(match["shmem"]),
            "pgtables_bytes": _kib(match["pgtables"]),
            "uid": _int(match["uid"] or match["old_uid"] or match["rhel7_uid"]),
            "oom_score_adj": _int(match["adj"]),
            "memcg_oom": match["scope"].startswith("Memory cgroup") if match["scope"] else None,
        }
    if match := _SELECT_RE.match(message):
        return {
            "event": "oom_victim_selected",
            "victim_pid": int(match["pid"]),
            "victim_name": match["name"],
            "score": int(match["score"]),
            "memcg_oom": match["scope"].startswith("Memory cgroup"),
        }
    if match := _CONSTRAINT_RE.match(message):
        return {
            "event": "oom_kill_constraint",
            "constraint": match["constraint"],
            "nodemask": match["nodemask"],
            "cpuset": match["cpuset"],
            "mems_allowed": match["mems"],
            "oom_memcg": match["oom_memcg"],
            "task_memcg": match["task_memcg"],
            "victim_name": match["task"],
            "victim_pid": int(match["pid"]),
            "uid": int(match["uid"]),
            "memcg_oom": match["constraint"] == "CONSTRAINT_MEMCG",
        }
    if match := _TASK_IN_RE.match(message):
        return {
            "event": "oom_memcg_limit",
            "constraint": "CONSTRAINT_MEMCG",
            "oom_memcg": match["limit"],
            "task_memcg": match["task"],
            "memcg_oom": True,
        }
    if match := _INVOKED_RE.match(message):
        args = dict(part.split("=", 1) for part in match["args"].split(", ") if "=" in part)
        return {
            "event": "oom_invoked",
            "invoking_process": match["comm"],
            "gfp_mask": args.get("gfp_mask"),
            "nodemask": args.get("nodemask"),
            "order": _int(args.get("order")),
            "oom_score_adj": _int(args.get("oom_score_adj")),
        }
    if match := _REAPER_RE.match(message):
        return {
            "event": "oom_reaper",
            "victim_pid": int(match["pid"]),
            "victim_name": match["name"],
            "anon_rss_bytes": _kib(match["anon"]),
            "file_rss_bytes": _kib(match["file"]),
            "shmem_rss_bytes": _kib(match["shmem"]),
        }
    if match := _ALLOC_RE.match(message):
        return {
            "event": "alloc_failure",
            "invoking_process": match["comm"],
            "order": int(match["order"]),
            "gfp_mask": match["mode"],
        }
    if match := _HUNG_RE.match(message):
        return {
            "event": "hung_task",
            "victim_name": match["comm"],
            "victim_pid": int(match["pid"]),
            "blocked_seconds": int(match["secs"]),
        }
    return None


def memory_event(message: str) -> dict[str, Any] | None:
    """The event of one kernel message (every key of :data:`EVENT_KEYS`), or ``None``.

    >>> memory_event("Out of memory: Killed process 7 (x)")["scope"]
    'global'
    """
    found = _event(message)
    if found is None:
        return None
    event: dict[str, Any] = dict.fromkeys(EVENT_KEYS)
    event.update(found)
    event["message"] = message
    if event["memcg_oom"] is not None:
        event["scope"] = "cgroup" if event["memcg_oom"] else "global"
    return event


def carry_scope(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give a ``Killed process`` record without scope the scope of the OOM that chose it.

    The last scoped record before it (``Kill process`` of the same victim, ``Task in``,
    ``oom-kill:``) decides; an ``oom_invoked`` record starts a new OOM and forgets it.
    """
    scope = None
    for event in events:
        if event["event"] == "oom_invoked":
            scope = None
        elif event["scope"] is not None:
            scope = event["scope"]
        elif event["event"] in ("oom_kill", "oom_reaper") and scope is not None:
            event["scope"] = scope
            event["memcg_oom"] = scope == "cgroup"
    return events


def events_of_messages(messages: list[str]) -> list[dict[str, Any]]:
    """The events of kernel messages in log order, scope carried (see :func:`carry_scope`)."""
    found = (memory_event(message) for message in messages)
    return carry_scope([event for event in found if event is not None])


def parse_kmsg(text: str) -> list[dict[str, Any]]:
    """Parse /dev/kmsg records into memory events (see the module docstring)."""
    events: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        if line[:1].isspace():
            continue  # continuation line: KEY=VALUE dictionary of the previous record
        record = _RECORD_RE.match(line)
        if not record:
            raise ParseError(SOURCE, lineno, line, "expected 'prio,seq,usec,flags;message'")
        event = memory_event(record.group(4))
        if event is None:
            continue
        event["seq"] = int(record.group(2))
        event["usec"] = int(record.group(3))
        event["level"] = int(record.group(1)) & 7
        events.append(event)
    return carry_scope(events)
