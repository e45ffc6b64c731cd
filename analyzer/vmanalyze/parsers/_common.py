"""Helpers shared by the parsers: key naming, unit conversion, numbers, errors, bulk columns.

Private to :mod:`vmanalyze.parsers`; the naming rule is documented in the package docstring.
Formats several sources share live here too (``name value`` counters, ``Key: N kB`` lines, PSI
lines, node and hugepage size from a path), never in one parser that others import. The bulk
parsers of the per-process sources (``pid_stat``, ``pid_status``) share
:class:`Labels`, :class:`Columns` and :func:`cut_strings`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.packs import LABEL_END, LABEL_START

KIB = 1024
#: Every integer of a kernel file is an s64 or a u64 (rsslim of an unlimited process is
#: 2**64 - 1); anything beyond is a parse error.
INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
#: Bound of the members of a list such as ``0-3,8`` and of their values: CPU and node numbers
#: (the kernel's NR_CPUS is at most 8192).
MAX_RANGE_MEMBERS = 1 << 16

# Words the kernel spells in mixed case that must stay one word in snake_case.
_WORD_FIXES = (("HugePages", "Hugepages"),)
_OVERRIDES = {
    "NStgid": "ns_tgid",
    "NSpid": "ns_pid",
    "NSpgid": "ns_pgid",
    "NSsid": "ns_sid",
    "PPid": "ppid",
}
_ACRONYM_RE = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_RE = re.compile(r"([a-z])([A-Z])")
_NON_WORD_RE = re.compile(r"[^0-9a-zA-Z]+")


@lru_cache(maxsize=8192)
def snake_key(key: str) -> str:
    """Turn a kernel key into the snake_case column name (without unit suffix).

    >>> [snake_key(k) for k in ("MemTotal", "Active(anon)", "Committed_AS", "HugePages_Total")]
    ['mem_total', 'active_anon', 'committed_as', 'hugepages_total']
    >>> [snake_key(k) for k in ("VmPTE", "SReclaimable", "DirectMap2M", "NSpid", "nr_free_pages")]
    ['vm_pte', 's_reclaimable', 'direct_map2m', 'ns_pid', 'nr_free_pages']
    """
    if key in _OVERRIDES:
        return _OVERRIDES[key]
    for old, new in _WORD_FIXES:
        key = key.replace(old, new)
    key = _ACRONYM_RE.sub(r"\1_\2", key)
    key = _CAMEL_RE.sub(r"\1_\2", key)
    key = _NON_WORD_RE.sub("_", key).strip("_")
    return key.lower()


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, line)`` for every non-blank line, trailing white space removed.

    Trailing NUL bytes (sysfs page padding seen on some 4.x node files) end the text.
    """
    for lineno, line in enumerate(text.rstrip("\x00").splitlines(), 1):
        line = line.rstrip()
        if line:
            yield lineno, line


def require_content(text: str, source: str) -> None:
    """Raise :class:`SkipSource` for a file with no content at all (0 bytes or blank)."""
    if not text.strip(" \t\r\n\x00"):
        raise SkipSource(source, "empty file (not readable when captured, or feature off)")


def single_value(text: str, source: str) -> str:
    """Return the content of a one-value file, stripped of white space and NUL padding.

    Raises :class:`SkipSource` when nothing is left.
    """
    value = text.strip(" \t\r\n\x00")
    if not value:
        raise SkipSource(source, "empty file (not readable when captured, or feature off)")
    return value


def to_int(value: str, source: str, lineno: int, line: str) -> int:
    """Parse a decimal s64 or u64 or raise :class:`ParseError` naming the line.

    >>> to_int("-7", "x", 1, "-7")
    -7
    >>> to_int(str(2**64 - 1), "m", 3, "x") == 2**64 - 1
    True
    >>> to_int("9" * 21, "m", 3, "x")
    Traceback (most recent call last):
    ...
    vmanalyze.errors.ParseError: m: line 3: 'x': not a 64-bit integer: '999999999999999999999'
    """
    try:
        number = int(value) if len(value) <= 24 else None
    except ValueError:
        raise ParseError(source, lineno, line, f"not an integer: {value[:40]!r}") from None
    if number is None or not INT64_MIN <= number <= UINT64_MAX:
        raise ParseError(source, lineno, line, f"not a 64-bit integer: {value[:40]!r}")
    return number


def to_float(value: str, source: str, lineno: int, line: str) -> float:
    """Parse a decimal number or raise :class:`ParseError` naming the line."""
    try:
        return float(value)
    except ValueError:
        raise ParseError(source, lineno, line, f"not a number: {value!r}") from None


def kb_value(key: str, raw: str, source: str, lineno: int, line: str) -> tuple[str, int]:
    """Return ``(column, value)`` for a ``N`` or ``N kB`` value: kB becomes ``<key>_bytes``."""
    parts = raw.split()
    if len(parts) == 2 and parts[1] == "kB":
        kib = to_int(parts[0], source, lineno, line)
        if not INT64_MIN // KIB <= kib <= INT64_MAX // KIB:
            raise ParseError(source, lineno, line, "not a 64-bit number of bytes")
        return snake_key(key) + "_bytes", kib * KIB
    if len(parts) == 1:
        return snake_key(key), to_int(parts[0], source, lineno, line)
    raise ParseError(source, lineno, line, "expected 'N' or 'N kB'")


