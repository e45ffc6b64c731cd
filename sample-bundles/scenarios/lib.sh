# shellcheck shell=bash disable=SC2034  # variables set here are used by the scenarios
# Common set-up / tear-down for the sample-bundle scenarios. Source it from a scenario script:
#
#     SCENARIO=swap-thrash
#     . "$(dirname "$0")/lib.sh"
#
# What it gives a scenario:
#   - a restore stack: every change goes through a helper that pushes its undo (on_restore), and the
#     stack is unwound in reverse order on EXIT, INT and TERM, whatever happened;
#   - host helpers that record-and-undo: set_knob (THP, sysctls), no_swap, swapfile_on, cg_create,
#     start_bg / start_workload [--cg] (processes killed on exit), make_tmpdir;
#   - the collector run (collect_start / collect_wait): `vmcollect --interval 1s --duration Ns`
#     for the whole episode;
#   - bundle checks (bundle_fact / expect_fact / expect_text) read back from the bundle itself, so
#     a capture that did not show its condition fails instead of being committed;
#   - finish_bundle: path scrub (scrub_bundle.py), 2 MiB cap, move to sample-bundles/<scenario>.tar.gz;
#   - readme_row: the scenario's line in sample-bundles/README.md.
#
# Environment:
#   VMCOLLECT   command that runs the collector (default: "$PYTHON dist/vmcollect.pyz")
#   PYTHON      interpreter for the collector (default: python3)
#   VMT_KEEP_GOING=1  write the bundle even if the scenario's checks fail (for debugging)

set -Eeuo pipefail

: "${SCENARIO:?set SCENARIO before sourcing lib.sh}"

SCEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SAMPLES_DIR=$(cd "$SCEN_DIR/.." && pwd)
REPO_ROOT=$(cd "$SAMPLES_DIR/.." && pwd)
WORKLOADS="$SCEN_DIR/workloads"
README="$SAMPLES_DIR/README.md"
BUNDLE_OUT="$SAMPLES_DIR/$SCENARIO.tar.gz"
PYTHON=${PYTHON:-python3}
# Workloads run under the system interpreter so `exec -a NAME` really names the process (a pyenv
# shim would re-exec and lose argv[0]).
WPY=/usr/bin/python3
[ -x "$WPY" ] || WPY=$(command -v python3)
# Everything runs from the repository root with relative paths, so no command line captured in a
# bundle names the folder this checkout happens to live in.
cd "$REPO_ROOT"
VMCOLLECT=${VMCOLLECT:-"$PYTHON dist/vmcollect.pyz"}
INTERVAL=${INTERVAL:-1s}
CG_PREFIX=vmtriage-sample

