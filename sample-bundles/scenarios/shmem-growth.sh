#!/usr/bin/env bash
# shmem-growth: a process fills POSIX shared memory in /dev/shm (tmpfs) at a steady rate: part
# through a mapping (its RssShmem grows), part as a file it only writes (in Shmem, in nobody's
# RSS, like files left in a tmpfs). Bounded (MAXMIB) in a memory cgroup; the files are removed
# at the end. SHM001 must find the Shmem growth, name the process and the tmpfs (/dev/shm).
SCENARIO=shmem-growth
INTERVAL=${INTERVAL:-2s}  # 75 snapshots: the bundle stays well under the 2 MiB cap
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=150
BASE=10          # seconds of capture before the filling starts
MAPPED=1.5       # MiB/s through the mapping
FILE=1           # MiB/s written to the unmapped file
MAXMIB=500
NAME=shm-filler
PREFIX=vmtriage-$SCENARIO

cg_create "$SCENARIO" 1024
on_restore rm -f "/dev/shm/$PREFIX-mapped" "/dev/shm/$PREFIX-file"
rm -f "/dev/shm/$PREFIX-mapped" "/dev/shm/$PREFIX-file"
collect_start "$DUR"
pause "$BASE"
start_workload --cg "$NAME" shm_filler.py --dir /dev/shm --prefix "$PREFIX" \
    --mapped-rate "$MAPPED" --file-rate "$FILE" --max-mib "$MAXMIB"
collect_wait
log "$NAME RssShmem at the end: $(awk '/^RssShmem/ { print $2, $3 }' "/proc/$BG_PID/status")"

# 2.5 MiB/s for (DUR - BASE) s: at least 250 MiB of Shmem, 150 MiB of it mapped by the filler
expect_fact meminfo:Shmem:fall -lt $((-250 * 1024))
expect_fact "status:$NAME:RssShmem:growth" -gt $((150 * 1024))
expect_fact tmpfs:/dev/shm:growth_kib -gt $((250 * 1024))
expect_text tmpfs:top_grower /dev/shm
expect_fact vmstat:oom_kill:delta -eq 0
observe meminfo:Shmem:fall "status:$NAME:RssShmem:max" tmpfs:/dev/shm:growth_kib
finish_bundle
readme_row \
    "\`$NAME\` (workloads/shm_filler.py) in a memory cgroup (1 GiB) writes /dev/shm files from ${BASE}s into the capture: $MAPPED MiB/s through a mapping, $FILE MiB/s to a file it does not map (at most $MAXMIB MiB); the files are removed afterwards" \
    "Shared memory that grows steadily (SHM001): Shmem rises at ~2.5 MiB/s through the capture; \`$NAME\` holds the largest, growing RssShmem; part of Shmem is mapped by no process (the unmapped tmpfs file); the tmpfs mount that grew most is \`/dev/shm\`; no OOM" \
    "Shmem +$((-$(bundle_fact meminfo:Shmem:fall) / 1024)) MiB; \`$NAME\` RssShmem max $(($(bundle_fact "status:$NAME:RssShmem:max") / 1024)) MiB; \`/dev/shm\` used +$(($(bundle_fact tmpfs:/dev/shm:growth_kib) / 1024)) MiB; oom_kill +0"
