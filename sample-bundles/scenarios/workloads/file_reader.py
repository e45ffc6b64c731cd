#!/usr/bin/env python3
"""read-refault workload: read a file set larger than the cgroup's limit with read(), again and
again, as a database that does its own buffered I/O (PostgreSQL's shared buffers over the page
cache, MySQL with innodb_flush_method=fsync) does.

Each pass reads every file from start to end in 128 KiB read() calls into one reused buffer. With
a memory cgroup limit below the set's size the page cache of the early files is reclaimed before
the next pass comes back to them: each pass refaults them (workingset_refault_file), yet no page
fault is taken at all (the copy to user space happens inside read()), so pgmajfault stays flat.

    file_reader.py --name NAME --seconds 40 FILE...
"""

import argparse
import os
import time

from _wl import MIB, deadline, exit_on_term, log, set_name

CHUNK = 128 * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="file-reader")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    end = deadline(a.seconds)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    passes = 0
    t0 = time.monotonic()
    while time.monotonic() < end:
        total = 0
        for path in a.files:
            fd = os.open(path, os.O_RDONLY)
            try:
                while True:
                    n = os.readv(fd, [view])
                    if n <= 0:
                        break
                    total += n
            finally:
                os.close(fd)
            if time.monotonic() >= end:
                break
        passes += 1
        log(a.name, f"pass {passes} ({total // MIB} MiB) done at {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
