"""Collect the real bundles the benchmarks measure (shared by analyzer.py and report.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: The one-hour-equivalent bundle of the analyzer's and the report's budgets: the collector's
#: defaults except --interval 0.5s --count 720 (one hour's samples at 5 s), 1,000 extra
#: processes running.
HOUR_ARGS = ("--interval", "0.5s", "--count", "720")
HOUR_EXTRA_PROCESSES = 1000


def collect(path: Path, *args: str, extra_processes: int = 0) -> None:
    """Run the collector from this checkout into `path` while `extra_processes` idle ones run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    load = [subprocess.Popen(["sleep", "7200"]) for _ in range(extra_processes)]
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO / "collector"))
        out = subprocess.run(
            [sys.executable, "-m", "vmcollect", *args, "-o", str(path), "-q"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(f"collected {out.strip()}", file=sys.stderr)
    finally:
        for p in load:
            p.kill()
        for p in load:
            p.wait()
