#!/usr/bin/env bash
# swap-thrash: a memory cgroup whose workload cycles through three times more anonymous memory
# than its limit, with a swap file: pages go out to swap and come back in continuously.
SCENARIO=swap-thrash
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45         # collector run, seconds
LEAD=4         # baseline before the workload starts
LIMIT_MIB=256
WORK_MIB=768
NAME=swap-cycler

set_knob "$THP/enabled" madvise
swapfile_on 1536
cg_create "$SCENARIO" "$LIMIT_MIB"

collect_start "$DUR"
host_mark
pause "$LEAD"
# it runs until the teardown kills it, after the collector's end snapshot (which so reads its
# smaps_rollup while it is paging)
start_workload --cg "$NAME" anon_cycler.py --mib "$WORK_MIB" --seconds 0
collect_wait
host_report pswpin pswpout pgmajfault workingset_refault_anon

expect_fact vmstat:pswpout:delta -gt 100000
expect_fact vmstat:pswpin:delta -gt 100000
expect_fact vmstat:pswpin:rising -ge $((DUR / 2))
expect_fact vmstat:pswpout:rising -ge $((DUR / 2))
expect_fact proc:$NAME:pids -eq 1
observe vmstat:pswpin:delta vmstat:pswpout:delta vmstat:pswpin:rising samples meminfo:MemAvailable:min
finish_bundle
readme_row \
    "\`$NAME\` (workloads/anon_cycler.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB) rewrites one byte per page of a $WORK_MIB MiB private anonymous mapping, pass after pass; 1.5 GiB swap file; THP madvise; runs from ${LEAD}s into the capture until after its end" \
    "Swap thrashing: pswpin and pswpout both climb in every sample while the workload runs; the cgroup sits at its limit and \`$NAME\` is the process paging; not a host-wide shortage (MemAvailable stays high)" \
    "pswpin +$(bundle_fact vmstat:pswpin:delta), pswpout +$(bundle_fact vmstat:pswpout:delta) pages; pswpin rose in $(bundle_fact vmstat:pswpin:rising) of $(($(bundle_fact samples) - 1)) intervals; MemAvailable min $(($(bundle_fact meminfo:MemAvailable:min) / 1024)) MiB"
