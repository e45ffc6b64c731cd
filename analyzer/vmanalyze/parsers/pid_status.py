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

In bulk: the ``pid_status`` table holds the keys of :data:`PID_STATUS_FIELDS` only (their
columns named like :func:`parse_pid_status` names them), a one-hour bundle holding ~75,000
status files. :func:`status_from_pack` parses a whole :class:`~vmanalyze.packs.Pack` of status
streams with numpy and Arrow and returns None rather than guess; :func:`status_from_records`
parses records one at a time. Both read values with the rules of :func:`status_value`.

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

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vmanalyze.errors import ParseError
from vmanalyze.packs import LABEL_END, LABEL_START, Pack, frame_records
from vmanalyze.parsers._common import (
    KIB,
    Columns,
    Labels,
    cut_strings,
    parse_ranges,
    require_content,
    snake_key,
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


# -- in bulk: the pid_status table --------------------------------------------------------------
#: (status key, kind) of the keys the pid_status table keeps; kind "kB" values become bytes.
_TABLE_KEYS: tuple[tuple[str, str], ...] = (
    ("Name", "str"),
    ("State", "state"),
    ("Tgid", "int"),
    ("PPid", "int"),
    ("Uid", "int"),
    ("Threads", "int"),
    ("VmPeak", "kB"),
    ("VmSize", "kB"),
    ("VmLck", "kB"),
    ("VmPin", "kB"),
    ("VmHWM", "kB"),
    ("VmRSS", "kB"),
    ("RssAnon", "kB"),
    ("RssFile", "kB"),
    ("RssShmem", "kB"),
    ("VmData", "kB"),
    ("VmStk", "kB"),
    ("VmExe", "kB"),
    ("VmLib", "kB"),
    ("VmPTE", "kB"),
    ("VmSwap", "kB"),
    ("HugetlbPages", "kB"),
    ("THP_enabled", "int"),
    ("Cpus_allowed_list", "str"),
    ("Mems_allowed_list", "str"),
    ("voluntary_ctxt_switches", "int"),
    ("nonvoluntary_ctxt_switches", "int"),
)
#: (status key, column, kind) of the pid_status table. Columns are named as
#: :func:`parse_pid_status` names the same keys (``VmRSS`` -> ``vm_rss_bytes``).
PID_STATUS_FIELDS: tuple[tuple[str, str, str], ...] = tuple(
    (key, snake_key(key) + ("_bytes" if kind == "kB" else ""), kind) for key, kind in _TABLE_KEYS
)
_STATUS_LINE = re.compile(
    r"^(" + "|".join(key for key, _c, _k in PID_STATUS_FIELDS) + r"):[ \t]*(.*)$", re.MULTILINE
)
_INT_VALUE = re.compile(r"([0-9]{1,18})(?:[ \t]|$)")
_KB_VALUE = re.compile(r"([0-9]{1,18})( kB)?$")


def status_from_pack(pack: Pack, labels: Labels) -> Columns | None:
    """pid_status columns of a pack of /proc/<pid>/status streams; None when it surprises us.

    Every line of every body is found at once; its key (up to the ``:``) is compared with the
    wanted keys as four 8-byte words, and values are read from fixed-width windows with the
    rules of :func:`status_value`.
    """
    a = pack.array()
    records = frame_records(pack, a)
    if records is None:
        return None
    if not len(records.body):
        return status_from_records([], labels)
    snapshot, known = labels.positions(records.label)
    pids = np.array([_pid_of(path) for path in pack.paths], np.int64)[records.member]
    size = len(pack.data)
    newline = np.flatnonzero(a[:size] == ord("\n"))
    start: np.ndarray = np.concatenate(([0], newline[:-1] + 1))
    slot = _status_slots(a, start)
    found = slot >= 0
    start, line_end, slot = start[found], newline[found], slot[found]
    record = np.searchsorted(records.body, start, side="right") - 1
    inside = (record >= 0) & (start < records.end[np.maximum(record, 0)])
    start, line_end, slot, record = start[inside], line_end[inside], slot[inside], record[inside]
    count = len(records.body)
    # One string per wanted line: what follows "Key:", without the newline.
    values = cut_strings(a, start + _KEY_LENGTHS[slot] + 1, line_end)
    kinds = _KINDS[slot]
    columns: dict[str, pa.Array] = {}
    bad = np.zeros(len(slot), bool)
    for kind, pattern in (("kB", _BULK_KB), ("int", _BULK_INT)):
        lines = np.flatnonzero(kinds == kind)
        parsed = pc.extract_regex(values.take(pa.array(lines)), pattern)
        numbers = pc.cast(pc.struct_field(parsed, "number"), pa.int64())
        number = numbers.to_numpy(zero_copy_only=False)
        good = numbers.is_valid().to_numpy(zero_copy_only=False)
        if kind == "kB":
            unit = pc.struct_field(parsed, "unit")
            in_kb = pc.fill_null(pc.equal(unit, " kB"), False).to_numpy(zero_copy_only=False)
            number = np.where(in_kb & good, number * 1024, number)
        bad[lines[~good]] = True
        for index in np.flatnonzero(kind == _KINDS):
            mine = slot[lines] == index
            out = np.zeros(count, np.int64)
            present = np.zeros(count, bool)
            rows = record[lines[mine & good]]
            out[rows] = number[mine & good]
            present[rows] = True
            columns[PID_STATUS_FIELDS[index][1]] = pa.array(out, mask=~present)
    for index in np.flatnonzero((_KINDS == "str") | (_KINDS == "state")):
        lines = np.flatnonzero(slot == index)
        text = pc.utf8_ltrim(values.take(pa.array(lines)), " \t")
        if _KINDS[index] == "str":
            text = pc.utf8_rtrim_whitespace(text)
        else:  # the state letter; null when the line has no value
            text = pc.utf8_slice_codeunits(text, 0, 1)
            text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
        columns[PID_STATUS_FIELDS[index][1]] = _spread(text, record[lines], count)
    errors = []
    for line in np.flatnonzero(bad & known[record]):
        r = record[line]
        key = PID_STATUS_FIELDS[slot[line]][0]
        errors.append(
            (pack.paths[records.member[r]], _label(records.label[r]), f"{key}: not a number")
        )
    keep = pa.array(known)
    out_columns = {"pid": pa.array(pids[known])}
    for _key, column, _kind in PID_STATUS_FIELDS:
        out_columns[column] = columns[column].filter(keep)
    return Columns(snapshot, out_columns, errors)


def status_value(kind: str, value: str) -> Any:
    """A status value by kind; None when it does not parse (ValueError in the caller's sense).

    >>> status_value("kB", "8172 kB"), status_value("kB", "3"), status_value("int", "0\\t0\\t0")
    (8368128, 3, 0)
    >>> status_value("state", "S (sleeping)"), status_value("kB", "x kB")
    ('S', None)
    """
    if kind == "kB":
        match = _KB_VALUE.match(value)
        return None if match is None else int(match[1]) * (1024 if match[2] else 1)
    if kind == "int":
        match = _INT_VALUE.match(value)
        return None if match is None else int(match[1])
    if kind == "state":
        return value[:1] or None
    return value.rstrip()


def status_from_records(records: Iterable[tuple[str, str, bytes]], labels: Labels) -> Columns:
    """pid_status columns of records one at a time: one regular-expression pass per file."""
    index = {key: (slot, kind) for slot, (key, _column, kind) in enumerate(PID_STATUS_FIELDS)}
    positions: list[int] = []
    pids: list[int] = []
    rows: list[list[Any]] = []
    errors: list[tuple[str, str, str]] = []
    for path, label, data in records:
        position = labels.position(label)
        if position is None:
            continue
        row: list[Any] = [None] * len(PID_STATUS_FIELDS)
        for key, value in _STATUS_LINE.findall(data.decode("utf-8", "replace")):
            slot, kind = index[key]
            row[slot] = status_value(kind, value)
            if row[slot] is None and kind in ("kB", "int"):
                errors.append((path, label, f"{key}: not a number"))
        positions.append(position)
        pids.append(_pid_of(path))
        rows.append(row)
    by_column = list(zip(*rows, strict=True)) if rows else [()] * len(PID_STATUS_FIELDS)
    columns: dict[str, pa.Array] = {"pid": pa.array(pids, pa.int64())}
    for (_key, column, kind), values in zip(PID_STATUS_FIELDS, by_column, strict=True):
        columns[column] = pa.array(
            list(values), pa.int64() if kind in ("kB", "int") else pa.large_string()
        )
    return Columns(np.array(positions, np.int64), columns, errors)


_KEY_BYTES = [(key + ":").encode() for key, _column, _kind in PID_STATUS_FIELDS]
_KINDS = np.array([kind for _key, _column, kind in PID_STATUS_FIELDS])
# The rules of status_value, for Arrow's regular expressions over whole columns.
_BULK_KB = r"^[ \t]*(?P<number>[0-9]{1,18})(?P<unit> kB)?$"
_BULK_INT = r"^[ \t]*(?P<number>[0-9]{1,18})(?:[ \t].*)?$"
_KEY_LENGTHS = np.array([len(key) - 1 for key in _KEY_BYTES], np.int64)  # up to the colon


def _status_slots(a: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Index in PID_STATUS_FIELDS of the key ``Key:`` that starts each line, or -1.

    Compares 8 bytes at a time through an overlapping uint64 view: one gather per line for
    the first word, more only for the lines whose first word matched a longer key.
    """
    words = np.ndarray(shape=(len(a) - 7,), dtype="<u8", buffer=a, offset=0, strides=(1,))
    first = words[start]
    slot = np.full(len(start), -1, np.int64)
    for index, key in enumerate(_KEY_BYTES):
        chunks = [key[i : i + 8] for i in range(0, len(key), 8)]
        candidates = np.flatnonzero(_word_matches(first, chunks[0]))
        for offset, chunk in enumerate(chunks[1:], 1):
            following = words[start[candidates] + 8 * offset]
            candidates = candidates[_word_matches(following, chunk)]
        slot[candidates] = index
    return slot


def _word_matches(words: np.ndarray, chunk: bytes) -> np.ndarray:
    """Which little-endian words start with the bytes `chunk` (at most 8)."""
    mask = np.uint64((1 << (8 * len(chunk))) - 1)
    return (words & mask) == np.uint64(int.from_bytes(chunk, "little"))


def _spread(values: pa.Array, rows: np.ndarray, count: int) -> pa.Array:
    """A column of `count` rows holding values[i] at rows[i] and null elsewhere."""
    index = np.full(count, -1, np.int64)
    index[rows] = np.arange(len(rows))
    return values.take(pa.array(index, mask=index < 0))


def _label(code: int) -> str:
    return "start" if code == LABEL_START else "end" if code == LABEL_END else str(code)


def _pid_of(path: str) -> int:
    return int(path.split("/", 2)[1])
