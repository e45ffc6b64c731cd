"""Reading kernel files: copy bytes, classify failures, never hang the collector.

`read_file` is the cheap path for files that cannot block (system files, /proc/<pid>/stat and
status). It opens with O_NONBLOCK, so even a FIFO or a device in a fixture root cannot stall it.

`DeadlineReader` is for reads that can block for a long time on a real host: /proc/<pid>/cmdline
and the deep files (smaps_rollup, numa_maps) take the target's memory-map lock, which a process
in uninterruptible sleep or a long mmap can hold for seconds or forever. Those reads run on a
worker thread; the caller waits at most `timeout` seconds per read. A read that misses its
deadline is abandoned together with its thread (a thread blocked in the kernel cannot be
cancelled) and the caller is told `timed_out`, so it can stop reading that pid.
"""

import errno
import os
import threading
import time

CAPTURED = "captured"
ABSENT = "absent"
GONE = "gone"
DENIED = "denied"
TIMED_OUT = "timed_out"
FAILED = "failed"
OUTCOMES = (CAPTURED, ABSENT, GONE, DENIED, TIMED_OUT, FAILED)

_NONBLOCK_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_BLOCKING_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 16
_SHORT = 3072
DEFAULT_LIMIT = 32 << 20


def _classify(exc):
    """Map an OSError to an outcome and a short message."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT or code == errno.ENOTDIR:
        return ABSENT, None
    if code == errno.ESRCH:
        return GONE, None
    if code in (errno.EACCES, errno.EPERM):
        return DENIED, "%s: %s" % (type(exc).__name__, exc)
    return FAILED, "%s: %s" % (type(exc).__name__, exc)


def read_file(path, limit=DEFAULT_LIMIT, blocking=False):
    """Read a whole file in as few read(2) calls as it takes; never trust st_size.

    Returns ``(outcome, data, error)``: data is the bytes read (or None), error a message for
    denied and failed reads. Reading stops at `limit` bytes (the record is then truncated, and
    ``error`` says so). An EAGAIN on a non-blocking read ends the read with what was read.
    """
    try:
        fd = os.open(path, _BLOCKING_FLAGS if blocking else _NONBLOCK_FLAGS)
    except OSError as exc:
        outcome, message = _classify(exc)
        return outcome, None, message
    chunks = []
    total = 0
    error = None
    try:
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                if chunks and exc.errno == errno.ESRCH:
                    break
                outcome, message = _classify(exc)
                return outcome, None, message
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total >= limit:
                error = "truncated at %d bytes" % limit
                break
            if total < _SHORT and len(chunks) == 1:
                # procfs and sysfs answer a read of a file smaller than a page in one call;
                # skipping the read that would return b"" saves a syscall per process file.
                break
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        data = data[:limit]
    return CAPTURED, data, error


class _Batch(object):
    """One worker thread reading a list of files in order, watched by the caller.

    The worker appends each result to `results` and notes when it started the current read;
    the caller polls that instead of handing every item over through a queue, which costs two
    lock round trips per file (a start snapshot reads ~1,000 command lines).
    """

    def __init__(self, items, name):
        self.items = items
        self.results = []
        self.started = time.monotonic()
        self.cancelled = False
        self.done = threading.Event()
        thread = threading.Thread(target=self._work, name="vmcollect-%s" % name)
        thread.daemon = True
        thread.start()

    def _work(self):
        for _key, path, limit in self.items:
            if self.cancelled:
                return
            self.started = time.monotonic()
            result = read_file(path, limit, blocking=True)
            if self.cancelled:
                return
            self.started = time.monotonic()  # before the append: no stale start is ever seen
            self.results.append(result)
        self.done.set()


class DeadlineReader(object):
    """Read files on a worker thread, giving each read at most `timeout` seconds.

    One reader per read class (cmdline, deep files), so a hung cmdline cannot delay the deep
    reads and the other way round. A read that misses its deadline is abandoned with its thread
    (a thread blocked in the kernel cannot be cancelled) and the rest of the list continues on a
    new thread. After `max_abandoned` stuck threads the class is given up: every further read is
    reported as timed out without touching the file.
    """

    def __init__(self, name, timeout, max_abandoned=8):
        self.name = name
        self.timeout = timeout
        self.max_abandoned = max_abandoned
        self.abandoned = 0
        self._poll = min(0.05, max(timeout / 4.0, 0.001))

    @property
    def given_up(self):
        return self.abandoned >= self.max_abandoned

    def read_many(self, items):
        """Yield ``(key, (outcome, data, error))`` for each ``(key, path, limit)`` in order."""
        items = list(items)
        index = 0
        while index < len(items):
            if self.given_up:
                reason = "%s reads given up after %d timeouts" % (self.name, self.abandoned)
                for key, _path, _limit in items[index:]:
                    yield key, (TIMED_OUT, None, reason)
                return
            batch = _Batch(items[index:], self.name)
            handed = 0
            while True:
                finished = batch.done.wait(self._poll)
                results = batch.results
                while handed < len(results):
                    yield items[index + handed][0], results[handed]
                    handed += 1
                if finished or handed == len(batch.items):
                    # Every item is answered: the worker may not have set `done` yet (on a
                    # loaded host it can be descheduled for longer than the deadline).
                    index += handed
                    break
                if time.monotonic() - batch.started > self.timeout and handed == len(batch.results):
                    batch.cancelled = True
                    self.abandoned += 1
                    stuck = index + handed
                    yield (
                        items[stuck][0],
                        (
                            TIMED_OUT,
                            None,
                            "no answer within %gs" % self.timeout,
                        ),
                    )
                    index = stuck + 1
                    break

    def close(self):
        """Nothing to release: batch threads end with their list (or stay stuck, abandoned)."""
