"""vmstat - file /proc/vmstat
==========================

Virtual memory event counters and page-state gauges, one ``name value`` pair per line (values in
pages or events since boot). Kernels rename and split counters over time: ``allocstall`` became
per-zone ``allocstall_<zone>`` (4.8), ``workingset_refault`` became ``_anon``/``_file`` (5.9),
``pgsteal``/``pgscan`` have been per-zone (2.6), per-reclaimer (``_kswapd``/``_direct``, 4.8;
``_khugepaged`` 6.x) and per memory type (``_anon``/``_file``, 5.8). See
https://www.kernel.org/doc/html/latest/admin-guide/mm/concepts.html and mm/vmstat.c.

Sample input::

    nr_free_pages 3455530
    pgsteal_kswapd 120
    pgsteal_direct 5
    workingset_refault_anon 3
    workingset_refault_file 7
    allocstall_normal 2
    allocstall_movable 1

Output: one flat dict of every raw counter as printed (unknown names kept, int), plus derived
totals that exist on every kernel, in the units of their parts:

* ``allocstall``: raw value, or the sum of ``allocstall_*``;
* ``workingset_refault`` / ``workingset_activate`` / ``workingset_restore``: raw, or
  ``_anon + _file``;
* ``pgsteal`` / ``pgscan``: sum of the per-reclaimer counters (``_kswapd*``, ``_direct*``,
  ``_khugepaged*``, ``_proactive*``; ``pgscan_direct_throttle`` is an event count and is
  excluded), else ``_anon + _file``, else the 2.6 per-zone ``pgsteal_<zone>``.

A derived key is ``None`` when neither the raw nor any split counter exists (never 0).
``/sys/devices/system/node/nodeN/vmstat`` has the same format (module ``sys_node_vmstat``).

Examples:
    >>> vs = parse_vmstat(SAMPLE)
    >>> vs["nr_free_pages"], vs["pgsteal"], vs["workingset_refault"], vs["allocstall"]
    (3455530, 125, 10, 3)
    >>> vs["pgscan"] is None
    True
    >>> parse_vmstat("allocstall 4\\n")["allocstall"]
    4
"""

from __future__ import annotations

from vmanalyze.parsers._common import parse_counters

SOURCE = "vmstat"

SAMPLE = """\
nr_free_pages 3455530
pgsteal_kswapd 120
pgsteal_direct 5
workingset_refault_anon 3
workingset_refault_file 7
allocstall_normal 2
allocstall_movable 1
"""

#: Derived totals always present in the result (``None`` when no part exists).
DERIVED_KEYS: tuple[str, ...] = (
    "allocstall",
    "workingset_refault",
    "workingset_activate",
    "workingset_restore",
    "pgsteal",
    "pgscan",
)

_RECLAIMERS = ("_kswapd", "_direct", "_khugepaged", "_proactive")
_ZONES = ("_dma", "_dma32", "_normal", "_high", "_movable", "_device")


def _sum(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


_BY_RECLAIMER = {stem: tuple(stem + r for r in _RECLAIMERS) for stem in ("pgsteal", "pgscan")}


def _reclaim_total(raw: dict[str, int | None], stem: str) -> int | None:
    prefixes = _BY_RECLAIMER[stem]
    by_reclaimer = [
        v for k, v in raw.items() if k.startswith(prefixes) and k != "pgscan_direct_throttle"
    ]
    if by_reclaimer:
        return _sum(by_reclaimer)
    by_type = [raw.get(stem + "_anon"), raw.get(stem + "_file")]
    if any(v is not None for v in by_type):
        return _sum(by_type)
    return _sum([raw.get(stem + z) for z in _ZONES])


def add_derived(raw: dict[str, int | None]) -> dict[str, int | None]:
    """Add the derived totals of :data:`DERIVED_KEYS` to a counter dict (in place)."""
    derived: dict[str, int | None] = {}
    if "allocstall" in raw:
        derived["allocstall"] = raw["allocstall"]
    else:
        derived["allocstall"] = _sum([v for k, v in raw.items() if k.startswith("allocstall_")])
    for stem in ("workingset_refault", "workingset_activate", "workingset_restore"):
        if stem in raw:
            derived[stem] = raw[stem]
        else:
            derived[stem] = _sum([raw.get(stem + "_anon"), raw.get(stem + "_file")])
    for stem in ("pgsteal", "pgscan"):
        derived[stem] = raw[stem] if stem in raw else _reclaim_total(raw, stem)
    raw.update(derived)
    return raw


def parse_vmstat(text: str) -> dict[str, int | None]:
    """Parse /proc/vmstat: raw counters plus derived totals (see the module docstring)."""
    return add_derived(parse_counters(text, SOURCE))
