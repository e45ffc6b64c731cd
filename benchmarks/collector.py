#!/usr/bin/env python3
"""Measure vmcollect's cost and bundle size against the budgets (issue 14).

Starts 1,000 idle processes, 20 busy ones that allocate and touch memory, and 200 memory
cgroups laid out like a Kubernetes node's (kubepods / QoS slice / pod / containers; the busy
processes and the idle ones are spread over the containers), then collects twice with the
zipapp at the default interval (5 s): a long run (--duration, default 10 minutes, the
collector's default) and a short one (--short, default 1 minute). It prints:

1. marginal CPU per sample: (CPU of the long run - CPU of the short run) / (extra samples),
   so everything a sample costs is in it, writing the bundle included; against a bare Python
   loop that only lists /proc and reads the same files, cgroup files included, run between
   the collectors' samples at the collector's priority (nice 10) and, alternately, at the
   benchmark's own (budget <= 1.5x);
2. the long run's CPU as a share of one core (budget <= 1 %);
3. bundle size per hour: the long run's size scaled to an hour, and an hour projected from
   the two runs (the fixed part once, the per-sample part 720 times) (budget <= 10 MiB);
4. with --layout, bundle vs `tar czf` of the same raw files laid out one directory per sample
   (issue 2's budget, <= 1/5; writing ~130,000 small files takes minutes, so not by default).

Root is needed for the cgroups (a cgroup v2 hierarchy with the memory controller, else the
v1 memory hierarchy); without root, or with --cgroups 0, none are made.

With --baseline OLD.pyz (a zipapp built from an older commit with `make pyz`), the old
collector runs side by side with this tree's, on the same load, so before and after are
measured under the same conditions; the floor is shared. The collectors start 2.5 s apart, so
their samples do not coincide.

Usage: python3 benchmarks/collector.py [--duration 10m] [--short 1m] [--idle 1000] [--busy 20]
       [--cgroups 200] [--baseline OLD.pyz] [--layout]
"""

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collector"))
sys.path.insert(0, REPO)

from vmcollect import sources  # noqa: E402
from vmcollect.cli import Options, build_parser  # noqa: E402
from vmcollect.readers import read_file  # noqa: E402
from vmcollect.units import format_size, parse_duration  # noqa: E402

from tests.vmcollect.bundle_reader import Bundle  # noqa: E402

BUSY = r"""
import time, sys
size = int(sys.argv[1]) << 20
buf = bytearray(size)
while True:
    for i in range(0, size, 4096):
        buf[i] = (buf[i] + 1) & 255
    time.sleep(0.5)
"""


def start_load(idle, busy):
    procs = []
    for _ in range(idle):
        procs.append(subprocess.Popen(["sleep", "3600"]))
    for i in range(busy):
        procs.append(subprocess.Popen([sys.executable, "-c", BUSY, str(16 + i)]))
    time.sleep(2)
    return procs


def _memory_hierarchy():
    """(mount point, version) of a writable memory cgroup hierarchy, v2 preferred, or None."""
    v2, v1 = [], []
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                v2.append(parts[1])
            elif parts[2] == "cgroup" and "memory" in parts[3].split(","):
                v1.append(parts[1])
    for mount in v2:
        with open(os.path.join(mount, "cgroup.controllers")) as f:
            if "memory" in f.read().split():
                return mount, "v2"
    return (v1[0], "v1") if v1 else None


