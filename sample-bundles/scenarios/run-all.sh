#!/usr/bin/env bash
# Run every sample-bundle scenario in turn (as root: they change THP, swap, sysctls and cgroups),
# each writing sample-bundles/<scenario>.tar.gz and its line of sample-bundles/README.md.
#
#     bash sample-bundles/scenarios/run-all.sh [SCENARIO...]     (make samples runs them all)
#
# A scenario that fails (its capture did not show its condition, or the collector failed) is tried
# once more after the others, then left failed with its old bundle in place; the exit status says
# whether all succeeded.
# numa-remote.sh (kept by its own owner) runs last when it exists.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
SCEN=sample-bundles/scenarios
ALL=(healthy-idle thp-always-postgres swap-thrash pagecache-thrash overcommit oom-kill memory-leak
    pagecache-read-thrash zswap-thrash zram-thrash hung-task kernel-thread-leak shmem-growth
    mlock-growth)
if [ $# -gt 0 ]; then
    LIST=("$@")
else
    LIST=("${ALL[@]}")
    if [ -f "$SCEN/numa-remote.sh" ]; then LIST+=(numa-remote); fi
fi

[ "$(id -u)" = 0 ] || { echo "run-all.sh: run as root" >&2; exit 2; }

child=
stop() {
    echo "run-all.sh: interrupted by SIG$1, stopping ${child:+pid $child}" >&2
    [ -n "$child" ] && kill -"$1" "$child" 2>/dev/null && wait "$child"
    exit $((128 + $2))
}
trap 'stop INT 2' INT
trap 'stop TERM 15' TERM

t0=$(date +%s)
ok=() failed=()
# run_one SCENARIO: run it, forwarding INT/TERM; sets rc.
run_one() {
    echo "=== $1 ($(date +%T))" >&2
    local ts
    ts=$(date +%s)
    bash "$SCEN/$1.sh" &
    child=$!
    if wait "$child"; then rc=0; else rc=$?; fi
    child=
    echo "=== $1: $([ "$rc" = 0 ] && echo ok || echo "FAILED (status $rc)") in $(($(date +%s) - ts))s" >&2
    sleep 3 # let the host settle before the next baseline
}

retry=()
for s in "${LIST[@]}"; do
    [ -f "$SCEN/$s.sh" ] || { echo "run-all.sh: no scenario $SCEN/$s.sh" >&2; failed+=("$s"); continue; }
    [ "$s" = numa-remote ] && continue # last, after the retries
    run_one "$s"
    if [ "$rc" = 0 ]; then
        ok+=("$s")
    elif [ "$rc" = 1 ]; then
        # a plain failure (not a signal): this host is shared and another developer's test can
        # spoil an episode; try it once more after the others
        retry+=("$s")
    else
        failed+=("$s")
    fi
done
for s in "${retry[@]}"; do
    echo "=== $s failed: once more" >&2
    run_one "$s"
    if [ "$rc" = 0 ]; then ok+=("$s"); else failed+=("$s"); fi
done
for s in "${LIST[@]}"; do
    if [ "$s" = numa-remote ] && [ -f "$SCEN/$s.sh" ]; then
        run_one "$s"
        if [ "$rc" = 0 ]; then ok+=("$s"); else failed+=("$s"); fi
    fi
done

echo >&2
echo "run-all.sh: ${#ok[@]} ok (${ok[*]:-}), ${#failed[@]} failed (${failed[*]:-}), $(($(date +%s) - t0))s in all" >&2
ls -l sample-bundles/*.tar.gz >&2 2>/dev/null || true
[ ${#failed[@]} = 0 ]
