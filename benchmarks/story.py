#!/usr/bin/env python3
"""Measure what the incident story costs against its budget.

Budget (issue "The story of an incident"): building the story adds <= 10 % to vmanalyze's
end-to-end time on the one-hour benchmark bundle (720 samples at 0.5 s while 1,000 extra
processes run; collected once into /tmp/vmtriage-bench/hour.tar.gz, 6 minutes, shared with
benchmarks/analyzer.py and report.py).

Each run is one fresh process doing what `vmanalyze BUNDLE --no-cache` does (load, rules, story,
HTML report); the story's own time is measured inside the same run, so the ratio compares like
with like on this shared machine.

Usage: python3 benchmarks/story.py [--hour PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bundles import HOUR_ARGS, HOUR_EXTRA_PROCESSES, REPO, collect

CHILD = r"""
import json, sys, time
started = time.perf_counter()
from vmanalyze.analysis import analyze
from vmreports import render_html
analysis = analyze(sys.argv[1], cache=False)
html = render_html(analysis)
total = time.perf_counter() - started
story = analysis.result.story
print(json.dumps({"total_s": total, "story_s": story.duration_s, **analysis.timings,
                  "events": len(story.events), "incidents": len(story.incidents),
                  "findings": len(analysis.result.findings)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour", type=Path, default=Path("/tmp/vmtriage-bench/hour.tar.gz"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not args.hour.exists():
        print(f"collecting the one-hour bundle into {args.hour} (6 minutes)...", file=sys.stderr)
        collect(args.hour, *HOUR_ARGS, extra_processes=HOUR_EXTRA_PROCESSES)
    venv = REPO / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    shares = []
    for run in range(args.runs):
        out = subprocess.run(
            [python, "-c", CHILD, str(args.hour)],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        share = r["story_s"] / r["total_s"]
        shares.append(share)
        print(
            f"run {run + 1}: end to end {r['total_s']:.2f} s (load {r['load_s']:.2f}, rules "
            f"{r['rules_s']:.2f}, story {r['story_s']:.3f}); {r['events']} events, "
            f"{r['incidents']} incidents from {r['findings']} findings; story = "
            f"{share:.1%} of the whole"
        )
    worst = max(shares)
    print(
        f"story share, worst of {args.runs} runs: {worst:.1%} (budget <= 10 %): "
        + ("ok" if worst <= 0.10 else "OVER BUDGET")
    )
    return 0 if worst <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
