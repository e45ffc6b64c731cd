"""cgroup_v2_memory - files /sys/fs/cgroup/<path>/memory.* (cgroup v2)
=====================================================================

Memory controller of the cgroup v2 unified hierarchy. ``memory.current`` is the memory charged
to the cgroup and its descendants (bytes); ``memory.max``/``high``/``low``/``min`` and
``memory.swap.max`` are limits (bytes, or ``max`` for none); ``memory.events`` counts how
often the cgroup hit ``low``, ``high``, ``max``, ``oom`` and how many processes were
``oom_kill``-ed (``oom_group_kill`` 5.17+), and ``memory.events.local`` (5.2+) the same events
counted in this cgroup alone, not its descendants; ``memory.swap.events`` (5.6+) counts swap
``high`` and ``max`` hits and ``fail``-ed swap allocations; ``memory.stat`` breaks usage
down (``anon``, ``file``, ``kernel``, ``shmem``, ``slab``... in bytes; ``pgfault``,
``workingset_refault_*``... as counts); ``memory.pressure`` is PSI for the cgroup. See
https://www.kernel.org/doc/html/latest/admin-guide/cgroup-v2.html#memory-interface-files

Sample input (``memory.events``)::

    low 0
    high 0
    max 1274
    oom 3
    oom_kill 3
    oom_group_kill 0

Output: :func:`parse_memory_current` int (bytes); :func:`parse_memory_limit` int bytes or
``None`` for ``max`` (no limit); :func:`parse_memory_events` dict with the keys of
:data:`EVENTS_KEYS` (``None`` when absent) plus unknown keys; :func:`parse_memory_swap_events`
the same with :data:`SWAP_EVENTS_KEYS`; :func:`parse_memory_stat`
``dict[str, int]`` with the keys as printed; :func:`parse_memory_pressure` the PSI dict of
:mod:`vmanalyze.parsers.pressure_memory`.

Examples:
    >>> parse_memory_events(SAMPLE)["oom_kill"], parse_memory_events("max 2\\n")["oom_kill"]
    (3, None)
    >>> parse_memory_swap_events("high 0\\nmax 7\\nfail 2\\n")
    {'high': 0, 'max': 7, 'fail': 2}
    >>> parse_memory_swap_events("max 7\\n")["fail"] is None
    True
    >>> parse_memory_current("67108864\\n"), parse_memory_limit("max\\n")
    (67108864, None)
    >>> parse_memory_stat("anon 1048576\\nfile 4096\\n")
    {'anon': 1048576, 'file': 4096}
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import parse_counters, parse_psi, single_value, to_int

SOURCE = "cgroup_v2_memory"

SAMPLE = """\
low 0
high 0
max 1274
oom 3
oom_kill 3
oom_group_kill 0
"""

EVENTS_KEYS: tuple[str, ...] = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
SWAP_EVENTS_KEYS: tuple[str, ...] = ("high", "max", "fail")


def parse_memory_current(text: str) -> int:
    """Parse ``memory.current`` / ``memory.swap.current`` / ``memory.peak`` (bytes)."""
    value = single_value(text, SOURCE)
    return to_int(value, SOURCE, 1, value)


def parse_memory_limit(text: str) -> int | None:
    """Parse ``memory.max``/``high``/``low``/``min``/``swap.max``: bytes, ``None`` for max."""
    value = single_value(text, SOURCE)
    if value == "max":
        return None
    if not value.isdigit():
        raise ParseError(SOURCE, 1, value, "expected bytes or 'max'")
    return int(value)


def parse_memory_events(text: str) -> dict[str, int | None]:
    """Parse ``memory.events`` / ``memory.events.local``."""
    out: dict[str, int | None] = dict.fromkeys(EVENTS_KEYS)
    out.update(parse_counters(text, SOURCE))
    return out


def parse_memory_swap_events(text: str) -> dict[str, int | None]:
    """Parse ``memory.swap.events`` (``high``, ``max``, ``fail``)."""
    out: dict[str, int | None] = dict.fromkeys(SWAP_EVENTS_KEYS)
    out.update(parse_counters(text, SOURCE))
    return out


def parse_memory_stat(text: str) -> dict[str, int | None]:
    """Parse ``memory.stat`` (v2 or v1: ``key value`` lines, keys kept as printed)."""
    return parse_counters(text, SOURCE)


def parse_memory_pressure(text: str) -> dict[str, float | int | None]:
    """Parse ``memory.pressure`` (PSI format)."""
    return parse_psi(text, SOURCE)
