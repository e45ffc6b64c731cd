"""Turn a spool into the final bundle: one record stream per kernel file, manifest first.

gzip only looks 32 KiB back, so a layout of one directory per sample compresses badly: the
previous copy of a file is always out of reach. Here every member holds all captures of one
file (one process's stat, the system's meminfo) back to back, so each record sits next to the
one it most resembles. Records are regrouped with an external merge: each spool segment is
sorted on its own, then the sorted runs are merged, so memory stays bounded by one segment.

The bundle is written under an unpredictable temporary name in the output directory (created
exclusively, mode 0600) and linked into place only when complete, never over an existing file
(see `vmcollect.safeio`). A spool given to ``--recover`` is validated: its metadata field by
field, and every record's path must be a plain relative name inside the bundle's tree.
"""

import gzip
import heapq
import json
import os
import re
import shutil
import tarfile
import tempfile

from vmcollect import FORMAT_NAME, FORMAT_VERSION
from vmcollect.readers import CAPTURED, OUTCOMES
from vmcollect.safeio import create_temp, open_new, publish
from vmcollect.spool import (
    MAX_NS,
    REPEAT_OUTCOMES,
    SAME,
    RepeatSet,
    open_regular,
    read_samples,
    segment_data,
    segment_paths,
)

_PID_PATH = re.compile(r"^proc/([0-9]+)/")
_MAX_PIDS_LISTED = 100
# "vmcollect" holds what the collector computes (the statvfs of the tmpfs mounts), not a file.
_TOP_DIRS = ("proc", "sys", "dev", "etc", "vmcollect")
_MAX_NAME = 4096
_MAX_SPOOL_JSON = 4 << 20


class SpoolError(ValueError):
    """The spool's metadata is missing or not what the collector writes."""


def safe_member_name(name):
    """True for a bundle path the collector could have written: relative, inside the tree.

    >>> safe_member_name("proc/123/cmdline"), safe_member_name("sys/fs/cgroup/a b/memory.stat")
    (True, True)
    >>> safe_member_name("/etc/shadow"), safe_member_name("proc/../../x"), safe_member_name("x")
    (False, False, False)
    """
    if not name or len(name) > _MAX_NAME or "\0" in name:
        return False
    parts = name.split("/")
    if parts[0] not in _TOP_DIRS or len(parts) < 2:
        return False
    return all(p not in ("", ".", "..") for p in parts)


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


_CAPTURED_B = CAPTURED.encode("ascii")
_SAME_B = SAME.encode("ascii")
_REPEAT_KINDS = dict((o.encode("ascii"), o) for o in REPEAT_OUTCOMES)
_OUTCOMES = dict((o.encode("ascii"), o) for o in OUTCOMES)
REPEAT_RECORD = b"@@ vmcollect %s =\n"


def _is_pid_path(path):
    return path.startswith("proc/") and path[5:6].isdigit()


def _member_name(path, names):
    """The member name of a spool path (bytes), None when unsafe; cached in `names`."""
    if path in names:
        return names[path]
    name = path.decode("utf-8", "surrogateescape")
    name = names[path] = name if safe_member_name(name) else None
    return name


def _add_repeats(paths, record, streams, names):
    """A snapshot's repeats (one spool record for all of them) into their paths' streams:
    `record` is the snapshot's repeat record, the same bytes for every path."""
    get = streams.get
    for path in paths:
        entry = get(path)
        if entry is None:
            if _member_name(path, names) is None:
                continue
            entry = streams[path] = []
        entry.append(record)


def _group_segment(raw, complete, stats, names):
    """One segment's records grouped by path: {path bytes: [bundle record, ...]}.

    Each record is kept as the bundle will hold it (format version 2): a capture as
    ``@@ vmcollect <label> <length>`` and its bytes; a repeat of the record before it (outcome
    ``same``, or among a snapshot's repeats as its ``sames*`` records leave them: see
    `vmcollect.spool`) as ``@@ vmcollect <label> =``, one bytes object per snapshot shared by
    all its repeats (`_format_records` tells them apart).
    Records of snapshots not in `complete` and paths that are not safe member names are
    dropped; other outcomes go to `stats`. `names` caches each path's member name (None when
    unsafe) across segments: a path is decoded and checked once, not once per record (a run
    has ~2,000 records a sample, nearly all of paths seen in the sample before).

    The records are parsed here rather than through `read_segment`: this loop is most of the
    cost of writing a bundle, so it does no more than it must per record.
    """
    streams = {}
    repeat_of = {}  # label -> its repeat record
    repeats = RepeatSet()
    pos, end = 0, len(raw)
    find = raw.find
    while pos < end:
        nl = find(b"\n", pos)
        if nl < 0:
            break
        parts = raw[pos:nl].split(b" ", 3)
        if len(parts) != 4:
            break
        label, outcome, length, path = parts
        try:
            start = nl + 1
            size = int(length)
            pos = start + size
        except ValueError:
            break
        if pos > end or size < 0:
            break  # a truncated last record
        kind = _REPEAT_KINDS.get(outcome)
        done = repeats.take(label, kind is not None)
        if done in complete:
            _add_repeats(repeats.paths, REPEAT_RECORD % done, streams, names)
        if kind is not None:
            repeats.update(kind, raw[start:pos], label)
            continue
        if label not in complete:
            continue
        if outcome == _SAME_B:
            record = repeat_of.get(label)
            if record is None:
                record = repeat_of[label] = REPEAT_RECORD % label
        entry = streams.get(path)
        if entry is None:
            name = _member_name(path, names)
            if name is None:
                continue
            if outcome != _CAPTURED_B and outcome != _SAME_B:
                stats.add(name, _OUTCOMES.get(outcome, "failed"), raw[start:pos])
                continue
            entry = streams[path] = []
        if outcome == _CAPTURED_B:
            entry.append(b"@@ vmcollect %s %d\n%s\n" % (label, size, raw[start:pos]))
        elif outcome == _SAME_B:
            entry.append(record)
        else:
            stats.add(names[path], _OUTCOMES.get(outcome, "failed"), raw[start:pos])
    done = repeats.take()
    if done in complete:
        _add_repeats(repeats.paths, REPEAT_RECORD % done, streams, names)
    return streams


