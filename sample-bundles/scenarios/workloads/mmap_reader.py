#!/usr/bin/env python3
"""pagecache-thrash workload: read a file set larger than the cgroup's limit through mmap, again
and again.

Each pass maps every file read-only (MADV_RANDOM by default: no readahead, so each page costs one
major fault) and reads one byte of every page. With a memory cgroup limit
below the set's size the page cache of the early files is reclaimed before the next pass comes
back to them: each pass refaults them (workingset_refault_file) through major faults (pgmajfault).

    mmap_reader.py --name NAME --seconds 40 FILE...
"""

import argparse
import mmap
import os
import time

from _wl import PAGE, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="mmap-reader")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument(
        "--advice",
        choices=("random", "normal"),
        default="random",
        help="madvise of each mapping: random (no readahead: one major fault per page, "
        "like a database's index lookups) or normal (kernel readahead)",
    )
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    end = deadline(a.seconds)
    passes = 0
    t0 = time.monotonic()
    total = 0
    while time.monotonic() < end:
        for path in a.files:
            fd = os.open(path, os.O_RDONLY)
            size = os.fstat(fd).st_size
            m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
            os.close(fd)
            if a.advice == "random":
                m.madvise(mmap.MADV_RANDOM)
            for off in range(0, size, PAGE):
                total += m[off]
            m.close()
            if time.monotonic() >= end:
                break
        passes += 1
        log(a.name, f"pass {passes} done at {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
