#!/usr/bin/env bash
# overcommit: four processes each reserve 16 GiB of private writable anonymous memory (counted in
# Committed_AS) and touch only 16 MiB of it, one every 5 s: the host's commitments reach about
# three times RAM + swap while almost nothing is resident. vm.overcommit_memory=0 (heuristic),
# which allows each single reservation because it is below RAM + swap.
SCENARIO=overcommit
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=40
LEAD=4
NPROC=4
GIB=16
STAGGER=5
NAME=reserver

set_knob "$THP/enabled" madvise
set_knob /proc/sys/vm/overcommit_memory 0
no_swap

collect_start "$DUR"
pause "$LEAD"
for i in $(seq "$NPROC"); do
    # they run until the teardown kills them, after the collector's end snapshot
    start_workload "$NAME-$i" reserver.py --gib "$GIB" --touch-mib 16 --seconds 0
    pause "$STAGGER"
    log "Committed_AS $(($(meminfo_kib Committed_AS) / 1024)) MiB, MemTotal+SwapTotal $((($(meminfo_kib MemTotal) + $(meminfo_kib SwapTotal)) / 1024)) MiB"
done
collect_wait

expect_fact commit_pct:max -gt 150
expect_fact meminfo:CommitLimit:max -gt 0
expect_fact proc:$NAME-1:pids -eq 1
expect_fact proc:$NAME-$NPROC:pids -eq 1
expect_fact proc:$NAME-1:rss_max_kib -lt 65536
expect_fact vmstat:pswpout:delta -eq 0
observe meminfo:Committed_AS:max meminfo:MemTotal:max meminfo:CommitLimit:max commit_pct:max "proc:$NAME-1:rss_max_kib"
finish_bundle
ca=$(($(bundle_fact meminfo:Committed_AS:max) / 1024))
mt=$(($(bundle_fact meminfo:MemTotal:max) / 1024))
cl=$(($(bundle_fact meminfo:CommitLimit:max) / 1024))
readme_row \
    "$NPROC processes \`$NAME-1\`..\`$NAME-$NPROC\` (workloads/reserver.py), started ${STAGGER}s apart from ${LEAD}s into the capture and alive until after its end, each mmap a $GIB GiB private writable anonymous region (no MAP_NORESERVE) and touch 16 MiB of it; vm.overcommit_memory=0, no swap; THP madvise" \
    "Overcommitment: Committed_AS rises in $NPROC steps of ~$GIB GiB to far above MemTotal + SwapTotal (and above CommitLimit) while RSS and MemAvailable barely move; no reclaim, swap or OOM; the \`$NAME-*\` processes own the commitments (large VmSize/VmData, small VmRSS)" \
    "Committed_AS max $ca MiB = $(bundle_fact commit_pct:max)% of MemTotal+SwapTotal ($mt MiB + 0); CommitLimit $cl MiB; each reserver's RSS <= $(($(bundle_fact proc:$NAME-1:rss_max_kib) / 1024)) MiB"
