#!/usr/bin/env python3
"""Measure what command-line redaction costs: it runs once per process the collector sees.

Redacts every command line of this host's /proc and the test corpus of real-shaped command
lines (tests/vmcollect/redaction_corpus.json), `--rounds` times, and prints the mean and the
99th percentile per command line, and the cost of a first sample that sees every process of
this host at once (later samples only redact the processes that are new).

Usage: python3 benchmarks/redaction.py [--rounds 20]
"""

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collector"))

from vmcollect.redact import redact_cmdline  # noqa: E402


def live_cmdlines():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    data = f.read(65536)
            except OSError:
                continue
            if data:
                out.append(data)
    return out


def corpus_cmdlines():
    with open(os.path.join(REPO, "tests", "vmcollect", "redaction_corpus.json")) as f:
        cases = json.load(f)
    return [
        c["title"].encode("utf-8") if "title" in c else "\0".join(c["argv"]).encode("utf-8") + b"\0"
        for c in cases
    ]


def measure(lines, rounds):
    per_line = []
    for _ in range(rounds):
        for raw in lines:
            t0 = time.perf_counter()
            redact_cmdline(raw)
            per_line.append(time.perf_counter() - t0)
    per_line.sort()
    mean = sum(per_line) / len(per_line)
    return mean * 1e6, per_line[int(len(per_line) * 0.99)] * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    live = live_cmdlines()
    corpus = corpus_cmdlines()
    for what, lines in (("live /proc", live), ("test corpus", corpus)):
        mean, p99 = measure(lines, args.rounds)
        print(
            f"{what:<12} {len(lines):5d} command lines: "
            f"{mean:.1f} us mean, {p99:.1f} us p99 per command line"
        )
    mean, _ = measure(live, 1)
    print(
        f"first sample redacting all {len(live)} processes of this host: "
        f"{mean * len(live) / 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