def _format_records(entry):
    """(repeats before any capture, the bundle records from the first capture on) of `entry`.

    A capture is written in full; a repeat of the record before it as a repeat record,
    ``@@ vmcollect <label> =``, with no content (format version 2). Repeats that come before
    any capture of this segment can only be resolved against an earlier segment: they are
    returned apart, for the caller to keep or drop. A repeat record is one line; a capture's
    record has a newline after its header and another after its bytes.
    """
    lead = 0
    for record in entry:
        if record.find(b"\n") != len(record) - 1:
            break
        lead += 1
    return b"".join(entry[:lead]), b"".join(entry[lead:])


def _ordered(streams, names):
    """Paths in bundle order: system-wide files first, then per-process files, each by name.

    If a bundle is cut short, the system-wide series every analysis needs survive.
    """
    keyed = [(_is_pid_path(names[path]), names[path], path) for path in streams]
    keyed.sort()
    return keyed


def _write_run(streams, names, directory, index):
    """Write one segment's streams, in bundle order, to a run file; return its path.

    An entry is ``<is pid path> <name length> <leading repeats length> <records length>\n``,
    then the name, the leading repeat records and the other records.
    """
    path = os.path.join(directory, "%06d.run" % index)
    with open_new(path) as f:
        for is_pid, name, key in _ordered(streams, names):
            lead, records = _format_records(streams[key])
            encoded = name.encode("utf-8", "surrogateescape")
            f.write(
                b"%d %d %d %d\n%s%s%s"
                % (is_pid, len(encoded), len(lead), len(records), encoded, lead, records)
            )
    return path


def _read_run(path):
    """Yield ((is pid path, name), leading repeat records, other records) of a run file."""
    with open(path, "rb") as f:
        while True:
            header = f.readline()
            if not header:
                return
            is_pid, name_len, lead_len, records_len = (int(x) for x in header.split())
            name = f.read(name_len).decode("utf-8", "surrogateescape")
            yield (bool(is_pid), name), f.read(lead_len), f.read(records_len)


def _first(item):
    return item[0]


def _merged_streams(runs):
    """(name, record stream) per path from the runs of several segments, in bundle order.

    heapq.merge is stable, so a path's entries come in segment order. Repeats leading a
    segment repeat the path's last record of an earlier segment; with none, they are dropped
    (a stream never starts with a repeat).
    """
    current, parts = None, []
    for key, lead, records in heapq.merge(*runs, key=_first):
        if key != current:
            if parts:
                yield current[1], b"".join(parts)
            current, parts = key, []
        if parts:
            parts.append(lead)
        if records:
            parts.append(records)
    if parts:
        yield current[1], b"".join(parts)


def _formatted(streams, names):
    """(name, record stream) of one segment's streams, each dropped once formatted."""
    for _is_pid, name, key in _ordered(streams, names):
        records = _format_records(streams.pop(key))[1]
        if records:
            yield name, records


def _streams(spool_dir, complete_labels, stats, work_dir):
    """(member name, record stream) of every path, in bundle order.

    A spool of one segment is grouped in memory. Several segments are grouped one at a time
    into sorted run files, which are then merged, so memory stays bounded by one segment.
    A segment holds its snapshots in time order, so each path's records stay in that order.
    """
    complete = set(label.encode("ascii") for label in complete_labels)
    segments = segment_paths(spool_dir)
    names = {}
    captured = stats.captured
    runs = []
    for index, seg in enumerate(segments):
        streams = _group_segment(segment_data(seg), complete, stats, names)
        for key, entry in streams.items():
            name = names[key]
            captured[name] = captured.get(name, 0) + len(entry)
        if len(segments) == 1:
            return _formatted(streams, names)
        runs.append(_read_run(_write_run(streams, names, work_dir, index)))
        del streams
    return _merged_streams(runs)


