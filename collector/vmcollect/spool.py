"""The on-disk spool a run writes while it samples, so memory stays flat however long it runs.

Layout of a spool directory:

- ``spool.json``: host facts and options, written once at the start.
- ``state.json``: run counters, rewritten (atomically) after every snapshot.
- ``samples.jsonl``: one line per *complete* snapshot, appended after its records are flushed.
- ``segments/NNNNNN.seg``: zlib streams of records, sync-flushed after every snapshot and
  rolled over when a segment holds `segment_bytes` of raw data.

A record in a segment is ``<label> <outcome> <length> <path>\\n`` followed by `length` bytes.
Non-captured outcomes carry the error message (if any) as their bytes. A capture identical to
the same path's capture in the previous snapshot is a repeat: most of a sample (idle processes'
stat and status) repeats the one before. A snapshot's repeats are written before its other
records, as the change from the previous snapshot's repeats: ``<label> sames+ <length> -\\n``
followed by the paths that repeat now and did not then, one a line, and ``<label> sames-`` with
those that repeated then and do not now (from one sample to the next, the same idle processes
and cgroups repeat: listing them all again was ~100 KB a sample to compress). The first
snapshot of a segment lists them all, ``<label> sames``, so each segment reads on its own, and
every snapshot starts with at least one of these records (an empty ``sames+`` when nothing
changed). A path holding a newline is stored as a record of its own. Earlier versions wrote
the whole list every snapshot that had repeats (``sames``), and before that a record per
repeat, outcome ``same`` with no bytes; both are still read.

If the process dies, everything up to the last ``samples.jsonl`` line can be read back
(`read_segment` tolerates a truncated zlib stream and a truncated last record).
"""

import json
import os
import stat
import zlib

from vmcollect.safeio import open_new, replace_json

SEGMENT_BYTES = 64 << 20
# A segment rolls over after SEGMENT_BYTES of raw records, plus at most one snapshot (deep files
# are capped at 64 MiB each); 512 MiB bounds what --recover inflates from one segment.
MAX_SEGMENT_RAW = 512 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
write_json_atomic = replace_json
SAME = "same"
SAMES = "sames"
SAMES_ADDED = "sames+"
SAMES_REMOVED = "sames-"
REPEAT_OUTCOMES = (SAMES, SAMES_ADDED, SAMES_REMOVED)
_CAPTURED = "captured"


