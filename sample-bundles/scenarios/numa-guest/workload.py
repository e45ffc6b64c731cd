#!/usr/bin/env python3
"""Memory workload for the numa-remote guest (runs inside the QEMU guest, started by guest-run.sh).

    workload.py remote --hold MIB --churn MIB [--seconds S] [--period S]
    workload.py spill  --node N --extra MIB --churn MIB [--seconds S] [--period S]

Both modes keep a resident buffer that is re-touched every period (one byte per page), and every
period map, populate and unmap a churn buffer: a steady stream of fresh page allocations that the
kernel counts per node in /sys/devices/system/node/node*/numastat. Buffers are private anonymous
mmap()s with MAP_POPULATE: the kernel allocates every page at once, without a fault per page
(which software emulation makes slow), and THP is off for the process so every page counts.

- remote: meant to run under `numactl --cpunodebind=0 --membind=1`. Every page comes from node 1
  while the task runs on node 0: node 1's other_node (and numa_hit: node 1 is the only allowed
  node) grow, and numa_maps shows the heap as bind:1 with all pages N1.
- spill: meant to run under `numactl --cpunodebind=0` with the default (local) policy. Its resident
  buffer is node N's free memory plus --extra MiB, so node N fills up and the rest of the buffer,
  and then every churn allocation, falls back to the other node: numa_miss and other_node there,
  numa_foreign on node N.
"""

import argparse
import mmap
import os
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def node_free_bytes(node):
    with open(f"/sys/devices/system/node/node{node}/meminfo") as f:
        for line in f:
            # "Node 0 MemFree:          812344 kB"
            parts = line.split()
            if len(parts) >= 4 and parts[2] == "MemFree:":
                return int(parts[3]) * 1024
    raise SystemExit(f"workload: no MemFree in node{node}/meminfo")


def say(msg):
    sys.stdout.write(f"[workload {ARGS.mode} pid {os.getpid()}] {msg}\n")
    sys.stdout.flush()


def populated(nbytes):
    """A private anonymous mapping of nbytes with every page allocated (touched if need be)."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    m = mmap.mmap(-1, nbytes, flags=flags)
    if not hasattr(mmap, "MAP_POPULATE"):  # Python < 3.10: fault the pages in by hand
        m[::PAGE] = b"\0" * len(range(0, nbytes, PAGE))
    return m


def no_thp():
    """prctl(PR_SET_THP_DISABLE): numastat counts one event per allocation, so a 2 MiB huge page
    would count as 1 where 512 small pages count 512; 4 KiB pages make the rates read as pages."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(41, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError) as e:
        say(f"cannot disable THP ({e}): numastat will count huge pages once")


def main():
    # Name the task (comm) so the bundle tells the workloads from the collector (all python3).
    with open("/proc/self/comm", "w") as f:
        f.write(ARGS.name or "numa-" + ARGS.mode)
    no_thp()
    if ARGS.mode == "spill":
        hold = node_free_bytes(ARGS.node) + ARGS.extra * MIB
    else:
        hold = ARGS.hold * MIB
    pages = hold // PAGE
    say(
        f"holding {hold // MIB} MiB, churning {ARGS.churn} MiB every {ARGS.period:.1f}s"
        f" for {ARGS.seconds}s"
    )
    buf = populated(hold)
    marks = [bytes([v]) * len(range(0, hold, PAGE)) for v in (1, 2)]
    if ARGS.ready:
        with open(ARGS.ready, "w") as f:
            f.write(f"{os.getpid()}\n")
        say("resident buffer in place")
    deadline = time.monotonic() + ARGS.seconds
    cycle = 0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        buf[::PAGE] = marks[cycle % 2]  # re-touch one byte in every resident page
        populated(ARGS.churn * MIB).close()  # fresh pages, allocated and handed back
        cycle += 1
        if cycle % 10 == 0:
            say(f"cycle {cycle} ({pages} pages resident)")
        time.sleep(max(0.05, ARGS.period - (time.monotonic() - t0)))
    say(f"done after {cycle} cycles")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("remote", "spill"))
    p.add_argument("--hold", type=int, default=256, help="remote: resident MiB")
    p.add_argument("--node", type=int, default=0, help="spill: node to fill")
    p.add_argument(
        "--extra", type=int, default=64, help="spill: MiB held beyond the node's free memory"
    )
    p.add_argument("--churn", type=int, default=128, help="MiB allocated and freed every period")
    p.add_argument("--period", type=float, default=1.0)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--name", help="process name (comm), default numa-MODE")
    p.add_argument("--ready", help="file to create once the resident buffer is allocated")
    ARGS = p.parse_args()
    main()
