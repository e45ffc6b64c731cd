#!/bin/sh
# The numa-remote episode, run inside the 2-node QEMU guest by /sbin/vmt-init (from the 9p share
# mounted at /host, where numa-remote.sh staged this file, workload.py, vmcollect.pyz and
# scenario.env). Everything it prints goes to the serial console, which the host keeps as the log.
#
#   numa-remote  `numactl --cpunodebind=0 --membind=1`: runs on node 0, every page on node 1
#                (node 1 other_node; its heap in numa_maps is bind:1 N1=...)
#   numa-spill   `numactl --cpunodebind=0`, default policy: fills node 0, then its allocations
#                fall back to node 1 (node 1 numa_miss + other_node, node 0 numa_foreign)
#   vmcollect    MODE=collect only: `--interval $INTERVAL --duration ${DURATION}s --output /host/out/`,
#                started first; the workloads follow $BASELINE seconds later
#
# Results for the host: /host/out/<bundle>.tar.gz, collect.stdout/.stderr, status (a line
# "rc=N").
# Not `set -e`: this runs under PID 1, and must reach the end (and the power-off) whatever fails.
set -u

# shellcheck disable=SC1091 # written by numa-remote.sh
. /host/scenario.env # MODE ACCEL INTERVAL DURATION BASELINE READY_TIMEOUT SETTLE HOLD_MIB CHURN_MIB EXTRA_MIB SPILL_CHURN_MIB
OUT=/host/out
STATUS=1

hostname numa-guest 2>/dev/null
section() { printf '\n=== %s\n' "$*"; }

# numastat_snap FILE: every node's numastat counters as "node key value" lines.
numastat_snap() {
    for n in /sys/devices/system/node/node[0-9]*; do
        awk -v node="${n##*node}" '{ print node, $1, $2 }' "$n/numastat"
    done >"$1"
}

# numastat_delta BEFORE AFTER SECONDS: per-node counter increase and rate, as a table.
numastat_delta() {
    awk -v secs="$3" '
        NR == FNR { before[$1 " " $2] = $3; next }
        { d = $3 - before[$1 " " $2]; printf "node%s %-15s %10d pages  %9.0f/s\n", $1, $2, d, d / secs }
    ' "$1" "$2"
}

# placement PID: where a workload runs and where its memory is.
placement() {
    grep -E '^(Name|Cpus_allowed_list|Mems_allowed_list|VmRSS)' "/proc/$1/status" | tr '\n' ' '
    echo
    # numa_maps: the policy and per-node pages of the mappings over 1 MiB (256 pages)
    awk '{ pages = 0; for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) { split($i, kv, "="); pages += kv[2] } }
         pages >= 256 { print "  numa_maps:", $0 }' "/proc/$1/numa_maps"
}

section "guest $(uname -r), $(nproc) CPUs, accelerator $ACCEL, mode $MODE"
echo "boot: scenario started at guest uptime $(cut -d' ' -f1 /proc/uptime)s"
numactl --hardware
dmesg | grep -E 'NUMA|Initmem|SRAT: Node' | head -n 8

numastat_snap /tmp/numastat.boot

if [ "$MODE" = collect ]; then
    # As in the other scenarios: the collector first, the workloads BASELINE seconds later.
    section "vmcollect --interval $INTERVAL --duration ${DURATION}s --output /host/out/"
    python3 /host/vmcollect.pyz --interval "$INTERVAL" --duration "${DURATION}s" --output "$OUT/" \
        >"$OUT/collect.stdout" 2>"$OUT/collect.stderr" &
    COLLECT_PID=$!
    sleep "$BASELINE"
fi

section "workloads"
# $WORKLOAD_SECONDS is generous: the workloads are killed once the collector is done.
WORKLOAD_SECONDS=$((READY_TIMEOUT + DURATION + 120))
numactl --cpunodebind=0 --membind=1 \
    python3 -u /host/workload.py remote --name numa-remote --hold "$HOLD_MIB" --churn "$CHURN_MIB" \
    --seconds "$WORKLOAD_SECONDS" --ready /tmp/ready.remote &
REMOTE_PID=$!
numactl --cpunodebind=0 \
    python3 -u /host/workload.py spill --name numa-spill --node 0 --extra "$EXTRA_MIB" \
    --churn "$SPILL_CHURN_MIB" --seconds "$WORKLOAD_SECONDS" --ready /tmp/ready.spill &
SPILL_PID=$!
# Steady state once both resident buffers are in place (node 0 full): then only churn.
waited=0
NOT_READY=0
while [ ! -f /tmp/ready.remote ] || [ ! -f /tmp/ready.spill ]; do
    if [ "$waited" -ge "$READY_TIMEOUT" ]; then
        echo "workloads not ready after ${READY_TIMEOUT}s"
        NOT_READY=1
        break
    fi
    sleep 1
    waited=$((waited + 1))
done
sleep "$SETTLE"
echo "workloads ready after ${waited}s (+${SETTLE}s settle)"

section "placement once the workloads are steady"
for pid in "$REMOTE_PID" "$SPILL_PID"; do placement "$pid"; done
grep -E 'MemFree' /sys/devices/system/node/node*/meminfo

numastat_snap /tmp/numastat.t1
T1=$(date +%s)
if [ "$MODE" = collect ]; then
    section "waiting for vmcollect"
    wait "$COLLECT_PID"
    STATUS=$?
    echo "vmcollect exited with status $STATUS; last stdout line: $(tail -n 1 "$OUT/collect.stdout")"
    tail -n 5 "$OUT/collect.stderr"
else
    section "probe: no collector, watching the workloads for ${DURATION}s"
    sleep "$DURATION"
    STATUS=0
fi
T2=$(date +%s)
numastat_snap /tmp/numastat.t2

section "placement at the end"
for pid in "$REMOTE_PID" "$SPILL_PID"; do placement "$pid"; done
section "numastat -p (MiB per node)"
numastat -p "$REMOTE_PID" "$SPILL_PID"
section "numastat counters from the workloads' steady state to the end ($((T2 - T1)) s)"
numastat_delta /tmp/numastat.t1 /tmp/numastat.t2 $((T2 - T1 > 0 ? T2 - T1 : 1))
section "numastat (whole boot)"
numastat

# Both workloads must have lived through the window.
for pid in "$REMOTE_PID" "$SPILL_PID"; do
    kill -0 "$pid" 2>/dev/null || { echo "workload pid $pid died early"; STATUS=3; }
done
[ "$NOT_READY" = 0 ] || STATUS=5
kill "$REMOTE_PID" "$SPILL_PID" 2>/dev/null
wait
dmesg | grep -iE 'out of memory|oom-kill|killed process' && STATUS=4

echo "rc=$STATUS" >"$OUT/status"
section "guest done: rc=$STATUS"
