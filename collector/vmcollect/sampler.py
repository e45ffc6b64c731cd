"""The sampling run: snapshots on a fixed schedule into the spool, then the bundle.

A run is: a `start` snapshot (sampled files plus configuration, every process's identity files
and the deep files of the largest processes), samples `0..n-1` every interval, and an `end`
snapshot like the start. Every read goes to the spool immediately, so memory stays flat.
"""

import ctypes
import gc
import operator
import os
import platform
import re
import select
import sys
import time

from vmcollect import FORMAT_NAME, FORMAT_VERSION, __version__, mounts, sources
from vmcollect.anonymize import SPOOL_MAP, anonymize_name, for_host
from vmcollect.readers import ABSENT, CAPTURED, GONE, TIMED_OUT, DeadlineReader, read_file
from vmcollect.redact import redact_cmdline
from vmcollect.spool import SpoolWriter, write_json_atomic

__all__ = ["Collector", "StopRun", "anonymize_name"]
CMDLINE_PRIVACY = {"redacted": "redacted", "full": "full (not redacted)", "none": "not collected"}

STAT_LIMIT = 4096
STATUS_LIMIT = 16384
CMDLINE_LIMIT = 65536
DEEP_LIMIT = 64 << 20
SLEEP_SLICE = 0.5
_RSS = operator.itemgetter(0)
KMSG_PATTERN = re.compile(
    rb"Out of memory|oom-kill|oom_reaper|invoked oom-killer|Killed process|"
    rb"Memory cgroup out of memory|page allocation failure|blocked for more than|"
    rb"hung_task|Memory cgroup stats for",
    re.IGNORECASE,
)
_VERSION_BUILD_HOST = re.compile(rb"\(([^()@\s]+)@([^()\s]+)\)")
# ioprio_set(2) syscall numbers by machine; absent ones just skip the I/O priority change.
_IOPRIO_SET = {
    "x86_64": 251,
    "i686": 289,
    "i386": 289,
    "aarch64": 30,
    "armv7l": 314,
    "ppc64le": 273,
    "ppc64": 273,
    "s390x": 282,
    "riscv64": 30,
}
_IOPRIO_CLASS_IDLE = 3
_IOPRIO_CLASS_BEST_EFFORT = 2
_IOPRIO_CLASS_SHIFT = 13


class StopRun(Exception):
    """Raised by a second Ctrl-C: abandon the run and remove the spool."""


def now_ns():
    return int(time.time() * 1e9)


def mono_ns():
    return int(time.monotonic() * 1e9)


def lower_priority():
    """nice 10 and the idle I/O class, where permitted. Returns what was done."""
    result = {}
    try:
        current = os.nice(0)
        if current < 10:
            os.nice(10 - current)
        result["nice"] = os.nice(0)
    except OSError as exc:
        result["nice"] = "unchanged: %s" % exc
    result["ionice"] = set_io_priority(_IOPRIO_CLASS_IDLE, 0)
    return result