def parse_ranges(text: str, source: str = "ranges") -> list[int]:
    """Parse the kernel's list format ``0-3,8,10-11`` into a sorted list of ints.

    An empty file or a lone newline (a node without CPUs) is the empty list.

    >>> parse_ranges("0-3,8,10-11\\n")
    [0, 1, 2, 3, 8, 10, 11]
    >>> parse_ranges("\\n")
    []
    """
    body = text.strip(" \t\r\n\x00")
    if not body:
        return []
    out: list[int] = []
    for part in body.split(","):
        lo, sep, hi = part.strip().partition("-")
        first = to_int(lo, source, 1, body)
        last = to_int(hi, source, 1, body) if sep else first
        if last < first:
            raise ParseError(source, 1, body, f"reversed range {part!r}")
        if first < 0 or last >= MAX_RANGE_MEMBERS or last - first + len(out) >= MAX_RANGE_MEMBERS:
            raise ParseError(source, 1, body[:120], f"beyond {MAX_RANGE_MEMBERS:,} members")
        out.extend(range(first, last + 1))
    return sorted(set(out))


# -- formats several sources share ------------------------------------------------------------
def parse_counters(text: str, source: str, tolerate_unnamed: bool = False) -> dict[str, int | None]:
    """Parse ``name value`` lines into a dict of ints (no derived keys).

    With ``tolerate_unnamed``, a line holding a value without a name (`` 176096``: printed by
    the node vmstat of some 4.8-era kernels whose name table was one short) is skipped.
    """
    require_content(text, source)
    out: dict[str, int | None] = {}
    for lineno, line in numbered_lines(text):
        parts = line.split()
        if tolerate_unnamed and len(parts) == 1 and line[:1].isspace() and parts[0].isdigit():
            continue
        if len(parts) != 2:
            raise ParseError(source, lineno, line, "expected 'name value'")
        out[parts[0]] = to_int(parts[1], source, lineno, line)
    return out


_OLD_HEADER = ("total:", "Mem:", "Swap:")


def parse_key_values(
    text: str, source: str, known: tuple[str, ...] = (), prefix_words: int = 0
) -> dict[str, int | None]:
    """Parse ``Key: N [kB]`` lines (after ``prefix_words`` leading words, e.g. ``Node 0``)."""
    require_content(text, source)
    out: dict[str, int | None] = dict.fromkeys(known)
    for lineno, line in numbered_lines(text):
        body = line.split(None, prefix_words)[-1] if prefix_words else line.strip()
        if not prefix_words and body.startswith(_OLD_HEADER):
            continue
        key, sep, raw = body.partition(":")
        if not sep or not key.strip():
            raise ParseError(source, lineno, line, "expected 'Key: value'")
        name, value = kb_value(key.strip(), raw, source, lineno, line)
        out[name] = value
    return out


_NODE_DIR_RE = re.compile(r"(?:^|/)node(\d+)(?:/|$)")


def node_from_path(path: str) -> int | None:
    """Return N from the last ``nodeN`` directory of a sysfs path, ``None`` if there is none.

    >>> node_from_path("sys/devices/system/node/node12/meminfo"), node_from_path("proc/meminfo")
    (12, None)
    """
    found = _NODE_DIR_RE.findall(path)
    return int(found[-1]) if found else None


_SIZE_RE = re.compile(r"hugepages-(\d+)kB(?:/|$)")


def hugepage_size_from_path(path: str) -> int | None:
    """Size in bytes from the last ``hugepages-<N>kB`` component of ``path``, else ``None``."""
    found = _SIZE_RE.findall(path)
    return int(found[-1]) * KIB if found else None


PSI_KEYS: tuple[str, ...] = tuple(
    f"{kind}_{field}"
    for kind in ("some", "full")
    for field in ("avg10", "avg60", "avg300", "total_us")
)


def parse_psi(text: str, source: str = "pressure_memory") -> dict[str, float | int | None]:
    """Parse any PSI file (``/proc/pressure/*``, cgroup ``*.pressure``)."""
    require_content(text, source)
    out: dict[str, float | int | None] = dict.fromkeys(PSI_KEYS)
    for lineno, line in numbered_lines(text):
        kind, *pairs = line.split()
        if kind not in ("some", "full") or not pairs:
            raise ParseError(source, lineno, line, "expected 'some|full avg10=...'")
        for pair in pairs:
            key, eq, value = pair.partition("=")
            if not eq:
                raise ParseError(source, lineno, line, f"expected key=value, got {pair!r}")
            if key == "total":
                out[f"{kind}_total_us"] = to_int(value, source, lineno, line)
            else:
                out[f"{kind}_{key}"] = to_float(value, source, lineno, line)
    return out


# -- bulk columns of the per-process sources ---------------------------------------------------
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
        coded = [(label_code(label), i) for i, label in enumerate(labels)]
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


def label_code(label: str) -> int | None:
    """The integer a pack uses for a snapshot label (None: a label packs never hold)."""
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


def cut_strings(a: np.ndarray, start: np.ndarray, stop: np.ndarray) -> pa.Array:
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
