"""Turn a spool into the final bundle: one record stream per kernel file, manifest first.

gzip only looks 32 KiB back, so a layout of one directory per sample compresses badly: the
previous copy of a file is always out of reach. Here every member holds all captures of one
file (one process's stat, the system's meminfo) back to back, so each record sits next to the
one it most resembles. Records are regrouped with an external merge: each spool segment is
sorted on its own, then the sorted runs are merged, so memory stays bounded by one segment.

The bundle is written under a temporary name in the output directory and renamed into place
only when complete.
"""

import gzip
import heapq
import itertools
import json
import os
import re
import shutil
import tarfile
import tempfile

from vmcollect import FORMAT_NAME, FORMAT_VERSION
from vmcollect.readers import CAPTURED, OUTCOMES
from vmcollect.spool import SAME, read_samples, read_segment, segment_paths

_PID_PATH = re.compile(r"^proc/([0-9]+)/")
_MAX_PIDS_LISTED = 100


class FileStats(object):
    """Outcome counts per kernel path, with per-process paths folded into ``proc/[pid]/...``.

    Captures, almost every record, are only counted per path (`captured`) while reading, and
    folded once per distinct path by `finish`.
    """

    def __init__(self):
        self.files = {}
        self.captured = {}
        self._folded = {}

    def fold(self, path):
        """(folded key, pid or None) of a path; cached: a bundle has ~10^5 records."""
        cached = self._folded.get(path)
        if cached is None:
            match = _PID_PATH.match(path)
            if match:
                cached = ("proc/[pid]/" + path[match.end() :], int(match.group(1)))
            else:
                cached = (path, None)
            self._folded[path] = cached
        return cached

    def _entry(self, key):
        entry = self.files.get(key)
        if entry is None:
            entry = self.files[key] = {}
        return entry

    def add(self, path, outcome, data):
        key, pid = self.fold(path)
        entry = self._entry(key)
        entry[outcome] = entry.get(outcome, 0) + 1
        if outcome != CAPTURED:
            if data and "error" not in entry:
                entry["error"] = data.decode("utf-8", "replace")[:500]
            if pid is not None:
                pids = entry.setdefault("pids", {}).setdefault(outcome, [])
                if len(pids) < _MAX_PIDS_LISTED and pid not in pids:
                    pids.append(pid)

    def finish(self):
        """Fold the capture counts into `files`; returns `files`."""
        for path, count in self.captured.items():
            entry = self._entry(self.fold(path)[0])
            entry[CAPTURED] = entry.get(CAPTURED, 0) + count
        self.captured = {}
        return self.files


def _path_of(record):
    return record[0]


def _is_pid_path(path):
    return path.startswith("proc/") and path[5:6].isdigit()


def _write_run(records, directory, name):
    """Write sorted records to a run file; return its path. A repeat is written as length -1."""
    path = os.path.join(directory, name + ".run")
    with open(path, "wb") as f:
        for path_key, label, data in records:
            length = -1 if data is None else len(data)
            f.write(("%s %d %s\n" % (label, length, path_key)).encode("utf-8", "surrogateescape"))
            if data is not None:
                f.write(data)
    return path


def _read_run(path):
    with open(path, "rb") as f:
        while True:
            header = f.readline()
            if not header:
                return
            label, length, path_key = (
                header.decode("utf-8", "surrogateescape").rstrip("\n").split(" ", 2)
            )
            length = int(length)
            yield path_key, label, (None if length < 0 else f.read(length))


def _sorted_runs(spool_dir, complete_labels, stats, work_dir):
    """Each segment's captured records sorted by path, system-wide files first.

    Returns the records of all segments as one iterable, merged by path. A segment holds its
    snapshots in time order, and both the sort and the merge are stable, so each path's
    records stay in snapshot order. A record repeating the previous one has data None.
    """
    system_runs, pid_runs = [], []
    segments = segment_paths(spool_dir)
    captured = stats.captured
    for index, seg in enumerate(segments):
        system, per_pid = [], []
        for label, outcome, path, data in read_segment(seg):
            if label not in complete_labels:
                continue
            if outcome in (CAPTURED, SAME):
                captured[path] = captured.get(path, 0) + 1
                record = (path, label, data if outcome == CAPTURED else None)
                if _is_pid_path(path):
                    per_pid.append(record)
                else:
                    system.append(record)
            else:
                stats.add(path, outcome if outcome in OUTCOMES else "failed", data)
        # System-wide files first, then per-process files: if a bundle is cut short, the
        # system-wide series every analysis needs survive.
        system.sort(key=_path_of)
        per_pid.sort(key=_path_of)
        if len(segments) == 1:
            return itertools.chain(system, per_pid)
        system_runs.append(_read_run(_write_run(system, work_dir, "%06d-s" % index)))
        pid_runs.append(_read_run(_write_run(per_pid, work_dir, "%06d-p" % index)))
        del system, per_pid
    return itertools.chain(
        heapq.merge(*system_runs, key=_path_of), heapq.merge(*pid_runs, key=_path_of)
    )


