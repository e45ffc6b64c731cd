"""zoneinfo - file /proc/zoneinfo
==============================

Per-zone memory state of every NUMA node: free pages, the min/low/high watermarks that wake
kswapd and trigger direct reclaim, zone size (spanned/present/managed), the lowmem protection
array, per-zone counters, and since 4.8 a "per-node stats" block inside the first zone of each
node. Values are in pages. See
https://www.kernel.org/doc/html/latest/admin-guide/sysctl/vm.html#min-free-kbytes and
mm/vmstat.c (zoneinfo_show_print).

Sample input::

    Node 0, zone   Normal
      per-node stats
          nr_inactive_anon 1439
          nr_active_file 79780
      pages free     3840
            min      52
            low      65
            high     78
            spanned  4095
            present  3998
            managed  3840
            protection: (0, 3019, 4811)
          nr_free_pages 3840
      pagesets
        cpu: 0
                  count: 12
                  high:  378
                  batch: 63
      vm stats threshold: 4
      node_unreclaimable:  0
      start_pfn:           1

Output, two functions:

* :func:`parse_zoneinfo`: ``list[dict]``, one per (node, zone) in file order, with ``node``
  (int), ``zone`` (str), ``pages_free``, the watermarks ``min``, ``low``, ``high`` (and
  ``boost``, ``promo`` when printed), ``spanned``, ``present``, ``managed``, ``cma``,
  ``protection`` (list of int), every counter printed for the zone (``nr_free_pages``,
  ``nr_zone_active_anon``, ``numa_hit``...; old kernels' ``active``, ``inactive``,
  ``scanned``), the tail values (``start_pfn``, ``node_unreclaimable``,
  ``all_unreclaimable``, ``prev_priority``, ``inactive_ratio``) and ``pageset_count`` (sum of
  the per-CPU ``count:``; the per-CPU pageset details are otherwise dropped). A value line
  without a name (some 4.x kernels print one in the per-node block) is dropped. Keys of
  :data:`ZONE_KEYS` are always present (``None`` when absent); all numbers are in pages.
* :func:`parse_zoneinfo_node_stats`: ``list[dict]``, one per node that has a "per-node stats"
  block (kernels 4.8+; empty list before), with ``node`` and the counters as printed.

Examples:
    >>> zones = parse_zoneinfo(SAMPLE)
    >>> z = zones[0]
    >>> z["node"], z["zone"], z["pages_free"], z["min"], z["low"], z["high"]
    (0, 'Normal', 3840, 52, 65, 78)
    >>> z["managed"], z["protection"], z["pageset_count"], z["start_pfn"], z["cma"]
    (3840, [0, 3019, 4811], 12, 1, None)
    >>> parse_zoneinfo_node_stats(SAMPLE)
    [{'node': 0, 'nr_inactive_anon': 1439, 'nr_active_file': 79780}]
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "zoneinfo"

SAMPLE = """\
Node 0, zone   Normal
  per-node stats
      nr_inactive_anon 1439
      nr_active_file 79780
  pages free     3840
        min      52
        low      65
        high     78
        spanned  4095
        present  3998
        managed  3840
        protection: (0, 3019, 4811)
      nr_free_pages 3840
  pagesets
    cpu: 0
              count: 12
              high:  378
              batch: 63
  vm stats threshold: 4
  node_unreclaimable:  0
  start_pfn:           1
"""

ZoneValue = int | str | list[int] | None

ZONE_KEYS: tuple[str, ...] = (
    "node",
    "zone",
    "pages_free",
    "min",
    "low",
    "high",
    "spanned",
    "present",
    "managed",
    "cma",
    "protection",
    "nr_free_pages",
    "pageset_count",
    "start_pfn",
    "node_unreclaimable",
)

_HEADER_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)$")
_PCP_KEYS = {"count", "high", "batch", "high_min", "high_max", "cpu", "pcp"}


def parse_zoneinfo_blocks(
    text: str,
) -> tuple[list[dict[str, ZoneValue]], list[dict[str, int | None]]]:
    """Both parts of /proc/zoneinfo from one pass: the zones and the per-node stats.

    >>> zones, nodes = parse_zoneinfo_blocks(SAMPLE)
    >>> len(zones) == len(parse_zoneinfo(SAMPLE)), nodes == parse_zoneinfo_node_stats(SAMPLE)
    (True, True)
    """
    require_content(text, SOURCE)
    zones: list[dict[str, ZoneValue]] = []
    nodes: list[dict[str, int | None]] = []
    zone: dict[str, ZoneValue] | None = None
    node_stats: dict[str, int | None] | None = None
    mode = "zone"
    for lineno, line in numbered_lines(text):
        body = line.strip()
        header = _HEADER_RE.match(body) if body.startswith("Node") else None
        if header:
            zone = dict.fromkeys(ZONE_KEYS)
            zone["node"] = int(header.group(1))
            zone["zone"] = header.group(2)
            zones.append(zone)
            mode = "zone"
            continue
        if zone is None:
            raise ParseError(SOURCE, lineno, line, "data before the first 'Node N, zone Z'")
        if body == "per-node stats":
            node_stats = {"node": zone["node"]}  # type: ignore[dict-item]
            nodes.append(node_stats)
            mode = "node"
            continue
        if body == "pagesets":
            mode = "pageset"
            zone["pageset_count"] = 0
            continue
        words = body.split()
        if len(words) == 1 and words[0].isdigit():
            # A value without a name: some 4.x kernels (e.g. RHEL 8.0's 4.18) print one in the
            # per-node block because their counter-name table is one entry short. Dropped.
            continue
        if body.startswith("vm stats threshold:"):
            continue
        if words[0].endswith(":"):
            key = words[0][:-1]
            if mode == "pageset" and (key in _PCP_KEYS or key.startswith("cpu")):
                if key == "count" and len(words) > 1:
                    count = to_int(words[1], SOURCE, lineno, line)
                    previous = zone["pageset_count"]
                    zone["pageset_count"] = (previous if isinstance(previous, int) else 0) + count
                continue
            if key == "protection":
                numbers = body.partition(":")[2].strip().strip("()").split(",")
                zone["protection"] = [to_int(n.strip(), SOURCE, lineno, line) for n in numbers]
                continue
            mode = "tail" if mode == "pageset" else mode
            if len(words) < 2:
                raise ParseError(SOURCE, lineno, line, "no value")
            zone[key] = to_int(words[1], SOURCE, lineno, line)
            continue
        if body.startswith("pages free"):
            words = ["pages_free", *words[2:]]
            mode = "zone"
        if len(words) < 2:
            raise ParseError(SOURCE, lineno, line, "expected 'name value'")
        # Old kernels: 'scanned  0 (a: 0 i: 0)' carries a breakdown after the value: dropped.
        number = to_int(words[1], SOURCE, lineno, line)
        if mode == "node" and node_stats is not None:
            node_stats[words[0]] = number
        else:
            zone[words[0]] = number
    return zones, nodes


def parse_zoneinfo(text: str) -> list[dict[str, ZoneValue]]:
    """Parse /proc/zoneinfo into one dict per (node, zone) (see the module docstring)."""
    return parse_zoneinfo_blocks(text)[0]


def parse_zoneinfo_node_stats(text: str) -> list[dict[str, int | None]]:
    """Parse the "per-node stats" blocks of /proc/zoneinfo (4.8+), one dict per node."""
    return parse_zoneinfo_blocks(text)[1]
