"""vmcollect's command line: parse options, run the collection, write the bundle.

The last line of standard output is the path of the written bundle, so scripts can use
``bundle=$(python3 vmcollect.pyz ... | tail -n 1)``. Everything else goes to standard error.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tarfile
import tempfile
import time

from vmcollect import __version__
from vmcollect.anonymize import write_anonymization_map
from vmcollect.bundle import SpoolError, read_spool_info, write_bundle
from vmcollect.sampler import (
    Collector,
    StopRun,
    anonymize_name,
    finishing_io_priority,
    free_space,
    lower_priority,
    stderr_is_tty,
)
from vmcollect.sources import Roots
from vmcollect.units import format_duration, format_size, parse_duration, parse_size, visible

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ABANDONED = 130

DESCRIPTION = """\
Sample Linux memory state from /proc and /sys into one .tar.gz bundle for support.

Reads meminfo, vmstat, zoneinfo, buddyinfo, memory pressure, NUMA node files, hugepage
pools, memory cgroups and every process's /proc/<pid>/stat every --interval; the vm
sysctls, THP settings and process identities at the start and the end. Never reads
environment variables; command lines are redacted. Runs at low CPU and I/O priority.
"""

EPILOG = """\
examples:
  python3 vmcollect.pyz                                  # 10 minutes every 5 s, bundle here
  python3 vmcollect.pyz --interval 1s --duration 2m --output /var/tmp/
  python3 vmcollect.pyz --count 60 --output /var/tmp/db01-memory.tar.gz
  python3 vmcollect.pyz --cmdline none --anonymize      # stricter privacy
  python3 vmcollect.pyz --recover /var/tmp/.vmcollect-spool-1234-abcd
  python3 vmcollect.pyz --show bundle.tar.gz            # what is inside a bundle

Press Ctrl-C to stop early: the bundle is still written with the samples taken so far.
Press Ctrl-C twice to abandon the run (nothing is written).
"""


class Options(object):
    """Validated options; `as_manifest` is what the manifest records."""

    def __init__(self, ns):
        self.interval = ns.interval
        self.duration = ns.duration
        self.count = ns.count
        self.max_processes = ns.max_processes
        self.status_top = ns.status_top
        self.deep = ns.deep
        self.deep_max_rss = ns.deep_max_rss
        self.read_timeout = ns.read_timeout
        self.max_size = ns.max_size
        self.min_free = ns.min_free
        self.min_free_percent = ns.min_free_percent
        self.max_cgroups = ns.max_cgroups
        self.cmdline = ns.cmdline
        self.no_cmdline = ns.cmdline == "none"
        self.anonymize = ns.anonymize
        self.root = ns.root
        self.proc_root = ns.proc_root
        self.sys_root = ns.sys_root
        self.kmsg = ns.kmsg
        self.output_path = None

    def as_manifest(self):
        return {
            "interval_s": self.interval,
            "duration_s": self.duration if self.count is None else None,
            "count": self.count if self.count is not None else planned_count(self),
            "max_processes": self.max_processes,
            "status_top": self.status_top,
            "deep": self.deep,
            "deep_max_rss_bytes": self.deep_max_rss,
            "read_timeout_s": self.read_timeout,
            "max_size_bytes": self.max_size,
            "min_free_bytes": self.min_free,
            "min_free_percent": self.min_free_percent,
            "max_cgroups": self.max_cgroups,
            "cmdline": self.cmdline,
            "no_cmdline": self.no_cmdline,
            "anonymize": self.anonymize,
            "root": self.root,
            "proc_root": self.proc_root,
            "sys_root": self.sys_root,
            "kmsg": self.kmsg,
        }


def planned_count(opts):
    """Samples a duration-bound run plans to take: one per interval slot in the duration."""
    slots = opts.duration / opts.interval
    whole = int(slots)
    return whole if abs(slots - whole) < 1e-9 else whole + 1


def _typed(parse, what, minimum=None):
    def convert(text):
        try:
            value = parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc))
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(
                "%s must be at least %s (got %r)" % (what, minimum, text)
            )
        return value

    return convert


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line, exit status 2: never a usage dump or a traceback."""
        sys.stderr.write("vmcollect: error: %s (see --help)\n" % message)
        sys.exit(EXIT_USAGE)