class SpoolWriter(object):
    """Append records; `end_snapshot` makes the snapshot durable and returns bytes on disk."""

    def __init__(self, directory, segment_bytes=SEGMENT_BYTES, level=1):
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.level = level
        self.segments_dir = os.path.join(directory, "segments")
        os.mkdir(self.segments_dir, 0o700)
        self._segment_no = 0
        self._file = None
        self._zip = None
        self._raw_in_segment = 0
        self._buffer = []
        self._same = []  # paths whose capture repeats their previous one, this snapshot
        # Captures of the previous complete snapshot and of the current one, by path.
        self._previous = {}
        self._current = {}
        # The same for the per-process files of `add_process_captures`, by leaf, then by pid.
        self._previous_pids = {}
        self._current_pids = {}
        self._same_pids = {}
        # The previous snapshot's repeats in this segment (paths; pids by leaf), None at the
        # start of a segment.
        self._repeated = None
        self.compressed_bytes = 0
        self.raw_bytes = 0
        self._samples = open_new(os.path.join(directory, "samples.jsonl"), text=True)

    def _open_segment(self):
        path = os.path.join(self.segments_dir, "%06d.seg" % self._segment_no)
        self._segment_no += 1
        self._file = open_new(path)
        self._zip = zlib.compressobj(self.level)
        self._raw_in_segment = 0

    def add(self, label, path, outcome, data):
        """Queue one record; nothing reaches disk until `end_snapshot`."""
        body = data if data is not None else b""
        if outcome == _CAPTURED:
            self.add_captured(label, ((path, body),))
            return
        header = ("%s %s %d %s\n" % (label, outcome, len(body), path)).encode(
            "utf-8", "surrogateescape"
        )
        self._buffer.append(header)
        self._buffer.append(body)

    def add_captured(self, label, items):
        """Queue captures, ``(path, data)`` each: `add` for the ~2,000 files of a sample
        without a call and its checks per file.

        "same" always means: as the record just before it in this path's stream. Only a
        path's first record in a snapshot can be one, so the snapshot's repeats, written
        first, keep every path's records in order.
        """
        current = self._current
        previous = self._previous.get
        same = self._same.append
        buffer = self._buffer.append
        for path, body in items:
            if path not in current and previous(path) == body and "\n" not in path:
                current[path] = body
                same(path)
                continue
            current[path] = body
            buffer(
                ("%s %s %d %s\n" % (label, _CAPTURED, len(body), path)).encode(
                    "utf-8", "surrogateescape"
                )
            )
            buffer(body)

    def add_process_captures(self, label, leaf, items):
        """Queue captures of ``proc/<pid>/<leaf>``, ``(pid, data)`` each: `add_captured` for
        the ~1,000 files a sample reads per process, without building each one's path.

        A pid's capture is compared with its previous one by pid; the repeats' paths are
        built at once when the snapshot ends (nearly every process repeats: idle ones).
        """
        current = self._current_pids.setdefault(leaf, {})
        previous = self._previous_pids.get(leaf, {}).get
        same = self._same_pids.setdefault(leaf, []).append
        buffer = self._buffer.append
        header = "%s %s %%d proc/%%s/%s\n" % (label, _CAPTURED, leaf)
        for pid, body in items:
            if pid not in current and previous(pid) == body:
                current[pid] = body
                same(pid)
                continue
            current[pid] = body
            buffer((header % (len(body), pid)).encode("utf-8", "surrogateescape"))
            buffer(body)

    def _repeat_records(self, label):
        """This snapshot's repeats as records: all of them (`SAMES`) at the start of a
        segment, else what changed since the previous snapshot (`SAMES_ADDED`,
        `SAMES_REMOVED`); at least one record, so a reader meets every snapshot."""
        paths = set(self._same)
        pids = dict((leaf, set(names)) for leaf, names in self._same_pids.items() if names)
        before, self._repeated = self._repeated, (paths, pids)
        if before is None:
            changes = [(SAMES, paths, pids)]
        else:
            old_paths, old_pids = before
            changes = [
                (SAMES_ADDED, paths - old_paths, _pids_minus(pids, old_pids)),
                (SAMES_REMOVED, old_paths - paths, _pids_minus(old_pids, pids)),
            ]
        records = []
        for outcome, some_paths, some_pids in changes:
            lines = _path_lines(some_paths, some_pids)
            if lines or outcome == SAMES:
                body = lines.encode("utf-8", "surrogateescape")
                records.append(("%s %s %d -\n" % (label, outcome, len(body))).encode("ascii"))
                records.append(body)
        return records or [("%s %s 0 -\n" % (label, SAMES_ADDED)).encode("ascii")]

    def end_snapshot(self, meta):
        """Compress and flush the queued records, then record the snapshot as complete."""
        if self._file is None:
            self._open_segment()
        self._buffer[:0] = self._repeat_records(meta["label"])
        self._same = []
        self._same_pids = {}
        raw = b"".join(self._buffer)
        self._buffer = []
        self._previous = self._current
        self._current = {}
        self._previous_pids = self._current_pids
        self._current_pids = {}
        out = self._zip.compress(raw) + self._zip.flush(zlib.Z_SYNC_FLUSH)
        self._file.write(out)
        self._file.flush()
        self.compressed_bytes += len(out)
        self.raw_bytes += len(raw)
        self._raw_in_segment += len(raw)
        self._samples.write(json.dumps(meta, sort_keys=True) + "\n")
        self._samples.flush()
        if self._raw_in_segment >= self.segment_bytes:
            self._close_segment()

    def _close_segment(self):
        self._repeated = None
        if self._file is not None:
            tail = self._zip.flush(zlib.Z_FINISH)
            self._file.write(tail)
            self.compressed_bytes += len(tail)
            self._file.close()
            self._file = None
            self._zip = None

    def close(self):
        self._close_segment()
        self._samples.close()