def make_cgroups(count, procs):
    """`count` memory cgroups shaped like a Kubernetes node's, the processes in the containers.

    The tree is the top directory, ``kubepods.slice``, its two QoS slices, then pods of up to
    three containers each, made in that order until there are `count` directories (below 4,
    the first `count` of those four; 0 makes none). The processes go into the containers or,
    when `count` leaves room for none, into the deepest cgroups made (the tree's leaves).
    Returns the top directory (to remove afterwards), or None when none could be made.
    """
    found = _memory_hierarchy() if count > 0 and os.geteuid() == 0 else None
    if found is None:
        return None
    mount, version = found
    top = bench_top(mount)
    kubepods = os.path.join(top, "kubepods.slice")
    qos = [os.path.join(kubepods, f"kubepods-{q}.slice") for q in ("burstable", "besteffort")]
    dirs = [top, kubepods, *qos][:count]
    containers = []
    pod = 0
    while len(dirs) < count:
        q = qos[pod % 2]
        pod_dir = os.path.join(q, f"{os.path.basename(q)[:-6]}-pod{pod:04d}.slice")
        dirs.append(pod_dir)
        for c in range(min(3, count - len(dirs))):
            containers.append(os.path.join(pod_dir, f"cri-containerd-{pod:04d}{c:02d}.scope"))
            dirs.append(containers[-1])
        pod += 1
    # cgroup v2 puts no process in a cgroup that enables a controller for its children
    homes = containers or [d for d in dirs if not any(o.startswith(d + "/") for o in dirs)]
    for d in dirs:
        os.mkdir(d)
        if version == "v2" and d not in homes:
            with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
    for i, proc in enumerate(procs):
        with open(os.path.join(homes[i % len(homes)], "cgroup.procs"), "w") as f:
            f.write(str(proc.pid))
    return top


def bench_top(mount=None):
    """The top directory of this process's benchmark cgroups (under `mount`, else the memory
    hierarchy found), or None without one."""
    if mount is None:
        found = _memory_hierarchy()
        if found is None:
            return None
        mount = found[0]
    return os.path.join(mount, f"vmtriage-bench-{os.getpid()}")


def add_load_arguments(parser):
    """--idle, --busy and --cgroups: the load every collector benchmark sets up."""
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=20)
    parser.add_argument("--cgroups", type=int, default=200)


@contextlib.contextmanager
def load_running(idle, busy, cgroups):
    """The benchmark's processes and memory cgroups, for the duration of a `with`; removed
    afterwards, also after an error (one in making the cgroups included)."""
    load = start_load(idle, busy)
    try:
        make_cgroups(cgroups, load[idle:] + load[:idle])
        yield load
    finally:
        for proc in load:
            proc.kill()
        for proc in load:
            proc.wait()
        top = bench_top() if cgroups > 0 and os.geteuid() == 0 else None
        if top is not None and os.path.isdir(top):
            remove_cgroups(top)


def remove_cgroups(top):
    """Remove a tree made by make_cgroups (its processes have exited), deepest first."""
    for directory, _dirs, _files in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
        for _ in range(100):
            try:
                os.rmdir(directory)
                break
            except OSError:
                time.sleep(0.05)


STAGGER = 2.5  # seconds between the collectors' starts: half the default interval
FLOOR_PHASE = 4.2  # a floor pass's offset within its 10 s, clear of both collectors' samples
FLOOR_NICE = 10  # the collector's own priority (sampler.lower_priority)


def _floor_at(nice, files, status_top):
    """(nice, CPU seconds, number of processes) of one floor pass at priority `nice`.

    Raising and restoring the priority of this process needs root; without it, every pass
    runs at the priority the benchmark was started with.
    """
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError:
        nice = before
    t = time.process_time()
    count = floor_pass(files, status_top)
    spent = time.process_time() - t
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, before)
    return nice, spent, count


def collect(pyzs, duration, out_dirs, floor_files=None, status_top=100):
    """Run each zipapp for `duration`, side by side; ([(bundle, CPU s, wall s)], floor passes).

    Side by side, an older zipapp (--baseline) sees the same processes, cgroups and machine
    load as this tree's. Each starts STAGGER seconds after the one before, so their samples
    (every 5 s) do not fall at the same instant: on a real host one collector runs alone.
    (Two floor passes at once were measured to cost each what one alone costs; the stagger
    rules that out for the collectors too.) CPU is each collector's own (wait4: user +
    system, its threads included).

    With `floor_files`, a floor pass runs every 10 s while the collectors run, so the floor
    sees the same processes (on a shared machine their number moves by thousands), at a
    phase between the collectors' samples; passes alternate between the collector's
    priority (nice 10) and the benchmark's own. Each pass is (nice, CPU seconds, processes).
    """
    procs = []
    starts = []
    for i, (pyz, out_dir) in enumerate(zip(pyzs, out_dirs, strict=True)):
        if i:
            time.sleep(STAGGER)
        starts.append(time.monotonic())
        procs.append(
            subprocess.Popen(
                [sys.executable, pyz, "--duration", duration, "-o", out_dir, "-q"],
                stdout=subprocess.PIPE,
                universal_newlines=True,
            )
        )
    own_nice = os.getpriority(os.PRIO_PROCESS, 0)
    done = {}
    floors = []
    next_floor = starts[0] + 10 + FLOOR_PHASE
    while len(done) < len(procs):
        for i, proc in enumerate(procs):
            if i not in done:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    done[i] = (status, usage, time.monotonic() - starts[i])
        wait = min(0.5, next_floor - time.monotonic()) if floor_files else 0.5
        time.sleep(max(0.0, wait))
        if floor_files and time.monotonic() >= next_floor:
            nice = FLOOR_NICE if len(floors) % 2 == 0 else own_nice
            floors.append(_floor_at(nice, floor_files, status_top))
            next_floor += 10
    results = []
    for i, proc in enumerate(procs):
        status, usage, wall = done[i]
        out = proc.stdout.read()
        if status != 0:
            raise SystemExit(f"{pyzs[i]} failed with status {status}")
        results.append((out.strip().splitlines()[-1], usage.ru_utime + usage.ru_stime, wall))
    return results, floors