class TarWriter(object):
    """A minimal tar writer into a gzip stream.

    tarfile builds each header through several layers of Python (about 100 us a member); a
    bundle has thousands of small members, so on a busy host that alone would exceed the
    collector's CPU budget. POSIX ustar headers are written directly here; a name longer than
    ustar allows falls back to tarfile's own GNU header.
    """

    def __init__(self, raw, mtime, compresslevel=5):
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


def _load_json(path):
    with open_regular(path) as f:
        data = f.read(_MAX_SPOOL_JSON + 1)
    if len(data) > _MAX_SPOOL_JSON:
        raise SpoolError("%s is larger than %d bytes" % (path, _MAX_SPOOL_JSON))
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise SpoolError("%s is not valid JSON: %s" % (path, exc))


def _check(condition, what):
    if not condition:
        raise SpoolError("spool.json: %s" % what)


def _is_int(value, low=0, high=MAX_NS):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def read_spool_info(spool_dir):
    """spool.json, validated: the fields the manifest copies, with their types and ranges.

    Raises SpoolError (one line) or OSError.
    """
    info = _load_json(os.path.join(spool_dir, "spool.json"))
    _check(isinstance(info, dict), "not an object")
    for key in ("collector", "host", "options", "privacy"):
        _check(isinstance(info.get(key), dict), "%s is not an object" % key)
    _check(isinstance(info.get("priority", {}), dict), "priority is not an object")
    host = info["host"]
    hostname = host.get("hostname")
    _check(
        isinstance(hostname, str) and 0 < len(hostname) <= 255 and "/" not in hostname,
        "host.hostname is not a host name",
    )
    for key in ("page_size", "clock_ticks", "cpu_count", "boot_time_ns", "uid", "numa_nodes"):
        value = host.get(key)
        _check(value is None or _is_int(value), "host.%s is out of range" % key)
    start = info.get("start_wall_ns")
    _check(start is None or _is_int(start), "start_wall_ns is out of range")
    output = info.get("output")
    _check(output is None or (isinstance(output, str) and "\0" not in output), "bad output")
    count = info["options"].get("count")
    _check(count is None or _is_int(count, 1), "options.count is out of range")
    return info


def read_state(spool_dir):
    """state.json, or {} when it is missing or not what the collector writes."""
    try:
        state = _load_json(os.path.join(spool_dir, "state.json"))
    except (OSError, SpoolError):
        return {}
    if not (
        isinstance(state, dict)
        and isinstance(state.get("processes", {}), dict)
        and isinstance(state.get("warnings", []), list)
        and all(isinstance(w, str) for w in state.get("warnings", []))
        and isinstance(state.get("stop_reason"), (str, type(None)))
        and isinstance(state.get("interrupted", False), bool)
        and isinstance(state.get("anonymized", {}), dict)
    ):
        return {}
    return state


def build_manifest(spool_dir, samples, stats, recovered):
    spool = read_spool_info(spool_dir)
    state = read_state(spool_dir)
    sample_rows = [s for s in samples if isinstance(s.get("label"), int)]
    privacy = dict(spool["privacy"])
    counts = state.get("anonymized")
    if privacy.get("anonymized") and counts:
        privacy["anonymized_counts"] = dict(
            (str(k), v) for k, v in counts.items() if isinstance(v, int) and v >= 0
        )
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "collector": spool["collector"],
        "host": spool["host"],
        "options": spool["options"],
        "privacy": privacy,
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


def write_bundle(spool_dir, output_path, recovered=False, compresslevel=5):
    """Write the bundle for `spool_dir`; return (manifest, the path written).

    gzip level 5: on a sample of idle processes' repeat records and busy ones' changing
    numbers it compresses at about twice the speed of level 6, for bundles ~7% larger.

    The path is `output_path`, or ``<name>-2.tar.gz`` and so on when that name is taken: an
    existing file is never replaced.
    """
    read_spool_info(spool_dir)
    samples = read_samples(spool_dir)
    complete = set(str(s["label"]) for s in samples)
    stats = FileStats()
    out_dir = os.path.dirname(os.path.abspath(output_path))
    work_dir = tempfile.mkdtemp(prefix=".vmcollect-runs-", dir=spool_dir)
    fd, tmp_path = create_temp(out_dir, ".%s.partial-" % os.path.basename(output_path))
    try:
        streams = _streams(spool_dir, complete, stats, work_dir)
        stats.finish()
        manifest = build_manifest(spool_dir, samples, stats, recovered)
        mtime = int((manifest["start_wall_ns"] or 0) // 1000000000)
        with os.fdopen(fd, "wb") as raw:
            tar = TarWriter(raw, mtime, compresslevel)
            tar.add("manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
            tar.add(
                "samples.jsonl",
                "".join(json.dumps(s, sort_keys=True) + "\n" for s in samples).encode("utf-8"),
            )
            for name, data in streams:
                tar.add(name, data)
            tar.close()
            raw.flush()
            umask = os.umask(0o022)
            os.umask(umask)
            os.fchmod(raw.fileno(), 0o666 & ~umask)
            os.fsync(raw.fileno())
        path = publish(tmp_path, output_path, unique=True)
    except BaseException:
        if os.path.lexists(tmp_path):
            os.unlink(tmp_path)
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return manifest, path
