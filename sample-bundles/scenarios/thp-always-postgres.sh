#!/usr/bin/env bash
# thp-always-postgres: PostgreSQL and Redis under load with Transparent Huge Pages set to
# enabled=always (the setting both projects tell you to turn off). A scratch PostgreSQL cluster
# (pg_createcluster, pg_ctlcluster) runs pgbench; redis-server runs redis-benchmark filling ~1 GB.
SCENARIO=thp-always-postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DUR=50
LEAD=4
PG_PORT=5499
PG_CLUSTER=vmtriage
PG_SCALE=20
REDIS_PORT=6399

need_pkg() {
    command -v "$1" >/dev/null && return 0
    log "installing $2 (apt-get; it stays installed)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}
need_pkg pg_createcluster postgresql
need_pkg redis-server redis-server
need_pkg redis-benchmark redis-tools
PG_VER=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
PGBENCH=/usr/lib/postgresql/$PG_VER/bin/pgbench

# THP first, so the services' memory is faulted in under it
set_knob "$THP/enabled" always
no_swap
make_tmpdir
chmod 755 "$TMPD"

# PostgreSQL: a scratch cluster, dropped afterwards (the host's own clusters are not touched)
pg_dropcluster --stop "$PG_VER" "$PG_CLUSTER" 2>/dev/null || true
on_restore pg_dropcluster --stop "$PG_VER" "$PG_CLUSTER"
log "pg_createcluster $PG_VER $PG_CLUSTER on port $PG_PORT"
pg_createcluster -p "$PG_PORT" -o shared_buffers=512MB -o max_connections=50 \
    "$PG_VER" "$PG_CLUSTER" >/dev/null
pg_ctlcluster "$PG_VER" "$PG_CLUSTER" start
pgbench_as() { runuser -u postgres -- "$PGBENCH" -p "$PG_PORT" "$@"; }
log "pgbench -i -s $PG_SCALE"
pgbench_as -i -q -s "$PG_SCALE" postgres 2>&1 | tail -n 1 >&2

# Redis: started as the redis user with redis-server's own daemon mode; THP not disabled for it
# (redis' disable-thp defaults to yes since 6.2; older versions and many deployments run without)
chown redis: "$TMPD"
on_restore _redis_stop
_redis_stop() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    [ -f "$TMPD/redis.pid" ] && _kill_wait "$(cat "$TMPD/redis.pid")"
    return 0
}
runuser -u redis -- redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --save '' --appendonly no --disable-thp no --dir "$TMPD" \
    --pidfile "$TMPD/redis.pid" --logfile "$TMPD/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
log "redis-server up (pid $(cat "$TMPD/redis.pid"))"

collect_start "$DUR"
host_mark
pause "$LEAD"
LOAD_S=$((DUR - LEAD - 5))
start_bg --dir / --log "$TMPD/pgbench.log" pgbench runuser -u postgres -- "$PGBENCH" -p "$PG_PORT" -c 8 -j 2 -T "$LOAD_S" postgres
start_bg --dir / --log "$TMPD/redis-benchmark.log" redis-benchmark timeout "$LOAD_S" redis-benchmark -p "$REDIS_PORT" -q \
    -c 20 -n 5000000 -r 1000000 -d 1024 -t set,get
collect_wait
grep -E '^(tps|number of transactions actually)' "$TMPD/pgbench.log" | sed 's/^/  pgbench: /' >&2 || true
tr '\r' '\n' <"$TMPD/redis-benchmark.log" | grep -v '^ *$' | tail -n 1 | sed 's/^/  redis-benchmark: /' >&2 || true
host_report thp_fault_alloc thp_fault_fallback thp_collapse_alloc compact_stall
log "AnonHugePages now $(($(meminfo_kib AnonHugePages) / 1024)) MiB; redis-server: $(grep AnonHugePages "/proc/$(cat "$TMPD/redis.pid")/smaps_rollup" | awk '{print $2/1024 " MiB"}')"

expect_text knob:sys/kernel/mm/transparent_hugepage/enabled:start always
expect_text knob:sys/kernel/mm/transparent_hugepage/enabled:end always
expect_fact vmstat:thp_fault_alloc:delta -gt 100
expect_fact meminfo:AnonHugePages:max -gt $((256 * 1024))
expect_fact proc:postgres:pids -ge 8
expect_fact proc:redis-server:rss_max_kib -gt $((256 * 1024))
expect_fact proc:pgbench:pids -ge 1
observe vmstat:thp_fault_alloc:delta vmstat:thp_fault_fallback:delta vmstat:compact_stall:delta meminfo:AnonHugePages:max proc:redis-server:rss_max_kib proc:postgres:pids
finish_bundle
readme_row \
    "THP \`enabled=always\` (was madvise; defrag left as found); PostgreSQL $PG_VER scratch cluster (pg_createcluster/pg_ctlcluster, shared_buffers 512MB) under \`pgbench -c 8 -j 2\` (scale $PG_SCALE); redis-server (own daemon mode, \`disable-thp no\`) filled by \`redis-benchmark -t set,get -d 1024 -r 1000000\`; load from ${LEAD}s to $((LEAD + LOAD_S))s" \
    "THP misconfiguration for databases: transparent_hugepage/enabled is \`always\` while PostgreSQL (\`postgres\` processes) and Redis (\`redis-server\`) run; AnonHugePages grows (mostly redis-server's heap) and thp_fault_alloc rises; the advice is madvise/never for these workloads; nothing else is wrong (no swap, no OOM)" \
    "thp_fault_alloc +$(bundle_fact vmstat:thp_fault_alloc:delta), thp_fault_fallback +$(bundle_fact vmstat:thp_fault_fallback:delta), compact_stall +$(bundle_fact vmstat:compact_stall:delta); AnonHugePages max $(($(bundle_fact meminfo:AnonHugePages:max) / 1024)) MiB; redis-server RSS max $(($(bundle_fact proc:redis-server:rss_max_kib) / 1024)) MiB; $(bundle_fact proc:postgres:pids) postgres pids"
