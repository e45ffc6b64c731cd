#!/usr/bin/env bash
# kernel-thread-leak: a process that starts threads at a steady rate and never lets them end
# (a thread per request, each blocking forever). User space barely grows; the kernel's memory
# does: a kernel stack (KernelStack) and a task_struct and friends (unreclaimable slab) per
# thread. Bounded: at most MAX threads (pids are shared with the other developers' tests) in a
# memory cgroup, and killed at the end. KMEM001 must find the growth and name the slab caches.
SCENARIO=kernel-thread-leak
INTERVAL=${INTERVAL:-2s}  # 75 snapshots: the bundle stays well under the 2 MiB cap
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=150
BASE=10        # seconds of capture before the leak starts
RATE=20        # threads per second: ~15 KiB of user RSS each keeps the leaker below MEM002's
MAX=4000       # 64 MiB, while the kernel's share (16 KiB stack + 6 KiB task_struct + ...) shows
NAME=thread-leaker

cg_create "$SCENARIO" 768
collect_start "$DUR"
pause "$BASE"
start_workload --cg "$NAME" thread_leaker.py --rate "$RATE" --max "$MAX"
collect_wait
log "$NAME threads at the end: $(awk '/^Threads/ { print $2 }' "/proc/$BG_PID/status")"

# 16 KiB of kernel stack per thread (x86-64): at least half of the expected threads' worth
expect_fact meminfo:KernelStack:fall -lt $((-(DUR - BASE - 10) * RATE * 16 / 2))
expect_fact meminfo:SUnreclaim:fall -lt -10240
expect_fact slab:task_struct:growth_kib -gt 10240
expect_fact vmstat:oom_kill:delta -eq 0
expect_fact proc:$NAME:rss_growth_kib -lt $((60 * 1024))
observe meminfo:KernelStack:fall meminfo:SUnreclaim:fall meminfo:PageTables:fall \
    slab:task_struct:growth_kib slab:top_grower
finish_bundle
readme_row \
    "\`$NAME\` (workloads/thread_leaker.py) in a memory cgroup (768 MiB) starts $RATE threads/s that block forever (at most $MAX), from ${BASE}s into the capture until after it ends; no swap change" \
    "Kernel memory that grows steadily (KMEM001): KernelStack and SUnreclaim rise through the capture while no process's RSS grows much; in /proc/slabinfo (start and end) \`task_struct\` is among the caches that grew; no OOM" \
    "KernelStack +$((-$(bundle_fact meminfo:KernelStack:fall) / 1024)) MiB, SUnreclaim +$((-$(bundle_fact meminfo:SUnreclaim:fall) / 1024)) MiB, PageTables +$((-$(bundle_fact meminfo:PageTables:fall) / 1024)) MiB; slab task_struct +$(($(bundle_fact slab:task_struct:growth_kib) / 1024)) MiB, the cache that grew most: \`$(bundle_fact slab:top_grower)\`; oom_kill +0"
