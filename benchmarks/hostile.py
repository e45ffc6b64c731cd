#!/usr/bin/env python3
"""Run the worst crafted inputs through ``vmanalyze`` under its default limits.

Builds (once, into ``--dir``, default /tmp/vmtriage-bench/hostile):

- ``sparse.tar``: one GNU sparse ``proc/meminfo`` declaring 3 GiB (2 KiB on disk);
- ``sparse-sos.tar.gz``: the same member inside a real bundle's files (the rest is analyzed);
- ``huge.tar.gz``: one 3 GiB ``proc/meminfo`` of repeated text, gzip -9 (about 3 MiB);
- ``huge-100g.tar``: a sparse member declaring 100 GiB (over ``--max-bytes``);
- ``tiny.tar.gz``: 2 million empty members (over ``--max-members``);
- ``full.tar.gz`` (with ``--full``): a bundle whose system-wide members hold real records
  repeated up to just under ``--max-member-bytes`` each, 8 of them, 480 MiB (with
  samples.jsonl, just under ``--max-read-bytes``): the most the analyzer parses one record at
  a time under the defaults.

Each is analyzed by ``vmanalyze analyze INPUT --format json -o - --no-cache`` in a child
process; prints its exit status, the first line of its standard error, wall time and peak RSS
(budget: <= 2 GiB and <= 30 s each, refused or analyzed), and its CPU time: on a shared
machine the wall time includes waiting for a core. ``--member-cap`` also runs the
tiny-members input with ``--max-members 2100000`` (analyzed, not refused).

``--baseline PYTHON``: the interpreter of another checkout (its own venv) analyzes each input too,
right after the current tree, under the same (default) limits.

Usage: python3 benchmarks/hostile.py [--dir DIR] [--member-cap] [--full] [--baseline PYTHON]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "vmanalyze" / "tables"))

import crafted  # noqa: E402 - the test suite's crafted inputs


def build(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "sparse member, 3 GiB declared": directory / "sparse.tar",
        "sparse member in a real bundle's files": directory / "sparse-sos.tar.gz",
        "one huge member, 3 GiB": directory / "huge.tar.gz",
        "sparse member, 100 GiB declared": directory / "huge-100g.tar",
        "2 million tiny members": directory / "tiny.tar.gz",
    }
    sparse = crafted.sparse_member("proc/meminfo", 3 << 30)
    if not paths["sparse member, 3 GiB declared"].exists():
        paths["sparse member, 3 GiB declared"].write_bytes(sparse + crafted.end_of_archive())
    if not paths["sparse member in a real bundle's files"].exists():
        # The real bundle's files as a captured tree, whose proc/meminfo is the sparse one.
        files = [m for m in crafted.captured_tree("host/") if m[0] != "host/proc/meminfo"]
        with gzip.open(paths["sparse member in a real bundle's files"], "wb") as out:
            out.write(crafted.sparse_member("host/proc/meminfo", 3 << 30))
            out.write(b"".join(crafted.member(name, data) for name, data in files))
            out.write(crafted.end_of_archive())
    if not paths["one huge member, 3 GiB"].exists():
        crafted.write_huge_member(paths["one huge member, 3 GiB"], "proc/meminfo", 3 << 30)
    if not paths["sparse member, 100 GiB declared"].exists():
        paths["sparse member, 100 GiB declared"].write_bytes(
            crafted.sparse_member("proc/meminfo", 100 << 30) + crafted.end_of_archive()
        )
    if not paths["2 million tiny members"].exists():
        crafted.write_tiny_members(paths["2 million tiny members"], 2_000_000)
    return paths


def build_full(path: Path, member_bytes: int = 60 << 20, total: int = 480 << 20) -> Path:
    """A bundle of real system-wide records repeated to `member_bytes` per member."""
    if path.exists():
        return path
    import json

    members = dict(crafted.small_bundle(pids=0))
    bodies = {}
    for name, stream in members.items():
        if name in ("manifest.json", "samples.jsonl") or name.startswith("proc/cmdline"):
            continue
        records = stream.split(b"@@ vmcollect 0 ", 1)
        if len(records) == 2:
            length, rest = records[1].split(b"\n", 1)
            bodies[name] = rest[: int(length)]
    chosen = sorted(bodies, key=lambda n: -len(bodies[n]))[: total // member_bytes]
    counts = {n: member_bytes // (len(bodies[n]) + 30) for n in chosen}
    count = max(counts.values())
    manifest = json.loads(members["manifest.json"])
    samples = b"".join(
        b'{"label": %d, "wall_ns": %d, "mono_ns": %d, "duration_ns": 1000000, "late": false}\n'
        % (i, 1764167405000000000 + i * 5 * 10**9, 10**12 + i * 5 * 10**9)
        for i in range(count)
    )
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(crafted.member("manifest.json", json.dumps(manifest).encode()))
        out.write(crafted.member("samples.jsonl", samples))
        for name in chosen:
            body = bodies[name]
            stream = b"".join(
                b"@@ vmcollect %d %d\n%s\n" % (i, len(body), body) for i in range(counts[name])
            )
            out.write(crafted.member(name, stream))
        out.write(crafted.end_of_archive())
    return path


def run(python: str, path: Path, *options: str) -> tuple[int, str, float, float, int]:
    """Exit status, first stderr line, wall and CPU seconds, peak RSS bytes of one analysis."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [python, "-m", "vmanalyze", "analyze", str(path), "--format", "json", "-o", "-"]
        + ["--no-cache", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    err = child.stderr.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    lines = [line for line in err.splitlines() if line.strip()]
    return (
        os.waitstatus_to_exitcode(status),
        (lines[0] if lines else ""),
        elapsed,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("/tmp/vmtriage-bench/hostile"))
    p.add_argument("--member-cap", action="store_true", help="also analyze the 2M members")
    p.add_argument("--full", action="store_true", help="only the input at the read cap")
    p.add_argument("--baseline", help="the Python of a checkout to compare with")
    args = p.parse_args()
    if args.full:
        paths = {"480 MiB of records to parse": build_full(args.dir / "full.tar.gz")}
    else:
        paths = build(args.dir)
    cases: list[tuple[str, Path, tuple[str, ...]]] = [
        (name, path, ()) for name, path in paths.items()
    ]
    if args.member_cap:
        cases.append(
            (
                "2 million tiny members, --max-members 2100000",
                paths["2 million tiny members"],
                ("--max-members", "2100000"),
            )
        )
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}")
    trees = {"current": sys.executable}
    if args.baseline:
        trees["baseline"] = args.baseline
    for name, path, options in cases:
        print(f"{name} ({path.stat().st_size / 2**20:.2f} MiB on disk):")
        for tree, python in trees.items():
            code, line, seconds, cpu, rss = run(python, path, *options)
            verdict = "ok" if rss <= 2 << 30 and seconds <= 30 else "OVER BUDGET"
            print(
                f"  {tree}: exit {code}, {seconds:.1f} s wall, {cpu:.1f} s CPU, "
                f"peak RSS {rss / 2**20:.0f} MiB [{verdict}]\n    {line[:160]}"
            )


if __name__ == "__main__":
    main()
