#!/usr/bin/env bash
# memory-leak: a long-running process whose resident memory grows steadily, ~10 MiB/s, for the
# whole capture: it keeps every chunk it allocates (a cache without eviction). No limit, no swap:
# nothing fails yet, the growth itself is the finding. It starts WARM seconds before the
# capture: MEM002 calls growth of a process younger than its min_age_s (300 s) "may be warming
# up" (info), and a leak is a long-running process that keeps growing.
SCENARIO=memory-leak
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=40
WARM=330       # seconds the leaker runs before the capture starts
RATE=10        # MiB/s
NAME=leaky-cache

set_knob "$THP/enabled" madvise
no_swap

# it runs until the teardown kills it, after the collector's end snapshot
start_workload "$NAME" grower.py --rate "$RATE"
pause "$WARM"
collect_start "$DUR"
collect_wait
log "$NAME VmRSS at the end: $(awk '/^VmRSS/ { print $2, $3 }' "/proc/$BG_PID/status")"

expect_fact proc:$NAME:pids -eq 1
# the host is shared: the capture is only useful if the leak is its biggest grower
expect_text proc:top_grower "$NAME"
expect_fact proc:$NAME:rss_growth_kib -gt $(((DUR - 6) * RATE * 1024))
expect_fact proc:$NAME:rss_rate_kib_s -gt $((RATE * 1024 * 8 / 10))
# ... and what the README promises: host-wide MemAvailable falls with it (by at least half the
# leak's minimum growth), not hidden by another developer's process freeing gigabytes meanwhile
expect_fact meminfo:MemAvailable:fall -gt $(((DUR - 6) * RATE * 1024 / 2))
expect_fact vmstat:oom_kill:delta -eq 0
expect_fact vmstat:pswpout:delta -eq 0
observe "proc:$NAME:rss_growth_kib" "proc:$NAME:rss_rate_kib_s" "proc:$NAME:rss_max_kib"
finish_bundle
readme_row \
    "\`$NAME\` (workloads/grower.py), a plain process (no cgroup limit, no swap), keeps every chunk it allocates: $RATE MiB/s of written memory, from ${WARM}s before the capture until after it ends; THP madvise" \
    "A leak: one process, \`$NAME\`, whose RSS (anonymous) grows linearly at ~$RATE MiB/s through the whole capture and never falls; host-wide MemAvailable falls accordingly; no OOM, no swap; the other processes of this shared host (developers' shells and test runs) come and go but none grows steadily for the whole capture" \
    "\`$NAME\` RSS +$(($(bundle_fact proc:$NAME:rss_growth_kib) / 1024)) MiB at $(($(bundle_fact proc:$NAME:rss_rate_kib_s) / 1024)) MiB/s between its first and last sample, max $(($(bundle_fact proc:$NAME:rss_max_kib) / 1024)) MiB; oom_kill +0, pswpout +0"
