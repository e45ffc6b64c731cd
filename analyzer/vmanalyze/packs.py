"""Per-process record streams of a bundle, packed end to end and split without a Python loop.

A one-hour bundle of a busy host holds about a million per-process records (one
``/proc/<pid>/stat`` per process per sample). Splitting them one at a time in Python costs
seconds, so the reader appends the members of the per-process sources in :data:`PACKED` to
:class:`Pack` buffers of about :data:`PACK_BYTES`, and :func:`frame_records` finds every
record of a buffer at once with numpy.

It guesses that a header starts wherever ``@@ vmcollect `` begins a line, reads each guessed
header's label and length, and accepts the guess only when the records chain exactly: the
first header at byte 0, each body followed by the record's closing newline and then the next
header, the last one ending at the last byte. Any buffer that does not chain (a truncated
member, a body holding a header-like line, a label the collector never writes) gives None,
and its members are split one at a time by :func:`vmanalyze.inputs.parse_record_stream`:
the same records, just slower.

>>> pack = Pack()
>>> pack.add("proc/7/stat", b"@@ vmcollect start 4\\nabc\\n\\n@@ vmcollect 12 2\\nd\\n\\n")
>>> pack.add("proc/8/stat", b"@@ vmcollect end 0\\n\\n")
>>> records = frame_records(pack)
>>> records.label.tolist(), records.member.tolist()
([-1, 12, -2], [0, 0, 1])
>>> [bytes(pack.data[b:e]) for b, e in zip(records.body, records.end)]
[b'abc\\n', b'd\\n', b'']
>>> pack.add("proc/9/stat", b"@@ vmcollect 3 9\\ntruncated")
>>> frame_records(pack) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from vmanalyze.paths import PID_DIR_TEXT

#: Sources whose bundle members are packed: the ones with a record per process per sample.
PACKED = {
    "pid_stat": re.compile(rf"^{PID_DIR_TEXT}stat$"),
    "pid_status": re.compile(rf"^{PID_DIR_TEXT}status$"),
}
#: Size at which a pack is closed and a new one started: bounds numpy's temporary arrays.
PACK_BYTES = 32 << 20
#: Members bigger than this are not packed (a stream of a week of samples, or a hostile one):
#: they are split record by record like every other file, and no pack grows past
#: PACK_BYTES + MEMBER_BYTES.
MEMBER_BYTES = PACK_BYTES // 4
#: The shortest record there is: ``@@ vmcollect 0 0\n`` and the closing newline.
SHORTEST_RECORD = 18
#: Zero bytes after a pack's data, so fixed-width windows never read past the buffer.
PADDING = 64

_MAGIC_HEAD = np.uint64(int.from_bytes(b"@@ vmcol", "little"))
_MAGIC_TAIL = np.uint64(int.from_bytes(b"lect ", "little"))
_MAGIC_TAIL_MASK = np.uint64((1 << 40) - 1)
LABEL_START = -1
LABEL_END = -2


class Pack:
    """Record streams of several bundle members of one source, end to end in one buffer."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.paths: list[str] = []
        self.offsets: list[int] = []

    def add(self, path: str, stream: bytes) -> None:
        self.paths.append(path)
        self.offsets.append(len(self.data))
        self.data += stream

    def __len__(self) -> int:
        return len(self.data)

    def members(self) -> Iterator[tuple[str, bytes]]:
        """(path, stream) of every member, for the one-at-a-time path."""
        view = memoryview(self.data)
        ends = [*self.offsets[1:], len(self.data)]
        for path, start, end in zip(self.paths, self.offsets, ends, strict=True):
            yield path, bytes(view[start:end])

    def array(self) -> np.ndarray:
        """The data as a writable uint8 array followed by :data:`PADDING` zero bytes."""
        buffer = np.zeros(len(self.data) + PADDING, np.uint8)
        buffer[: len(self.data)] = np.frombuffer(self.data, np.uint8)
        return buffer


def packed_source(path: str) -> str | None:
    """The source of a bundle member that is packed, or None.

    >>> packed_source("proc/42/status"), packed_source("proc/42/cmdline")
    ('pid_status', None)
    """
    for source, pattern in PACKED.items():
        if pattern.match(path):
            return source
    return None


class Packs:
    """The packs of one bundle, by source."""

    def __init__(self) -> None:
        self.by_source: dict[str, list[Pack]] = {}

    def add(self, path: str, stream: bytes) -> bool:
        """Pack a member if its source is packed; False when it is not (store it as usual)."""
        source = packed_source(path)
        if source is None or len(stream) > MEMBER_BYTES:
            return False
        packs = self.by_source.setdefault(source, [])
        if not packs or len(packs[-1]) >= PACK_BYTES:
            packs.append(Pack())
        packs[-1].add(path, stream)
        return True