log() { printf '[%s %s] %s\n' "$(date +%T)" "$SCENARIO" "$*" >&2; }
warn() { printf '[%s %s] WARNING: %s\n' "$(date +%T)" "$SCENARIO" "$*" >&2; }
die() { printf '[%s %s] ERROR: %s\n' "$(date +%T)" "$SCENARIO" "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: the scenarios change THP, swap, sysctls and cgroups"

# ---------------------------------------------------------------------------------------------
# Restore stack

_RESTORE=()
_RESTORING=0

# on_restore CMD ARGS...: push one undo step (run in reverse order of pushing).
on_restore() {
    local q
    q=$(printf '%q ' "$@")
    _RESTORE+=("$q")
}

run_restore() {
    [ "$_RESTORING" = 0 ] || return 0
    _RESTORING=1
    set +e
    local i
    for ((i = ${#_RESTORE[@]} - 1; i >= 0; i--)); do
        log "restore: ${_RESTORE[i]}"
        eval "${_RESTORE[i]}" || warn "restore step failed: ${_RESTORE[i]}"
    done
    _RESTORE=()
    _RESTORING=0
}

_on_exit() {
    local rc=$?
    trap - EXIT
    # a second Ctrl-C must not cut the restore short
    trap 'warn "signal ignored: restoring the host first"' INT TERM
    run_restore
    trap - INT TERM
    if [ "$rc" = 0 ]; then log "done"; else warn "exiting with status $rc (host restored)"; fi
    exit "$rc"
}
_on_signal() {
    warn "interrupted by SIG$1: restoring the host"
    exit $((128 + $2))
}
trap _on_exit EXIT
trap '_on_signal INT 2' INT
trap '_on_signal TERM 15' TERM
trap 'warn "command failed (line $LINENO): $BASH_COMMAND"' ERR

# pause SECONDS: a sleep that a signal interrupts at once (a foreground sleep would delay the trap).
pause() {
    sleep "$1" &
    wait $! || true
}

# ---------------------------------------------------------------------------------------------
# Host knobs

# knob_value FILE: the current value of a sysfs/procfs knob; for THP-style files
# ("always [madvise] never") the selected word.
knob_value() {
    local v
    v=$(cat "$1")
    if [[ "$v" == *"["*"]"* ]]; then
        v=${v#*[}
        v=${v%%]*}
    fi
    printf '%s' "$v"
}

_write_knob() {
    printf '%s' "$2" >"$1"
}

# set_knob FILE VALUE: write VALUE, restore the old value on exit.
set_knob() {
    local file=$1 new=$2 old
    old=$(knob_value "$file")
    if [ "$old" = "$new" ]; then
        log "$file already $new"
        return 0
    fi
    on_restore _write_knob "$file" "$old"
    log "$file: $old -> $new"
    _write_knob "$file" "$new"
}

THP=/sys/kernel/mm/transparent_hugepage

# no_swap: the episode must run without swap. On this shared host an active swap area is most
# likely another developer's test: wait up to VMT_SWAP_WAIT seconds (default 60) for it to go away
# rather than pull it from under them; a swap area still there after that is the host's own: it is
# turned off for the episode and back on afterwards.
swap_areas() { awk 'NR > 1 { print $1 }' /proc/swaps; }
no_swap() {
    local dev waited=0
    while [ -n "$(swap_areas)" ] && [ "$waited" -lt "${VMT_SWAP_WAIT:-60}" ]; do
        [ "$waited" = 0 ] && log "swap is active ($(swap_areas | tr '\n' ' ')): waiting for it to go away"
        pause 2
        waited=$((waited + 2))
    done
    for dev in $(swap_areas); do
        log "swapoff $dev for the episode"
        on_restore swapon "$dev"
        swapoff "$dev"
    done
}

# swapfile_on MIB: create, mkswap and swapon a swap file; swapoff and removal on exit.
swapfile_on() {
    local mib=$1 dir=${VMT_SWAPDIR:-/var/tmp} f
    f="$dir/vmtriage-$SCENARIO.swap"
    [ -e "$f" ] && { swapoff "$f" 2>/dev/null || true; rm -f "$f"; }
    on_restore _swapfile_off "$f"
    log "swap file $f ($mib MiB)"
    dd if=/dev/zero of="$f" bs=1M count="$mib" status=none
    chmod 600 "$f"
    mkswap "$f" >/dev/null
    swapon "$f"
    SWAPFILE=$f
}
_swapfile_off() {
    local i
    for i in 1 2 3; do
        grep -q "^$1 " /proc/swaps || break
        swapoff "$1" && break
        sleep 1
    done
    if grep -q "^$1 " /proc/swaps; then
        warn "swapoff $1 failed: it is left in place (swapoff $1; rm $1)"
        return 1
    fi
    rm -f "$1"
}

# make_tmpdir: a scratch directory on disk (not tmpfs), removed on exit. Sets TMPD.
make_tmpdir() {
    TMPD=$(mktemp -d "${VMT_TMPDIR:-/var/tmp}/vmtriage-$SCENARIO.XXXXXX")
    on_restore rm -rf "$TMPD"
}

# ---------------------------------------------------------------------------------------------
# Memory cgroups (v2 memory.max when the v2 hierarchy has the memory controller, else v1)

cg_detect() {
    if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        CG_VER=2 CG_ROOT=/sys/fs/cgroup
    elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers; then
        CG_VER=2 CG_ROOT=/sys/fs/cgroup/unified
    elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        CG_VER=1 CG_ROOT=/sys/fs/cgroup/memory
    else
        die "no memory cgroup controller (neither v2 memory.max nor v1 memory.limit_in_bytes)"
    fi
}

# cg_create NAME LIMIT_MIB: a memory cgroup limited to LIMIT_MIB, its processes killed and the
# group removed on exit. Sets CG (its directory).
cg_create() {
    local name="$CG_PREFIX-$1" mib=$2
    cg_detect
    CG="$CG_ROOT/$name"
    [ -d "$CG" ] && _cg_remove "$CG"
    if [ "$CG_VER" = 2 ] && ! grep -qw memory "$CG_ROOT/cgroup.subtree_control"; then
        on_restore _write_knob "$CG_ROOT/cgroup.subtree_control" "-memory"
        echo +memory >"$CG_ROOT/cgroup.subtree_control"
    fi
    on_restore _cg_remove "$CG"
    mkdir "$CG"
    if [ "$CG_VER" = 2 ]; then
        echo $((mib * 1024 * 1024)) >"$CG/memory.max"
    else
        echo $((mib * 1024 * 1024)) >"$CG/memory.limit_in_bytes"
    fi
    log "cgroup v$CG_VER $CG limited to $mib MiB"
}
_cg_remove() {
    local cg=$1 i pid
    [ -d "$cg" ] || return 0
    for i in $(seq 50); do
        [ -s "$cg/cgroup.procs" ] || break
        while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$cg/cgroup.procs"
        sleep 0.1
    done
    for i in $(seq 50); do
        rmdir "$cg" 2>/dev/null && return 0
        sleep 0.1
    done
    warn "could not remove $cg"
    return 1
}

# cg_set FILE VALUE: write a file of the current cgroup.
cg_set() { echo "$2" >"$CG/$1"; }

# ---------------------------------------------------------------------------------------------
# Processes

# start_bg [--cg] [--dir DIR] [--log FILE] NAME CMD...: start CMD in the background as process
# NAME (argv[0]), inside the current cgroup with --cg, from DIR with --dir, its output to FILE with
# --log. Killed on exit. Sets BG_PID.
start_bg() {
    local in_cg=0 dir=. out=
    while :; do
        case $1 in
        --cg) in_cg=1; shift ;;
        --dir) dir=$2; shift 2 ;;
        --log) out=$2; shift 2 ;;
        *) break ;;
        esac
    done
    local name=$1
    shift
    (
        if [ "$in_cg" = 1 ]; then echo "$BASHPID" >"$CG/cgroup.procs"; fi
        if [ -n "$out" ]; then exec >>"$out" 2>&1; fi
        cd "$dir" && exec -a "$name" "$@"
    ) &
    BG_PID=$!
    on_restore _kill_wait "$BG_PID"
    log "started $name (pid $BG_PID): $*"
}

