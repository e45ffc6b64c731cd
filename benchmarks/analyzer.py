#!/usr/bin/env python3
"""Measure loading a one-hour bundle into tables against the issue's budgets.

The bundle: the collector's defaults except ``--interval 0.5s --count 720`` (the sample count
of one hour at 5 s) while 1,000 extra processes run. It is collected once into
``--bundle`` (default /tmp/vmtriage-bench/hour.tar.gz) and reused. A format-1 bundle (as the
collector wrote before format 2) is also rewritten, once and reproducibly, as format 2 (repeat
records; ``hour-format2.tar.gz`` beside it): the same capture in both formats.

Loading is given the reading limit the bundle needs (bundles.HOUR_MAX_READ_BYTES): it holds more
text than the default --max-read-bytes.

Prints: wall time and peak RSS of loading and building all tables (budget <= 10 s, <= 2 GiB),
the ratio to the floor (decompress the bundle and split every line of every file in Python,
nothing else; budget <= 3x), and the cached second load (budget <= 1 s).

``--baseline PYTHON``: the interpreter of another checkout (its own venv, e.g. a ``git worktree``
of the commit to compare with), measured in the same run: every round runs the floor, then each
tree on each bundle it can read, one after the other, so both see the same machine load. The
baseline reads the format-1 bundle only when it predates format 2.

Usage: python3 benchmarks/analyzer.py [--bundle PATH] [--runs 3] [--baseline PYTHON]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bundles import BENCH_DIR, HOUR_MAX_READ_BYTES, REPO, hour_bundle, rewrite_format2

CHILD = r"""
import json, resource, sys, time
mode, path, cache, max_read = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if mode != "floor":
    import os
    os.environ["VMANALYZE_CACHE_DIR"] = cache
    import vmanalyze  # imports are not part of loading: pandas and pyarrow take ~0.5 s
    import vmanalyze.dataset
    from vmanalyze.inputs import Limits, SUPPORTED_FORMAT_VERSIONS
    limits = Limits(max_read_bytes=max_read)
    if mode == "formats":
        print(json.dumps({"formats": list(SUPPORTED_FORMAT_VERSIONS)}))
        sys.exit(0)
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
cpu = time.process_time()
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
    ds = vmanalyze.load(path, cache=(mode != "nocache"), limits=limits)
    if ds.warnings:
        print("\n".join(ds.warnings[:3]), file=sys.stderr)
    lines = sum(len(df) for df in ds.tables.values())
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = usage.ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "cpu": time.process_time() - cpu, "peak_rss": peak,
                  "count": lines, "phases": phases}))
"""


def child(python: str, mode: str, bundle: Path, cache: str) -> dict:
    out = subprocess.run(
        [python, "-c", CHILD, mode, str(bundle), cache, str(HOUR_MAX_READ_BYTES)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def default_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def bundle_format(bundle: Path) -> int:
    with tarfile.open(bundle) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return int(json.load(member)["format_version"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=BENCH_DIR / "hour.tar.gz")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--baseline", help="the Python of a checkout to compare with")
    args = p.parse_args()
    bundles = {f"format {bundle_format(hour_bundle(args.bundle))}": args.bundle}
    if "format 1" in bundles:
        two = args.bundle.with_name(args.bundle.name.replace(".tar.gz", "") + "-format2.tar.gz")
        bundles["format 2"] = rewrite_format2(args.bundle, two)
    trees = {"current": default_python()}
    if args.baseline:
        trees = {"baseline": args.baseline, **trees}
    columns = []  # (tree, bundle name)
    for tree, python in trees.items():
        with tempfile.TemporaryDirectory() as cache:
            formats = child(python, "formats", args.bundle, cache)["formats"]
        columns += [(tree, name) for name in bundles if int(name.split()[1]) in formats]
    results: dict[object, list[dict]] = {"floor": []}
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(args.runs):
            results["floor"].append(child(default_python(), "floor", args.bundle, cache))
            for tree, name in columns:
                r = child(trees[tree], "nocache", bundles[name], cache)
                results.setdefault((tree, name), []).append(r)
        for tree, name in columns:
            cached = os.path.join(cache, tree)
            child(trees[tree], "cache", bundles[name], cached)  # fills the cache
            for _ in range(args.runs):
                r = child(trees[tree], "cache", bundles[name], cached)
                results.setdefault((tree, name, "cached"), []).append(r)

    def best(key: object) -> dict:
        return min(results[key], key=lambda r: r["seconds"])

    floor = best("floor")
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; best of {args.runs} runs")
    for name, path in bundles.items():
        with tarfile.open(path) as tar:
            raw = sum(m.size for m in tar.getmembers())
        print(
            f"bundle, {name}: {path} {path.stat().st_size / 2**20:.1f} MiB compressed, "
            f"{raw / 2**20:.0f} MiB of members"
        )
    print(f"floor (decompress + split every line of {args.bundle.name}): {floor['seconds']:.2f} s")
    for tree, name in columns:
        full, cached = best((tree, name)), best((tree, name, "cached"))
        runs = results[(tree, name)]
        print(f"{tree} ({trees[tree]}), {name}:")
        print(
            f"  1. load + build all tables: {full['seconds']:.2f} s wall (budget <= 10 s), "
            f"peak RSS {full['peak_rss'] / 2**30:.2f} GiB (budget <= 2 GiB), "
            f"{full['count']:,} rows"
        )
        print(
            f"     of which reading the archive {full['phases']['read']:.2f} s, building the "
            f"tables {full['phases']['tables']:.2f} s; all runs: "
            + ", ".join(f"{r['seconds']:.2f}" for r in runs)
            + " s wall, "
            + ", ".join(f"{r['cpu']:.2f}" for r in runs)
            + f" s CPU (median {statistics.median(r['cpu'] for r in runs):.2f}); reading: "
            + ", ".join(f"{r['phases']['read']:.2f}" for r in runs)
            + f" s; highest peak RSS {max(r['peak_rss'] for r in runs) / 2**30:.2f} GiB"
        )
        print(f"  2. {full['seconds'] / floor['seconds']:.2f}x the floor (budget <= 3x)")
        print(f"  3. cached second load: {cached['seconds']:.2f} s (budget <= 1 s)")


if __name__ == "__main__":
    main()