def per_sample_layout_size(bundle_path, work):
    """tar czf over the bundle's records laid out as one directory per snapshot."""
    b = Bundle(bundle_path)
    root = os.path.join(work, "per-sample")
    for name in b.members:
        if name in ("manifest.json", "samples.jsonl"):
            continue
        for label, body in b.records(name):
            path = os.path.join(root, f"sample-{label}", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
    out = os.path.join(work, "per-sample.tar.gz")
    subprocess.check_call(["tar", "czf", out, "-C", root, "."])
    return os.path.getsize(out)


def floor_pass(files, status_top):
    """What any collector must do per sample: list /proc and read the same files.

    Returns the number of processes seen.
    """
    for real, _ in files:
        read_file(real)
    procs = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            outcome, data, _ = read_file("/proc/" + name + "/stat", 4096)
            if data:
                procs.append((int(data[data.rfind(b")") + 2 :].split()[21]), name))
    procs.sort(reverse=True)
    for _rss, name in procs[:status_top]:
        read_file("/proc/" + name + "/status", 16384)
    return len(procs)


def floor_files():
    """The files a default sample reads: system files and the sampled cgroups' files."""
    opts = Options(build_parser().parse_args([]))
    roots = sources.Roots()
    cgroups, _cut = sources.find_cgroups(roots)
    sampled = sources.rank_cgroups(cgroups, opts.max_cgroups)
    files = sources.sampled_system_files(roots) + sources.cgroup_files(sampled)
    return files, len(cgroups), len(sampled), opts.status_top


def size_by_kind(bundle_path):
    """Compressed bytes per kind of member (each kind gzipped on its own: shares, roughly)."""
    b = Bundle(bundle_path)
    kinds = {}
    for name, data in b.members.items():
        parts = name.split("/")
        if parts[0] == "proc" and parts[1].isdigit():
            kind = "proc/<pid>/" + parts[-1]
        elif "cgroup" in parts[:3] or (len(parts) > 2 and parts[2] == "cgroup"):
            kind = "cgroups"
        else:
            kind = "other"
        kinds.setdefault(kind, []).append(data)
    return sorted(((len(zlib.compress(b"".join(v), 6)), k) for k, v in kinds.items()), reverse=True)


def floor_medians(floors):
    """{nice: (median CPU seconds of its passes, number of passes)}."""
    by_nice = {}
    for nice, spent, _count in floors:
        by_nice.setdefault(nice, []).append(spent)
    return {nice: (sorted(v)[len(v) // 2], len(v)) for nice, v in by_nice.items()}


def report(name, long, short, args, floors, nfiles):
    """Print the three budgets' figures for one collector."""
    (bundle, cpu, wall), (short_bundle, short_cpu, short_wall) = long, short
    size, short_size = os.path.getsize(bundle), os.path.getsize(short_bundle)
    samples = Bundle(bundle).manifest["samples"]
    short_samples = Bundle(short_bundle).manifest["samples"]
    seconds = parse_duration(args.duration)
    extra = samples - short_samples
    marginal = (cpu - short_cpu) / extra
    per_sample_bytes = (size - short_size) / extra
    hour = size + per_sample_bytes * (3600 / 5.0 - samples)
    print(
        f"== {name}: {args.duration} ({samples} samples, {wall:.1f} s wall) and {args.short} "
        f"({short_samples} samples)"
    )
    print(
        f"1. marginal CPU per sample: ({cpu:.2f} - {short_cpu:.2f} s) / {extra} = "
        f"{marginal * 1000:.1f} ms vs a bare loop reading the same {nfiles} files and every "
        "/proc/<pid>/stat during the long run (budget <= 1.5x):"
    )
    for nice, (floor, passes) in sorted(floors.items(), key=lambda f: f[0] != FLOOR_NICE):
        same = " (the collector's priority)" if nice == FLOOR_NICE else ""
        print(
            f"   at nice {nice}{same}: {floor * 1000:.1f} ms (median of {passes} passes) = "
            f"{marginal / floor:.2f}x"
        )
    print(
        f"2. collector CPU: {cpu:.3f} s over {wall:.1f} s = {100.0 * cpu / wall:.2f}% of one core "
        f"(budget <= 1%); the short run: {100.0 * short_cpu / short_wall:.2f}%"
    )
    print(
        f"3. bundle: {format_size(size)} for {args.duration} -> "
        f"{format_size(size * 3600.0 / seconds)} per hour scaled, {format_size(hour)} for an "
        f"hour projected ({format_size(short_size)} for {args.short}; "
        f"{per_sample_bytes / 1024:.1f} KiB per sample) (budget <= 10 MiB)"
    )
    kinds = size_by_kind(bundle)
    print(
        "   by kind, each gzipped alone: "
        + ", ".join(f"{kind} {format_size(n)}" for n, kind in kinds[:6])
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", default="10m", help="the long run (the collector's default)")
    p.add_argument("--short", default="1m", help="the short run")
    add_load_arguments(p)
    p.add_argument("--layout", action="store_true", help="also figure 4 (slow)")
    p.add_argument(
        "--baseline",
        metavar="PYZ",
        help="an older vmcollect.pyz to run side by side with this tree's, on the same load",
    )
    args = p.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    pyz = os.path.join(REPO, "dist", "vmcollect.pyz")
    subprocess.check_call(["make", "-C", REPO, "pyz"], stdout=subprocess.DEVNULL)
    pyzs = [pyz] + ([os.path.abspath(args.baseline)] if args.baseline else [])
    names = ["this tree"] + ([f"baseline {args.baseline}"] if args.baseline else [])
    with load_running(args.idle, args.busy, args.cgroups):
        nprocs = sum(1 for n in os.listdir("/proc") if n.isdigit())
        with tempfile.TemporaryDirectory() as work:
            dirs = {}
            for run in ("long", "short"):
                dirs[run] = [os.path.join(work, f"{run}-{i}") for i in range(len(pyzs))]
                for d in dirs[run]:
                    os.mkdir(d)
            files, found, sampled, status_top = floor_files()
            longs, floors = collect(pyzs, args.duration, dirs["long"], files, status_top)
            shorts, _ = collect(pyzs, args.short, dirs["short"])
            medians = floor_medians(floors)
            counts = sorted(n for _nice, _t, n in floors)
            print(
                f"machine: {os.cpu_count()} CPUs, kernel {os.uname().release}, load average "
                f"{os.getloadavg()[0]:.1f} at the end, {nprocs} processes at the start "
                f"({counts[0]}-{counts[-1]} during the long run), {found} memory cgroups, "
                f"{sampled} read per sample; {len(pyzs)} collector(s) side by side at the "
                f"default 5 s interval, started {STAGGER:g} s apart"
            )
            for name, long, short in zip(names, longs, shorts, strict=True):
                report(name, long, short, args, medians, len(files))
            if args.layout:
                bundle = longs[0][0]
                per_sample = per_sample_layout_size(bundle, work)
                size = os.path.getsize(bundle)
                print(
                    f"4. bundle vs tar czf of one directory per sample: {format_size(size)} vs "
                    f"{format_size(per_sample)} = 1/{per_sample / size:.1f} (budget <= 1/5)"
                )


if __name__ == "__main__":
    main()
