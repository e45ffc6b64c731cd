#!/usr/bin/env bash
# zswap-thrash: the swap-thrash episode with zswap in front of the swap file. A memory cgroup's
# workload cycles through three times more anonymous memory than its limit: pages go out to
# zswap's compressed pool (zswpout) and come back from it (zswpin) continuously, and the swap
# file itself is hardly touched. zswap's enabled state is restored on exit.
SCENARIO=zswap-thrash
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45         # collector run, seconds
LEAD=4         # baseline before the workload starts
LIMIT_MIB=256
WORK_MIB=768
NAME=zswap-cycler
ZSWAP=/sys/module/zswap/parameters

[ -f "$ZSWAP/enabled" ] || die "this kernel has no zswap ($ZSWAP/enabled)"
set_knob "$THP/enabled" madvise
no_swap
swapfile_on 1536
set_knob "$ZSWAP/enabled" Y
log "zswap: compressor $(cat "$ZSWAP/compressor"), max_pool_percent $(cat "$ZSWAP/max_pool_percent")"
cg_create "$SCENARIO" "$LIMIT_MIB"

collect_start "$DUR"
host_mark
pause "$LEAD"
# it runs until the teardown kills it, after the collector's end snapshot
start_workload --cg "$NAME" anon_cycler.py --mib "$WORK_MIB" --seconds 0
collect_wait
host_report zswpout zswpin zswpwb pswpout pswpin

expect_fact vmstat:zswpout:delta -gt 100000
expect_fact vmstat:zswpin:delta -gt 100000
expect_fact vmstat:zswpin:rising -ge $((DUR / 2))
expect_fact vmstat:zswpout:rising -ge $((DUR / 2))
expect_fact meminfo:Zswapped:max -gt 102400
expect_fact proc:$NAME:pids -eq 1
observe vmstat:zswpin:delta vmstat:zswpout:delta vmstat:pswpout:delta vmstat:zswpin:rising samples meminfo:Zswap:max meminfo:Zswapped:max
finish_bundle
readme_row \
    "\`$NAME\` (workloads/anon_cycler.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB) rewrites one byte per page of a $WORK_MIB MiB private anonymous mapping, pass after pass (pages mostly zero: they compress very well); 1.5 GiB swap file behind zswap (enabled for the episode, compressor $(cat "$ZSWAP/compressor")); THP madvise; runs from ${LEAD}s into the capture until after its end" \
    "Compressed swap thrashing: zswpout and zswpin both climb in every sample while the workload runs, while pswpout stays far lower (the pool absorbs the swap-out); meminfo Zswap (pool) and Zswapped (stored) grow; the cgroup sits at its limit and \`$NAME\` is the process paging" \
    "zswpout +$(bundle_fact vmstat:zswpout:delta), zswpin +$(bundle_fact vmstat:zswpin:delta), pswpout +$(bundle_fact vmstat:pswpout:delta) pages; zswpin rose in $(bundle_fact vmstat:zswpin:rising) of $(($(bundle_fact samples) - 1)) intervals; Zswap max $(($(bundle_fact meminfo:Zswap:max) / 1024)) MiB holding $(($(bundle_fact meminfo:Zswapped:max) / 1024)) MiB"
