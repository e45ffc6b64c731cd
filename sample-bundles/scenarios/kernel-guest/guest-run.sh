#!/bin/sh
# The kernels.sh episodes, run inside a Debian guest booted with systemd (vmt-guest.service ->
# vmt-guest-start, from the 9p share mounted at /host where kernels.sh staged this file, hog.py,
# vmcollect.pyz and scenario.env). Everything it prints goes to the serial console (the host keeps
# it as the console log). Order, from the start of the capture (t = 0):
#
#   before   THP enabled=always; PostgreSQL restarted with shared_buffers 256MB (its memory
#            faulted in under THP=always); a table of about 130 MiB loaded into shared_buffers
#            with pg_prewarm
#   t = -5   vmt-high.service (systemd-run -p MemoryHigh=64M): hog.py hold 96 MiB, churn 16 MiB/s:
#            above memory.high with no swap, so throttled (memory.events high, memory.pressure)
#   t = -3   vmt-oom.service (systemd-run -p MemoryMax=96M -p OOMPolicy=continue): a loop that
#            starts hog.py grow until the memcg OOM killer kills it, every 3 s
#   t = 0    vmcollect --interval $INTERVAL --duration ${DURATION}s --output /host/out/, once both
#            services' cgroups exist (it looks for new cgroups only every 12 samples, and under
#            TCG on a busy host it takes fewer than 12)
#   t = 0..  a sort of the table with work_mem 256MB every 5 s (a postgres backend's heap under THP)
#   t = 5..  with WAVES=1 only (kernels.sh --reclaim-waves): global reclaim waves, a 640 MiB
#            file keeps the page cache full (re-read every second) while two hog.py waves
#            processes allocate MemAvailable - 384 MiB between them, hold it 1 s, free it and
#            rest 4 s: free pages fall below the min watermark faster than kswapd refills them,
#            so tasks reclaim directly (allocstall, pgscan_direct; RCL001); until the collector
#            ends (its start snapshot alone can take a minute under TCG)
#   t = $SOS_AT  sos report --batch --only-plugins $SOS_PLUGINS (in /var/tmp, moved to /host/out/)
#   end      the collector and sos done: units stopped, rc written to /host/out/status
#
# Not `set -e`: the script must reach the end (status, power-off) whatever fails.
set -u

# shellcheck disable=SC1091 # written by kernels.sh
. /host/scenario.env # ACCEL INTERVAL DURATION SOS_AT SOS_PLUGINS WAVES
WAVES=${WAVES:-0}
OUT=/host/out
STATUS=0
section() { printf '\n=== %s\n' "$*"; }
fail() {
    echo "FAILED: $*"
    STATUS=$1
}

echo "boot: scenario started at guest uptime $(cut -d' ' -f1 /proc/uptime)s"
section "guest $(uname -r), $(nproc) CPUs, accelerator $ACCEL"
systemd-analyze time
CGFS=$(stat -fc %T /sys/fs/cgroup)
echo "/sys/fs/cgroup is $CGFS; cgroup.controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
[ "$CGFS" = cgroup2fs ] || fail 2 "not the unified cgroup v2 hierarchy"
{
    echo "uname: $(uname -a)"
    echo "debian_version: $(cat /etc/debian_version)"
    echo "python3: $(python3 --version 2>&1)"
    echo "systemd-analyze time: $(systemd-analyze time | head -n 1)"
    echo "cgroup fs: $CGFS"
    dpkg-query -W -f '${Package} ${Version}\n' systemd python3 sosreport postgresql 'postgresql-[0-9]*' \
        'linux-image-[0-9]*' 2>/dev/null
} >"$OUT/versions.txt"

