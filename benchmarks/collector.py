#!/usr/bin/env python3
"""Measure vmcollect's cost and bundle size against the issue's budgets.

Starts 1,000 idle processes and 20 busy ones that allocate and touch memory, collects at the
default interval (5 s) for --duration (default 10 minutes, the collector's default) with the zipapp,
then prints:

1. collector CPU as a share of one core, averaged over the run (budget <= 1 %);
2. bundle size per hour of collection, extrapolated (budget <= 20 MiB);
3. bundle size against `tar czf` of the same raw files laid out one directory per sample
   (budget <= 1/5);
4. per-sample CPU against a bare Python loop that only reads the same files (budget <= 2x).

Usage: python3 benchmarks/collector.py [--duration 10m] [--idle 1000] [--busy 20]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collector"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from collector.bundle_reader import Bundle  # noqa: E402
from vmcollect import sources  # noqa: E402
from vmcollect.cli import Options, build_parser  # noqa: E402
from vmcollect.readers import read_file  # noqa: E402
from vmcollect.sampler import Collector  # noqa: E402
from vmcollect.units import format_size, parse_duration  # noqa: E402

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


def collect(duration, out_dir):
    pyz = os.path.join(REPO, "dist", "vmcollect.pyz")
    if not os.path.exists(pyz):
        subprocess.check_call(["make", "-C", REPO, "pyz"], stdout=subprocess.DEVNULL)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, pyz, "--duration", duration, "-o", out_dir, "-q"],
        stdout=subprocess.PIPE,
        universal_newlines=True,
    )
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"vmcollect failed with status {status}")
    return out.strip().splitlines()[-1], usage.ru_utime + usage.ru_stime, wall


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


def floor_pass(system_files, status_top):
    """What any collector must do per sample: list /proc and read the same files."""
    for real, _ in system_files:
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


def per_sample_cpu(work, passes=20):
    """CPU seconds per sample: the collector's snapshot + spool vs the bare floor loop."""
    ns = build_parser().parse_args(["--count", str(passes)])
    opts = Options(ns)
    opts.kmsg = ""
    opts.output_path = os.path.join(work, "x.tar.gz")
    spool = tempfile.mkdtemp(dir=work)
    collector = Collector(opts, sources.Roots(), spool)
    collector.start({})
    collector.cgroup_files = sources.cgroup_files(sources.cgroup_dirs(collector.roots))
    floor_files = collector.system_files + collector.cgroup_files
    collector.spool.end_snapshot(collector.snapshot("start", full=True))
    ours, floor = [], []
    for i in range(passes):
        t = time.process_time()
        floor_pass(floor_files, opts.status_top)
        floor.append(time.process_time() - t)
        t = time.process_time()
        collector.spool.end_snapshot(collector.snapshot(i))
        ours.append(time.process_time() - t)
    collector.spool.close()
    ours.sort()
    floor.sort()
    return ours[len(ours) // 2], floor[len(floor) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", default="10m", help="the collector's default duration")
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--busy", type=int, default=20)
    args = p.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    load = start_load(args.idle, args.busy)
    try:
        nprocs = sum(1 for n in os.listdir("/proc") if n.isdigit())
        with tempfile.TemporaryDirectory() as work:
            bundle, cpu, wall = collect(args.duration, work)
            size = os.path.getsize(bundle)
            samples = Bundle(bundle).manifest["samples"]
            per_sample = per_sample_layout_size(bundle, work)
            ours, floor = per_sample_cpu(work)
    finally:
        for proc in load:
            proc.kill()
        for proc in load:
            proc.wait()
    seconds = parse_duration(args.duration)
    per_hour = size * 3600.0 / seconds
    print(
        f"machine: {os.cpu_count()} CPUs, kernel {os.uname().release}, "
        f"{nprocs} processes during the run"
    )
    print(f"run: {args.duration} at the default 5 s interval, {samples} samples, {wall:.1f} s wall")
    print(
        f"1. collector CPU: {cpu:.3f} s over {wall:.1f} s = {100.0 * cpu / wall:.2f}% of one core "
        "(budget <= 1%)"
    )
    print(
        f"2. bundle: {format_size(size)} for {args.duration} -> {format_size(per_hour)} per hour "
        "(budget <= 20 MiB)"
    )
    print(
        f"3. bundle vs tar czf of one directory per sample: {format_size(size)} vs "
        f"{format_size(per_sample)} = 1/{per_sample / size:.1f} (budget <= 1/5)"
    )
    print(
        f"4. per-sample CPU: {ours * 1000:.1f} ms vs {floor * 1000:.1f} ms for a bare read loop "
        f"= {ours / floor:.2f}x (budget <= 2x)"
    )


if __name__ == "__main__":
    main()