class TarWriter(object):
    """A minimal tar writer into a gzip stream.

    tarfile builds each header through several layers of Python (about 100 us a member); a
    bundle has thousands of small members, so on a busy host that alone would exceed the
    collector's CPU budget. POSIX ustar headers are written directly here; a name longer than
    ustar allows falls back to tarfile's own GNU header.
    """

    def __init__(self, raw, mtime, compresslevel=6):
        self.gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=mtime)
        self.mtime = mtime

    def _header(self, name, size):
        encoded = name.encode("utf-8", "surrogateescape")
        prefix = b""
        if len(encoded) > 100:
            cut = encoded.rfind(b"/", 0, 156)
            if cut > 0 and len(encoded) - cut - 1 <= 100:
                prefix, encoded = encoded[:cut], encoded[cut + 1 :]
            else:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = size, self.mtime, 0o644
                return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
        header = b"".join(
            [
                encoded.ljust(100, b"\0"),
                b"0000644\0",
                b"0000000\0",
                b"0000000\0",
                ("%011o\0" % size).encode("ascii"),
                ("%011o\0" % self.mtime).encode("ascii"),
                b"        ",
                b"0",
                b"\0" * 100,
                b"ustar\x0000",
                b"\0" * 64,
                b"0000000\0" * 2,
                prefix.ljust(155, b"\0"),
                b"\0" * 12,
            ]
        )
        checksum = ("%06o\0 " % sum(bytearray(header))).encode("ascii")
        return header[:148] + checksum + header[156:]

    def add(self, name, data):
        self.gz.write(self._header(name, len(data)) + data + b"\0" * (-len(data) % 512))

    def close(self):
        self.gz.write(b"\0" * 1024)
        self.gz.close()


def build_manifest(spool_dir, samples, stats, recovered):
    with open(os.path.join(spool_dir, "spool.json")) as f:
        spool = json.load(f)
    try:
        with open(os.path.join(spool_dir, "state.json")) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {}
    sample_rows = [s for s in samples if isinstance(s.get("label"), int)]
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "collector": spool["collector"],
        "host": spool["host"],
        "options": spool["options"],
        "privacy": spool["privacy"],
        "priority": spool.get("priority", {}),
        "start_wall_ns": samples[0]["wall_ns"] if samples else spool.get("start_wall_ns"),
        "end_wall_ns": (samples[-1]["wall_ns"] + samples[-1]["duration_ns"]) if samples else None,
        "samples": len(sample_rows),
        "late_samples": sum(1 for s in sample_rows if s.get("late")),
        "planned_samples": spool["options"].get("count"),
        "interrupted": bool(state.get("interrupted")),
        "recovered": recovered,
        "stop_reason": "recovered from spool" if recovered else state.get("stop_reason"),
        "processes": state.get("processes", {}),
        "cgroups": state.get("cgroups", {}),
        "missing": spool.get("missing", []),
        "warnings": state.get("warnings", []),
        "files": stats.files,
    }
    planned = manifest["planned_samples"]
    manifest["completed"] = bool(
        not recovered
        and not manifest["interrupted"]
        and manifest["stop_reason"] in ("count reached", "duration reached")
        and (
            planned is None
            or manifest["samples"] >= planned
            or manifest["stop_reason"] == "duration reached"
        )
    )
    return manifest


def write_bundle(spool_dir, output_path, recovered=False, compresslevel=6):
    """Write the bundle for `spool_dir` to `output_path` atomically; return the manifest."""
    samples = read_samples(spool_dir)
    complete = set(str(s["label"]) for s in samples)
    stats = FileStats()
    out_dir = os.path.dirname(os.path.abspath(output_path))
    work_dir = tempfile.mkdtemp(prefix=".vmcollect-runs-", dir=spool_dir)
    tmp_path = os.path.join(
        out_dir, ".%s.partial-%d" % (os.path.basename(output_path), os.getpid())
    )
    try:
        records = _sorted_runs(spool_dir, complete, stats, work_dir)
        stats.finish()
        manifest = build_manifest(spool_dir, samples, stats, recovered)
        mtime = int((manifest["start_wall_ns"] or 0) // 1000000000)
        with open(tmp_path, "wb") as raw:
            tar = TarWriter(raw, mtime, compresslevel)
            tar.add("manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
            tar.add(
                "samples.jsonl",
                "".join(json.dumps(s, sort_keys=True) + "\n" for s in samples).encode("utf-8"),
            )
            _write_streams(tar, records)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(tmp_path, output_path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return manifest


def _write_streams(tar, records):
    """Group records, sorted by path, into one record-stream member per path."""
    current = None
    parts = []
    previous = None
    for path, label, data in records:
        if path != current:
            if current is not None:
                tar.add(current, b"".join(parts))
            current = path
            parts = []
            previous = None
        if data is None:
            if previous is None:
                continue  # a repeat of nothing: cannot happen in a spool we wrote
            data = previous
        previous = data
        parts.append(("@@ vmcollect %s %d\n" % (label, len(data))).encode("ascii"))
        parts.append(data)
        parts.append(b"\n")
    if current is not None:
        tar.add(current, b"".join(parts))
