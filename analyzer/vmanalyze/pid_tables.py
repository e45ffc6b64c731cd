"""The columns of the pid_stat and pid_status tables, parsed in bulk.

These two sources are most of a bundle: a one-hour bundle of a host with a thousand processes
holds ~775,000 stat lines and ~75,000 status files. Each table is built two ways that give the
same columns:

- from a :class:`~vmanalyze.packs.Pack` whose records :func:`~vmanalyze.packs.frame_records`
  could find, with numpy and Arrow and no Python loop over records (``*_from_pack``);
- from ``(path, label, bytes)`` records one at a time, for sosreports, captured directories and
  any pack that surprised the bulk path (``*_from_records``).

The bulk path returns None rather than guess: a pack with a line it does not expect is parsed
again record by record, where each bad record becomes a parse error of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from vmanalyze.packs import (
    LABEL_END,
    LABEL_START,
    Pack,
    byte_windows,
    first_of,
    frame_records,
    parse_digits,
)
from vmanalyze.parsers.pid_stat import STAT_FIELDS

#: Columns of pid_stat after snapshot and ts: the /proc/<pid>/stat fields analysis uses.
PID_STAT_COLUMNS = (
    "pid",
    "comm",
    "state",
    "ppid",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime",
    "stime",
    "priority",
    "nice",
    "num_threads",
    "starttime",
    "vsize",
    "rss",
    "processor",
    "delayacct_blkio_ticks",
)
# Positions in the fields after ") ": field n (1-based, proc(5)) is at index n - 3.
_PID_STAT_INDEXES = tuple(STAT_FIELDS.index(name) - 2 for name in PID_STAT_COLUMNS[3:])

#: (status key, column, kind) of the pid_status table; kind "kB" values become bytes.
PID_STATUS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("Name", "name", "str"),
    ("State", "state", "state"),
    ("Tgid", "tgid", "int"),
    ("PPid", "ppid", "int"),
    ("Uid", "uid", "int"),
    ("Threads", "threads", "int"),
    ("VmPeak", "vm_peak_bytes", "kB"),
    ("VmSize", "vm_size_bytes", "kB"),
    ("VmLck", "vm_lck_bytes", "kB"),
    ("VmPin", "vm_pin_bytes", "kB"),
    ("VmHWM", "vm_hwm_bytes", "kB"),
    ("VmRSS", "vm_rss_bytes", "kB"),
    ("RssAnon", "rss_anon_bytes", "kB"),
    ("RssFile", "rss_file_bytes", "kB"),
    ("RssShmem", "rss_shmem_bytes", "kB"),
    ("VmData", "vm_data_bytes", "kB"),
    ("VmStk", "vm_stk_bytes", "kB"),
    ("VmExe", "vm_exe_bytes", "kB"),
    ("VmLib", "vm_lib_bytes", "kB"),
    ("VmPTE", "vm_pte_bytes", "kB"),
    ("VmSwap", "vm_swap_bytes", "kB"),
    ("HugetlbPages", "hugetlb_pages_bytes", "kB"),
    ("THP_enabled", "thp_enabled", "int"),
    ("Cpus_allowed_list", "cpus_allowed_list", "str"),
    ("Mems_allowed_list", "mems_allowed_list", "str"),
    ("voluntary_ctxt_switches", "voluntary_ctxt_switches", "int"),
    ("nonvoluntary_ctxt_switches", "nonvoluntary_ctxt_switches", "int"),
)
_STATUS_LINE = re.compile(
    r"^(" + "|".join(key for key, _c, _k in PID_STATUS_FIELDS) + r"):[ \t]*(.*)$", re.MULTILINE
)
_INT_VALUE = re.compile(r"([0-9]{1,18})(?:[ \t]|$)")
_KB_VALUE = re.compile(r"([0-9]{1,18})( kB)?$")


class Labels:
    """The snapshots of an input by label, and the integer codes packs use for them.

    >>> labels = Labels(["start", "0", "1", "end"])
    >>> labels.position("1"), labels.position("7")
    (2, None)
    >>> labels.positions(np.array([1, -2, 5, -1]))
    (array([2, 3, 0]), array([ True,  True, False,  True]))
    """

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self._position = {label: i for i, label in enumerate(labels)}
        coded = [(_code(label), i) for i, label in enumerate(labels)]
        coded = sorted((code, i) for code, i in coded if code is not None)
        self._codes = np.array([code for code, _ in coded], np.int64)
        self._code_positions = np.array([i for _, i in coded], np.int64)

    def position(self, label: str) -> int | None:
        return self._position.get(label)

    def positions(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Snapshot positions of the known codes, and which codes are known."""
        if not len(self._codes):
            return np.zeros(0, np.int64), np.zeros(len(codes), bool)
        index = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        known = self._codes[index] == codes
        return self._code_positions[index[known]], known


