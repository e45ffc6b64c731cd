#!/usr/bin/env python3
"""Measure `vmanalyze batch` against the budget of issue 7.

Makes N copies of one real ten-minute bundle with the host name varied (manifest.json
host.hostname = bench-000, bench-001, ...; everything else as captured), then runs, in one
invocation so that the ratios compare like with like on this (shared) machine:

1. `vmanalyze batch --jobs 2` over the N bundles (target >= 60 bundles/min);
2. `vmanalyze batch --jobs 1` over the first --jobs1-count of them (speed-up of --jobs 2
   over --jobs 1 from the two rates; target >= 1.7);
3. `vmanalyze batch --scheduler` on a two-worker Dask LocalCluster (processes, TCP on
   127.0.0.1) over the first --cluster-count of them;

and prints bundles per minute, the speed-up, and the peak RSS per worker process (from
inputs.parquet: ru_maxrss of the worker after each input; target <= 1 GiB), plus the mean
seconds per stage (load, rules, report, parts) to show where the time goes.

The source bundle: --source PATH, or one collected now with
`PYTHONPATH=collector python3 -m vmcollect --interval 5s --duration 10m` (ten real minutes;
--fast collects `--interval 1s --count 120` instead: the same 120 samples in two minutes).

The copies are reproducible: the same bytes from the same source on every run (the source's
member times, no gzip timestamp).

``--baseline PYTHON``: the interpreter of another checkout (its own venv) also runs the
``--jobs 2`` batch over the same copies, right after the current tree's.

Usage: .venv/bin/python benchmarks/fleet.py [--source BUNDLE] [--count 200]
       [--jobs1-count 200] [--cluster-count 200] [--no-cluster] [--work DIR]
       [--baseline PYTHON]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def collect(work: Path, fast: bool) -> Path:
    target = work / "source"
    target.mkdir(parents=True, exist_ok=True)
    timing = ["--interval", "1s", "--count", "120"] if fast else ["--interval", "5s"]
    timing += [] if fast else ["--duration", "10m"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "collector"))
    print(f"collecting a source bundle: vmcollect {' '.join(timing)}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "vmcollect", *timing, "-o", str(target), "--quiet"],
        env=env,
        check=True,
    )
    return sorted(target.glob("*.tar.gz"))[-1]


def make_copies(source: Path, directory: Path, count: int) -> list[Path]:
    """Copies of `source` whose manifest names another host (bench-NNN)."""
    directory.mkdir(parents=True, exist_ok=True)
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(source, "r:gz") as tar:
        for info in tar:
            f = tar.extractfile(info) if info.isfile() else None
            members.append((info, f.read() if f else None))
    paths = []
    for i in range(count):
        path = directory / f"bench-{i:03d}.tar.gz"
        paths.append(path)
        if path.exists():
            continue
        with (
            open(path, "xb") as raw,
            gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz,  # no name, no time
            tarfile.open(fileobj=gz, mode="w|") as out,
        ):
            for info, data in members:
                if info.name.endswith("manifest.json") and data is not None:
                    manifest = json.loads(data)
                    manifest["host"]["hostname"] = f"bench-{i:03d}"
                    data = json.dumps(manifest, indent=1).encode()
                    mtime = info.mtime
                    info = tarfile.TarInfo(info.name)
                    info.size = len(data)
                    info.mtime = mtime
                out.addfile(info, io.BytesIO(data) if data is not None else None)
    return paths


def run_batch(
    inputs: list[Path],
    out: Path,
    extra: list[str],
    cache_dir: Path,
    python: str = sys.executable,
) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, VMANALYZE_CACHE_DIR=str(cache_dir))
    command = [python, "-m", "vmanalyze", "batch", *map(str, inputs), "-o", str(out)]
    command += [*extra, "-q"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"batch failed with status {done.returncode}")
    import pandas as pd

    frame = pd.read_parquet(out / "inputs.parquet")
    workers = frame.groupby("worker")["peak_rss_bytes"].max()
    return {
        "inputs": len(inputs),
        "ok": int((frame["status"] == "ok").sum()),
        "wall_s": round(wall, 1),
        "per_min": round(len(inputs) / wall * 60, 2),
        "busy": round(float(frame["total_s"].sum()) / wall, 2),  # worker-seconds per second
        "peak_rss_per_worker_mib": round(float(workers.max()) / 2**20, 1),
        "worker_processes": int(len(workers)),
        "mean_s": {
            k: round(float(frame[k].mean()), 3)
            for k in ("load_s", "rules_s", "report_s", "parts_s", "total_s", "cpu_s")
            if k in frame
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="a real ten-minute vmcollect bundle")
    parser.add_argument(
        "--fast", action="store_true", help="collect with --interval 1s --count 120"
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs1-count", type=int, default=None)
    parser.add_argument("--cluster-count", type=int, default=None)
    parser.add_argument("--no-cluster", action="store_true")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--baseline", help="the Python of a checkout to compare with")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="vmtriage-fleet-bench-"))
    source = args.source or collect(work, args.fast)
    print(f"source bundle: {source.name} ({source.stat().st_size / 2**20:.1f} MiB)", flush=True)
    started = time.perf_counter()
    copies = make_copies(source, work / "bundles", args.count)
    print(f"{len(copies)} copies in {time.perf_counter() - started:.0f}s", flush=True)
    cache = work / "cache"
    load = os.getloadavg()
    results: dict[str, Any] = {"source": source.name, "loadavg_before": load}

    results["jobs2"] = run_batch(copies, work / "out-j2", ["--jobs", "2"], cache)
    print(f"--jobs 2: {json.dumps(results['jobs2'])}", flush=True)
    if args.baseline:
        results["baseline_jobs2"] = run_batch(
            copies, work / "out-base-j2", ["--jobs", "2"], work / "cache-base", args.baseline
        )
        print(f"baseline --jobs 2: {json.dumps(results['baseline_jobs2'])}", flush=True)
    n1 = min(args.jobs1_count or args.count, len(copies))
    results["jobs1"] = run_batch(copies[:n1], work / "out-j1", ["--jobs", "1"], cache)
    print(f"--jobs 1: {json.dumps(results['jobs1'])}", flush=True)

    if not args.no_cluster:
        from distributed import LocalCluster

        nc = min(args.cluster_count or args.count, len(copies))
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="4GiB",
        ) as cluster:
            results["cluster"] = run_batch(
                copies[:nc], work / "out-dask", ["--scheduler", cluster.scheduler_address], cache
            )
        print(f"LocalCluster(2): {json.dumps(results['cluster'])}", flush=True)

    speedup = results["jobs2"]["per_min"] / results["jobs1"]["per_min"]
    results["speedup"] = round(speedup, 2)
    results["loadavg_after"] = os.getloadavg()
    print()
    print(f"bundles/min  --jobs 1: {results['jobs1']['per_min']:7.1f}   (target: -)")
    print(f"bundles/min  --jobs 2: {results['jobs2']['per_min']:7.1f}   (target >= 60)")
    if "baseline_jobs2" in results:
        print(f"bundles/min  --jobs 2, baseline: {results['baseline_jobs2']['per_min']:7.1f}")
    if "cluster" in results:
        print(f"bundles/min  LocalCluster(2 workers): {results['cluster']['per_min']:7.1f}")
    print(f"speed-up --jobs 2 / --jobs 1: {speedup:.2f}   (target >= 1.7)")
    rss = max(
        r["peak_rss_per_worker_mib"]
        for k, r in results.items()
        if isinstance(r, dict) and "peak_rss_per_worker_mib" in r
    )
    print(f"peak RSS per worker: {rss:.0f} MiB   (target <= 1024 MiB)")
    print(f"mean seconds per input (--jobs 2): {results['jobs2']['mean_s']}")
    print(f"load average before/after: {load} / {results['loadavg_after']} (shared machine)")
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
