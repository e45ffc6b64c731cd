#!/usr/bin/env python3
"""shmem-growth workload: a process that fills POSIX shared memory in /dev/shm (a tmpfs) at a
steady rate, like a cache or a message queue kept in shared memory and never trimmed.

Part of it (--mapped-rate) is a file it maps and writes through the mapping, so it shows in the
process's RssShmem; the rest (--file-rate) is a file it only write()s, which no process maps:
it shows in Shmem but in nobody's RSS, the way files left in a tmpfs do. Both files are removed
by the scenario's teardown (and by this process on SIGTERM).

    shm_filler.py --name NAME --dir /dev/shm --mapped-rate 1 --file-rate 1 --max-mib 400
"""

import argparse
import mmap
import os
import time

from _wl import MIB, PAGE, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="shm-filler")
    ap.add_argument("--dir", default="/dev/shm")
    ap.add_argument("--prefix", default="vmtriage-shm")
    ap.add_argument("--mapped-rate", type=float, default=1, help="MiB/s written via a mapping")
    ap.add_argument("--file-rate", type=float, default=1, help="MiB/s written to an unmapped file")
    ap.add_argument("--max-mib", type=float, default=400, help="stop growing at this total")
    ap.add_argument("--seconds", type=float, default=0, help="0: until killed")
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    tick = 0.5
    mapped_chunk = int(a.mapped_rate * MIB * tick) // PAGE * PAGE
    file_chunk = int(a.file_rate * MIB * tick) // PAGE * PAGE
    mapped_path = os.path.join(a.dir, a.prefix + "-mapped")
    file_path = os.path.join(a.dir, a.prefix + "-file")
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    mfd = os.open(mapped_path, flags, 0o600)
    ffd = os.open(file_path, flags, 0o600)
    maps = []
    size = written = 0
    end = deadline(a.seconds)
    nxt = time.monotonic()
    while time.monotonic() < end:
        if (size + written) / MIB < a.max_mib:
            if mapped_chunk:
                os.ftruncate(mfd, size + mapped_chunk)
                m = mmap.mmap(mfd, mapped_chunk, offset=size)
                m.write((b"%08d" % len(maps)) * (mapped_chunk // 8))
                maps.append(m)
                size += mapped_chunk
            if file_chunk:
                written += os.write(ffd, b"\x5a" * file_chunk)
            if len(maps) % 20 == 0:
                log(a.name, f"{size / MIB:.0f} MiB mapped, {written / MIB:.0f} MiB in the file")
        nxt += tick
        time.sleep(max(0, nxt - time.monotonic()))
    log(a.name, f"done, pid {os.getpid()}")


if __name__ == "__main__":
    main()