def build_parser():
    p = _Parser(
        prog="vmcollect",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version="vmcollect " + __version__)
    run = p.add_argument_group("what and how long")
    run.add_argument(
        "--interval",
        metavar="TIME",
        default=5.0,
        type=_typed(parse_duration, "--interval", 0.05),
        help="time between samples, e.g. 500ms, 5s, 1m (default: 5s)",
    )
    length = run.add_mutually_exclusive_group()
    length.add_argument(
        "--duration",
        metavar="TIME",
        default=None,
        type=_typed(parse_duration, "--duration", 0.001),
        help="how long to sample, e.g. 30s, 10m, 2h (default: 10m)",
    )
    length.add_argument(
        "--count",
        metavar="N",
        default=None,
        type=_typed(int, "--count", 1),
        help="take exactly N samples instead of sampling for --duration, e.g. --count 60",
    )
    run.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        default=".",
        help="an existing directory (the bundle is named "
        "vmcollect-<host>-<UTC time>.tar.gz) or a file name ending in "
        ".tar.gz (default: the current directory)",
    )
    procs = p.add_argument_group("processes")
    procs.add_argument(
        "--max-processes",
        metavar="N",
        type=_typed(int, "--max-processes", 1),
        default=5000,
        help="sample at most N processes, the largest by RSS; the manifest "
        "says how many were skipped (default: 5000)",
    )
    procs.add_argument(
        "--status-top",
        metavar="N",
        type=_typed(int, "--status-top", 0),
        default=100,
        help="read /proc/<pid>/status of the N largest processes in every sample (default: 100)",
    )
    procs.add_argument(
        "--deep",
        metavar="N",
        type=_typed(int, "--deep", 0),
        default=10,
        help="read smaps_rollup and numa_maps of the N largest processes at "
        "the start and the end; 0 turns it off (default: 10). These walk "
        "the process's page tables under its memory-map lock",
    )
    procs.add_argument(
        "--deep-max-rss",
        metavar="SIZE",
        type=_typed(parse_size, "size", 0),
        default=64 << 30,
        help="never read deep files of a process larger than SIZE, e.g. 128G (default: 64G)",
    )
    procs.add_argument(
        "--read-timeout",
        metavar="TIME",
        default=0.2,
        type=_typed(parse_duration, "--read-timeout", 0.001),
        help="deadline for reads that can block (cmdline, deep files); a pid "
        "that misses it is not read again (default: 200ms)",
    )
    safety = p.add_argument_group("limits")
    safety.add_argument(
        "--max-size",
        metavar="SIZE",
        type=_typed(parse_size, "size", 1 << 20),
        default=200 << 20,
        help="stop sampling when the bundle would exceed SIZE (default: 200M)",
    )
    safety.add_argument(
        "--min-free",
        metavar="SIZE",
        type=_typed(parse_size, "size", 0),
        default=100 << 20,
        help="stop sampling, keeping what was taken, when less than SIZE is "
        "free on the output's file system (default: 100M)",
    )
    safety.add_argument(
        "--min-free-percent",
        metavar="PCT",
        type=float,
        default=5.0,
        help="... or less than PCT percent (default: 5)",
    )
    safety.add_argument(
        "--max-cgroups",
        metavar="N",
        type=_typed(int, "--max-cgroups", 0),
        default=100,
        help="read the memory files of the N largest memory cgroups (by usage, re-ranked every "
        "minute) in every sample; the start and the end read every memory cgroup, v1 and v2, "
        "at any depth (default: 100)",
    )
    privacy = p.add_argument_group("privacy")
    privacy.add_argument(
        "--cmdline",
        choices=("full", "redacted", "none"),
        default="redacted",
        help="process command lines: 'redacted' replaces passwords, tokens, keys and other "
        "secrets by *** (default); 'none' collects process names (comm) only; 'full' keeps "
        "them as they are",
    )
    privacy.add_argument(
        "--no-cmdline",
        dest="cmdline",
        action="store_const",
        const="none",
        help="the same as --cmdline none",
    )
    privacy.add_argument(
        "--anonymize",
        action="store_true",
        help="also replace the host name, domain names, IP and MAC addresses, user names and "
        "home directories (consistently within the bundle); the mapping goes to a local "
        "file next to the bundle, never into it",
    )
    other = p.add_argument_group("other")
    other.add_argument(
        "--recover",
        metavar="SPOOL_DIR",
        help="turn the spool of a collector that was killed into a bundle",
    )
    other.add_argument(
        "--show", metavar="BUNDLE", help="print what a bundle contains (manifest summary and files)"
    )
    other.add_argument(
        "--spool-dir",
        metavar="DIR",
        help="where to keep the spool while sampling (default: beside the output)",
    )
    other.add_argument("--quiet", "-q", action="store_true", help="print only the bundle path")
    other.add_argument(
        "--root",
        metavar="PREFIX",
        help="read a host's /proc, /sys and /etc mounted under PREFIX, e.g. --root /host in a "
        "privileged container with hostPID and the host's / mounted at /host",
    )
    other.add_argument("--proc-root", default="/proc", help=argparse.SUPPRESS)
    other.add_argument("--sys-root", default="/sys", help=argparse.SUPPRESS)
    other.add_argument("--kmsg", default=None, help=argparse.SUPPRESS)
    return p