# start_workload [--cg] NAME SCRIPT ARGS...: run workloads/SCRIPT under the system python3 as
# process NAME (argv[0] via exec -a; the workload sets its comm to NAME via --name), started from
# the workloads folder so its command line holds no absolute path. Sets BG_PID.
start_workload() {
    local cg=()
    if [ "$1" = --cg ]; then cg=(--cg); shift; fi
    local name=$1 script=$2
    shift 2
    start_bg "${cg[@]}" --dir "$WORKLOADS" "$name" "$WPY" "$script" --name "$name" "$@"
}

# _kill_wait PID: TERM, then KILL after 5 s.
_kill_wait() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Kernel counters (for the scenario's own log)

vmstat_get() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
meminfo_kib() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

# host_mark / host_report KEY...: log how /proc/vmstat counters moved since host_mark, read
# straight from the kernel (independent of the collector).
host_mark() { HOST_MARK=$(cat /proc/vmstat); }
host_report() {
    local k a b out=""
    for k in "$@"; do
        a=$(awk -v k="$k" '$1 == k { print $2 }' <<<"$HOST_MARK")
        b=$(vmstat_get "$k")
        out+=" $k +$((b - a))"
    done
    log "kernel counters since the mark:$out"
}

# ---------------------------------------------------------------------------------------------
# The collector

# wait_quiet_host: the host is shared; when someone else's test has thousands of processes up,
# wait up to VMT_QUIET_WAIT seconds (default 30) for fewer than VMT_QUIET_PROCS (default 600), so
# the bundle shows the scenario rather than their noise (and stays small). Goes on regardless.
# nprocs: pure shell, since find(1) fails (and with it the scenario) when a process exits while
# it walks /proc.
nprocs() {
    local d n=0
    for d in /proc/[0-9]*; do n=$((n + 1)); done
    echo "$n"
}
wait_quiet_host() {
    local limit=${VMT_QUIET_PROCS:-600} waited=0 n
    n=$(nprocs)
    while [ "$n" -ge "$limit" ] && [ "$waited" -lt "${VMT_QUIET_WAIT:-30}" ]; do
        [ "$waited" = 0 ] && log "$n processes on the host: waiting for fewer than $limit"
        pause 2
        waited=$((waited + 2))
        n=$(nprocs)
    done
    [ "$n" -lt "$limit" ] || warn "still $n processes on the host after ${waited}s: capturing anyway"
}

# collect_start SECONDS: start vmcollect for the whole episode (interval $INTERVAL).
collect_start() {
    wait_quiet_host
    COLLECT_SECONDS=$1
    COLLECT_DIR=$(mktemp -d "${VMT_TMPDIR:-/var/tmp}/vmtriage-collect-$SCENARIO.XXXXXX")
    on_restore rm -rf "$COLLECT_DIR"
    log "collector: $VMCOLLECT --interval $INTERVAL --duration ${COLLECT_SECONDS}s --output $COLLECT_DIR/"
    # shellcheck disable=SC2086
    $VMCOLLECT --interval "$INTERVAL" --duration "${COLLECT_SECONDS}s" --output "$COLLECT_DIR/" \
        >"$COLLECT_DIR/stdout.log" 2>"$COLLECT_DIR/stderr.log" &
    COLLECT_PID=$!
    on_restore _collect_abort "$COLLECT_PID"
    COLLECT_T0=$(date +%s)
}
_collect_abort() {
    # Interrupted while collecting: stop the collector (it writes its partial bundle into
    # COLLECT_DIR, which is discarded; the committed bundle is left as it was).
    kill -0 "$1" 2>/dev/null || return 0
    kill -INT "$1" 2>/dev/null || true
    _kill_wait "$1"
}

# collect_wait: wait for the collector; set BUNDLE to the bundle it wrote (last line of stdout).
collect_wait() {
    local rc=0
    wait "$COLLECT_PID" || rc=$?
    COLLECT_ELAPSED=$(($(date +%s) - COLLECT_T0))
    if [ "$rc" != 0 ]; then
        sed 's/^/  collector stderr: /' "$COLLECT_DIR/stderr.log" >&2 || true
        die "collector exited with status $rc"
    fi
    BUNDLE=$(tail -n 1 "$COLLECT_DIR/stdout.log")
    [ -f "$BUNDLE" ] || die "collector's last stdout line is not a file: '$BUNDLE'"
    log "bundle: $BUNDLE ($(stat -c %s "$BUNDLE") bytes, collector ran ${COLLECT_ELAPSED}s)"
}

# wait_until_collector_done: like pause, until the collector has exited.
collector_running() { kill -0 "$COLLECT_PID" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Checks on the bundle, and the README line

FACTS="$SCEN_DIR/bundle_facts.py"

# facts QUERY...: read the values of the queries not read yet from $BUNDLE, in one pass (reading a
# bundle takes seconds), into FACT[QUERY]. Call it in the scenario's own shell, not in $(...).
declare -A FACT=()
facts() {
    local q i need=() vals=()
    for q in "$@"; do [ -n "${FACT[$q]+x}" ] || need+=("$q"); done
    [ "${#need[@]}" = 0 ] && return 0
    mapfile -t vals < <("$WPY" "$FACTS" "$BUNDLE" "${need[@]}")
    [ "${#vals[@]}" = "${#need[@]}" ] || { warn "cannot read ${need[*]} from $BUNDLE"; return 1; }
    for i in "${!need[@]}"; do FACT[${need[i]}]=${vals[i]}; done
}

# bundle_fact QUERY: one value (see bundle_facts.py for the queries); from FACT when prefetched.
bundle_fact() {
    if [ -n "${FACT[$1]+x}" ]; then printf '%s\n' "${FACT[$1]}"; else "$WPY" "$FACTS" "$BUNDLE" "$1"; fi
}

# expect_fact QUERY OP NUMBER (OP: -gt -ge -lt -le -eq) / expect_text QUERY VALUE: what the bundle
# must show. Evaluated together by finish_bundle, which refuses to publish a capture that fails.
CHECKS=()
OBSERVE=()
CHECK_FAILED=0
expect_fact() { CHECKS+=("$1" "$2" "$3"); }
expect_text() { CHECKS+=("$1" "=" "$2"); }
# observe QUERY...: queries the README line will use: read in the same pass as the checks.
observe() { OBSERVE+=("$@"); }

run_checks() {
    local i q op want v queries=()
    for ((i = 0; i < ${#CHECKS[@]}; i += 3)); do queries+=("${CHECKS[i]}"); done
    [ "${#queries[@]}" = 0 ] && [ "${#OBSERVE[@]}" = 0 ] && return 0
    facts "${queries[@]}" "${OBSERVE[@]}" || { CHECK_FAILED=1; return 0; }
    for ((i = 0; i < ${#CHECKS[@]}; i += 3)); do
        q=${CHECKS[i]} op=${CHECKS[i + 1]} want=${CHECKS[i + 2]} v=${FACT[${CHECKS[i]}]}
        if [ "$op" = = ]; then
            [ "$v" = "$want" ]
        else
            test "${v%.*}" "$op" "$want" 2>/dev/null
        fi && log "check ok: $q = $v ($op $want)" && continue
        warn "check FAILED: $q = '$v', expected $op $want"
        CHECK_FAILED=1
    done
    CHECKS=()
}

# scrub_paths: rewrite paths under the folder that holds this checkout (other developers' test
# runs and builds on this shared host show up in command lines and numa_maps) to /src/ in
# $BUNDLE (scrub_bundle.py; the only edit made to captured content).
scrub_paths() {
    local parent n
    parent=$(dirname "$REPO_ROOT")
    [ "$parent" = / ] && return 0
    n=$("$WPY" "$SCEN_DIR/scrub_bundle.py" "$BUNDLE" "$parent/" /src/)
    [ "$n" = 0 ] || log "replaced $n checkout-folder paths by /src/ in the bundle"
}

# finish_bundle: scrub the bundle and move it into sample-bundles/ unless a check failed; enforce
# the 2 MiB cap.
finish_bundle() {
    local size
    run_checks
    if [ "$CHECK_FAILED" != 0 ] && [ "${VMT_KEEP_GOING:-0}" != 1 ]; then
        die "the capture did not show what the scenario is about: ${BUNDLE_OUT#"$REPO_ROOT"/} left unchanged (VMT_KEEP_GOING=1 writes it anyway)"
    fi
    scrub_paths
    size=$(stat -c %s "$BUNDLE")
    if [ "$size" -ge $((2 * 1024 * 1024)) ] && [ "${VMT_KEEP_GOING:-0}" != 1 ]; then
        die "bundle is $size bytes, over the 2 MiB cap: ${BUNDLE_OUT#"$REPO_ROOT"/} left unchanged"
    fi
    mv -f "$BUNDLE" "$BUNDLE_OUT"
    BUNDLE=$BUNDLE_OUT
    log "wrote ${BUNDLE_OUT#"$REPO_ROOT"/} ($size bytes)"
}

# readme_row WHAT_RAN MUST_FIND OBSERVED: write this scenario's line of the README table (replacing
# its old line), with kernel, collector version and duration/interval taken from the bundle.
readme_row() {
    "$WPY" "$FACTS" "$BUNDLE" --readme-row "$README" "$SCENARIO" "$1" "$2" "$3"
    log "README.md line updated"
}
