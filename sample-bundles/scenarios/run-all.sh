#!/usr/bin/env bash
# Run every sample-bundle scenario in turn (as root: they change THP, swap, sysctls and cgroups),
# each writing sample-bundles/<scenario>.tar.gz and its line of sample-bundles/README.md.
#
#     bash sample-bundles/scenarios/run-all.sh [SCENARIO...]     (make samples runs them all)
#
# A scenario that fails (its capture did not show its condition, or the collector failed) is tried
# once more, then left failed with its old bundle in place; the others still run; the exit status
# says whether all succeeded.
# numa-remote.sh (kept by its own owner) runs last when it exists.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
SCEN=sample-bundles/scenarios
ALL=(healthy-idle thp-always-postgres swap-thrash pagecache-thrash overcommit oom-kill memory-leak)
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
for s in "${LIST[@]}"; do
    [ -f "$SCEN/$s.sh" ] || { echo "run-all.sh: no scenario $SCEN/$s.sh" >&2; failed+=("$s"); continue; }
    echo "=== $s ($(date +%T))" >&2
    ts=$(date +%s)
    for try in 1 2; do
        bash "$SCEN/$s.sh" &
        child=$!
        if wait "$child"; then rc=0; else rc=$?; fi
        child=
        # one retry of a plain failure (status 1, not a signal): this host is shared, another
        # developer's test can spoil an episode
        if [ "$rc" = 1 ] && [ "$try" = 1 ] && [ "$s" != numa-remote ]; then
            echo "=== $s failed: once more" >&2
            sleep 5
            continue
        fi
        break
    done
    if [ "$rc" = 0 ]; then ok+=("$s") res=ok; else failed+=("$s") res="FAILED (status $rc)"; fi
    echo "=== $s: $res in $(($(date +%s) - ts))s" >&2
    sleep 3 # let the host settle before the next baseline
done

echo >&2
echo "run-all.sh: ${#ok[@]} ok (${ok[*]:-}), ${#failed[@]} failed (${failed[*]:-}), $(($(date +%s) - t0))s in all" >&2
ls -l sample-bundles/*.tar.gz >&2 2>/dev/null || true
[ ${#failed[@]} = 0 ]
