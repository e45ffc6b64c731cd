#!/usr/bin/env python3
"""mlock-growth workload: a process that locks more and more memory with mlock(), like a
program that locks every buffer it allocates and never unlocks or frees them.

Every tick it maps a new private anonymous chunk, writes it and mlock()s it (through ctypes):
Mlocked and Unevictable grow by --rate MiB/s, the process's VmLck with them, up to --max-mib.

    mlocker.py --name NAME --rate 1.5 --max-mib 300
"""

import argparse
import ctypes
import ctypes.util
import mmap
import os
import time

from _wl import MIB, PAGE, deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="mlocker")
    ap.add_argument("--rate", type=float, default=1.5, help="MiB per second")
    ap.add_argument("--max-mib", type=float, default=300, help="lock at most this much")
    ap.add_argument("--seconds", type=float, default=0, help="0: until killed")
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mlock.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    tick = 0.5
    chunk = int(a.rate * MIB * tick) // PAGE * PAGE
    kept = []
    locked = 0
    end = deadline(a.seconds)
    nxt = time.monotonic()
    while time.monotonic() < end:
        if locked + chunk <= a.max_mib * MIB:
            # private: mmap.mmap(-1, n) alone is MAP_SHARED, which the kernel counts as Shmem
            m = mmap.mmap(-1, chunk, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            m.write(b"\xa5" * chunk)
            address = ctypes.addressof(ctypes.c_char.from_buffer(m))
            if libc.mlock(ctypes.c_void_p(address), ctypes.c_size_t(chunk)) != 0:
                raise SystemExit(f"mlock: {os.strerror(ctypes.get_errno())}")
            kept.append(m)
            locked += chunk
            if len(kept) % 20 == 0:
                log(a.name, f"{locked / MIB:.0f} MiB locked")
        nxt += tick
        time.sleep(max(0, nxt - time.monotonic()))
    log(a.name, f"done, pid {os.getpid()}, {locked / MIB:.0f} MiB locked")


if __name__ == "__main__":
    main()