def _fail(message, code=EXIT_FAILED):
    sys.stderr.write("vmcollect: error: %s\n" % message)
    return code


_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _resolve_output(output, host, start):
    """(directory, file path) for --output; raises ValueError with a one-line reason."""
    if os.path.isdir(output):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start))
        host = _UNSAFE_NAME_CHARS.sub("_", host)[:64]
        return output, os.path.join(output, "vmcollect-%s-%s.tar.gz" % (host, stamp))
    if not output.endswith(".tar.gz"):
        raise ValueError(
            "--output must be an existing directory or a file name ending in "
            ".tar.gz (got %r)" % output
        )
    directory = os.path.dirname(output) or "."
    if not os.path.isdir(directory):
        raise ValueError("--output directory %r does not exist" % directory)
    return directory, output


class Progress(object):
    """A one-line progress display on a terminal; nothing otherwise."""

    def __init__(self, enabled, total):
        self.enabled = enabled
        self.total = total
        self.shown = False

    def __call__(self, collector, elapsed):
        if not self.enabled:
            return
        total = "/%d" % self.total if self.total else ""
        line = "sample %d%s  elapsed %s  bundle ~%s  late %d" % (
            collector.samples_taken,
            total,
            format_duration(elapsed),
            format_size(collector.spool.compressed_bytes),
            collector.late_samples,
        )
        sys.stderr.write("\r\033[K" + line)
        sys.stderr.flush()
        self.shown = True

    def done(self):
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _obj(value):
    return value if isinstance(value, dict) else {}


def _say(line):
    """Print a line built from bundle content: control characters made visible."""
    print(visible(line))


#: What ``--show`` reads of a bundle, at most: the analyzer's defaults (``--max-members``,
#: ``--max-bytes``; README "Limits on inputs"), so a crafted archive of countless tiny members
#: or a gzip bomb stops with one line instead of exhausting memory or time.
SHOW_MAX_MEMBERS = 250000
SHOW_MAX_BYTES = 4 << 30
#: The analyzer's cap on ``manifest.json`` (vmanalyze.manifest_schema.MAX_MANIFEST_BYTES).
SHOW_MAX_MANIFEST_BYTES = 8 << 20
#: A tar header and its padding: what an empty member costs to read.
_TAR_HEADER_BYTES = 512


