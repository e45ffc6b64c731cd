#!/usr/bin/env bash
# oom-kill: a crash-looping service in a memory cgroup. Its workload keeps allocating until it
# reaches the cgroup's limit; with no swap the kernel's OOM killer kills it; a supervisor loop
# restarts it a few seconds later, three times in all.
SCENARIO=oom-kill
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=45
LEAD=4
LIMIT_MIB=200
RATE=30        # MiB/s
RUNS=3
RESTART=3      # seconds between a kill and the restart
NAME=oom-hog

set_knob "$THP/enabled" madvise
no_swap
cg_create "$SCENARIO" "$LIMIT_MIB"
[ "$CG_VER" = 1 ] && [ "$(awk '$1 == "oom_kill_disable" { print $2 }' "$CG/memory.oom_control")" = 0 ]

# The supervisor: restarts the workload each time it dies (it stays outside the cgroup itself).
supervise() {
    local n rc
    for n in $(seq "$RUNS"); do
        rc=0
        (
            echo "$BASHPID" >"$CG/cgroup.procs"
            cd "$WORKLOADS" && exec -a "$NAME" "$WPY" grower.py --name "$NAME" --rate "$RATE"
        ) || rc=$?
        log "run $n of $NAME ended with status $rc$([ "$rc" = 137 ] && echo ' (SIGKILL)')"
        sleep "$RESTART"
    done
}

collect_start "$DUR"
host_mark
pause "$LEAD"
supervise &
on_restore _kill_wait $!
log "supervisor started (pid $!)"
collect_wait
host_report oom_kill

expect_fact vmstat:oom_kill:delta -ge "$RUNS"
expect_fact "kmsg:Killed process:count" -ge "$RUNS"
expect_fact "kmsg:($NAME):count" -ge "$RUNS"
expect_fact proc:$NAME:pids -ge "$RUNS"
observe vmstat:oom_kill:delta "kmsg:Killed process:count" "proc:$NAME:pids" "proc:$NAME:rss_max_kib"
finish_bundle
readme_row \
    "\`$NAME\` (workloads/grower.py) in memory cgroup \`$CG_PREFIX-$SCENARIO\` (cgroup v$CG_VER, limit $LIMIT_MIB MiB, no swap) allocates and writes $RATE MiB/s until the memcg OOM killer kills it; a shell supervisor restarts it ${RESTART}s after each death, $RUNS runs from ${LEAD}s into the capture; THP madvise" \
    "Repeated cgroup OOM kills: oom_kill rises by $RUNS; dev/kmsg has \"Memory cgroup out of memory: Killed process ... ($NAME)\" for each; each \`$NAME\` pid grows to the limit then disappears, a new pid replaces it; host-wide memory is plentiful (the cgroup limit, not the host, is exhausted)" \
    "oom_kill +$(bundle_fact vmstat:oom_kill:delta); $(bundle_fact "kmsg:Killed process:count") \"Killed process\" kmsg lines; $(bundle_fact proc:$NAME:pids) \`$NAME\` pids, RSS max $(($(bundle_fact proc:$NAME:rss_max_kib) / 1024)) MiB"
