#!/usr/bin/env python3
"""Measure what the incident story costs against its budget.

Budget (issue "The story of an incident"): building the story adds <= 10 % to vmanalyze's
end-to-end time on the one-hour benchmark bundle (720 samples at 0.5 s while 1,000 extra
processes run; collected once into /tmp/vmtriage-bench/hour.tar.gz, 6 minutes, shared with
benchmarks/analyzer.py and report.py).

Each run is one fresh process doing what `vmanalyze BUNDLE --no-cache` does (load, rules, story,
HTML report); the story's own time is measured inside the same run, so the ratio compares like
with like on this shared machine.

The bundle holds more text than the default --max-read-bytes: it is analyzed with the limit it
needs (bundles.HOUR_MAX_READ_BYTES), given explicitly. ``--baseline PYTHON``: the interpreter of
another checkout (its own venv), run right after the current tree in every round.

Usage: python3 benchmarks/story.py [--hour PATH] [--runs 3] [--baseline PYTHON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bundles import BENCH_DIR, HOUR_MAX_READ_BYTES, REPO, hour_bundle

CHILD = r"""
import json, sys, time
started = time.perf_counter()
from vmanalyze.analysis import analyze
from vmanalyze.inputs import Limits
from vmreports import render_html
analysis = analyze(sys.argv[1], cache=False, limits=Limits(max_read_bytes=int(sys.argv[2])))
html = render_html(analysis)
total = time.perf_counter() - started
story = analysis.result.story
print(json.dumps({"total_s": total, "story_s": story.duration_s, **analysis.timings,
                  "events": len(story.events), "incidents": len(story.incidents),
                  "findings": len(analysis.result.findings)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour", type=Path, default=BENCH_DIR / "hour.tar.gz")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="the Python of a checkout to compare with")
    args = parser.parse_args()
    hour_bundle(args.hour)
    venv = REPO / ".venv" / "bin" / "python"
    trees = {"current": str(venv) if venv.exists() else sys.executable}
    if args.baseline:
        trees["baseline"] = args.baseline
    shares: dict[str, list[float]] = {tree: [] for tree in trees}
    for run in range(args.runs):
        for tree, python in trees.items():
            out = subprocess.run(
                [python, "-c", CHILD, str(args.hour), str(HOUR_MAX_READ_BYTES)],
                check=True,
                capture_output=True,
                text=True,
                cwd=REPO,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            share = r["story_s"] / r["total_s"]
            shares[tree].append(share)
            print(
                f"run {run + 1}, {tree}: end to end {r['total_s']:.2f} s (load {r['load_s']:.2f}, "
                f"rules {r['rules_s']:.2f}, story {r['story_s']:.3f}); {r['events']} events, "
                f"{r['incidents']} incidents from {r['findings']} findings; story = "
                f"{share:.1%} of the whole"
            )
    worst = max(shares["current"])
    for tree, values in shares.items():
        print(f"{tree}: story share, worst of {args.runs} runs: {max(values):.1%}")
    print("budget <= 10 %: " + ("ok" if worst <= 0.10 else "OVER BUDGET"))
    return 0 if worst <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
