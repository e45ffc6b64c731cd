#!/usr/bin/env bash
# hung-task: a task blocks in D state on a frozen file system while a memory cgroup swap-thrashes:
# the kernel's hung-task watchdog (kernel.hung_task_timeout_secs, lowered to 10 s for the
# episode) reports it in the kernel log while host PSI memory and swapping show the pressure.
# The file system is a small ext4 image, loop-mounted and frozen with fsfreeze; the writer's
# write(2) waits in sb_start_write() until the thaw.
SCENARIO=hung-task
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=50         # collector run, seconds
LEAD=4         # baseline before the workloads start
LIMIT_MIB=256
WORK_MIB=768
HUNG_SECS=10   # kernel.hung_task_timeout_secs during the episode
THAW_AT=40     # seconds into the capture when the file system is thawed
NAME=swap-cycler
WRITER=frozen-writer

command -v fsfreeze >/dev/null || die "fsfreeze (util-linux) is needed"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 (e2fsprogs) is needed"
[ "$(cat /proc/sys/kernel/hung_task_panic)" = 0 ] || die "kernel.hung_task_panic is set: refusing"
set_knob /proc/sys/kernel/hung_task_timeout_secs "$HUNG_SECS"
# Every report decrements hung_task_warnings (0 silences the watchdog for good): its value from
# before is written back even when it already was 10, since the episode's reports lower it.
WARNINGS_FILE=/proc/sys/kernel/hung_task_warnings
on_restore _write_knob "$WARNINGS_FILE" "$(cat "$WARNINGS_FILE")"
_write_knob "$WARNINGS_FILE" 10
set_knob "$THP/enabled" madvise
swapfile_on 1536
cg_create "$SCENARIO" "$LIMIT_MIB"
make_tmpdir
MNT="$TMPD/frozen"
mkdir "$MNT"
truncate -s 64M "$TMPD/fs.img"
mkfs.ext4 -q -F "$TMPD/fs.img"
# thaw MOUNT: end the freeze (an unfrozen file system is fine: the restore may run twice).
thaw() { fsfreeze -u "$1" 2>/dev/null || true; }
mount -o loop "$TMPD/fs.img" "$MNT"
on_restore umount "$MNT"

collect_start "$DUR"
host_mark
pause "$LEAD"
start_workload --cg "$NAME" anon_cycler.py --mib "$WORK_MIB" --seconds 0
fsfreeze -f "$MNT"
on_restore thaw "$MNT"
# the writer blocks in D state until the thaw; it cannot be killed before it. Its comm (what the
# kernel's report names) stays `sh`: exec -a changes argv[0] only.
start_bg "$WRITER" sh -c "echo frozen >'$MNT/blocked'"
# pushed after the writer, so run before its kill on any exit: thaw first
on_restore thaw "$MNT"
t_frozen=$SECONDS
pause $((THAW_AT - LEAD))
log "thawing $MNT after $((SECONDS - t_frozen)) s"
fsfreeze -u "$MNT" || die "thaw failed"
collect_wait
host_report pswpin pswpout allocstall_normal

expect_fact "kmsg:blocked for more than:count" -ge 1
expect_fact vmstat:pswpout:delta -gt 100000
expect_fact vmstat:pswpin:rising -ge $((DUR / 2))
observe "kmsg:blocked for more than:count" vmstat:pswpin:delta vmstat:pswpout:delta samples
finish_bundle
readme_row \
    "\`$WRITER\` (sh) writes to a 64 MiB ext4 image, loop-mounted and frozen with \`fsfreeze -f\` from ${LEAD}s to ${THAW_AT}s into the capture, so it blocks in D state; meanwhile \`$NAME\` (workloads/anon_cycler.py) swap-thrashes in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB, $WORK_MIB MiB working set, 1.5 GiB swap file); \`kernel.hung_task_timeout_secs\` $HUNG_SECS (restored afterwards)" \
    "A hung task under memory pressure: the kernel log holds \`INFO: task sh:<pid> blocked for more than $HUNG_SECS seconds.\` during the capture while host PSI memory \`some\` and pswpin/pswpout show the swapping cgroup; the block itself is the frozen file system (HUNG001 names both)" \
    "$(bundle_fact "kmsg:blocked for more than:count") hung-task reports; pswpin +$(bundle_fact vmstat:pswpin:delta), pswpout +$(bundle_fact vmstat:pswpout:delta) pages"
