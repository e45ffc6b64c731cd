"""pid_status - file /proc/<pid>/status
=====================================

Human-readable status of a process: name, state, ids, memory sizes (``Vm*``, ``Rss*``, in kB),
threads, allowed CPUs and NUMA nodes, signal masks, capabilities. One ``Key:<tab>value`` per
line; kernel threads have no ``Vm*``/``Rss*`` lines. See
https://www.kernel.org/doc/html/latest/filesystems/proc.html#id10 and proc_pid_status(5).

Sample input::

    Name:	postgres
    State:	S (sleeping)
    Tgid:	1234
    Pid:	1234
    PPid:	1
    Uid:	26	26	26	26
    VmRSS:	  10540 kB
    RssAnon:	   2340 kB
    VmSwap:	   2000 kB
    THP_enabled:	1
    Threads:	1
    Cpus_allowed_list:	0-3
    Mems_allowed_list:	0

Output: one flat dict. Every key of :data:`STATUS_KEYS` is present (``None`` when absent, e.g.
``vm_rss_bytes`` of a kernel thread); unknown keys are kept. ``kB`` values become
``<snake_key>_bytes`` (``vm_rss_bytes``, ``rss_anon_bytes``, ``rss_file_bytes``,
``rss_shmem_bytes``, ``vm_swap_bytes``, ``vm_pte_bytes``, ``hugetlb_pages_bytes``...). Special
keys: ``name`` (str, as printed, escapes kept), ``state`` (letter) and ``state_description``
(``sleeping``), ``uid``/``gid`` (real id) with ``euid``, ``suid``, ``fsuid``/``egid``...,
``tgid``, ``pid``, ``ppid``, ``threads`` (int), ``cpus_allowed_list`` and ``mems_allowed_list``
(list of int), ``groups``, ``ns_tgid``, ``ns_pid``, ``ns_pgid``, ``ns_sid`` (list of int),
``thp_enabled`` (int). Hex masks (``sig_*``, ``cap_*``, ``cpus_allowed``, ``mems_allowed``,
``untag_mask``) and ``umask`` stay strings; other integer values are int, anything else is the
string as printed.

Examples:
    >>> s = parse_pid_status(SAMPLE)
    >>> s["name"], s["state"], s["state_description"], s["pid"], s["ppid"], s["uid"]
    ('postgres', 'S', 'sleeping', 1234, 1, 26)
    >>> s["vm_rss_bytes"], s["rss_anon_bytes"], s["vm_swap_bytes"], s["thp_enabled"]
    (10792960, 2396160, 2048000, 1)
    >>> s["cpus_allowed_list"], s["mems_allowed_list"], s["rss_file_bytes"]
    ([0, 1, 2, 3], [0], None)
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import (
    kb_value,
    numbered_lines,
    parse_ranges,
    require_content,
    snake_key,
    to_int,
)

SOURCE = "pid_status"

SAMPLE = """\
Name:\tpostgres
State:\tS (sleeping)
Tgid:\t1234
Pid:\t1234
PPid:\t1
Uid:\t26\t26\t26\t26
VmRSS:\t   10540 kB
RssAnon:\t    2340 kB
VmSwap:\t    2000 kB
THP_enabled:\t1
Threads:\t1
Cpus_allowed_list:\t0-3
Mems_allowed_list:\t0
"""

StatusValue = int | str | list[int] | None

#: Keys always present in the result (``None`` when this kernel or process has no such line).
STATUS_KEYS: tuple[str, ...] = (
    "name",
    "umask",
    "state",
    "state_description",
    "tgid",
    "ngid",
    "pid",
    "ppid",
    "tracer_pid",
    "uid",
    "euid",
    "suid",
    "fsuid",
    "gid",
    "egid",
    "sgid",
    "fsgid",
    "fd_size",
    "groups",
    "ns_tgid",
    "ns_pid",
    "ns_pgid",
    "ns_sid",
    "vm_peak_bytes",
    "vm_size_bytes",
    "vm_lck_bytes",
    "vm_pin_bytes",
    "vm_hwm_bytes",
    "vm_rss_bytes",
    "rss_anon_bytes",
    "rss_file_bytes",
    "rss_shmem_bytes",
    "vm_data_bytes",
    "vm_stk_bytes",
    "vm_exe_bytes",
    "vm_lib_bytes",
    "vm_pte_bytes",
    "vm_swap_bytes",
    "hugetlb_pages_bytes",
    "thp_enabled",
    "threads",
    "cpus_allowed_list",
    "mems_allowed_list",
    "voluntary_ctxt_switches",
    "nonvoluntary_ctxt_switches",
)

_ID_KEYS = {"Uid": ("uid", "euid", "suid", "fsuid"), "Gid": ("gid", "egid", "sgid", "fsgid")}
_INT_LISTS = {"Groups", "NStgid", "NSpid", "NSpgid", "NSsid"}
_RANGE_LISTS = {"Cpus_allowed_list", "Mems_allowed_list"}
# Hex masks and other text stay strings even when they happen to be all digits ("0000...").
_STRINGS = {
    "Name",
    "Umask",
    "SigQ",
    "SigPnd",
    "ShdPnd",
    "SigBlk",
    "SigIgn",
    "SigCgt",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "Cpus_allowed",
    "Mems_allowed",
    "untag_mask",
}


def _is_number(key: str, value: str) -> bool:
    """Memory lines must be ``N kB`` (anything else is a ParseError); plain counts are ints."""
    return key.startswith(("Vm", "Rss", "Hugetlb")) or value.endswith(" kB") or value.isdigit()


def parse_pid_status(text: str) -> dict[str, StatusValue]:
    """Parse /proc/<pid>/status (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, StatusValue] = dict.fromkeys(STATUS_KEYS)
    for lineno, line in numbered_lines(text):
        key, sep, raw = line.partition(":")
        key = key.strip()
        if not sep or not key or " " in key:
            raise ParseError(SOURCE, lineno, line, "expected 'Key: value'")
        value = raw.strip()
        if key in _STRINGS:
            out[snake_key(key)] = raw.lstrip("\t ") if key == "Name" else value
        elif key == "State":
            letter, _, description = value.partition(" ")
            out["state"] = letter
            out["state_description"] = description.strip("()") or None
        elif key in _ID_KEYS:
            ids = [to_int(v, SOURCE, lineno, line) for v in value.split()]
            for name, number in zip(_ID_KEYS[key], ids, strict=False):
                out[name] = number
        elif key in _INT_LISTS:
            out[snake_key(key)] = [to_int(v, SOURCE, lineno, line) for v in value.split()]
        elif key in _RANGE_LISTS:
            out[snake_key(key)] = parse_ranges(value, SOURCE)
        elif _is_number(key, value):
            name, number = kb_value(key, value, SOURCE, lineno, line)
            out[name] = number
        else:
            out[snake_key(key)] = value
    return out