def set_io_priority(io_class, level):
    """ioprio_set(2) for this process; returns what was done, in words."""
    number = _IOPRIO_SET.get(platform.machine())
    if number is None:
        return "unchanged: unknown syscall number on %s" % platform.machine()
    names = {_IOPRIO_CLASS_IDLE: "idle", _IOPRIO_CLASS_BEST_EFFORT: "best-effort"}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.syscall(number, 1, 0, (io_class << _IOPRIO_CLASS_SHIFT) | level)
        if rc == 0:
            return names.get(io_class, str(io_class)) + (
                " %d" % level if io_class == _IOPRIO_CLASS_BEST_EFFORT else ""
            )
        return "unchanged: %s" % os.strerror(ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        return "unchanged: %s" % exc


def finishing_io_priority():
    """The lowest best-effort I/O priority, for writing the bundle.

    The idle class suits sampling (the spool writes are small); but on a host whose disks are
    busy, the idle class can starve the final write for minutes after the run should have
    ended, so the bundle is written at best-effort level 7 instead.
    """
    return set_io_priority(_IOPRIO_CLASS_BEST_EFFORT, 7)


def free_space(path):
    """(available bytes, percent available) of the file system holding `path`."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return avail, (100.0 * avail / total) if total else 100.0


class Collector(object):
    """One collection run into one spool directory."""

    def __init__(self, opts, roots, spool_dir, progress=None):
        self.opts = opts
        self.roots = roots
        self.spool_dir = spool_dir
        self.progress = progress
        # A plain flag, not a threading.Event: request_stop runs in a signal handler, and
        # Event.set there deadlocks when the handler interrupts the main thread inside
        # Event.wait, which holds the same lock.
        self.stop_requested = False
        self._wake = None  # (read end, write end) of the pipe that ends a sleep, during a run
        self.stop_reason = None
        self.interrupted = False
        self.spool = None
        self.seen = {}  # pid -> start time (bytes) of the process last seen with that pid
        self.bad_pids = set()
        self.pending_cmdline = set()
        self.warnings = []
        self.proc_stats = {
            "seen": 0,
            "max_in_sample": 0,
            "skipped_over_max": 0,
            "skipped_over_max_samples": 0,
            "deep_read": [],
            "deep_skipped": {"state D": [], "rss over --deep-max-rss": [], "timed out": []},
        }
        self.cmdline_reader = DeadlineReader("cmdline", opts.read_timeout)
        self.deep_reader = DeadlineReader("deep", opts.read_timeout)
        self.kmsg_fd = None
        self.hostname = self._read_text("sys/kernel/hostname") or platform.node()
        self.host_alias = anonymize_name(self.hostname) if opts.anonymize else self.hostname
        self.anonymizer = for_host(self.hostname) if opts.anonymize else None
        self.redact = getattr(opts, "cmdline", "redacted") != "full"
        self.transforms = self._content_transforms()
        self.system_files = sources.sampled_system_files(roots)
        self.missing = sources.missing_without_privilege(roots, opts.kmsg)
        self.cgroups = []
        self.cgroup_files = []
        self.cgroup_stats = {"found": 0, "sampled": 0, "walk_limit_reached": False}
        self.tmpfs_listed = ()
        self.late_samples = 0
        self.samples_taken = 0

    # -- host facts ---------------------------------------------------------------------
    def _read_text(self, proc_rel):
        outcome, data, _ = read_file(os.path.join(self.roots.proc, proc_rel), 65536)
        if outcome != CAPTURED or data is None:
            return None
        return data.decode("utf-8", "replace").strip()

    def host_facts(self):
        stat = self._read_text("stat") or ""
        btime = None
        for line in stat.splitlines():
            if line.startswith("btime "):
                btime = int(line.split()[1]) * 1000000000
        cpuinfo = self._read_text("cpuinfo") or ""
        cpu_count = sum(1 for line in cpuinfo.splitlines() if line.startswith("processor"))
        return {
            "hostname": self.host_alias,
            "anonymized": bool(self.opts.anonymize),
            "kernel_release": self._read_text("sys/kernel/osrelease") or platform.release(),
            "machine": platform.machine(),
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "clock_ticks": os.sysconf("SC_CLK_TCK"),
            "cpu_count": cpu_count or os.cpu_count(),
            "boot_time_ns": btime,
            "uid": os.geteuid(),
            "numa_nodes": len(sources.node_dirs(self.roots)),
        }

    # -- content transforms -------------------------------------------------------------
    def _anonymize_bytes(self, data):
        if self.anonymizer is None or not data:
            return data
        return self.anonymizer.data(data)

    def _cgroup_files(self, cgroups, full=False):
        """The files of `cgroups` as (real path, bundle path); --anonymize rewrites the
        bundle paths (user names, addresses in unit names)."""
        files = sources.cgroup_files(cgroups, full)
        if self.anonymizer is None:
            return files
        return [(real, self.anonymizer.text(path)) for real, path in files]

    def _content_transforms(self):
        """{bundle path: function of its bytes}: the documented exceptions to 'bytes as the
        kernel gave them', for the files `_capture_many` reads. (A process's cgroup file is
        anonymized where it is read, in `_capture_process_files`.)"""
        transforms = {"proc/stat": _without_interrupt_counts, "proc/cpuinfo": _first_cpu}
        if self.anonymizer is not None:
            transforms["proc/cmdline"] = self._anonymize_bytes
            transforms["proc/version"] = self._anonymized_version
        return transforms

    def _anonymized_version(self, data):
        """/proc/version with the build host's name, then every host name, anonymized."""
        data = _VERSION_BUILD_HOST.sub(
            lambda m: (
                b"("
                + m.group(1)
                + b"@"
                + anonymize_name(m.group(2).decode("utf-8", "replace")).encode("ascii")
                + b")"
            ),
            data,
        )
        return self._anonymize_bytes(data)

    # -- reading ------------------------------------------------------------------------
    def _capture_many(self, label, files, limit=1 << 20):
        """Read a list of (real path, bundle path); the captures go to the spool at once."""
        captured = []
        transform = self.transforms.get
        for real, path in files:
            outcome, data, error = read_file(real, limit)
            if outcome == CAPTURED:
                change = transform(path)
                captured.append((path, data if change is None else change(data)))
            else:
                self.spool.add(label, path, outcome, error.encode("utf-8") if error else None)
        self.spool.add_captured(label, captured)

    def _open_kmsg(self, label):
        path = self.opts.kmsg
        if not path:
            return
        try:
            self.kmsg_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            outcome = "denied" if exc.errno in (1, 13) else (ABSENT if exc.errno == 2 else "failed")
            self.spool.add(
                label, "dev/kmsg", outcome, ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8")
            )
            self.kmsg_fd = None
            return
        self._read_kmsg(label, always=True)

    def _read_kmsg(self, label, always=False):
        if self.kmsg_fd is None:
            return
        lines = []
        for _ in range(100000):
            try:
                chunk = os.read(self.kmsg_fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == 32:  # EPIPE: records were overwritten before we read them
                    continue
                self.spool.add(
                    label,
                    "dev/kmsg",
                    "failed",
                    ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8"),
                )
                os.close(self.kmsg_fd)
                self.kmsg_fd = None
                return
            if not chunk:
                break
            for line in chunk.splitlines():
                if line and not line.startswith(b" ") and KMSG_PATTERN.search(line):
                    lines.append(line)
        if lines or always:
            data = b"".join(line + b"\n" for line in lines)
            self.spool.add(label, "dev/kmsg", CAPTURED, self._anonymize_bytes(data))

    def _capture_process_files(self, label, leaf, names, limit):
        """Read ``<proc>/<pid>/<leaf>`` of each pid in `names`; the captures reach the spool in
        one call. A file that is absent belongs to a process that is gone."""
        proc = self.roots.proc
        tail = "/" + leaf
        anonymize = self.anonymizer is not None and leaf == "cgroup"
        captured = []
        for name in names:
            outcome, data, error = read_file(proc + "/" + name + tail, limit)
            if outcome == CAPTURED:
                captured.append((name, self._anonymize_bytes(data) if anonymize else data))
            else:
                self._process_file_missed(label, "proc/" + name + tail, outcome, error)
        self.spool.add_process_captures(label, leaf, captured)

    def _process_file_missed(self, label, path, outcome, error):
        """Spool a per-process file that was not read; absent means the process is gone."""
        self.spool.add(
            label,
            path,
            GONE if outcome == ABSENT else outcome,
            error.encode("utf-8") if error else None,
        )

    def _read_processes(self, label, full):
        """Every process's stat; the status of the largest; a new process's identity files.

        This is most of a sample's cost (a host has ~1,000 processes), so it does per process
        no more than ranking them needs: one read, one split, and the comparison with the
        process's previous stat, by pid, in the spool.
        """
        proc = self.roots.proc
        try:
            names = os.listdir(proc)
        except OSError as exc:
            self.spool.add(label, "proc", "failed", str(exc).encode("utf-8"))
            return
        procs = []
        for name in names:
            if not name.isdigit():
                continue
            outcome, data, error = read_file(proc + "/" + name + "/stat", STAT_LIMIT)
            if outcome != CAPTURED:
                self._process_file_missed(label, "proc/%s/stat" % name, outcome, error)
                continue
            rest = data[data.rfind(b")") + 2 :].split()
            try:
                state = rest[0]
                starttime = rest[19]
                rss = int(rest[21])
            except (IndexError, ValueError):
                state, starttime, rss = b"?", b"?", 0
            procs.append((rss, name, data, state, starttime))
        procs.sort(key=_RSS, reverse=True)
        max_processes = self.opts.max_processes
        if len(procs) > max_processes:
            skipped = len(procs) - max_processes
            self.proc_stats["skipped_over_max"] = max(self.proc_stats["skipped_over_max"], skipped)
            self.proc_stats["skipped_over_max_samples"] += 1
            procs = procs[:max_processes]
        self.proc_stats["max_in_sample"] = max(self.proc_stats["max_in_sample"], len(procs))
        self.spool.add_process_captures(label, "stat", [p[1:3] for p in procs])

        status_targets = procs if full else procs[: self.opts.status_top]
        self._capture_process_files(label, "status", [p[1] for p in status_targets], STATUS_LIMIT)

        # A process is new when its pid was not seen with this start time (pids are reused).
        seen = self.seen
        pending = self.pending_cmdline
        chosen = []
        cmdline_items = []
        for _rss, name, _data, state, starttime in procs:
            if seen.get(name) != starttime:
                seen[name] = starttime
                self.proc_stats["seen"] += 1
            elif not full:
                if pending and state != b"D" and (name, starttime) in pending:
                    pending.discard((name, starttime))
                    cmdline_items.append((name, proc + "/" + name + "/cmdline", CMDLINE_LIMIT))
                continue
            chosen.append((name, state, starttime))
        chosen_names = [c[0] for c in chosen]
        for leaf in ("comm", "cgroup"):
            self._capture_process_files(label, leaf, chosen_names, 65536)
        if not full:
            status_done = set(p[1] for p in status_targets)
            self._capture_process_files(
                label, "status", [n for n in chosen_names if n not in status_done], STATUS_LIMIT
            )
        if not self.opts.no_cmdline:
            for name, state, starttime in chosen:
                if name in self.bad_pids:
                    continue
                if state == b"D":
                    pending.add((name, starttime))
                    continue
                cmdline_items.append((name, proc + "/" + name + "/cmdline", CMDLINE_LIMIT))
        self._read_slow(label, self.cmdline_reader, cmdline_items, "cmdline")
        if full and self.opts.deep > 0:
            self._read_deep(label, procs)

    def _read_slow(self, label, reader, items, leaf):
        for name, (outcome, data, error) in reader.read_many(items):
            path = "proc/%s/%s" % (name, leaf)
            if outcome == CAPTURED:
                if leaf == "cmdline":
                    data = self._anonymize_bytes(redact_cmdline(data) if self.redact else data)
                self.spool.add(label, path, CAPTURED, data)
                continue
            if outcome == TIMED_OUT:
                self.bad_pids.add(name)
            self._process_file_missed(label, path, outcome, error)

    def _read_deep(self, label, procs):
        page = os.sysconf("SC_PAGE_SIZE")
        chosen = []
        skipped = self.proc_stats["deep_skipped"]
        for rss, name, _data, state, _start in procs:
            if len(chosen) >= self.opts.deep:
                break
            pid = int(name)
            if state == b"D":
                if pid not in skipped["state D"]:
                    skipped["state D"].append(pid)
                continue
            if rss * page > self.opts.deep_max_rss:
                if pid not in skipped["rss over --deep-max-rss"]:
                    skipped["rss over --deep-max-rss"].append(pid)
                continue
            if name in self.bad_pids:
                continue
            chosen.append(name)
        proc = self.roots.proc
        for leaf in ("smaps_rollup", "numa_maps"):
            items = [
                (n, proc + "/" + n + "/" + leaf, DEEP_LIMIT)
                for n in chosen
                if n not in self.bad_pids
            ]
            before = set(self.bad_pids)
            self._read_slow(label, self.deep_reader, items, leaf)
            for name in self.bad_pids - before:
                if int(name) not in skipped["timed out"]:
                    skipped["timed out"].append(int(name))
        for name in chosen:
            if int(name) not in self.proc_stats["deep_read"]:
                self.proc_stats["deep_read"].append(int(name))

    def snapshot(self, label, full=False):
        """Read one snapshot into the spool; return its samples.jsonl entry.

        Python's cyclic garbage collector is off while it runs: a sample makes a few thousand
        short-lived tuples and lists (per process, per file) that reference counting frees,
        and the collector ran over them one to two times a sample for nothing (~1 ms of a
        ~20 ms sample, measured with the collector on and off in alternate samples).
        """
        wall, mono = now_ns(), mono_ns()
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._capture_many(label, self.system_files)
            self._capture_many(
                label, self._cgroup_files(self.cgroups, True) if full else self.cgroup_files
            )
            if full:
                self._capture_many(label, sources.config_files(self.roots))
                self._capture_tmpfs_mounts(label)
            self._read_kmsg(label)
            self._read_processes(label, full)
        finally:
            if collecting:
                gc.enable()
        return {
            "label": label,
            "wall_ns": wall,
            "mono_ns": mono,
            "duration_ns": mono_ns() - mono,
            "late": False,
        }

    def _capture_tmpfs_mounts(self, label):
        """statvfs of the tmpfs-like mounts (start and end): the end keeps the start's list."""
        data, self.tmpfs_listed = mounts.snapshot(self.roots, self.tmpfs_listed)
        if data is not None:
            self.spool.add(label, mounts.MEMBER, CAPTURED, self._anonymize_bytes(data))

    def _find_cgroups(self):
        """Walk the memory cgroup trees; choose the --max-cgroups largest to read every sample.

        The start and end snapshots read every cgroup found. Called at the start, every 12
        samples (new pods appear, usage shifts) and before the end snapshot.
        """
        self.cgroups, cut = sources.find_cgroups(self.roots)
        sampled = sources.rank_cgroups(self.cgroups, self.opts.max_cgroups)
        self.cgroup_files = self._cgroup_files(sampled)
        stats = self.cgroup_stats
        stats["found"] = max(stats["found"], len(self.cgroups))
        stats["sampled"] = max(stats["sampled"], len(sampled))
        if cut and not stats["walk_limit_reached"]:
            stats["walk_limit_reached"] = True
            self.warnings.append(
                "more than %d memory cgroups: the rest were not read" % sources.MAX_CGROUPS_FOUND
            )

    # -- the run ------------------------------------------------------------------------
    def _write_state(self):
        if self.anonymizer is not None:
            write_json_atomic(os.path.join(self.spool_dir, SPOOL_MAP), self.anonymizer.mapping())
        write_json_atomic(
            os.path.join(self.spool_dir, "state.json"),
            {
                "processes": self.proc_stats,
                "cgroups": self.cgroup_stats,
                "stop_reason": self.stop_reason,
                "interrupted": self.interrupted,
                "warnings": self.warnings,
                "anonymized": self.anonymizer.counts() if self.anonymizer is not None else {},
            },
        )

    def _check_limits(self, out_dir):
        for path in (self.spool_dir, out_dir):
            avail, percent = free_space(path)
            if avail < self.opts.min_free or percent < self.opts.min_free_percent:
                self.warnings.append(
                    "stopped: %d bytes (%.1f%%) free on the file system of %s"
                    % (avail, percent, path)
                )
                return "low disk space"
        if self.spool.compressed_bytes >= self.opts.max_size:
            return "size cap reached"
        return None

    def start(self, priority):
        """Write spool.json; the caller has created the spool directory."""
        spool_info = {
            "collector": {
                "name": "vmcollect",
                "version": __version__,
                "python": platform.python_version(),
            },
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "host": self.host_facts(),
            "options": self.opts.as_manifest(),
            "privacy": {
                "cmdline": CMDLINE_PRIVACY[getattr(self.opts, "cmdline", "redacted")],
                "environment": "never collected",
                "anonymized": bool(self.opts.anonymize),
            },
            "priority": priority,
            "missing": self.missing,
            "output": self.opts.output_path,
            "start_wall_ns": now_ns(),
        }
        write_json_atomic(os.path.join(self.spool_dir, "spool.json"), spool_info)
        self.spool = SpoolWriter(self.spool_dir)

    def _sleep(self, seconds):
        """Sleep up to `seconds`; True as soon as a stop is requested.

        During a run the sleep waits on a pipe that `request_stop` writes to, so a stop (a
        signal handler calls it) ends the sleep at once and an interval costs one wake-up:
        waking every half second to look at a flag cost ~0.4 ms a sample. (A signal
        interrupts select; Python runs the handler, then retries select, which finds the
        pipe readable.) Outside a run it sleeps in slices of SLEEP_SLICE.
        """
        end = time.monotonic() + seconds
        while not self.stop_requested:
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._wake is None:
                time.sleep(min(left, SLEEP_SLICE))
            else:
                select.select([self._wake[0]], [], [], left)
        return True

    def request_stop(self, reason, interrupted=False):
        if self.stop_reason is None:
            self.stop_reason = reason
        self.interrupted = self.interrupted or interrupted
        self.stop_requested = True
        if self._wake is not None:
            try:
                os.write(self._wake[1], b".")
            except OSError:
                pass  # the pipe is full: a wake-up is already waiting

    def run(self, out_dir):
        """Take the start snapshot, the samples and the end snapshot."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        self._wake = (read_end, write_end)
        try:
            self._run(out_dir)
        finally:
            self._wake = None
            os.close(read_end)
            os.close(write_end)

    def _run(self, out_dir):
        opts = self.opts
        self._find_cgroups()
        self._open_kmsg("start")
        meta = self.snapshot("start", full=True)
        self.spool.end_snapshot(meta)
        self._write_state()
        interval = opts.interval
        t0 = time.monotonic()
        slot = 0
        index = 0
        while not self.stop_requested:
            if opts.count is not None and index >= opts.count:
                self.request_stop("count reached")
                break
            if opts.count is None and slot * interval >= opts.duration - 1e-9:
                self.request_stop("duration reached")
                break
            due = t0 + slot * interval
            delay = due - time.monotonic()
            if delay > 0 and self._sleep(delay):
                break
            if index and index % 12 == 0:
                self._find_cgroups()
            meta = self.snapshot(index)
            finished = time.monotonic()
            next_slot = slot + 1
            if finished > t0 + next_slot * interval:
                meta["late"] = True
                self.late_samples += 1
                caught_up = int((finished - t0) // interval) + 1
                if caught_up > next_slot:
                    meta["skipped_slots"] = caught_up - next_slot
                next_slot = caught_up
            self.spool.end_snapshot(meta)
            self.samples_taken += 1
            if index % 12 == 0:
                self._write_state()
            slot = next_slot
            index += 1
            if self.progress is not None:
                self.progress(self, time.monotonic() - t0)
            reason = self._check_limits(out_dir)
            if reason:
                self.request_stop(reason)
        self._find_cgroups()
        meta = self.snapshot("end", full=True)
        self.spool.end_snapshot(meta)
        self._write_state()
        self.spool.close()
        self.cmdline_reader.close()
        self.deep_reader.close()
        if self.kmsg_fd is not None:
            os.close(self.kmsg_fd)


def _without_interrupt_counts(data):
    """/proc/stat without its ``intr`` and ``softirq`` lines (thousands of counters, no
    memory content)."""
    return b"".join(
        line for line in data.splitlines(True) if not line.startswith((b"intr ", b"softirq "))
    )


def _first_cpu(data):
    """/proc/cpuinfo's first processor only: the rest repeats it."""
    return data.split(b"\n\n", 1)[0] + b"\n"


def stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
