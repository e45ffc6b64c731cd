#!/usr/bin/env python3
"""Measure reading each input once (issue 15, requirement 5), before and after.

Runs, alternating the trees so that both see the same load on this shared machine:

1. ``vmanalyze BUNDLE -f json`` with an empty cache (a miss: hashed for the key, then
   parsed; the default run of a new bundle), ``--runs`` times per tree;
2. the same with ``--no-cache``;
3. ``vmanalyze batch --jobs 2 --cache`` over ``--count`` copies of the bundle (the host name
   varied, as benchmarks/fleet.py makes them) plus one byte-identical duplicate of each of
   the first two (so the client hashes some inputs for the duplicate check).

``--before DIR``: a checkout of the code to compare with (e.g. ``git archive <commit> |
tar -x -C DIR``), put first on PYTHONPATH for its runs; the current tree is "after".
Prints the median wall and CPU time (user + system, the workers included) of each figure
per tree: on a busy machine the CPU time compares better.

Usage: .venv/bin/python benchmarks/read_once.py [--bundle BUNDLE] [--runs 5] [--count 20]
       [--before DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import make_copies  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LARGEST = max((REPO / "sample-bundles").glob("*.tar.gz"), key=lambda p: p.stat().st_size)


def _env(tree: Path | None, cache: Path) -> dict[str, str]:
    env = dict(os.environ, VMANALYZE_CACHE_DIR=str(cache))
    env.pop("VMANALYZE_CACHE_MAX", None)
    if tree is not None:
        paths = [tree / "analyzer", tree / "reports", tree / "rules"]
        env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return env


def _cpu() -> float:
    """CPU seconds of the finished children (and the workers they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU: less skewed by other work on the machine)."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(command[:4])}... failed with status {done.returncode}")
    return wall, _cpu() - cpu


def analyze(tree: Path | None, bundle: Path, work: Path, *, cache: bool) -> tuple[float, float]:
    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    command = [sys.executable, "-m", "vmanalyze", str(bundle), "-f", "json"]
    command += ["-o", str(work / "out.json"), *([] if cache else ["--no-cache"])]
    return _timed(command, _env(tree, cache_dir))


def batch(tree: Path | None, inputs: list[Path], work: Path) -> tuple[float, float]:
    out, cache_dir = work / "fleet", work / "cache"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache_dir, ignore_errors=True)
    command = [sys.executable, "-m", "vmanalyze", "batch", *map(str, inputs), "-o", str(out)]
    command += ["--jobs", "2", "--cache", "-q"]
    wall, cpu = _timed(command, _env(tree, cache_dir))
    import pandas as pd

    # The pool's workers are the forkserver's children, not counted above: their own figure.
    workers = float(pd.read_parquet(out / "inputs.parquet")["cpu_s"].sum())
    return wall, cpu + workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=LARGEST)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vmtriage-read-once-"))
    copies = make_copies(args.bundle, work / "copies", args.count)
    for i, path in enumerate(copies[:2]):
        duplicate = work / "copies" / f"dup-{i}.tar.gz"
        shutil.copyfile(path, duplicate)
        copies.append(duplicate)
    trees = {"after": None} if args.before is None else {"before": args.before, "after": None}
    figures: dict[str, dict[str, list[tuple[float, float]]]] = {name: {} for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            f = figures[name]
            f.setdefault("analyze, empty cache", []).append(
                analyze(tree, args.bundle, work, cache=True)
            )
            f.setdefault("analyze --no-cache", []).append(
                analyze(tree, args.bundle, work, cache=False)
            )
    for _ in range(max(1, args.runs // 2)):
        for name, tree in trees.items():
            figures[name].setdefault(f"batch of {len(copies)}", []).append(
                batch(tree, copies, work)
            )
    print(f"bundle: {args.bundle.name} ({args.bundle.stat().st_size / 1024:.0f} KiB)")
    for name, f in figures.items():
        for figure, runs in f.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            each = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs)
            print(f"{name:6} {figure:22} median wall {wall:.2f} s, CPU {cpu:.2f} s ({each})")


if __name__ == "__main__":
    main()
