"""The spool stores repeated captures once; deadline reads survive a slow worker."""

import json
import os
import sys

from .bundle_reader import Bundle
from .conftest import COLLECTOR

if COLLECTOR not in sys.path:
    sys.path.insert(0, COLLECTOR)

from vmcollect.bundle import write_bundle  # noqa: E402
from vmcollect.spool import SAME, SpoolWriter, read_segment, segment_paths  # noqa: E402


def _spool(directory, snapshots, segment_bytes):
    with open(os.path.join(directory, "spool.json"), "w") as f:
        json.dump(
            {
                "collector": {},
                "host": {"hostname": "spool-test"},
                "options": {"count": len(snapshots) - 2},
                "privacy": {},
                "start_wall_ns": 1,
            },
            f,
        )
    spool = SpoolWriter(directory, segment_bytes=segment_bytes)
    for index, (label, records) in enumerate(snapshots):
        for path, data in records:
            spool.add(label, path, "captured" if data is not None else "gone", data)
        spool.end_snapshot({"label": label, "wall_ns": index, "mono_ns": index, "duration_ns": 1})
    spool.close()


def _snapshots():
    """pid 7 idles (its stat repeats), pid 8 changes, pid 9 exits, meminfo repeats."""
    labels = ["start", 0, 1, 2, 3, "end"]
    out = []
    for i, label in enumerate(labels):
        records = [
            ("proc/meminfo", b"MemTotal: 1 kB\n"),
            ("proc/7/stat", b"7 (sleep) S 1 7\n"),
            ("proc/8/stat", ("8 (busy) R 1 %d\n" % (i // 2)).encode()),
        ]
        records.append(("proc/9/stat", b"9 (gone) S 1 9\n" if i < 3 else None))
        if label == "start":
            records.append(("proc/7/comm", b"sleep\n"))
        out.append((label, records))
    return out


def test_repeats_are_spooled_once_and_bundled_in_full(tmp_path):
    for segment_bytes in (1 << 20, 40):  # one segment; a new segment after every snapshot
        spool_dir = tmp_path / ("spool-%d" % segment_bytes)
        spool_dir.mkdir()
        snapshots = _snapshots()
        _spool(str(spool_dir), snapshots, segment_bytes)
        stored = [r for seg in segment_paths(str(spool_dir)) for r in read_segment(seg)]
        same = [(label, path) for label, outcome, path, data in stored if outcome == SAME]
        assert ("0", "proc/7/stat") in same and ("end", "proc/meminfo") in same
        assert ("1", "proc/8/stat") not in same and ("2", "proc/8/stat") in same
        assert all(data == b"" for _l, outcome, _p, data in stored if outcome == SAME)
        if segment_bytes == 40:
            assert len(segment_paths(str(spool_dir))) == len(snapshots)

        out = str(tmp_path / ("b-%d.tar.gz" % segment_bytes))
        write_bundle(str(spool_dir), out)
        b = Bundle(out)
        for path in ("proc/meminfo", "proc/7/stat", "proc/8/stat", "proc/9/stat", "proc/7/comm"):
            want = [
                (label, data)
                for label, records in snapshots
                for p, data in records
                if p == path and data is not None
            ]
            assert b.records(path) == want, path
        # Stored once, then as repeat records: pid 7's stat never changes.
        assert b.members["proc/7/stat"] == (
            b"@@ vmcollect start 16\n7 (sleep) S 1 7\n\n"
            b"@@ vmcollect 0 =\n@@ vmcollect 1 =\n@@ vmcollect 2 =\n@@ vmcollect 3 =\n"
            b"@@ vmcollect end =\n"
        )
        files = b.manifest["files"]
        assert files["proc/meminfo"] == {"captured": 6}
        assert files["proc/[pid]/stat"] == {"captured": 15, "gone": 3, "pids": {"gone": [9]}}
        names = [n for n in b.members if n not in ("manifest.json", "samples.jsonl")]
        assert names == ["proc/meminfo", "proc/7/comm", "proc/7/stat", "proc/8/stat", "proc/9/stat"]


def test_a_worker_that_answered_everything_but_is_slow_to_say_so(tmp_path, monkeypatch):
    """On a loaded host the worker can stall between its last answer and `done`: that is not
    a timeout, and never an IndexError (which killed a benchmark run)."""
    import time

    from vmcollect import readers

    def work(self):
        for _key, path, limit in self.items:
            self.results.append(readers.read_file(path, limit, blocking=True))
        time.sleep(0.3)  # descheduled before done.set(), longer than the deadline
        self.done.set()

    monkeypatch.setattr(readers._Batch, "_work", work)
    target = tmp_path / "cmdline"
    target.write_bytes(b"sleep\x0060\x00")
    reader = readers.DeadlineReader("cmdline", timeout=0.05)
    got = list(reader.read_many([("1", str(target), 100), ("2", str(target), 100)]))
    answer = ("captured", b"sleep\x0060\x00", None)
    assert got == [("1", answer), ("2", answer)]
    assert reader.abandoned == 0


def test_a_spool_of_per_record_repeats_is_still_read(tmp_path):
    """Earlier collectors wrote a 'same' record per repeat; --recover may meet such a spool."""
    import zlib

    spool_dir = tmp_path / "old-spool"
    spool_dir.mkdir()
    _spool(str(spool_dir), [("start", []), (0, []), ("end", [])], 1 << 20)
    raw = (
        b"start captured 16 proc/7/stat\n7 (sleep) S 1 7\n"
        b"start captured 15 proc/meminfo\nMemTotal: 1 kB\n"
        b"0 same 0 proc/7/stat\n0 captured 15 proc/meminfo\nMemTotal: 2 kB\n"
        b"end same 0 proc/7/stat\nend same 0 proc/meminfo\n"
    )
    (spool_dir / "segments" / "000000.seg").write_bytes(zlib.compress(raw))
    out = str(tmp_path / "old.tar.gz")
    write_bundle(str(spool_dir), out)
    b = Bundle(out)
    assert b.records("proc/7/stat") == [
        (label, b"7 (sleep) S 1 7\n") for label in ("start", 0, "end")
    ]
    assert b.records("proc/meminfo") == [
        ("start", b"MemTotal: 1 kB\n"),
        (0, b"MemTotal: 2 kB\n"),
        ("end", b"MemTotal: 2 kB\n"),
    ]
    assert b.members["proc/meminfo"].endswith(b"@@ vmcollect end =\n")


def test_process_captures_repeat_by_pid_next_to_paths(tmp_path):
    """`add_process_captures` (a sample's per-process files) and `add_captured` (by path) in
    one spool: a pid repeats when its file equals its own previous capture, a reused pid
    with new content is captured in full, and a pid missing from a snapshot starts over."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    stats = [
        {"7": b"7 (sleep) S 1\n", "8": b"8 (busy) R 1\n", "9": b"9 (old) S 1\n"},
        {"7": b"7 (sleep) S 1\n", "8": b"8 (busy) R 2\n", "9": b"9 (new) S 5\n"},
        {"7": b"7 (sleep) S 1\n", "8": b"8 (busy) R 2\n"},
        {"7": b"7 (sleep) S 1\n", "8": b"8 (busy) R 2\n", "9": b"9 (new) S 5\n"},
    ]
    labels = ["start", 0, 1, "end"]
    _spool(str(spool_dir), [(label, []) for label in labels], 1 << 20)  # the metadata
    for name in os.listdir(str(spool_dir / "segments")):
        os.unlink(str(spool_dir / "segments" / name))
    os.rmdir(str(spool_dir / "segments"))
    os.unlink(str(spool_dir / "samples.jsonl"))
    spool = SpoolWriter(str(spool_dir))
    for index, (label, by_pid) in enumerate(zip(labels, stats)):
        spool.add_captured(label, [("proc/meminfo", b"MemTotal: 1 kB\n")])
        spool.add_process_captures(label, "stat", sorted(by_pid.items()))
        spool.add_process_captures(label, "comm", [("7", b"sleep\n")])
        spool.end_snapshot({"label": label, "wall_ns": index, "mono_ns": index, "duration_ns": 1})
    spool.close()
    stored = [r for seg in segment_paths(str(spool_dir)) for r in read_segment(seg)]
    same = sorted((label, path) for label, outcome, path, _ in stored if outcome == SAME)
    assert same == sorted(
        [(str(label), "proc/meminfo") for label in labels[1:]]
        + [(str(label), "proc/7/stat") for label in labels[1:]]
        + [(str(label), "proc/7/comm") for label in labels[1:]]
        + [("1", "proc/8/stat"), ("end", "proc/8/stat")]
    )
    out = str(tmp_path / "b.tar.gz")
    write_bundle(str(spool_dir), out)
    b = Bundle(out)
    for pid in ("7", "8", "9"):
        want = [(label, s[pid]) for label, s in zip(labels, stats) if pid in s]
        assert b.records("proc/%s/stat" % pid) == want, pid
    # pid 9 was absent from sample 1, so its capture at the end is in full, not a repeat.
    assert b.members["proc/9/stat"].endswith(b"@@ vmcollect end 12\n9 (new) S 5\n\n")


def test_repeats_are_spooled_as_changes_and_read_back_whole(tmp_path):
    """The first snapshot lists its repeats, later ones only what changed: a snapshot in
    which nothing changed is one empty record, and yet every snapshot's repeats come back."""
    from vmcollect.spool import _records, segment_data

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    files = {"proc/meminfo": b"MemTotal: 1 kB\n", "proc/7/stat": b"7 (a) S\n"}
    steps = [
        ("start", {}),
        (0, {}),  # both repeat
        (1, {}),  # nothing changed: an empty sames+
        (2, {"proc/meminfo": b"MemTotal: 2 kB\n"}),  # meminfo leaves the repeats
        (3, {}),  # and comes back
        ("end", {"proc/8/stat": b"8 (b) S\n"}),  # a new path, captured
    ]
    snapshots = []
    for label, changes in steps:
        files.update(changes)
        snapshots.append((label, sorted(files.items())))
    _spool(str(spool_dir), snapshots, 1 << 20)
    (seg,) = segment_paths(str(spool_dir))
    raw = [(label, outcome, data) for label, outcome, _p, data in _records(segment_data(seg))]
    repeat_records = [r for r in raw if r[1].startswith("sames")]
    assert repeat_records == [
        ("start", "sames", b""),
        ("0", "sames+", b"proc/7/stat\nproc/meminfo"),
        ("1", "sames+", b""),
        ("2", "sames-", b"proc/meminfo"),
        ("3", "sames+", b"proc/meminfo"),
        ("end", "sames+", b""),
    ]
    assert [r for r in raw if r[0] == "1"] == [("1", "sames+", b"")]
    same = [(label, path) for label, outcome, path, _ in read_segment(seg) if outcome == SAME]
    assert same == [
        ("0", "proc/7/stat"),
        ("0", "proc/meminfo"),
        ("1", "proc/7/stat"),
        ("1", "proc/meminfo"),
        ("2", "proc/7/stat"),
        ("3", "proc/7/stat"),
        ("3", "proc/meminfo"),
        ("end", "proc/7/stat"),
        ("end", "proc/meminfo"),
    ]
    out = str(tmp_path / "b.tar.gz")
    write_bundle(str(spool_dir), out)
    b = Bundle(out)
    for path in ("proc/meminfo", "proc/7/stat", "proc/8/stat"):
        want = [(label, data) for label, records in snapshots for p, data in records if p == path]
        assert b.records(path) == want, path


def test_a_spool_that_lists_every_repeat_each_snapshot_is_still_read(tmp_path):
    """The previous collector wrote a snapshot's whole list of repeats (`sames`), and none for
    a snapshot without repeats; --recover may meet such a spool."""
    import zlib

    spool_dir = tmp_path / "old-spool"
    spool_dir.mkdir()
    _spool(str(spool_dir), [("start", []), (0, []), (1, []), ("end", [])], 1 << 20)
    raw = (
        b"start captured 8 proc/7/stat\n7 (a) S\n"
        b"start captured 15 proc/meminfo\nMemTotal: 1 kB\n"
        b"0 sames 24 -\nproc/7/stat\nproc/meminfo"
        b"1 captured 8 proc/7/stat\n7 (a) R\n1 captured 15 proc/meminfo\nMemTotal: 2 kB\n"
        b"end sames 11 -\nproc/7/stat"
        b"end captured 15 proc/meminfo\nMemTotal: 3 kB\n"
    )
    for name in os.listdir(str(spool_dir / "segments")):
        os.unlink(str(spool_dir / "segments" / name))
    (spool_dir / "segments" / "000000.seg").write_bytes(zlib.compress(raw))
    out = str(tmp_path / "old.tar.gz")
    write_bundle(str(spool_dir), out)
    b = Bundle(out)
    stat = [b"7 (a) S\n", b"7 (a) S\n", b"7 (a) R\n", b"7 (a) R\n"]
    assert b.records("proc/7/stat") == list(zip(["start", 0, 1, "end"], stat))
    meminfo = [b"MemTotal: %d kB\n" % n for n in (1, 1, 2, 3)]
    assert b.records("proc/meminfo") == list(zip(["start", 0, 1, "end"], meminfo))
