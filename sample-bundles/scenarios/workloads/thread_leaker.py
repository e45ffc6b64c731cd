#!/usr/bin/env python3
"""kernel-thread-leak workload: a process that starts threads at a steady rate and never joins
them, like a server that spawns a thread per request and leaks those that block.

Every thread sleeps on one event that is never set. Each costs the kernel a kernel stack
(KernelStack), a task_struct and other unreclaimable slab objects (SUnreclaim), and user space
only its small stack (64 KiB reserved, a few pages touched).

    thread_leaker.py --name NAME --rate 25 --max 5000
"""

import argparse
import os
import threading
import time

from _wl import deadline, exit_on_term, log, set_name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="thread-leaker")
    ap.add_argument("--rate", type=float, default=25, help="threads per second")
    ap.add_argument("--max", type=int, default=5000, help="threads at most (pids are shared)")
    ap.add_argument("--seconds", type=float, default=0, help="0: until killed")
    a = ap.parse_args()
    set_name(a.name)
    exit_on_term()
    threading.stack_size(64 * 1024)
    never = threading.Event()
    end = deadline(a.seconds)
    tick = 0.2
    per_tick = max(1, int(round(a.rate * tick)))
    started = 0
    nxt = time.monotonic()
    while time.monotonic() < end:
        for _ in range(per_tick if started < a.max else 0):
            threading.Thread(target=never.wait, daemon=True).start()
            started += 1
        if started % (per_tick * 25) == 0:
            log(a.name, f"{started} threads waiting")
        nxt += tick
        time.sleep(max(0, nxt - time.monotonic()))
    log(a.name, f"done, pid {os.getpid()}, {started} threads")


if __name__ == "__main__":
    main()