section "THP enabled=always, PostgreSQL"
echo always >/sys/kernel/mm/transparent_hugepage/enabled
cat /sys/kernel/mm/transparent_hugepage/enabled
for d in /etc/postgresql/*/main/conf.d; do
    printf 'shared_buffers = 256MB\nhuge_pages = off\n' >"$d/vmt.conf"
done
systemctl restart postgresql
psql_q() { runuser -u postgres -- psql -qAt "$@"; }
for _ in $(seq 60); do psql_q -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
psql_q -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
    -c "CREATE TABLE vmt AS SELECT g AS id, repeat(md5(g::text), 6) AS pad FROM generate_series(1, 500000) g" \
    -c "SELECT 'prewarmed blocks', pg_prewarm('vmt')" -c "SHOW shared_buffers" || fail 3 "postgres set-up"

section "episodes"
systemd-run --unit=vmt-high -p MemoryHigh=64M \
    python3 /host/hog.py hold --name high-hog --hold 96 --churn 16
sleep 2
systemd-run --unit=vmt-oom -p MemoryMax=96M -p OOMPolicy=continue \
    /bin/sh -c 'while :; do python3 /host/hog.py grow --name oom-hog --step 16; sleep 3; done'
sleep 3

if [ "$WAVES" = 1 ]; then
    section "page cache for the reclaim waves"
    dd if=/dev/zero of=/var/tmp/vmt-cache.dat bs=1M count=640 status=none && sync
    cat /var/tmp/vmt-cache.dat >/dev/null
    grep -E '^(MemAvailable|Cached):' /proc/meminfo
fi

section "vmcollect --interval $INTERVAL --duration ${DURATION}s --output /host/out/"
T0=$(date +%s)
python3 /host/vmcollect.pyz --interval "$INTERVAL" --duration "${DURATION}s" --output "$OUT/" \
    >"$OUT/collect.stdout" 2>"$OUT/collect.stderr" &
COLLECT_PID=$!
(
    while [ -e /proc/"$COLLECT_PID" ]; do
        psql_q -c "SET work_mem = '256MB'" \
            -c "SELECT count(*) FROM (SELECT * FROM vmt ORDER BY pad DESC) s" >/dev/null 2>&1
        sleep 5
    done
) &
SORT_PID=$!
CACHE_PID=
if [ "$WAVES" = 1 ]; then
    sleep 5
    WAVES_T0=$(grep -E '^(allocstall_|pgscan_direct |pgscan_kswapd )' /proc/vmstat | tr '\n' ' ')
    for i in 1 2; do
        systemd-run --unit="vmt-waves-$i" \
            python3 /host/hog.py waves --name "wave-hog-$i" --margin 384 --share 2 --pause 4 --seconds 900
    done
    (
        while [ -e /proc/"$COLLECT_PID" ]; do
            cat /var/tmp/vmt-cache.dat >/dev/null
            sleep 1
        done
    ) &
    CACHE_PID=$!
    sleep $((SOS_AT - 5))
else
    sleep "$SOS_AT"
fi

section "sos report at t=$(($(date +%s) - T0))s"
mkdir -p /var/tmp/vmt-sos
SOS_T0=$(date +%s)
# shellcheck disable=SC2086 # SOS_PLUGINS is one comma-separated word
sos report --batch --only-plugins "$SOS_PLUGINS" --tmp-dir /var/tmp/vmt-sos \
    >"$OUT/sos.stdout" 2>"$OUT/sos.stderr" || fail 4 "sos report exited with status $?"
echo "sos report took $(($(date +%s) - SOS_T0))s"
tail -n 8 "$OUT/sos.stdout"
mv /var/tmp/vmt-sos/sosreport-* "$OUT/" || fail 4 "no sos archive"

section "waiting for vmcollect"
wait "$COLLECT_PID" || fail 5 "vmcollect exited with status $?"
tail -n 3 "$OUT/collect.stderr"
# shellcheck disable=SC2086 # CACHE_PID is empty without the waves
kill "$SORT_PID" $CACHE_PID 2>/dev/null
[ "$WAVES" = 1 ] && systemctl stop vmt-waves-1 vmt-waves-2

section "what the episodes did"
for u in vmt-high vmt-oom; do
    cg=/sys/fs/cgroup/system.slice/$u.service
    echo "$u: memory.current $(cat "$cg/memory.current") memory.events: $(tr '\n' ' ' <"$cg/memory.events")"
    echo "  memory.pressure: $(tr '\n' ' ' <"$cg/memory.pressure")"
done
grep -E 'thp_fault_alloc|thp_fault_fallback' /proc/vmstat
grep AnonHugePages /proc/meminfo
dmesg | grep -c 'oom-kill:' | sed 's/^/oom-kill lines in dmesg: /'
if [ "$WAVES" = 1 ]; then
    dmesg | grep -c 'global_oom' | sed 's/^/global OOM kills in dmesg: /'
    echo "reclaim counters when the waves started: $WAVES_T0"
    echo "reclaim counters now: $(grep -E '^(allocstall_|pgscan_direct |pgscan_kswapd )' /proc/vmstat | tr '\n' ' ')"
fi
systemctl stop vmt-high vmt-oom

echo "rc=$STATUS" >"$OUT/status"
section "guest done: rc=$STATUS"
