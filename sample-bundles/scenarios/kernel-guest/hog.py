#!/usr/bin/env python3
"""Memory workloads of the kernels.sh guests (run inside the guest as systemd transient units).

    hog.py hold --name NAME --hold MIB --churn MIB [--seconds S]
    hog.py grow --name NAME --step MIB
    hog.py waves --name NAME --margin MIB --share N [--pause S] [--seconds S]

- hold: keeps --hold MiB of anonymous memory resident (one byte per page re-touched every
  second) and allocates and frees --churn MiB every second. Under a `MemoryHigh=` below --hold
  and no swap, the cgroup stays above memory.high: every charge reclaims and is throttled
  (memory.events high, memory.pressure).
- grow: allocates --step MiB more every 0.2 s until the kernel kills it: under `MemoryMax=` the
  memcg OOM killer (memory.events max and oom_kill, an "oom-kill:... oom_memcg=" kernel line).
- waves: over and over, allocates MemAvailable minus --margin MiB, divided by --share (the
  number of wave processes running side by side), as fast as it can, holds it 1 s, frees it and
  rests --pause s (leaving the collector some CPU under TCG). With the page cache full and both
  vCPUs busy allocating, the free pages fall below the min watermark before kswapd refills
  them: global direct reclaim (allocstall, pgscan_direct).

Runs on the guests' python3 (3.9 to 3.13); standard library only.
"""

import argparse
import mmap
import os
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def touched(nbytes):
    m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m[::PAGE] = b"\1" * len(range(0, nbytes, PAGE))
    return m


def say(msg):
    sys.stdout.write(f"[{ARGS.name} {os.getpid()}] {msg}\n")
    sys.stdout.flush()


def hold():
    chunks = []
    # In 4 MiB steps, so a throttled allocation still makes progress and shows in every sample.
    for _ in range(ARGS.hold // 4):
        chunks.append(touched(4 * MIB))
    say(f"holding {ARGS.hold} MiB")
    deadline = time.monotonic() + ARGS.seconds
    marks = (b"\2", b"\3")
    n = 0
    while time.monotonic() < deadline:
        for c in chunks:
            c[::PAGE] = marks[n % 2] * len(range(0, len(c), PAGE))
        if ARGS.churn:
            touched(ARGS.churn * MIB).close()
        n += 1
        time.sleep(1)


def grow():
    chunks = []
    while True:
        chunks.append(touched(ARGS.step * MIB))
        say(f"{len(chunks) * ARGS.step} MiB")
        time.sleep(0.2)


def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def waves():
    deadline = time.monotonic() + ARGS.seconds
    n = 0
    while time.monotonic() < deadline:
        want = max(0, (mem_available_mib() - ARGS.margin) // ARGS.share)
        chunks = [touched(4 * MIB) for _ in range(want // 4)]
        n += 1
        say(f"wave {n}: {len(chunks) * 4} MiB")
        time.sleep(1)
        for c in chunks:
            c.close()
        time.sleep(ARGS.pause)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("hold", "grow", "waves"))
    p.add_argument("--name", required=True, help="process name (comm)")
    p.add_argument("--hold", type=int, default=96)
    p.add_argument("--churn", type=int, default=16)
    p.add_argument("--step", type=int, default=16)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--margin", type=int, default=384)
    p.add_argument("--share", type=int, default=2)
    p.add_argument("--pause", type=float, default=3.0)
    ARGS = p.parse_args()
    with open("/proc/self/comm", "w") as f:
        f.write(ARGS.name)
    {"hold": hold, "grow": grow, "waves": waves}[ARGS.mode]()
