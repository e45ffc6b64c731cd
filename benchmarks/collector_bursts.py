#!/usr/bin/env python3
"""A sample's CPU, from outside, for several zipapps side by side: an A/B of the collector.

Sets up the load of benchmarks/collector.py (1,000 idle and 20 busy processes, 200 memory
cgroups shaped like a Kubernetes node's), then runs each zipapp for --duration at the default
5 s interval, started 5/N s apart so their samples do not coincide. Each one's threads'
on-CPU time (schedstat) is read every 20 ms and cut into bursts as in
benchmarks/collector_timeline.py; a floor pass (the bare loop of benchmarks/collector.py, at
the collector's nice 10) runs every 10 s between samples. Printed per zipapp: the median,
quartiles and mean of a sample's burst (the first and last snapshots left out), against the
floor's median.

A burst is one sample's own work; the marginal figure of benchmarks/collector.py also holds
each sample's share of writing the bundle. Bursts vary far less than a long run minus a short
one, which is why an A/B of a change to the sample is measured here.

Usage: python3 benchmarks/collector_bursts.py [--duration 3m] A.pyz B.pyz ...
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import collector_timeline as timeline

import collector as bench


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pyz", nargs="+", help="zipapps built with `make pyz`")
    p.add_argument("--duration", default="3m")
    bench.add_load_arguments(p)
    args = p.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    with bench.load_running(args.idle, args.busy, args.cgroups):
        files, _found, _sampled, status_top = bench.floor_files()
        with tempfile.TemporaryDirectory() as work:
            procs = []
            for i, pyz in enumerate(args.pyz):
                if i:
                    time.sleep(5.0 / len(args.pyz))
                out = os.path.join(work, str(i))
                os.mkdir(out)
                procs.append(
                    subprocess.Popen(
                        [sys.executable, pyz, "--duration", args.duration, "-o", out, "-q"],
                        stdout=subprocess.DEVNULL,
                    )
                )
            started = time.monotonic()
            points = [[] for _ in procs]
            floors = []
            next_floor = started + 10 + 1.2  # between the samples of up to three zipapps
            while any(proc.poll() is None for proc in procs):
                for i, proc in enumerate(procs):
                    if proc.poll() is None:
                        points[i].append((time.monotonic() - started, timeline.cpu_ns(proc.pid)))
                if time.monotonic() >= next_floor:
                    next_floor += 10
                    floors.append(bench._floor_at(bench.FLOOR_NICE, files, status_top)[1])
                time.sleep(timeline.POLL)
            if not floors:  # runs shorter than the first pass: one after them
                floors.append(bench._floor_at(bench.FLOOR_NICE, files, status_top)[1])
    floor = sorted(floors)[len(floors) // 2] * 1000
    print(f"floor at nice {bench.FLOOR_NICE}: {floor:.1f} ms (median of {len(floors)} passes)")
    for pyz, run in zip(args.pyz, points, strict=True):
        found = timeline.bursts(run)
        big = [b[2] / 1e6 for b in found if b[2] >= timeline.SMALL]
        samples = sorted(big[1:-1])  # in time order, the first and last are the start and end
        if not samples:
            raise SystemExit(f"{pyz}: no sample between the start and the end")
        n = len(samples)
        median, mean = samples[n // 2], sum(samples) / n
        print(
            f"{pyz}: {n} samples' bursts: median {median:.1f} ms = {median / floor:.2f}x, "
            f"quartiles {samples[n // 4]:.1f}-{samples[3 * n // 4]:.1f} ms, "
            f"mean {mean:.1f} ms = {mean / floor:.2f}x"
        )


if __name__ == "__main__":
    main()