def _pids_minus(pids, other):
    """{leaf: pids} of `pids` not in `other` (both {leaf: set of pids})."""
    out = {}
    for leaf, names in pids.items():
        left = names - other.get(leaf, set())
        if left:
            out[leaf] = left
    return out


def _path_lines(paths, pids):
    """Paths, then ``proc/<pid>/<leaf>`` of `pids` ({leaf: pids}), one a line, sorted (the
    spool of a run does not depend on the order of sets)."""
    parts = ["\n".join(sorted(paths))] if paths else []
    for leaf, names in sorted(pids.items()):
        tail = "/" + leaf
        parts.append("proc/" + (tail + "\nproc/").join(sorted(names)) + tail)
    return "\n".join(parts)


class RepeatSet(object):
    """A segment's repeats (paths as bytes) as its repeat records change them, snapshot by
    snapshot. Before each record, `take` says whether a snapshot's repeats are now complete
    (its repeat records are over); `update` applies a repeat record.

    >>> r = RepeatSet()
    >>> r.take("0", True), r.update(SAMES, b"proc/1/stat\\nproc/2/stat", "0")
    (None, None)
    >>> r.take("1", True), r.update(SAMES_ADDED, b"proc/3/stat", "1")  # snapshot 0's are over
    ('0', None)
    >>> r.take("1", True), r.update(SAMES_REMOVED, b"proc/1/stat", "1")
    (None, None)
    >>> r.take("1", False), sorted(r.paths)  # a capture of snapshot 1: its repeats are known
    ('1', [b'proc/2/stat', b'proc/3/stat'])
    """

    def __init__(self):
        self.paths = set()
        self._pending = None

    def update(self, outcome, data, label):
        """Apply a `SAMES*` record of snapshot `label`; a `SAMES` replaces the set."""
        lines = data.split(b"\n") if data else []
        if outcome == SAMES:
            self.paths = set(lines)
        elif outcome == SAMES_ADDED:
            self.paths.update(lines)
        else:
            self.paths.difference_update(lines)
        self._pending = label

    def take(self, label=None, repeat=False):
        """Before a record of snapshot `label` (a repeat record if `repeat`; no label: the end
        of the segment): the label whose repeats are complete now, once; else None."""
        pending = self._pending
        if pending is None or (repeat and label == pending):
            return None
        self._pending = None
        return pending


MAX_NS = 1 << 62
MAX_LABEL = 10**9
# Keys of a samples.jsonl line: (types allowed, required).
_SAMPLE_FIELDS = {
    "label": ((int, str), True),
    "wall_ns": ((int,), True),
    "mono_ns": ((int,), True),
    "duration_ns": ((int,), True),
    "late": ((bool,), False),
    "skipped_slots": ((int,), False),
}


def _valid_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def valid_sample(meta):
    """True if a samples.jsonl entry has the documented shape (types and ranges).

    >>> valid_sample({"label": 3, "wall_ns": 1, "mono_ns": 2, "duration_ns": 5, "late": False})
    True
    >>> valid_sample({"label": "../x", "wall_ns": 1, "mono_ns": 2, "duration_ns": 5})
    False
    >>> valid_sample({"label": 1, "wall_ns": 10 ** 30, "mono_ns": 2, "duration_ns": 5})
    False
    """
    if not isinstance(meta, dict) or set(meta) - set(_SAMPLE_FIELDS):
        return False
    for key, (types, required) in _SAMPLE_FIELDS.items():
        if key not in meta:
            if required:
                return False
            continue
        value = meta[key]
        if bool not in types and isinstance(value, bool):
            return False
        if not isinstance(value, types):
            return False
        if isinstance(value, int) and key != "late" and not _valid_int(value, 0, MAX_NS):
            return False
    label = meta["label"]
    if isinstance(label, str):
        return label in ("start", "end")
    return label < MAX_LABEL


