#!/usr/bin/env bash
# zram-thrash: the swap-thrash episode with a zram device as the only swap area. A zram block
# device is hot-added (/sys/class/zram-control/hot_add), sized and made the swap area; a memory
# cgroup's workload cycles through three times more anonymous memory than its limit, so pages go
# out to the compressed RAM disk (pswpout) and come back (pswpin) continuously. The device is
# swapped off, reset and removed on exit, and the host's own swap (if any) turned back on.
SCENARIO=zram-thrash
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45         # collector run, seconds
LEAD=4         # baseline before the workload starts
LIMIT_MIB=256
WORK_MIB=768
DISK_MIB=1024
NAME=zram-cycler
CONTROL=/sys/class/zram-control

# _zram_remove ID: swapoff, reset and hot-remove /dev/zramID.
_zram_remove() {
    local id=$1
    _swapoff_retry "/dev/zram$id" "echo $id > $CONTROL/hot_remove" || return 1
    echo 1 >"/sys/block/zram$id/reset" || true
    echo "$id" >"$CONTROL/hot_remove"
}

[ -e "$CONTROL/hot_add" ] || die "no zram module loaded ($CONTROL/hot_add)"
set_knob "$THP/enabled" madvise
no_swap
# zswap would catch the pages before they reach the device: keep it off for the episode
[ -f /sys/module/zswap/parameters/enabled ] && set_knob /sys/module/zswap/parameters/enabled N
ZRAM_ID=$(cat "$CONTROL/hot_add")
on_restore _zram_remove "$ZRAM_ID"
ZDEV=/dev/zram$ZRAM_ID
for _ in $(seq 50); do [ -b "$ZDEV" ] && break; sleep 0.1; done
log "zram device $ZDEV ($DISK_MIB MiB, $(knob_value "/sys/block/zram$ZRAM_ID/comp_algorithm"))"
echo $((DISK_MIB * 1024 * 1024)) >"/sys/block/zram$ZRAM_ID/disksize"
mkswap "$ZDEV" >/dev/null
swapon -p 100 "$ZDEV"
cg_create "$SCENARIO" "$LIMIT_MIB"

collect_start "$DUR"
host_mark
pause "$LEAD"
# it runs until the teardown kills it, after the collector's end snapshot
start_workload --cg "$NAME" anon_cycler.py --mib "$WORK_MIB" --seconds 0
collect_wait
host_report pswpout pswpin zswpout zswpin

expect_fact vmstat:pswpout:delta -gt 100000
expect_fact vmstat:pswpin:delta -gt 100000
expect_fact vmstat:pswpin:rising -ge $((DUR / 2))
expect_fact vmstat:pswpout:rising -ge $((DUR / 2))
expect_fact vmstat:zswpout:delta -eq 0
expect_fact proc:$NAME:pids -eq 1
observe vmstat:pswpin:delta vmstat:pswpout:delta vmstat:pswpin:rising samples
finish_bundle
readme_row \
    "\`$NAME\` (workloads/anon_cycler.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB) rewrites one byte per page of a $WORK_MIB MiB private anonymous mapping, pass after pass (pages mostly zero: they compress very well); the only swap area is a hot-added $DISK_MIB MiB zram device (\`$ZDEV\`, $(knob_value "/sys/block/zram$ZRAM_ID/comp_algorithm")), removed afterwards; zswap off; THP madvise; runs from ${LEAD}s into the capture until after its end" \
    "Compressed swap thrashing on zram: pswpout and pswpin both climb in every sample while the workload runs, and /proc/swaps lists only \`$ZDEV\` (so all of it is zram traffic); zswpout stays 0; the device's mm_stat (\`zram\` table) shows the pages stored and how small they compress; the cgroup sits at its limit and \`$NAME\` is the process paging" \
    "pswpin +$(bundle_fact vmstat:pswpin:delta), pswpout +$(bundle_fact vmstat:pswpout:delta) pages; pswpin rose in $(bundle_fact vmstat:pswpin:rising) of $(($(bundle_fact samples) - 1)) intervals; zswpout +0"
