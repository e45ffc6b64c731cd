"""The on-disk spool a run writes while it samples, so memory stays flat however long it runs.

Layout of a spool directory:

- ``spool.json``: host facts and options, written once at the start.
- ``state.json``: run counters, rewritten (atomically) after every snapshot.
- ``samples.jsonl``: one line per *complete* snapshot, appended after its records are flushed.
- ``segments/NNNNNN.seg``: zlib streams of records, sync-flushed after every snapshot and
  rolled over when a segment holds `segment_bytes` of raw data.

A record in a segment is ``<label> <outcome> <length> <path>\\n`` followed by `length` bytes.
Non-captured outcomes carry the error message (if any) as their bytes. A capture identical to
the same path's capture in the previous snapshot is stored as outcome ``same`` with no bytes:
most of a sample (idle processes' stat and status) repeats the one before, and not compressing
it twice (into the spool, then into the bundle) halves the spool's share of the CPU.

If the process dies, everything up to the last ``samples.jsonl`` line can be read back
(`read_segment` tolerates a truncated zlib stream and a truncated last record).
"""

import json
import os
import zlib

SEGMENT_BYTES = 64 << 20
SAME = "same"
_CAPTURED = "captured"


def write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, sort_keys=True)
    os.rename(tmp, path)


class SpoolWriter(object):
    """Append records; `end_snapshot` makes the snapshot durable and returns bytes on disk."""

    def __init__(self, directory, segment_bytes=SEGMENT_BYTES, level=1):
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.level = level
        self.segments_dir = os.path.join(directory, "segments")
        if not os.path.isdir(self.segments_dir):
            os.mkdir(self.segments_dir)
        self._segment_no = len(os.listdir(self.segments_dir))
        self._file = None
        self._zip = None
        self._raw_in_segment = 0
        self._buffer = []
        # Captures of the previous complete snapshot and of the current one, by path.
        self._previous = {}
        self._current = {}
        self.compressed_bytes = 0
        self.raw_bytes = 0
        self._samples = open(os.path.join(directory, "samples.jsonl"), "a")

    def _open_segment(self):
        path = os.path.join(self.segments_dir, "%06d.seg" % self._segment_no)
        self._segment_no += 1
        self._file = open(path, "wb")
        self._zip = zlib.compressobj(self.level)
        self._raw_in_segment = 0

    def add(self, label, path, outcome, data):
        """Queue one record; nothing reaches disk until `end_snapshot`."""
        body = data if data is not None else b""
        if outcome == _CAPTURED:
            # "same" always means: as the record just before it in this path's stream.
            repeated = path not in self._current and self._previous.get(path) == body
            self._current[path] = body
            if repeated:
                outcome, body = SAME, b""
        header = ("%s %s %d %s\n" % (label, outcome, len(body), path)).encode(
            "utf-8", "surrogateescape"
        )
        self._buffer.append(header)
        self._buffer.append(body)

    def end_snapshot(self, meta):
        """Compress and flush the queued records, then record the snapshot as complete."""
        if self._file is None:
            self._open_segment()
        raw = b"".join(self._buffer)
        self._buffer = []
        self._previous = self._current
        self._current = {}
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

    def discard_snapshot(self):
        self._buffer = []
        self._current = {}

    def _close_segment(self):
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


def read_samples(directory):
    """Complete snapshots listed in a spool's samples.jsonl (a torn last line is dropped)."""
    out = []
    try:
        with open(os.path.join(directory, "samples.jsonl"), "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    out.append(json.loads(line.decode("utf-8")))
                except ValueError:
                    break
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


def _decompress(path):
    """Decompress a segment, keeping what a truncated stream still yields."""
    inflater = zlib.decompressobj()
    chunks = []
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            try:
                chunks.append(inflater.decompress(block))
            except zlib.error:
                break
    try:
        chunks.append(inflater.flush())
    except zlib.error:
        pass
    return b"".join(chunks)


def read_segment(path):
    """Yield ``(label, outcome, path, data)`` records; stop at a truncated record."""
    raw = _decompress(path)
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
        if start + length > end:
            return
        yield label, outcome, path, raw[start : start + length]
        pos = start + length