class Records(NamedTuple):
    """The records of a pack, as parallel arrays (byte offsets into the pack's data)."""

    label: np.ndarray  # sample number; LABEL_START or LABEL_END
    body: np.ndarray  # first byte of the record's body
    end: np.ndarray  # one past its last byte (the record's closing newline is at `end`)
    member: np.ndarray  # index into Pack.paths


def byte_windows(a: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """``a[p : p + width]`` for every p in `pos`, as an (n, width) array; width <= 64.

    `a` must have :data:`PADDING` bytes after the last position. Reads 8 bytes at a time
    through an overlapping uint64 view, so a window costs ``width / 8`` gathers.
    """
    words = (width + 7) // 8
    index = pos[:, None] + 8 * np.arange(words)
    return _words(a)[index].view(np.uint8).reshape(len(pos), 8 * words)[:, :width]


def _words(a: np.ndarray) -> np.ndarray:
    """``a`` as overlapping little-endian uint64s: element i is bytes i to i + 7."""
    return np.ndarray(shape=(len(a) - 7,), dtype="<u8", buffer=a, offset=0, strides=(1,))


def first_of(window: np.ndarray, byte: int) -> np.ndarray:
    """Column of the first `byte` in each row of `window`; the width when there is none."""
    hit = window == byte
    index = hit.argmax(axis=1)
    index[~hit[np.arange(len(index)), index]] = window.shape[1]
    return index


def parse_digits(
    window: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal ``window[i, start[i]:stop[i]]`` as int64, and where that was 1-18 digits."""
    values = np.zeros(len(window), np.int64)
    ok = (stop > start) & (stop - start <= 18)
    if not len(window):
        return values, ok
    for column in range(int(start.min()), min(int(stop.max()), window.shape[1])):
        inside = (start <= column) & (column < stop)
        digit = window[:, column].astype(np.int64) - 48
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        values = np.where(inside, values * 10 + digit, values)
    return values, ok


def frame_records(pack: Pack, a: np.ndarray | None = None) -> Records | None:
    """Every record of `pack`, or None when its streams do not chain (see the module).

    `a` is :meth:`Pack.array` when the caller already has it.
    """
    size = len(pack.data)
    if not size:
        return Records(*(np.zeros(0, np.int64) for _ in range(4)))
    if a is None:
        a = pack.array()
    is_at = a[:size] == ord("@")
    if np.count_nonzero(is_at) > size // SHORTEST_RECORD + 64:
        return None  # more '@' than records can hold: not worth an index of every one
    at = np.flatnonzero(is_at)
    del is_at
    words = _words(a)
    at = at[(words[at] == _MAGIC_HEAD) & ((words[at + 8] & _MAGIC_TAIL_MASK) == _MAGIC_TAIL)]
    at = at[(at == 0) | (a[np.maximum(at - 1, 0)] == ord("\n"))]
    if not len(at) or at[0] != 0:
        return None
    head = byte_windows(a, at + 13, 32)
    space = first_of(head, ord(" "))
    newline = first_of(head, ord("\n"))
    length, ok = parse_digits(head, space + 1, newline)
    number, is_number = parse_digits(head, np.zeros_like(space), space)
    is_number &= (head[:, 0] != ord("0")) | (space == 1)  # the collector writes no leading 0
    is_start = (space == 5) & (head[:, :5] == np.frombuffer(b"start", np.uint8)).all(axis=1)
    is_end = (space == 3) & (head[:, :3] == np.frombuffer(b"end", np.uint8)).all(axis=1)
    ok &= (is_number | is_start | is_end) & (newline < 32)
    body = at + 13 + newline + 1
    end = body + length
    following = np.append(at[1:], size)
    ok &= end + 1 == following
    ok &= a[np.clip(end, 0, size)] == ord("\n")  # clip: a garbage length is any number
    if not ok.all():
        return None
    label = np.where(is_start, LABEL_START, np.where(is_end, LABEL_END, number))
    offsets = np.asarray(pack.offsets, np.int64)
    first = np.searchsorted(at, offsets)
    if (first >= len(at)).any() or (at[np.minimum(first, len(at) - 1)] != offsets).any():
        return None  # a member that does not start with a header: a stream cut short
    member = np.searchsorted(offsets, at, side="right") - 1
    return Records(label, body, end, member)
