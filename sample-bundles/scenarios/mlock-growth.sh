#!/usr/bin/env bash
# mlock-growth: a process mlock()s a new chunk of memory at a steady rate and never unlocks it.
# Mlocked and Unevictable grow, its VmLck with them. Bounded (MAXMIB) in a memory cgroup.
# MLK001 must find the growth and name the process.
SCENARIO=mlock-growth
INTERVAL=${INTERVAL:-2s}  # 75 snapshots: the bundle stays well under the 2 MiB cap
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=150
BASE=10        # seconds of capture before the locking starts
RATE=1.5       # MiB/s
MAXMIB=300
NAME=mlock-grower

cg_create "$SCENARIO" 512
collect_start "$DUR"
pause "$BASE"
start_workload --cg "$NAME" mlocker.py --rate "$RATE" --max-mib "$MAXMIB"
collect_wait
log "$NAME VmLck at the end: $(awk '/^VmLck/ { print $2, $3 }' "/proc/$BG_PID/status")"

# 1.5 MiB/s for (DUR - BASE) s: at least 150 MiB locked
expect_fact meminfo:Mlocked:fall -lt $((-150 * 1024))
expect_fact "status:$NAME:VmLck:max" -gt $((150 * 1024))
expect_fact vmstat:oom_kill:delta -eq 0
# the host is shared: a capture with someone else's swap storm in it is not this episode
expect_fact vmstat:pswpout:delta -lt 25600
# private memory, not shared: Shmem must not grow with it (SHM001 is another rule's episode)
expect_fact meminfo:Shmem:fall -gt -51200
observe meminfo:Mlocked:fall meminfo:Unevictable:fall "status:$NAME:VmLck:max"
finish_bundle
readme_row \
    "\`$NAME\` (workloads/mlocker.py) in a memory cgroup (512 MiB) maps, writes and mlock()s $RATE MiB/s from ${BASE}s into the capture (at most $MAXMIB MiB), never unlocking" \
    "Locked memory that grows steadily (MLK001): Mlocked and Unevictable rise at ~$RATE MiB/s through the capture; \`$NAME\` holds the largest, growing VmLck; no OOM" \
    "Mlocked +$((-$(bundle_fact meminfo:Mlocked:fall) / 1024)) MiB, Unevictable +$((-$(bundle_fact meminfo:Unevictable:fall) / 1024)) MiB; \`$NAME\` VmLck max $(($(bundle_fact "status:$NAME:VmLck:max") / 1024)) MiB; oom_kill +0"
