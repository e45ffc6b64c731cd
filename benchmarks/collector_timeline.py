#!/usr/bin/env python3
"""Where a vmcollect run's CPU goes, seen from outside: start, each sample, idle, end.

Sets up the load of benchmarks/collector.py (idle and busy processes, memory cgroups shaped
like a Kubernetes node's), then runs the zipapp once per duration given, one at a time, at
the default 5 s interval. While a run lasts, its threads' on-CPU time
(/proc/<pid>/task/*/schedstat, nanoseconds) is read every 20 ms, and a floor pass (the bare
loop of benchmarks/collector.py, at the collector's nice 10) runs every 10 s between samples.
CPU is then split into bursts: the start (start snapshot and the first sample), the samples,
the end (the last sample, the end snapshot and writing the bundle) and the idle wake-ups in
between. For two durations, the long run minus the short one per extra sample is split the
same way, so the marginal figure of benchmarks/collector.py can be accounted for part by part.

schedstat misses the CPU of threads that have exited (the command-line and deep-file reader
threads) and the last 20 ms: the line "threads and exit" is wait4's total minus what was seen.

Usage: python3 benchmarks/collector_timeline.py [--durations 4m,1m] [--pyz dist/vmcollect.pyz]
"""

import argparse
import glob
import os
import resource
import subprocess
import sys
import tempfile
import time

import collector as bench

POLL = 0.02
GAP = 0.3  # seconds without CPU that end a burst
SMALL = 2e6  # ns: a burst below this is an idle wake-up, not a sample


def cpu_ns(pid):
    """On-CPU nanoseconds of the live threads of `pid`."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def timeline(pyz, duration, out_dir, files, status_top):
    """Run the zipapp; ([(seconds, CPU ns)], wait4 CPU seconds, floor passes' CPU seconds)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, pyz, "--duration", duration, "-o", out_dir, "-q"],
        stdout=subprocess.DEVNULL,
    )
    points, floors = [], []
    next_floor = started + 10 + bench.FLOOR_PHASE
    while True:
        pid, _status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            if not floors:  # a run shorter than the first pass: one after it
                floors.append(bench._floor_at(bench.FLOOR_NICE, files, status_top)[1])
            return points, usage.ru_utime + usage.ru_stime, floors
        points.append((time.monotonic() - started, cpu_ns(proc.pid)))
        if time.monotonic() >= next_floor:
            next_floor += 10
            floors.append(bench._floor_at(bench.FLOOR_NICE, files, status_top)[1])
        time.sleep(POLL)


def bursts(points):
    """[[first second, last second, CPU ns]] of the run's bursts of CPU."""
    out, current = [], None
    for (_t0, c0), (t1, c1) in zip(points, points[1:], strict=False):
        if c1 > c0:
            if current and t1 - current[1] < GAP:
                current[1] = t1
                current[2] += c1 - c0
            else:
                current = [t1 - POLL, t1, c1 - c0]
                out.append(current)
    return out


def split(points, cpu):
    """({part: CPU seconds}, the CPU ns of each sample's burst between the start and the end,
    sorted)."""
    found = bursts(points)
    big = [b for b in found if b[2] >= SMALL]
    samples = [b[2] for b in big[1:-1]]
    seen = points[-1][1] / 1e9
    return {
        "start": big[0][2] / 1e9,
        "samples": sum(samples) / 1e9,
        "end": big[-1][2] / 1e9,
        "idle": sum(b[2] for b in found if b[2] < SMALL) / 1e9,
        "threads and exit": cpu - seen,
        "total (wait4)": cpu,
    }, sorted(samples)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--durations", default="4m,1m", help="runs, one after the other")
    p.add_argument("--pyz", default=os.path.join(bench.REPO, "dist", "vmcollect.pyz"))
    bench.add_load_arguments(p)
    args = p.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    runs = []
    with bench.load_running(args.idle, args.busy, args.cgroups):
        files, _found, _sampled, status_top = bench.floor_files()
        with tempfile.TemporaryDirectory() as work:
            for i, duration in enumerate(args.durations.split(",")):
                out = os.path.join(work, str(i))
                os.mkdir(out)
                points, cpu, floors = timeline(args.pyz, duration, out, files, status_top)
                parts, samples = split(points, cpu)
                if not samples:
                    raise SystemExit(f"{duration}: no sample between the start and the end")
                floor = sorted(floors)[len(floors) // 2]
                mean = sum(samples) / len(samples) / 1e9
                runs.append((duration, parts, len(samples) + 2))
                print(
                    f"== {duration}: {len(samples) + 2} samples; floor at nice "
                    f"{bench.FLOOR_NICE} {floor * 1000:.1f} ms (median of {len(floors)} passes); "
                    f"a sample's burst: median {samples[len(samples) // 2] / 1e6:.1f} ms, "
                    f"mean {mean * 1000:.1f} ms (the mean includes the cgroup walk every 12 "
                    f"samples) = {mean / floor:.2f}x"
                )
                print("   " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items()))
    if len(runs) == 2:
        (long_d, long_p, long_n), (short_d, short_p, short_n) = runs
        extra = long_n - short_n
        print(f"== {long_d} minus {short_d}, per extra sample ({extra}):")
        print(
            "   "
            + ", ".join(f"{k} {(long_p[k] - short_p[k]) * 1000 / extra:.2f} ms" for k in long_p)
        )


if __name__ == "__main__":
    main()