class ShowLimitError(ValueError):
    """A bundle over one of the ``--show`` limits."""


def _top(name):
    """The group a member is counted under by ``--show``: proc/<pid>, proc/x, sys/x or the name."""
    parts = name.split("/")
    if parts[0] == "proc" and len(parts) > 1 and parts[1].isdigit():
        return "proc/<pid>"
    if parts[0] in ("proc", "sys") and len(parts) > 2:
        return "/".join(parts[:2])
    return name


def read_bundle_index(path):
    """(manifest bytes or None, members, {group: (files, bytes)}) of a bundle, read bounded.

    The archive is streamed once, never seeked; at most :data:`SHOW_MAX_MEMBERS` members whose
    declared sizes (plus a header each) add up to at most :data:`SHOW_MAX_BYTES`, and a
    ``manifest.json`` of at most :data:`SHOW_MAX_MANIFEST_BYTES`; over a limit it raises
    :class:`ShowLimitError` before reading further. Only a regular file is opened (a FIFO or a
    device would block or never end).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    raw = os.fdopen(fd, "rb")
    with raw:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ShowLimitError("not a regular file")
        manifest = None
        by_top = {}
        members = declared = 0
        # GzipFile, not tarfile's "r|gz": that one copies its whole decompressed buffer on
        # every 512-byte read, which makes a bomb of tiny members slow as well as long.
        gz = gzip.GzipFile(fileobj=raw, mode="rb")
        with gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            while True:
                info = tar.next()
                if info is None:
                    break
                tar.members = []  # a stream is read once: keep no index of what went past
                members += 1
                if members > SHOW_MAX_MEMBERS:
                    raise ShowLimitError("more than %d members" % SHOW_MAX_MEMBERS)
                declared += max(info.size, 0) + _TAR_HEADER_BYTES
                if declared > SHOW_MAX_BYTES:
                    raise ShowLimitError("members add up to more than %d bytes" % SHOW_MAX_BYTES)
                if info.name == "manifest.json" and manifest is None and info.isreg():
                    if info.size > SHOW_MAX_MANIFEST_BYTES:
                        raise ShowLimitError(
                            "manifest.json is over %d bytes" % SHOW_MAX_MANIFEST_BYTES
                        )
                    manifest = tar.extractfile(info).read(info.size)
                top = _top(info.name)
                count, size = by_top.get(top, (0, 0))
                by_top[top] = (count + 1, size + max(info.size, 0))
    return manifest, members, by_top


def show_bundle(path):
    """Print a bundle's manifest summary and its members (for customers and engineers).

    Everything shown comes from the bundle, which may have been crafted: values of the wrong
    type are shown as they are, never trusted, and control characters are made visible. The
    bundle is read within the limits of :func:`read_bundle_index`: over one, one line and exit 2.
    """
    try:
        data, members, by_top = read_bundle_index(path)
        if data is None:
            raise ValueError("no manifest.json")
        manifest = json.loads(data.decode("utf-8"))
    except (OSError, tarfile.TarError, KeyError, ValueError, EOFError, RecursionError) as exc:
        return _fail(visible("cannot read %s: %s" % (path, exc)), EXIT_USAGE)
    if not isinstance(manifest, dict):
        return _fail(visible("cannot read %s: manifest.json is not an object" % path), EXIT_USAGE)
    host = _obj(manifest.get("host"))
    opts = _obj(manifest.get("options"))
    _say("bundle       %s (%s)" % (path, format_size(os.path.getsize(path))))
    _say(
        "format       %s v%s, collector %s"
        % (
            manifest.get("format"),
            manifest.get("format_version"),
            _obj(manifest.get("collector")).get("version"),
        )
    )
    _say(
        "host         %s, kernel %s, %s CPUs, %s NUMA node(s)"
        % (
            host.get("hostname"),
            host.get("kernel_release"),
            host.get("cpu_count"),
            host.get("numa_nodes"),
        )
    )
    _say(
        "samples      %s every %ss (%s late), stop: %s"
        % (
            manifest.get("samples"),
            opts.get("interval_s"),
            manifest.get("late_samples"),
            manifest.get("stop_reason"),
        )
    )
    privacy = _obj(manifest.get("privacy"))
    _say(
        "privacy      %s"
        % ", ".join("%s: %s" % kv for kv in sorted(privacy.items()) if kv[0] != "anonymized_counts")
    )
    counts = _obj(privacy.get("anonymized_counts"))
    if counts:
        _say(
            "anonymized   %s (the mapping is in a file next to the bundle, not in it)"
            % ", ".join("%s %s" % kv for kv in sorted(counts.items()))
        )
    files = _obj(manifest.get("files"))
    outcomes = ("denied", "timed_out", "failed")
    problems = [
        (k, v)
        for k, v in sorted(files.items())
        if isinstance(v, dict) and any(o in v for o in outcomes)
    ]
    _say(
        "files        %d members, %d kernel paths read, %d with denied/timed-out/failed reads"
        % (members, len(files), len(problems))
    )
    for key, entry in problems[:20]:
        shown = ", ".join("%s %s" % (o, entry[o]) for o in outcomes if o in entry)
        _say("  %-50s %s" % (key, shown))
    for top, (count, size) in sorted(by_top.items()):
        _say("  %-40s %5d file(s) %10s" % (top, count, format_size(size)))
    return EXIT_OK


def recover(spool_dir, output):
    try:
        info = read_spool_info(spool_dir)
    except (OSError, SpoolError) as exc:
        return _fail(visible("%s is not a vmcollect spool: %s" % (spool_dir, exc)), EXIT_USAGE)
    target = output if output != "." else (info.get("output") or ".")
    host = info["host"]["hostname"]
    try:
        out_dir, out_path = _resolve_output(target, host, (info.get("start_wall_ns") or 0) / 1e9)
    except ValueError as exc:
        return _fail(visible(str(exc)), EXIT_USAGE)
    try:
        manifest, out_path = write_bundle(spool_dir, out_path, recovered=True)
        map_path = write_anonymization_map(spool_dir, out_path)
    except SpoolError as exc:
        return _fail(visible("%s is not a usable spool: %s" % (spool_dir, exc)), EXIT_USAGE)
    except OSError as exc:
        return _fail(visible("cannot write %s: %s" % (out_path, exc)))
    shutil.rmtree(spool_dir, ignore_errors=True)
    sys.stderr.write(visible("recovered %d samples from %s\n" % (manifest["samples"], spool_dir)))
    if map_path:
        sys.stderr.write(visible("anonymization map (keep it local): %s\n" % map_path))
    print(out_path)
    return EXIT_OK


def main(argv=None):
    ns = build_parser().parse_args(argv)
    if ns.show:
        return show_bundle(ns.show)
    if ns.recover:
        return recover(ns.recover, ns.output)
    if ns.count is None and ns.duration is None:
        ns.duration = 600.0
    if ns.root:
        if not os.path.isdir(ns.root):
            return _fail("--root %r is not a directory" % ns.root, EXIT_USAGE)
        ns.proc_root = os.path.join(ns.root, "proc")
        ns.sys_root = os.path.join(ns.root, "sys")
    opts = Options(ns)
    if opts.kmsg is None:
        # The kernel log is not namespaced: a privileged container reads the host's.
        opts.kmsg = "/dev/kmsg" if ns.proc_root == "/proc" or ns.root else ""
    roots = Roots(ns.proc_root, ns.sys_root)
    if not os.path.isdir(roots.proc) or not os.path.exists(os.path.join(roots.proc, "meminfo")):
        return _fail(
            "%s does not look like a proc file system (no meminfo)" % roots.proc, EXIT_USAGE
        )
    start = time.time()
    hostname = socket.gethostname()
    try:
        with open(os.path.join(roots.proc, "sys/kernel/hostname")) as f:
            hostname = f.read().strip() or hostname
    except OSError:
        pass
    host_label = anonymize_name(hostname) if opts.anonymize else hostname
    try:
        out_dir, out_path = _resolve_output(ns.output, host_label, start)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    opts.output_path = os.path.abspath(out_path)
    spool_parent = ns.spool_dir or out_dir
    try:
        spool_dir = tempfile.mkdtemp(prefix=".vmcollect-spool-%d-" % os.getpid(), dir=spool_parent)
    except OSError as exc:
        return _fail("cannot write to %s: %s" % (spool_parent, exc.strerror or exc))
    if not os.access(out_dir, os.W_OK):
        shutil.rmtree(spool_dir, ignore_errors=True)
        return _fail("cannot write to %s: Permission denied" % out_dir)

    collector = Collector(opts, roots, spool_dir)
    avail, percent = free_space(out_dir)
    if avail < opts.min_free or percent < opts.min_free_percent:
        shutil.rmtree(spool_dir, ignore_errors=True)
        return _fail(
            "only %s (%.1f%%) free in %s; need --min-free %s and %.0f%%"
            % (
                format_size(avail),
                percent,
                out_dir,
                format_size(opts.min_free),
                opts.min_free_percent,
            )
        )

    signals = {"count": 0}

    def on_signal(signum, _frame):
        signals["count"] += 1
        if signals["count"] == 1:
            if not ns.quiet:
                sys.stderr.write(
                    "\nvmcollect: stopping; writing the bundle (Ctrl-C again to abandon)\n"
                )
            collector.request_stop("interrupted", interrupted=True)
        else:
            raise StopRun()

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    priority = lower_priority()
    total = opts.count if opts.count is not None else planned_count(opts)
    progress = Progress(stderr_is_tty() and not ns.quiet, total)
    collector.progress = progress
    if not ns.quiet:
        sys.stderr.write(
            visible("vmcollect %s: %d samples every %s (%s) on %s; spool %s\n")
            % (
                __version__,
                total,
                format_duration(opts.interval),
                format_duration(total * opts.interval),
                visible(host_label),
                visible(spool_dir),
            )
        )
        if collector.missing:
            sys.stderr.write(
                "vmcollect: without privilege this run will miss:\n%s"
                % "".join("  %(what)s (%(path)s: %(reason)s)\n" % m for m in collector.missing)
            )
    try:
        collector.start(priority)
        collector.run(out_dir)
        progress.done()
        finishing_io_priority()
        manifest, out_path = write_bundle(spool_dir, out_path)
        map_path = write_anonymization_map(spool_dir, out_path)
    except StopRun:
        progress.done()
        shutil.rmtree(spool_dir, ignore_errors=True)
        sys.stderr.write("vmcollect: abandoned; nothing was written\n")
        return EXIT_ABANDONED
    except (OSError, SpoolError) as exc:
        progress.done()
        return _fail(
            visible(
                "collection failed: %s (the spool %s is kept: try --recover)" % (exc, spool_dir)
            )
        )
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    shutil.rmtree(spool_dir, ignore_errors=True)
    if not ns.quiet:
        sys.stderr.write(
            visible(
                "wrote %d samples (%s%s) to %s\n"
                % (
                    manifest["samples"],
                    format_size(os.path.getsize(out_path)),
                    ", interrupted" if manifest["interrupted"] else "",
                    out_path,
                )
            )
        )
        if map_path:
            sys.stderr.write(
                visible("anonymization map (keep it, do not send it): %s\n" % map_path)
            )
    print(out_path)
    return EXIT_OK


def entry():
    """Console-script and zipapp entry: exit with main()'s status (zipapp ignores returns)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`--show ... | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
