#!/usr/bin/env python3
"""swap-thrash workload: cycle through more anonymous memory than the cgroup may hold.

Maps --mib MiB of private anonymous memory and, pass after pass, reads and rewrites one byte of
every page. Inside a memory cgroup limited below --mib, each pass faults the pages that were swapped
out during the previous pass back in (pswpin) and pushes others out (pswpout).

    anon_cycler.py --name NAME --mib 768 --seconds 40
"""

import argparse
import mmap
import time

from _wl import MIB, PAGE, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="anon-cycler")
    ap.add_argument("--mib", type=int, default=768)
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    size = a.mib * MIB
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    end = deadline(a.seconds)
    passes = 0
    t0 = time.monotonic()
    while time.monotonic() < end:
        for off in range(0, size, PAGE):
            m[off] = (m[off] + 1) & 0xFF
            if off & 0xFFFFF == 0 and time.monotonic() >= end:
                break
        passes += 1
        log(a.name, f"pass {passes} done at {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
