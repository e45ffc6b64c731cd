#!/usr/bin/env bash
# pagecache-thrash: a memory cgroup reads a file set four times larger than its limit through
# mmap, pass after pass: its page cache is reclaimed before it is used again, so every pass
# refaults it from disk. No swap at all: the pressure is on file pages only.
SCENARIO=pagecache-thrash
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45
LEAD=4
LIMIT_MIB=256
NFILES=4
FILE_MIB=256
NAME=mmap-scanner

set_knob "$THP/enabled" madvise
no_swap
make_tmpdir
log "writing $NFILES x $FILE_MIB MiB under $TMPD with O_DIRECT (nothing of it cached)"
files=()
for i in $(seq "$NFILES"); do
    dd if=/dev/urandom of="$TMPD/segment-$i.dat" bs=1M count="$FILE_MIB" oflag=direct status=none
    files+=("$TMPD/segment-$i.dat")
done
cg_create "$SCENARIO" "$LIMIT_MIB"

collect_start "$DUR"
host_mark
pause "$LEAD"
# it runs until the teardown kills it, after the collector's end snapshot
start_workload --cg "$NAME" mmap_reader.py --seconds 0 "${files[@]}"
collect_wait
host_report workingset_refault_file pgmajfault pswpin pswpout

expect_fact vmstat:workingset_refault_file:delta -gt 100000
expect_fact vmstat:pgmajfault:delta -gt 5000
expect_fact vmstat:workingset_refault_file:rising -ge $((DUR / 2))
expect_fact vmstat:pswpout:delta -eq 0
expect_fact meminfo:SwapTotal:max -eq 0
observe vmstat:workingset_refault_file:delta vmstat:pgmajfault:delta vmstat:workingset_refault_file:rising samples
finish_bundle
readme_row \
    "\`$NAME\` (workloads/mmap_reader.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB) maps $NFILES files of $FILE_MIB MiB each (on disk, ext4) read-only and reads one byte per page, pass after pass; no swap; THP madvise; runs from ${LEAD}s into the capture until after its end" \
    "Page-cache thrashing in a memory-limited cgroup: workingset_refault_file and pgmajfault climb in every sample while the workload runs; no swap activity (SwapTotal 0); \`$NAME\` is the faulting process; host-wide memory is plentiful, the limit is the cause" \
    "workingset_refault_file +$(bundle_fact vmstat:workingset_refault_file:delta) pages, pgmajfault +$(bundle_fact vmstat:pgmajfault:delta); refaults rose in $(bundle_fact vmstat:workingset_refault_file:rising) of $(($(bundle_fact samples) - 1)) intervals; pswpin/pswpout +0"
