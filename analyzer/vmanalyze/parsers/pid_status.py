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
from vmanalyze.parsers._common import KIB, parse_ranges, require_content, snake_key

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


# How each key is parsed, decided once per key (a one-hour bundle holds ~100,000 status files).
_STRING, _NAME, _STATE, _IDS, _INT_LIST, _RANGE_LIST, _NUMBER, _AUTO = range(8)
_PLANS: dict[str, tuple[int, str]] = {}


def _plan(key: str) -> tuple[int, str]:
    plan = _PLANS.get(key)
    if plan is None:
        if key == "Name":
            plan = (_NAME, "name")
        elif key in _STRINGS:
            plan = (_STRING, snake_key(key))
        elif key == "State":
            plan = (_STATE, "state")
        elif key in _ID_KEYS:
            plan = (_IDS, key)
        elif key in _INT_LISTS:
            plan = (_INT_LIST, snake_key(key))
        elif key in _RANGE_LISTS:
            plan = (_RANGE_LIST, snake_key(key))
        elif key.startswith(("Vm", "Rss", "Hugetlb")):
            plan = (_NUMBER, snake_key(key))
        else:
            plan = (_AUTO, snake_key(key))
        _PLANS[key] = plan
    return plan


def _number(column: str, value: str) -> tuple[str, int]:
    """``N`` or ``N kB`` (memory lines must be one of these)."""
    parts = value.split()
    if len(parts) == 2 and parts[1] == "kB":
        return column + "_bytes", int(parts[0]) * KIB
    if len(parts) == 1:
        return column, int(parts[0])
    raise ValueError("expected 'N' or 'N kB'")


def parse_pid_status(text: str) -> dict[str, StatusValue]:
    """Parse /proc/<pid>/status (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, StatusValue] = dict.fromkeys(STATUS_KEYS)
    plans = _PLANS
    for lineno, line in enumerate(text.rstrip("\x00").splitlines(), 1):
        key, sep, raw = line.partition(":")
        plan = plans.get(key)
        if plan is None:
            if not sep:
                if not line.strip():
                    continue
                raise ParseError(SOURCE, lineno, line, "expected 'Key: value'")
            stripped = key.strip()
            if not stripped or " " in stripped:
                raise ParseError(SOURCE, lineno, line, "expected 'Key: value'")
            plan = _plan(stripped)
            plans[key] = plan
            key = stripped
        kind, column = plan
        try:
            if kind == _NUMBER:
                parts = raw.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[column + "_bytes"] = int(parts[0]) * KIB
                elif len(parts) == 1:
                    out[column] = int(parts[0])
                else:
                    raise ValueError("expected 'N' or 'N kB'")
                continue
            value = raw.strip()
            if kind == _AUTO:
                if value.endswith(" kB") or value.isdigit():
                    name, number = _number(column, value)
                    out[name] = number
                else:
                    out[column] = value
            elif kind == _NAME:
                out["name"] = raw.lstrip("\t ").rstrip()
            elif kind == _STRING:
                out[column] = value
            elif kind == _STATE:
                letter, _, description = value.partition(" ")
                out["state"] = letter
                out["state_description"] = description.strip("()") or None
            elif kind == _IDS:
                for id_name, id_text in zip(_ID_KEYS[key.strip()], value.split(), strict=False):
                    out[id_name] = int(id_text)
            elif kind == _INT_LIST:
                out[column] = [int(v) for v in value.split()]
            else:
                out[column] = parse_ranges(value, SOURCE)
        except ValueError as exc:
            raise ParseError(SOURCE, lineno, line, str(exc)) from None
    return out
