#!/usr/bin/env bash
# pagecache-read-thrash: a memory cgroup read()s a 1 GiB file four times larger than its limit,
# pass after pass, as a database doing buffered I/O does: its page cache is reclaimed before it is
# used again, so every pass refaults it from disk, without a single major fault (read() copies
# inside the kernel; only mmap access faults). No swap: the pressure is on file pages only. The
# mmap twin of this episode is pagecache-thrash.
SCENARIO=pagecache-read-thrash
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45
LEAD=4
LIMIT_MIB=256
FILE_MIB=1024
NAME=read-scanner

set_knob "$THP/enabled" madvise
no_swap
make_tmpdir
log "writing $FILE_MIB MiB under $TMPD with O_DIRECT (nothing of it cached)"
dd if=/dev/urandom of="$TMPD/table.dat" bs=1M count="$FILE_MIB" oflag=direct status=none
cg_create "$SCENARIO" "$LIMIT_MIB"

collect_start "$DUR"
host_mark
pause "$LEAD"
# it runs until the teardown kills it, after the collector's end snapshot
start_workload --cg "$NAME" file_reader.py --seconds 0 "$TMPD/table.dat"
collect_wait
host_report workingset_refault_file workingset_activate_file pgmajfault pswpin pswpout

expect_fact vmstat:workingset_refault_file:delta -gt 100000
expect_fact vmstat:workingset_refault_file:rising -ge $((DUR / 2))
# read() takes no page fault: what major faults there are come from the rest of the host
expect_fact vmstat:pgmajfault:delta -lt 5000
expect_fact vmstat:pswpout:delta -eq 0
expect_fact meminfo:SwapTotal:max -eq 0
observe vmstat:workingset_refault_file:delta vmstat:pgmajfault:delta vmstat:workingset_refault_file:rising samples
finish_bundle
readme_row \
    "\`$NAME\` (workloads/file_reader.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB) read()s one file of $FILE_MIB MiB (on disk, ext4) from start to end in 128 KiB calls, pass after pass; no swap; THP madvise; runs from ${LEAD}s into the capture until after its end" \
    "Page-cache thrashing without major faults: workingset_refault_file climbs in every sample while the workload runs, pgmajfault stays near flat (read(), not mmap); the cgroup's own memory.stat shows the refaults; no swap activity (SwapTotal 0); host-wide memory is plentiful, the limit is the cause" \
    "workingset_refault_file +$(bundle_fact vmstat:workingset_refault_file:delta) pages, pgmajfault +$(bundle_fact vmstat:pgmajfault:delta); refaults rose in $(bundle_fact vmstat:workingset_refault_file:rising) of $(($(bundle_fact samples) - 1)) intervals; pswpin/pswpout +0"
