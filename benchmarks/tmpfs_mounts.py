#!/usr/bin/env python3
"""Measure what the tmpfs mounts member costs: mount table + statvfs, at start and end only.

Times `vmcollect.mounts.snapshot` (read the mount table, statvfs every reachable tmpfs-like
mount, keep 64, render the text) on this host as it is, then, as root, with `--extra` more
1 MiB tmpfs mounts holding small files (a Kubernetes node's secret volumes), removed
afterwards. Prints the best of `--rounds` wall-clock times and the record's size.

Usage: sudo python3 benchmarks/tmpfs_mounts.py [--rounds 20] [--extra 500]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collector"))

from vmcollect import mounts, sources  # noqa: E402


def measure(rounds):
    roots = sources.Roots()
    best = float("inf")
    data, listed = b"", ()
    for _ in range(rounds):
        start = time.perf_counter()
        data, listed = mounts.snapshot(roots)
        best = min(best, time.perf_counter() - start)
    return best * 1e3, len(data or b""), len(listed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--extra", type=int, default=500)
    args = parser.parse_args()
    ms, size, listed = measure(args.rounds)
    print(f"this host: {ms:.3f} ms, {size} bytes, {listed} mounts listed")
    if os.geteuid() != 0 or args.extra <= 0:
        return
    base = tempfile.mkdtemp(prefix="vmtriage-bench-tmpfs-")
    points = []
    try:
        for i in range(args.extra):
            point = os.path.join(base, f"vol{i:04d}")
            os.mkdir(point)
            subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", point])
            points.append(point)
            with open(os.path.join(point, "token"), "wb") as f:
                f.write(b"x" * (100 * (i % 50)))
        ms, size, listed = measure(args.rounds)
        print(f"+{args.extra} tmpfs: {ms:.3f} ms, {size} bytes, {listed} mounts listed")
    finally:
        for point in points:
            subprocess.call(["umount", point])
        for point in points:
            os.rmdir(point)
        os.rmdir(base)


if __name__ == "__main__":
    main()
