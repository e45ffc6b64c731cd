"""sysctl_a - the output of ``sysctl -a`` in a sosreport or Insights archive
=========================================================================

Every kernel tunable as ``name = value``, one per line (``sos_commands/kernel/sysctl_-a``,
``insights_commands/sysctl_-a``). sos copies only a few ``/proc/sys/vm`` files on some
versions (none on sos 3.x's RHEL 6/7 policy), so ``sysctl -a`` is where a report's
``vm.*`` settings are. Permission errors (``sysctl: permission denied on key ...``) and
other lines without `` = `` are skipped. See https://man7.org/linux/man-pages/man8/sysctl.8.html

Sample input::

    vm.overcommit_memory = 0
    vm.lowmem_reserve_ratio = 256	256	32	0	0
    vm.numa_zonelist_order = Node

Output: dict name -> value, parsed as :func:`~vmanalyze.parsers.sysctl_vm.parse_sysctl_vm`
parses the file of the same name (int, ``list[int]``, str; ``None`` for an empty value).
:func:`vm_settings` keeps the ``vm.*`` ones under their file name.

Examples:
    >>> parse_sysctl_a(SAMPLE)["vm.lowmem_reserve_ratio"]
    [256, 256, 32, 0, 0]
    >>> vm_settings(parse_sysctl_a(SAMPLE))
    {'overcommit_memory': 0, 'lowmem_reserve_ratio': [256, 256, 32, 0, 0], \
'numa_zonelist_order': 'Node'}
"""

from __future__ import annotations

from typing import Any

from vmanalyze.parsers._common import numbered_lines, require_content
from vmanalyze.parsers.sysctl_vm import parse_sysctl_vm

SOURCE = "sysctl_a"

SAMPLE = (
    "vm.overcommit_memory = 0\nvm.lowmem_reserve_ratio = 256\t256\t32\t0\t0\n"
    "vm.numa_zonelist_order = Node\n"
)


def parse_sysctl_a(text: str) -> dict[str, Any]:
    """Parse ``sysctl -a`` output (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, Any] = {}
    for _lineno, line in numbered_lines(text):
        name, sep, value = line.partition(" = ")
        if not sep:
            name, sep, value = line.partition("=")
            if not sep or " " in name.strip():
                continue
        out[name.strip()] = parse_sysctl_vm(value)
    return out


def vm_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``vm.*`` settings under their /proc/sys/vm file name."""
    return {name[3:]: value for name, value in settings.items() if name.startswith("vm.")}
