"""The deadline reader: every item answered once, in order, whatever the worker's timing."""

import threading

from vmcollect import readers

from .conftest import COLLECTOR  # noqa: F401  (puts the collector on sys.path)


class _LateDone(object):
    """A batch whose worker has appended every result but not yet set `done`, and whose last
    read started long ago: what a guest under software emulation showed (vmcollect died with
    IndexError in read_many on a Debian 5.10 QEMU guest)."""

    def __init__(self, items, name):
        self.items = items
        self.results = [(readers.CAPTURED, path.encode(), None) for _key, path, _limit in items]
        self.started = 0.0  # monotonic time 0: far past any timeout
        self.cancelled = False
        self.done = threading.Event()  # never set


def test_all_results_in_before_done_is_set(monkeypatch):
    monkeypatch.setattr(readers, "_Batch", _LateDone)
    reader = readers.DeadlineReader("cmdline", timeout=0.01)
    items = [("1", "a", 10), ("2", "b", 10)]
    got = list(reader.read_many(items))
    assert got == [("1", (readers.CAPTURED, b"a", None)), ("2", (readers.CAPTURED, b"b", None))]
    assert reader.abandoned == 0


def test_real_reads_in_order(tmp_path):
    files = []
    for i in range(5):
        p = tmp_path / ("f%d" % i)
        p.write_bytes(b"x" * i)
        files.append((str(i), str(p), 100))
    files.append(("missing", str(tmp_path / "nope"), 100))
    got = list(readers.DeadlineReader("deep", timeout=5).read_many(files))
    assert [k for k, _ in got] == ["0", "1", "2", "3", "4", "missing"]
    assert [r[1] for _, r in got[:5]] == [b"x" * i for i in range(5)]
    assert got[5][1][0] != readers.CAPTURED
