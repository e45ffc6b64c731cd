#!/usr/bin/env python3
"""Measure loading a one-hour bundle into tables against the issue's budgets.

The bundle: the collector's defaults except ``--interval 0.5s --count 720`` (the sample count
of one hour at 5 s) while 1,000 extra processes run. It is collected once into
``--bundle`` (default /tmp/vmtriage-bench/hour.tar.gz) and reused.

Prints: wall time and peak RSS of loading and building all tables (budget <= 10 s, <= 2 GiB),
the ratio to the floor (decompress the bundle and split every line of every file in Python,
nothing else; budget <= 3x), and the cached second load (budget <= 1 s).

Usage: python3 benchmarks/analyzer.py [--bundle PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bundles import HOUR_ARGS, HOUR_EXTRA_PROCESSES, collect

CHILD = r"""
import json, resource, sys, time
mode, path, cache = sys.argv[1], sys.argv[2], sys.argv[3]
if mode != "floor":
    import os
    os.environ["VMANALYZE_CACHE_DIR"] = cache
    import vmanalyze  # imports are not part of loading: pandas and pyarrow take ~0.5 s
    import vmanalyze.dataset
phases = {}
if mode == "nocache":
    def timed(name, function):
        def run(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = time.perf_counter() - begun
        return run
    vmanalyze.dataset.read_input = timed("read", vmanalyze.dataset.read_input)
    vmanalyze.dataset.build_tables = timed("tables", vmanalyze.dataset.build_tables)
started = time.perf_counter()
if mode == "floor":
    import tarfile
    lines = 0
    with tarfile.open(path, "r|gz") as tar:
        for member in tar:
            f = tar.extractfile(member)
            if f is None:
                continue
            for line in f.read().decode("utf-8", "replace").splitlines():
                lines += len(line.split())
else:
    ds = vmanalyze.load(path, cache=(mode != "nocache"))
    lines = sum(len(df) for df in ds.tables.values())
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "peak_rss": peak, "count": lines, "phases": phases}))
"""


def child(mode: str, bundle: Path, cache: str) -> dict:
    import json

    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(bundle), cache],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=Path("/tmp/vmtriage-bench/hour.tar.gz"))
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    if not args.bundle.exists():
        print("collecting the one-hour-equivalent bundle (6 minutes)...", file=sys.stderr)
        collect(args.bundle, *HOUR_ARGS, extra_processes=HOUR_EXTRA_PROCESSES)
    with tarfile.open(args.bundle) as tar:
        raw = sum(m.size for m in tar.getmembers())
    results: dict[str, list[dict]] = {"floor": [], "nocache": [], "cached": []}
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(args.runs):
            results["floor"].append(child("floor", args.bundle, cache))
            results["nocache"].append(child("nocache", args.bundle, cache))
        child("cache", args.bundle, cache)  # fills the cache
        for _ in range(args.runs):
            results["cached"].append(child("cache", args.bundle, cache))

    def best(mode: str) -> dict:
        return min(results[mode], key=lambda r: r["seconds"])

    floor, full, cached = best("floor"), best("nocache"), best("cached")
    times = sorted(r["seconds"] for r in results["nocache"])
    highest_rss = max(r["peak_rss"] for r in results["nocache"])
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; best of {args.runs} runs")
    print(
        f"bundle: {args.bundle.stat().st_size / 2**20:.1f} MiB compressed, "
        f"{raw / 2**20:.0f} MiB of captured text"
    )
    print(
        f"1. load + build all tables: {full['seconds']:.2f} s wall (budget <= 10 s), "
        f"peak RSS {full['peak_rss'] / 2**30:.2f} GiB (budget <= 2 GiB), "
        f"{full['count']:,} rows"
    )
    print(
        f"   of which reading the archive {full['phases']['read']:.2f} s, building the "
        f"tables {full['phases']['tables']:.2f} s; all {args.runs} runs: "
        + ", ".join(f"{t:.2f}" for t in times)
        + f" s, highest peak RSS {highest_rss / 2**30:.2f} GiB"
    )
    print(
        f"2. floor (decompress + split every line): {floor['seconds']:.2f} s -> "
        f"{full['seconds'] / floor['seconds']:.2f}x the floor (budget <= 3x)"
    )
    print(f"3. cached second load: {cached['seconds']:.2f} s (budget <= 1 s)")


if __name__ == "__main__":
    main()