def _code(label: str) -> int | None:
    if label == "start":
        return LABEL_START
    if label == "end":
        return LABEL_END
    if label.isdigit() and (label == "0" or not label.startswith("0")) and len(label) <= 18:
        return int(label)
    return None


class Columns(NamedTuple):
    """Parsed columns of one part of a table, and the records that could not be parsed."""

    snapshot: np.ndarray  # positions in Labels.labels
    columns: dict[str, pa.Array]
    errors: list[tuple[str, str, str]]  # (path, label, message)


# -- pid_stat -----------------------------------------------------------------------------------
def stat_from_pack(pack: Pack, labels: Labels) -> Columns | None:
    """pid_stat columns of a pack of /proc/<pid>/stat streams; None when it surprises us.

    Each record is one line ``pid (comm) state field...``. After checking that, every header's
    newline becomes a space and every byte of a command name that would end a field or a row
    becomes ``x``; Arrow's CSV reader then parses header and line as one row, converting only
    the wanted fields. The command names themselves are cut from the untouched bytes.
    """
    a = pack.array()
    records = frame_records(pack, a)
    if records is None:
        return None
    count = len(records.body)
    if not count:
        return stat_from_records([], labels)
    size = len(pack.data)
    body, end = records.body, records.end
    rows = np.arange(count)
    head = byte_windows(a, body, 24)
    space = first_of(head, ord(" "))
    pid, ok = parse_digits(head, np.zeros_like(space), space)
    ok &= head[rows, np.minimum(space + 1, 23)] == ord("(")
    is_paren = a[:size] == ord(")")
    if np.count_nonzero(is_paren) > 66 * count:
        return None  # more ')' than a line and a 64-byte name can hold
    parens = np.flatnonzero(is_paren)
    del is_paren
    last = parens[np.maximum(np.searchsorted(parens, end) - 1, 0)] if len(parens) else body
    comm_start = body + space + 2
    ok &= (last >= comm_start) & (last - comm_start <= 64) & (last + 2 < end)
    ok &= (a[last + 1] == ord(" ")) & (a[end - 1] == ord("\n"))
    # Nothing may end a row inside the fields. Usually a count proves it: three newlines
    # a record (header, line, separator) and no carriage return at all.
    if pack.data.count(b"\n") != 3 * count or b"\r" in pack.data:
        for stop in (ord("\n"), ord("\r")):
            hits = np.flatnonzero(a[:size] == stop)
            ok &= np.searchsorted(hits, last) == np.searchsorted(hits, end - 1)
    if not ok.all():
        return None
    comm = _cut(a, comm_start, last)
    width = int((last - comm_start).max())
    if width:
        window = byte_windows(a, comm_start, width)
        inside = np.arange(width) < (last - comm_start)[:, None]
        ends_field = inside & ((window == ord(" ")) | (window == ord("\n")) | (window == ord("\r")))
        hit_row, hit_column = np.nonzero(ends_field)
        a[comm_start[hit_row] + hit_column] = ord("x")
    a[body - 1] = ord(" ")
    first_tail = bytes(a[last[0] + 2 : end[0] - 1])
    fields = first_tail.count(b" ") + 1
    names = ["at", "vmcollect", "label", "length", "pid", "comm"]
    names += [f"f{i}" for i in range(fields)]
    wanted = {
        f"f{i}": column for column, i in zip(PID_STAT_COLUMNS[3:], _PID_STAT_INDEXES, strict=True)
    }
    wanted = {name: column for name, column in wanted.items() if name in names}
    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(a[:size])),
            read_options=pcsv.ReadOptions(column_names=names, block_size=4 << 20),
            parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False),
            convert_options=pcsv.ConvertOptions(
                include_columns=["pid", "f0", *wanted],
                column_types={
                    "pid": pa.int64(),
                    "f0": pa.string(),
                    **dict.fromkeys(wanted, pa.int64()),
                },
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a field that is not a number, or a line of another length
    if table.num_rows != count or not np.array_equal(table["pid"].to_numpy(), pid):
        return None
    snapshot, known = labels.positions(records.label)
    columns: dict[str, pa.Array] = {
        "pid": pa.array(pid[known]),
        "comm": comm.filter(pa.array(known)),
        "state": table["f0"].combine_chunks().filter(pa.array(known)),
    }
    for name, column in wanted.items():
        columns[column] = table[name].combine_chunks().filter(pa.array(known))
    for column in PID_STAT_COLUMNS[3:]:
        columns.setdefault(column, pa.nulls(len(snapshot), pa.int64()))
    return Columns(snapshot, columns, [])


def stat_from_records(records: Iterable[tuple[str, str, bytes]], labels: Labels) -> Columns:
    """pid_stat columns of records one at a time: split after the last ``)``, then Arrow."""
    positions: list[int] = []
    pids: list[str] = []
    comms: list[str] = []
    tails: list[str] = []
    errors: list[tuple[str, str, str]] = []
    for path, label, data in records:
        position = labels.position(label)
        if position is None:
            continue
        text = data.decode("utf-8", "replace")
        head, sep, tail = text.rpartition(")")
        pid, _, comm = head.partition(" (")
        if not sep or not pid.strip().isdigit():
            errors.append((path, label, "no 'pid (comm)' at the start of the line"))
            continue
        positions.append(position)
        pids.append(pid)
        comms.append(comm)
        tails.append(tail.removeprefix(" ").rstrip())  # the kernel's ") " and "\n"
    fields = pc.split_pattern(pa.array(tails, type=pa.large_string()), " ")
    lengths = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
    columns: dict[str, pa.Array] = {
        "pid": _to_int64(pa.array(pids, type=pa.large_string())),
        "comm": pa.array(comms, type=pa.large_string()),
        "state": _field(fields, lengths, 0),
    }
    for column, index in zip(PID_STAT_COLUMNS[3:], _PID_STAT_INDEXES, strict=True):
        columns[column] = _to_int64(_field(fields, lengths, index))
    return Columns(np.array(positions, np.int64), columns, errors)


# -- pid_status ---------------------------------------------------------------------------------
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
    values = _cut(a, start + _KEY_LENGTHS[slot] + 1, line_end)
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


# -- helpers ------------------------------------------------------------------------------------
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


def _cut(a: np.ndarray, start: np.ndarray, stop: np.ndarray) -> pa.Array:
    """The strings ``a[start[i]:stop[i]]`` (ascending, not overlapping) without a Python loop.

    The offsets ``0, start0, stop0, start1, stop1, ...`` describe every piece of the buffer
    between and inside the wanted ranges; the wanted ones are every second piece.
    """
    offsets = np.empty(2 * len(start) + 1, np.int64)
    offsets[0] = 0
    offsets[1::2] = start
    offsets[2::2] = stop
    pieces = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), 2 * len(start), [None, pa.py_buffer(offsets), pa.py_buffer(a)]
    )
    wanted = pieces.take(pa.array(np.arange(1, 2 * len(start), 2)))
    try:
        return pc.cast(wanted, pa.large_string())
    except pa.ArrowInvalid:  # not UTF-8: decode like the rest of the analyzer does
        return pa.array(
            [v.decode("utf-8", "replace") for v in wanted.to_pylist()], pa.large_string()
        )


def _spread(values: pa.Array, rows: np.ndarray, count: int) -> pa.Array:
    """A column of `count` rows holding values[i] at rows[i] and null elsewhere."""
    index = np.full(count, -1, np.int64)
    index[rows] = np.arange(len(rows))
    return values.take(pa.array(index, mask=index < 0))


def _label(code: int) -> str:
    return "start" if code == LABEL_START else "end" if code == LABEL_END else str(code)


def _pid_of(path: str) -> int:
    return int(path.split("/", 2)[1])


def _field(fields: pa.Array, lengths: Any, index: int) -> pa.Array:
    """Field `index` of each split line; null where a line (an old kernel's) is shorter."""
    if len(lengths) and int(lengths.min()) > index:
        return pc.list_element(fields, index)
    values = [row[index] if len(row) > index else None for row in fields.to_pylist()]
    return pa.array(values, type=pa.large_string())


def _to_int64(values: pa.Array) -> pa.Array:
    """Decimal text to int64 (text that is not a number becomes null)."""
    try:
        return pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_int_or_none(v) for v in values.to_pylist()], pa.int64())


def _int_or_none(text: str | None) -> int | None:
    try:
        number = int(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and -(2**63) <= number < 2**63 else None
