#!/usr/bin/env bash
# healthy-idle: the reference capture: nothing is wrong. THP madvise, no swap, no memory limits
# hit, no workload started (only what this host runs anyway).
SCENARIO=healthy-idle
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=30

set_knob "$THP/enabled" madvise
no_swap

collect_start "$DUR"
host_mark
collect_wait
host_report pswpin pswpout pgmajfault workingset_refault_file oom_kill

expect_text knob:sys/kernel/mm/transparent_hugepage/enabled:start madvise
expect_fact vmstat:pswpout:delta -eq 0
expect_fact vmstat:pswpin:delta -eq 0
expect_fact vmstat:workingset_refault_file:delta -lt 100000
expect_fact vmstat:oom_kill:delta -eq 0
expect_fact "kmsg:Killed process:count" -eq 0
expect_fact commit_pct:max -lt 50
observe vmstat:pswpin:delta vmstat:pswpout:delta vmstat:oom_kill:delta vmstat:workingset_refault_file:delta vmstat:pgmajfault:delta meminfo:MemAvailable:min commit_pct:max
finish_bundle
readme_row \
    "Nothing started: the host as it idles (its own agent, shells, whatever else runs on it), THP \`enabled=madvise\`, no swap configured, vm.overcommit_memory as found" \
    "Nothing: no finding above informational level. No reclaim pressure (MemAvailable high, PSI memory ~0), no swap, no refault storm, no OOM kill, THP madvise, Committed_AS well below MemTotal; a rule that fires here is a false positive" \
    "pswpin/pswpout +$(bundle_fact vmstat:pswpin:delta)/+$(bundle_fact vmstat:pswpout:delta), oom_kill +$(bundle_fact vmstat:oom_kill:delta), workingset_refault_file +$(bundle_fact vmstat:workingset_refault_file:delta), pgmajfault +$(bundle_fact vmstat:pgmajfault:delta); MemAvailable min $(($(bundle_fact meminfo:MemAvailable:min) / 1024)) MiB; Committed_AS = $(bundle_fact commit_pct:max)% of MemTotal"