def read_samples(directory):
    """Complete snapshots listed in a spool's samples.jsonl.

    A torn last line ends the list, and so does a line that is not a valid entry (a spool
    given to ``--recover`` may have been tampered with).
    """
    out = []
    try:
        with open_regular(os.path.join(directory, "samples.jsonl")) as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    meta = json.loads(line.decode("utf-8"))
                except (ValueError, RecursionError):
                    break
                if not valid_sample(meta):
                    break
                out.append(meta)
    except OSError:
        pass
    return out


def segment_paths(directory):
    seg_dir = os.path.join(directory, "segments")
    try:
        names = sorted(n for n in os.listdir(seg_dir) if n.endswith(".seg"))
    except OSError:
        return []
    return [os.path.join(seg_dir, n) for n in names]


def open_regular(path):
    """Open a spool file for reading: a regular file only, never through a link.

    A spool given to ``--recover`` may have been left in a shared directory by someone else.
    """
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError("%s is not a regular file" % path)
    return os.fdopen(fd, "rb")


def _decompress(path, max_bytes=None):
    """Decompress a segment, keeping what a truncated stream still yields.

    At most `max_bytes` (default `MAX_SEGMENT_RAW`) come out: a crafted segment given to
    ``--recover`` cannot inflate into unbounded memory; what lies beyond is dropped like a
    truncated stream.
    """
    limit = MAX_SEGMENT_RAW if max_bytes is None else max_bytes
    inflater = zlib.decompressobj()
    chunks = []
    total = 0
    try:
        f = open_regular(path)
    except OSError:
        return b""
    with f:
        while total < limit:
            block = inflater.unconsumed_tail or f.read(1 << 20)
            if not block:
                break
            try:
                chunk = inflater.decompress(block, limit - total)
            except zlib.error:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total < limit:
        try:
            chunks.append(inflater.flush())
        except zlib.error:
            pass
    return b"".join(chunks)


def segment_data(path):
    """A segment's raw records: what its (maybe truncated) zlib stream holds, bounded."""
    return _decompress(path)


def read_segment(path):
    """Yield ``(label, outcome, path, data)`` records; stop at a truncated record.

    A snapshot's repeats come out one ``same`` record each, with no bytes, sorted by path.
    """
    repeats = RepeatSet()
    for label, outcome, name, data in _records(_decompress(path)):
        done = repeats.take(label, outcome in REPEAT_OUTCOMES)
        if done is not None:
            for same in sorted(repeats.paths):
                yield done, SAME, same.decode("utf-8", "surrogateescape"), b""
        if outcome in REPEAT_OUTCOMES:
            repeats.update(outcome, data, label)
        else:
            yield label, outcome, name, data
    done = repeats.take()
    if done is not None:
        for same in sorted(repeats.paths):
            yield done, SAME, same.decode("utf-8", "surrogateescape"), b""


def _records(raw):
    """``(label, outcome, path, data)`` of each whole record in `raw`, up to a truncated or
    malformed one."""
    pos = 0
    end = len(raw)
    while pos < end:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            return
        header = raw[pos:nl].decode("utf-8", "surrogateescape")
        parts = header.split(" ", 3)
        if len(parts) != 4:
            return
        label, outcome, length, path = parts
        try:
            length = int(length)
        except ValueError:
            return
        start = nl + 1
        if length < 0 or start + length > end:
            return
        yield label, outcome, path, raw[start : start + length]
        pos = start + length
