#!/usr/bin/env python3
"""Measure the HTML report against the issue's budgets.

1. Rendering the report of a one-hour bundle (720 samples at 0.5 s while 1,000 extra
   processes run), after its tables are loaded and the rules have run: <= 2 s, and the HTML
   <= 3 MiB. Timed in a fresh process, several runs; the first (cold) run is the figure.
2. ``vmanalyze BUNDLE --no-cache`` end to end on a 10-minute bundle (the collector's
   defaults: 120 samples every 5 s): <= 5 s, wall time of the command in a fresh process.

Bundles are collected once and reused: ``--hour`` (default /tmp/vmtriage-bench/hour.tar.gz,
the analyzer benchmark's bundle) takes 6 minutes, ``--ten`` (default
/tmp/vmtriage-bench/ten-minutes.tar.gz) takes 10 minutes (``--quick-ten`` collects the same
120 samples every 0.5 s instead: 1 minute, the same amount of data over a shorter time).

The one-hour bundle holds more text than the default --max-read-bytes: it is analyzed with the
limit it needs (bundles.HOUR_MAX_READ_BYTES), given explicitly.

``--baseline PYTHON``: the interpreter of another checkout (its own venv), measured in the same
run, each figure right after the current tree's, so both see the same machine load; the
10-minute bundle is then rewritten as format 1 (bundles.rewrite) so that both read it.

Usage: python3 benchmarks/report.py [--hour PATH] [--ten PATH] [--quick-ten] [--runs 3]
       [--baseline PYTHON]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bundles import BENCH_DIR, HOUR_MAX_READ_BYTES, REPO, collect, hour_bundle, rewrite

MIB = 1024 * 1024

RENDER_CHILD = r"""
import json, sys, time
path, runs, max_read = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from vmanalyze.analysis import analyze
from vmanalyze.inputs import Limits
started = time.perf_counter()
# tables from the cache after the first run, then the rules
analysis = analyze(path, limits=Limits(max_read_bytes=max_read))
prepared = time.perf_counter() - started
from vmreports import render_html
times, size = [], 0
for _ in range(runs):
    t = time.perf_counter()
    html = render_html(analysis)
    times.append(time.perf_counter() - t)
    size = len(html.encode("utf-8"))
print(json.dumps({
    "render_s": times, "html_bytes": size, "prepare_s": prepared,
    "timings": analysis.timings, "findings": len(analysis.result.findings),
    "rules": len(analysis.result.rules),
    "process_samples": len(analysis.dataset.tables.get("process_samples", [])),
    "samples": analysis.dataset.sample_count,
}))
"""


def python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def measure_render(python: str, bundle: Path, runs: int, cache: Path) -> dict:
    env = dict(os.environ, VMANALYZE_CACHE_DIR=str(cache))
    out = subprocess.run(
        [python, "-c", RENDER_CHILD, str(bundle), str(runs), str(HOUR_MAX_READ_BYTES)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_end_to_end(python: str, bundle: Path, runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory(prefix="vmtriage-bench-") as tmp:
        env = dict(os.environ, VMANALYZE_CACHE_DIR=str(Path(tmp) / "cache"))
        for i in range(runs):
            target = Path(tmp) / f"report-{i}.html"
            started = time.perf_counter()
            subprocess.run(
                [python, "-m", "vmanalyze", str(bundle), "--no-cache", "-o", str(target)],
                check=True,
                capture_output=True,
                env=env,
                cwd=REPO,
            )
            times.append(time.perf_counter() - started)
            assert target.stat().st_size > 0
    return times


BREAKDOWN_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from vmanalyze.analysis import analyze
from vmreports import render_html
imported = time.perf_counter()
analysis = analyze(sys.argv[1], cache=False)
analyzed = time.perf_counter()
html = render_html(analysis)
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, **analysis.timings,
                  "render_s": done - analyzed, "total_s": done - started}))
"""


def breakdown(python: str, bundle: Path) -> dict:
    """Where the end-to-end time goes (in one process, tables parsed again)."""
    out = subprocess.run(
        [python, "-c", BREAKDOWN_CHILD, str(bundle)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER BUDGET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour", type=Path, default=BENCH_DIR / "hour.tar.gz")
    parser.add_argument("--ten", type=Path, default=BENCH_DIR / "ten-minutes.tar.gz")
    parser.add_argument("--quick-ten", action="store_true", help="collect 120 samples at 0.5 s")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="the Python of a checkout to compare with")
    args = parser.parse_args()

    hour_bundle(args.hour)
    if not args.ten.exists():
        interval = "0.5s" if args.quick_ten else "5s"
        print(f"collecting the 10-minute bundle into {args.ten}...", file=sys.stderr)
        collect(args.ten, "--interval", interval, "--count", "120")
    trees = {"current": python()}
    if args.baseline:
        trees["baseline"] = args.baseline
        # The same capture in the format both read (a checkout before format 2 reads only 1).
        args.ten = rewrite(args.ten, args.ten.with_name(f"format1-{args.ten.name}"), 1)

    renders, ends, parts = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="vmtriage-bench-") as tmp:
        for tree, interpreter in trees.items():
            renders[tree] = measure_render(interpreter, args.hour, args.runs, Path(tmp) / tree)
    for _ in range(args.runs):  # run by run, alternating the trees
        for tree, interpreter in trees.items():
            ends.setdefault(tree, []).extend(measure_end_to_end(interpreter, args.ten, 1))
    for tree, interpreter in trees.items():
        parts[tree] = breakdown(interpreter, args.ten)

    ok = True
    print(f"one-hour bundle: {args.hour} ({args.hour.stat().st_size / MIB:.1f} MiB)")
    for tree, r in renders.items():
        first, rest = r["render_s"][0], r["render_s"][1:] or r["render_s"]
        size = r["html_bytes"]
        print(f" {tree} ({trees[tree]}):")
        print(
            f"  {r['samples']} samples, {r['process_samples']:,} process samples, "
            f"{r['rules']} rules, {r['findings']} findings"
        )
        print(f"  load + rules (not in the budget): {r['prepare_s']:.2f} s {r['timings']}")
        print(
            f"  render_html: {first:.2f} s first run, {statistics.median(rest):.2f} s median of "
            f"the next {len(rest)} (budget <= 2 s): {verdict(first <= 2.0)}"
        )
        print(f"  HTML size: {size / MIB:.2f} MiB (budget <= 3 MiB): {verdict(size <= 3 * MIB)}")
        ok = ok and first <= 2.0 and size <= 3 * MIB

    print(f"10-minute bundle: {args.ten} ({args.ten.stat().st_size / MIB:.1f} MiB)")
    for tree, times in ends.items():
        print(
            f" {tree}: vmanalyze --no-cache end to end: {', '.join(f'{t:.2f}' for t in times)} s;"
            f" median {statistics.median(times):.2f} s (budget <= 5 s): "
            f"{verdict(statistics.median(times) <= 5.0)}"
        )
        print("  of which: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts[tree].items()))
        ok = ok and statistics.median(times) <= 5.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
