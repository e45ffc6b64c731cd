#!/usr/bin/env python3
"""memory-leak and oom-kill workload: a process whose resident memory grows at a steady rate.

Every tick it keeps another chunk of freshly written memory that it never frees, like a service
whose cache has no eviction. Without a limit RSS climbs by --rate MiB/s until --seconds; inside a
memory cgroup (no swap) it runs into the limit and the OOM killer ends it.

    grower.py --name NAME --rate 15 --seconds 40
"""

import argparse
import os
import time

from _wl import MIB, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="grower")
    ap.add_argument("--rate", type=float, default=15, help="MiB per second")
    ap.add_argument("--seconds", type=float, default=0, help="0: until killed")
    ap.add_argument(
        "--hold", type=float, default=0, help="seconds to keep the memory after --seconds"
    )
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    tick = 0.1
    chunk = int(a.rate * MIB * tick)
    cache = {}
    end = deadline(a.seconds)
    t0 = time.monotonic()
    n = 0
    nxt = t0
    while time.monotonic() < end:
        # bytes built from a pattern: every page is written, so it is resident at once
        cache[n] = (b"%08d" % n) * (chunk // 8)
        n += 1
        if n % int(1 / tick) == 0:
            log(a.name, f"{n * chunk / MIB:.0f} MiB kept after {time.monotonic() - t0:.1f}s")
        nxt += tick
        time.sleep(max(0, nxt - time.monotonic()))
    if a.hold:
        time.sleep(a.hold)
    log(a.name, f"done, pid {os.getpid()}")


if __name__ == "__main__":
    main()
