"""cgroup_v1_memory - files /sys/fs/cgroup/memory/<path>/memory.* (cgroup v1)
===========================================================================

Memory controller of a cgroup v1 hierarchy. ``memory.usage_in_bytes`` (charged memory,
page cache included), ``memory.limit_in_bytes`` (a huge number such as
9223372036854771712 means no limit), ``memory.max_usage_in_bytes`` and ``memory.failcnt``
(times the limit was hit) hold one number; ``memory.stat`` breaks usage down in bytes for this
cgroup (``cache``, ``rss``, ``rss_huge``, ``shmem``, ``mapped_file``, ``swap``...) and its
subtree (``total_*``), plus event counts (``pgfault``, ``pgmajfault``) and the
``hierarchical_memory_limit``; ``memory.oom_control`` tells whether the OOM killer is disabled
(``oom_kill_disable``), whether the cgroup is under OOM now (``under_oom``) and, since 4.13,
how many processes it killed (``oom_kill``). See
https://www.kernel.org/doc/html/latest/admin-guide/cgroup-v1/memory.html

Sample input (``memory.oom_control``)::

    oom_kill_disable 0
    under_oom 0
    oom_kill 1

Output: :func:`parse_memory_bytes` int; :func:`parse_memory_stat` ``dict[str, int]`` (keys as
printed); :func:`parse_memory_oom_control` dict with ``oom_kill_disable``, ``under_oom``,
``oom_kill`` (``None`` before 4.13).

Examples:
    >>> parse_memory_oom_control(SAMPLE)
    {'oom_kill_disable': 0, 'under_oom': 0, 'oom_kill': 1}
    >>> parse_memory_oom_control("oom_kill_disable 0\\nunder_oom 0\\n")["oom_kill"] is None
    True
    >>> parse_memory_bytes("67108864\\n")
    67108864
"""

from __future__ import annotations

from vmanalyze.parsers._common import parse_counters, single_value, to_int

SOURCE = "cgroup_v1_memory"

SAMPLE = """\
oom_kill_disable 0
under_oom 0
oom_kill 1
"""

OOM_CONTROL_KEYS: tuple[str, ...] = ("oom_kill_disable", "under_oom", "oom_kill")


def parse_memory_bytes(text: str) -> int:
    """Parse a one-number file (``usage_in_bytes``, ``limit_in_bytes``, ``failcnt``...)."""
    value = single_value(text, SOURCE)
    return to_int(value, SOURCE, 1, value)


def parse_memory_stat(text: str) -> dict[str, int | None]:
    """Parse v1 ``memory.stat`` (``cache``, ``rss``, ``total_*``... as printed)."""
    return parse_counters(text, SOURCE)


def parse_memory_oom_control(text: str) -> dict[str, int | None]:
    """Parse ``memory.oom_control``."""
    out: dict[str, int | None] = dict.fromkeys(OOM_CONTROL_KEYS)
    out.update(parse_counters(text, SOURCE))
    return out
