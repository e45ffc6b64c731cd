"""pid_stat - file /proc/<pid>/stat
=================================

One line of status fields of a process, in the order of proc(5): pid, command name in
parentheses, state, parent, fault counters, CPU times in clock ticks, sizes, scheduling. The
command name (``comm``, up to 15 bytes) may contain spaces, parentheses and even newlines, so the
line is split after the LAST ``)``. Old kernels print fewer fields (2.6.32: 44); missing
trailing fields are ``None``. See https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html

Sample input::

    2001 (bad) S 1 2 3 4 5) S 1888 2001 1888 34816 2001 4202496 428 0 0 0 0 0 0 0 20 0 1 0 ...

Output: one dict keyed by the proc(5) field names of :data:`STAT_FIELDS` (1-based field numbers:
pid=1, comm=2, state=3, ppid=4, minflt=10, cminflt=11, majflt=12, cmajflt=13, utime=14,
stime=15 (ticks), priority=18, nice=19, num_threads=20, starttime=22 (ticks since boot),
vsize=23 (bytes), rss=24 (pages), rsslim=25 (bytes), processor=39, delayacct_blkio_ticks=42,
guest_time=43...). ``comm`` and ``state`` are str, everything else int; fields beyond 52 are
kept as ``field_<n>``. Lines after the stat line (never printed by the kernel) are ignored.

In bulk: the ``pid_stat`` table holds the fields of :data:`PID_STAT_COLUMNS` only, read at the
positions :data:`STAT_FIELDS` gives them. :func:`stat_from_pack` parses a whole
:class:`~vmanalyze.packs.Pack` of stat streams with numpy and Arrow (no Python loop over
records) and returns None rather than guess; :func:`stat_from_records` parses records one at a
time (sosreports, captured trees, packs the bulk path declined), splitting after the last ``)``
like :func:`parse_pid_stat`. Both give the same columns.

Examples:
    >>> st = parse_pid_stat(SAMPLE)
    >>> st["pid"], st["comm"], st["state"], st["ppid"], st["num_threads"]
    (2001, 'bad) S 1 2 3 4 5', 'S', 1888, 1)
    >>> st["minflt"], st["vsize"], st["rss"], st["processor"], st["exit_code"]
    (428, 115900416, 297, 0, 0)
    >>> old = parse_pid_stat("1 (init) S 0 1 1 0 -1 4202752 1 2 3 4 5 6 7 8 20 0 1 0 3")
    >>> old["starttime"], old["vsize"], old["processor"]
    (3, None, None)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from vmanalyze.errors import ParseError
from vmanalyze.packs import Pack, byte_windows, first_of, frame_records, parse_digits
from vmanalyze.parsers._common import Columns, Labels, cut_strings, require_content, to_int

SOURCE = "pid_stat"

SAMPLE = (
    "2001 (bad) S 1 2 3 4 5) S 1888 2001 1888 34816 2001 4202496 428 0 0 0 0 0 0 0 20 0 1 0"
    " 75513 115900416 297 18446744073709551615 4194304 5100612 140737020052256 140737020050904"
    " 140096699233308 0 65536 4 65538 18446744072034584486 0 0 17 0 0 0 0 0 0 7200240 7236240"
    " 35389440 140737020057179 140737020057223 140737020057223 140737020059606 0\n"
)

#: Field names of proc(5), in order: ``STAT_FIELDS[n - 1]`` is field n.
STAT_FIELDS: tuple[str, ...] = (
    "pid",
    "comm",
    "state",
    "ppid",
    "pgrp",
    "session",
    "tty_nr",
    "tpgid",
    "flags",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime",
    "stime",
    "cutime",
    "cstime",
    "priority",
    "nice",
    "num_threads",
    "itrealvalue",
    "starttime",
    "vsize",
    "rss",
    "rsslim",
    "startcode",
    "endcode",
    "startstack",
    "kstkesp",
    "kstkeip",
    "signal",
    "blocked",
    "sigignore",
    "sigcatch",
    "wchan",
    "nswap",
    "cnswap",
    "exit_signal",
    "processor",
    "rt_priority",
    "policy",
    "delayacct_blkio_ticks",
    "guest_time",
    "cguest_time",
    "start_data",
    "end_data",
    "start_brk",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
    "exit_code",
)

# Fields 1-3 are always there, and 2.6.x printed at least up to starttime.
_MIN_FIELDS = 22


def parse_pid_stat(text: str) -> dict[str, int | str | None]:
    """Parse /proc/<pid>/stat (see the module docstring)."""
    require_content(text, SOURCE)
    head, lparen, _ = text.partition("(")
    close = text.rfind(")")
    first_line = text.splitlines()[0] if text.splitlines() else text
    if not lparen or close < len(head):
        raise ParseError(SOURCE, 1, first_line, "no '(comm)'")
    pid = to_int(head.strip(), SOURCE, 1, first_line)
    comm = text[len(head) + 1 : close]
    rest = text[close + 1 :].split("\n", 1)[0].split()
    if len(rest) < _MIN_FIELDS - 2:
        raise ParseError(SOURCE, 1, first_line, f"only {len(rest) + 2} fields")
    out: dict[str, int | str | None] = dict.fromkeys(STAT_FIELDS)
    out["pid"] = pid
    out["comm"] = comm
    out["state"] = rest[0]
    lineno = 1 + text[:close].count("\n")
    for index, word in enumerate(rest[1:], start=4):
        name = STAT_FIELDS[index - 1] if index <= len(STAT_FIELDS) else f"field_{index}"
        out[name] = to_int(word, SOURCE, lineno, word)
    return out


# -- in bulk: the pid_stat table ----------------------------------------------------------------
#: Columns of the pid_stat table after snapshot and ts: the fields analysis uses.
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
    comm = cut_strings(a, comm_start, last)
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
