"""The bulk pid parsers against the per-file ones: the same values, column by column.

``parsers/pid_stat.py`` and ``parsers/pid_status.py`` each parse their file three ways: the
per-file parser (``parse_pid_stat``, ``parse_pid_status``), records one at a time
(``*_from_records``) and whole packs (``*_from_pack``, which may decline with None). Used by the
parser tests (live /proc, sample bundles, fixtures) and by the corpus harness (``make corpus``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.packs import Pack
from vmanalyze.parsers._common import Columns, Labels
from vmanalyze.parsers.pid_stat import (
    PID_STAT_COLUMNS,
    parse_pid_stat,
    stat_from_pack,
    stat_from_records,
)
from vmanalyze.parsers.pid_status import (
    PID_STATUS_FIELDS,
    parse_pid_status,
    status_from_pack,
    status_from_records,
)

BULK: dict[str, Callable[[Pack, Labels], Columns | None]] = {
    "pid_stat": stat_from_pack,
    "pid_status": status_from_pack,
}
ONE_AT_A_TIME: dict[str, Callable[[Iterable[tuple[str, str, bytes]], Labels], Columns]] = {
    "pid_stat": stat_from_records,
    "pid_status": status_from_records,
}
PER_FILE: dict[str, Callable[[str], dict[str, Any]]] = {
    "pid_stat": parse_pid_stat,
    "pid_status": parse_pid_status,
}
COLUMNS = {
    "pid_stat": PID_STAT_COLUMNS,
    "pid_status": ("pid", *(column for _key, column, _kind in PID_STATUS_FIELDS)),
}
#: Kept as the kernel prints them in the table (``0-3``), a list of int in the per-file parser.
AS_PRINTED = ("cpus_allowed_list", "mems_allowed_list")


def stream(*records: tuple[str, bytes]) -> bytes:
    """A bundle member as the collector writes it: ``@@ vmcollect <label> <len>`` records."""
    return b"".join(
        b"@@ vmcollect %s %d\n%s\n" % (label.encode(), len(body), body) for label, body in records
    )


def pack_of(members: dict[str, bytes]) -> Pack:
    pack = Pack()
    for path, data in members.items():
        pack.add(path, data)
    return pack


def as_lists(part: Columns) -> dict[str, list]:
    out: dict[str, list] = {"snapshot": part.snapshot.tolist()}
    for name, values in part.columns.items():
        out[name] = (
            values.cast(pa.large_string()).to_pylist()
            if pa.types.is_string(values.type)
            else values.to_pylist()
        )
    return out


def disagreements(source: str, part: Columns, records: list[tuple[str, str, bytes]]) -> list[str]:
    """How the rows of `part` differ from the per-file parser on `records` (row i: record i).

    A record the per-file parser rejects (ParseError) or skips (an empty file) must be a parse
    error of `part` or a row whose every column but pid is null.
    """
    table = as_lists(part)
    rows = len(table["pid"])
    if rows + len(part.errors) < len(records):
        return [f"{source}: {len(records)} records, {rows} rows and {len(part.errors)} errors"]
    problems: list[str] = []
    row = 0
    for path, label, body in records:
        try:
            full: dict[str, Any] | None = PER_FILE[source](body.decode("utf-8", "replace"))
        except (ParseError, SkipSource):
            full = None
        if full is None and any(p == path and lb == label for p, lb, _m in part.errors):
            continue
        where = f"{path} [{label}]"
        if row >= rows:
            problems.append(f"{where}: no row")
            break
        for column in COLUMNS[source]:
            got = table[column][row]
            if full is None:
                if got is not None and column != "pid":
                    problems.append(f"{where}: {column} is {got!r}, the per-file parser fails")
                continue
            want = full.get(column)
            if column == "pid" and source == "pid_status":  # the directory's, not the Pid line's
                want = int(path.split("/")[1])
            if column in AS_PRINTED:
                if (got is None) != (want is None):
                    problems.append(f"{where}: {column} is {got!r}, per file {want!r}")
            elif got != want:
                problems.append(f"{where}: {column} is {got!r}, per file {want!r}")
        row += 1
    return problems


def check_file(source: str, path: str, data: bytes) -> list[str]:
    """One captured file, as two snapshots of a pack: both bulk paths agree with the per-file one.

    `path` is the file's path relative to its captured root (``proc/<pid>/stat``).
    """
    labels = Labels(["0", "1"])
    pack = pack_of({path: stream(("0", data), ("1", data))})
    records = [(path, "0", data), (path, "1", data)]
    problems = disagreements(source, ONE_AT_A_TIME[source](records, labels), records)
    bulk = BULK[source](pack, labels)
    if bulk is not None:
        problems += [f"in bulk: {p}" for p in disagreements(source, bulk, records)]
    return problems
