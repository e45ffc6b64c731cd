#!/usr/bin/env bash
# make kernels: real vmcollect bundles and sosreports from Debian's own kernels, each taken in a
# QEMU guest booted with systemd (so the unified cgroup v2 hierarchy is real) during real episodes:
#
#   bullseye  Linux 5.10   bookworm  Linux 6.1   trixie  Linux 6.12
#
# For each release: build (once, cached in build/kernels/<release>/image/) a minimal Debian root
# from that release's archive alone (mmdebstrap: systemd-sysv, python3, sosreport, postgresql, the
# distribution kernel), boot it with -kernel/-initrd and systemd as init, and let
# vmt-guest.service run kernel-guest/guest-run.sh from a 9p share: THP=always with PostgreSQL
# (shared_buffers touched), a service throttled above memory.high, a service OOM-killed by its
# memory.max, and during them `vmcollect` and `sos report --batch --only-plugins ...`. The results
# go to tests/data/kernels/<release>/ with a PROVENANCE.md (the tests in tests/kernels/ read them).
# The shared QEMU code is guest-lib.sh (numa-remote.sh uses it too).
#
# Usage: kernels.sh [--rebuild] [--publish-only] [--reclaim-waves] [RELEASE...]
#                                                     (default: bullseye bookworm trixie)
#   --publish-only   no guest: copy what the last guest left in build/kernels/<release>/run/
#                    (kept after a failure) to tests/data/kernels/<release>/
#   --reclaim-waves  add global reclaim waves (hog.py waves over a full page cache: RCL001's
#                    global direct reclaim) and publish to tests/data/kernels/<release>-reclaim/
#                    instead: the waves slow everything under TCG and the other episodes'
#                    promises need not hold there (PostgreSQL exited during bookworm's)
# Environment:
#   KERNELS_ACCEL=auto|kvm|tcg   accelerator (auto: KVM if usable)
#   DURATION=60                  collection window in seconds (INTERVAL from lib.sh, default 1s;
#                                180 with --reclaim-waves, which slow the collector under TCG)
#   SOS_AT=20                    seconds into the window when sos report starts
#   GUEST_TIMEOUT=2400           seconds before a guest is killed (TCG on a busy host is slow)
#   KERNELS_MIRROR               Debian mirror (default http://deb.debian.org/debian)
#   VMCOLLECT_PYZ                collector zipapp (default dist/vmcollect.pyz, built by `make pyz`)

SCENARIO=kernels
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

REBUILD=0
PUBLISH_ONLY=0
WAVES=0
ONE=
SUITES=()
for arg in "$@"; do
    case "$arg" in
    --rebuild) REBUILD=1 ;;
    --publish-only) PUBLISH_ONLY=1 ;;
    --reclaim-waves) WAVES=1 ;;
    --one=*) ONE=${arg#--one=} ;;
    bullseye | bookworm | trixie) SUITES+=("$arg") ;;
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "unknown argument: $arg (see --help)" ;;
    esac
done
DATA="$REPO_ROOT/tests/data/kernels"

if [ -z "$ONE" ]; then
    # One guest per release, each in its own process (its own restore stack and image cache).
    [ "${#SUITES[@]}" -gt 0 ] || SUITES=(bullseye bookworm trixie)
    t0=$(date +%s)
    flags=()
    [ "$REBUILD" = 1 ] && flags+=(--rebuild)
    [ "$PUBLISH_ONLY" = 1 ] && flags+=(--publish-only)
    [ "$WAVES" = 1 ] && flags+=(--reclaim-waves)
    for s in "${SUITES[@]}"; do
        bash "$0" "${flags[@]}" --one="$s" || die "$s failed"
    done
    total=$(($(date +%s) - t0))
    log "all done in ${total}s: ${SUITES[*]}"
    printf '%s\n' "make kernels ($(date -u +%F), ${SUITES[*]}): ${total}s in all, image builds included when not cached" \
        >"$DATA/last-run.txt"
    exit 0
fi

SUITE=$ONE
KG="$SCEN_DIR/kernel-guest"
GUEST_WORK="$REPO_ROOT/build/kernels/$SUITE"
CONSOLE="$GUEST_WORK/console.log"
GUEST_MIRROR=${KERNELS_MIRROR:-http://deb.debian.org/debian}
GUEST_PACKAGES=systemd-sysv,udev,kmod,procps,python3,sosreport,postgresql,linux-image-amd64,initramfs-tools,zstd,xz-utils
GUEST_ACCEL=${KERNELS_ACCEL:-auto}
GUEST_FREE_MIB=1024
GUEST_TIMEOUT=${GUEST_TIMEOUT:-2400}
if [ "$WAVES" = 1 ]; then DURATION=${DURATION:-180}; else DURATION=${DURATION:-60}; fi
SOS_AT=${SOS_AT:-20}
# sos's systemd plugin alone outlasted its 300 s timeout under TCG: left out.
SOS_PLUGINS=memory,kernel,process,system,cgroups,logs,postgresql
GUEST_KEY_FILES=("$KG/vmt-guest.service" "$KG/vmt-guest-start" "$SCEN_DIR/guest-initramfs-hook")
# systemd is init: the scenario is a unit, the serial getty is masked (the console is the log).
# The hooks' "$1" is mmdebstrap's root directory: single quotes on purpose.
# shellcheck disable=SC2016
GUEST_HOOKS=(
    --aptopt='APT::Install-Recommends "false"'
    --customize-hook="upload $KG/vmt-guest.service /etc/systemd/system/vmt-guest.service"
    --customize-hook="upload $KG/vmt-guest-start /usr/local/sbin/vmt-guest-start"
    --customize-hook='chmod 755 "$1/usr/local/sbin/vmt-guest-start"; mkdir -p "$1/etc/systemd/system/multi-user.target.wants"'
    --customize-hook='ln -sf /etc/systemd/system/vmt-guest.service "$1/etc/systemd/system/multi-user.target.wants/"'
    --customize-hook='ln -sf /dev/null "$1/etc/systemd/system/serial-getty@ttyS0.service"'
    --customize-hook="echo kernel-$SUITE >\"\$1/etc/hostname\""
)
GUEST_QEMU_ARGS=(-name "kernel-$SUITE" -smp 2 -m 2G)
# systemd.unified_cgroup_hierarchy=1: bullseye's systemd 247 already defaults to it, bookworm's
# and trixie's too; said explicitly so the guest never falls back to the hybrid layout.
GUEST_APPEND="console=ttyS0 root=/dev/vda rw panic=-1 loglevel=3 systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
# shellcheck source-path=SCRIPTDIR source=guest-lib.sh
. "$SCEN_DIR/guest-lib.sh"

guest_lock
if [ "$PUBLISH_ONLY" = 0 ]; then
    need_packages qemu-system-x86 e2fsprogs
    need_collector
    ensure_image "$REBUILD"
    pick_accel
    new_share
    cp "$KG/guest-run.sh" "$KG/hog.py" "$RUN/"
    cp "$PYZ" "$RUN/vmcollect.pyz"
    cat >"$RUN/scenario.env" <<EOF
ACCEL=$ACCEL INTERVAL=$INTERVAL DURATION=$DURATION SOS_AT=$SOS_AT SOS_PLUGINS=$SOS_PLUGINS WAVES=$WAVES
EOF
    RUN_DATE=$(date -u '+%F %T UTC')
    boot_guest
    # What PROVENANCE.md needs from this run, for a later --publish-only.
    printf 'RUN_DATE=%q IMAGE_SECONDS=%q GUEST_SECONDS=%q BOOT_SECONDS=%q\n' \
        "$RUN_DATE" "$IMAGE_SECONDS" "$GUEST_SECONDS" "$BOOT_SECONDS" >"$RUN/host.env"
fi
if [ ! -f "$RUN/host.env" ] || ! grep -qx 'rc=0' "$RUN/out/status" 2>/dev/null; then
    die "no finished guest run in $GUEST_REL/run/"
fi
# shellcheck disable=SC1091 # written above
. "$RUN/host.env"
# shellcheck disable=SC1091 # written above
. "$RUN/scenario.env"

guest_bundle=$(tail -n 1 "$RUN/out/collect.stdout")
case "$guest_bundle" in
/host/out/*.tar.gz) BUNDLE="$RUN/out/${guest_bundle#/host/out/}" ;;
*) die "the collector's last stdout line is not a bundle in /host/out/: '$guest_bundle'" ;;
esac
# Beside the archive sos writes a checksum file (.sha256, or .md5 on bookworm): not that one.
SOS=$(find "$RUN/out" -maxdepth 1 \( -name 'sosreport-*.tar.xz' -o -name 'sosreport-*.tar.gz' \) | head -n 1)
[ -f "$BUNDLE" ] || die "bundle $guest_bundle not found in the share"
[ -n "$SOS" ] || die "no sosreport archive in the share"

# prune_sos ARCHIVE: a sosreport over 2 MiB loses the big files no memory analysis reads
# (symbol and trace-function lists, module indexes), listed in PRUNED; nothing else changes.
PRUNE=(proc/kallsyms 'sys/kernel/debug/tracing/available_filter_functions*'
    sys/kernel/debug/dynamic_debug/control 'usr/lib/modules/*/modules.*')
PRUNED=
prune_sos() {
    local tmp="$GUEST_WORK/sos-prune" top p
    [ "$(stat -c %s "$1")" -gt $((2 * 1024 * 1024)) ] || return 0
    case "$1" in
    *.tar.xz) ;;
    *) die "${1##*/} is over 2 MiB and not a .tar.xz: prune it by hand" ;;
    esac
    rm -rf "$tmp"
    mkdir -p "$tmp"
    tar -C "$tmp" -xJf "$1"
    top=$(basename "$1" .tar.xz)
    for p in "${PRUNE[@]}"; do
        # shellcheck disable=SC2086 # the patterns are globs on purpose
        for f in "$tmp/$top"/$p; do
            [ -e "$f" ] && rm -f "$f" && PRUNED+="${f#"$tmp/$top/"} "
        done
    done
    tar -C "$tmp" --numeric-owner -cf - "$top" | xz -9 >"$1.pruned"
    mv "$1.pruned" "$1"
    rm -rf "$tmp"
    log "sosreport pruned to $(stat -c %s "$1") bytes: $PRUNED"
}
prune_sos "$SOS"
for f in "$BUNDLE" "$SOS"; do
    size=$(stat -c %s "$f")
    [ "$size" -le $((2 * 1024 * 1024)) ] || die "${f##*/} is $size bytes, over the 2 MiB cap"
done

dest="$DATA/$SUITE"
[ "${WAVES:-0}" = 1 ] && dest="$DATA/$SUITE-reclaim"
mkdir -p "$dest"
rm -f "$dest"/vmcollect.tar.gz "$dest"/sosreport.tar.*
cp "$BUNDLE" "$dest/vmcollect.tar.gz"
cp "$SOS" "$dest/sosreport.tar.${SOS##*.tar.}"
cp "$RUN/out/versions.txt" "$dest/versions.txt"
tr -d '\r' <"$CONSOLE" >"$dest/console.log"

kernel=$(cat "$IMAGE/kernel-release")
pkgver() { awk -v p="$1" '$1 == p { print $2 }' "$IMAGE/packages"; }
pg=$(awk '$1 ~ /^postgresql-[0-9]+$/ { print $1 " " $2 }' "$IMAGE/packages")
{
    echo "# $SUITE: Linux $kernel under systemd (cgroup v2)"
    echo
    echo "Made by \`make kernels\` (sample-bundles/scenarios/kernels.sh, guest side in"
    echo "sample-bundles/scenarios/kernel-guest/) on $RUN_DATE. Do not edit: rerun it."
    echo
    echo "## What ran"
    echo
    echo "- QEMU guest ($ACCEL, 2 vCPUs, 2 GiB, no swap), root built by mmdebstrap from $GUEST_MIRROR"
    echo "  $SUITE main alone; booted with -kernel/-initrd of the release's own kernel and"
    echo "  systemd as PID 1 (\`$GUEST_APPEND\`)."
    echo "- Kernel $kernel (linux-image-amd64 $(pkgver linux-image-amd64)); systemd $(pkgver systemd);"
    echo "  python3 $(pkgver python3); sosreport $(pkgver sosreport); $pg."
    echo "- Times: image build ${IMAGE_SECONDS}s (0: cached), guest run ${GUEST_SECONDS}s from QEMU"
    echo "  start to power-off, scenario start at guest uptime ${BOOT_SECONDS}s"
    echo "  ($(sed -n 's/^systemd-analyze time: //p' "$dest/versions.txt"))."
    echo "- Episodes (kernel-guest/guest-run.sh): THP \`enabled=always\`, PostgreSQL restarted with"
    echo "  shared_buffers 256MB and a 500000-row table loaded into it with pg_prewarm, a sort with"
    echo "  work_mem 256MB every 5 s; \`vmt-high.service\` (systemd-run -p MemoryHigh=64M) holding"
    echo "  96 MiB and churning 16 MiB/s (hog.py hold); \`vmt-oom.service\` (systemd-run"
    echo "  -p MemoryMax=96M -p OOMPolicy=continue) restarting hog.py grow, 16 MiB per 0.2 s, every"
    echo "  3 s after the memcg OOM killer kills it."
    [ "${WAVES:-0}" = 1 ] && {
        echo "- Reclaim waves (\`--reclaim-waves\`): from 5 s into the capture until its end, a 640 MiB"
        echo "  file re-read every second to keep the page cache full while two"
        echo "  \`vmt-waves-N.service\` (hog.py waves) allocate MemAvailable - 384 MiB between them,"
        echo "  hold it 1 s, free it and rest 4 s."
    }
    echo "- \`vmcollect.tar.gz\`: \`python3 vmcollect.pyz --interval $INTERVAL --duration ${DURATION}s\`"
    echo "  started once both services ran (vmcollect finds new cgroups every 12 samples only); it wrote $(sed -n 's/^wrote \([0-9]*\) samples.*/\1/p' "$RUN/out/collect.stderr")"
    echo "  samples (TCG on a busy 2-core host keeps it from sampling every second)."
    echo "- \`sosreport.tar.${SOS##*.tar.}\`: \`sos report --batch --only-plugins $SOS_PLUGINS\`, started"
    echo "  ${SOS_AT}s into the capture, while all episodes ran; nothing scrubbed. $(
        [ -z "$PRUNED" ] && echo "The archive is as sos wrote it." ||
            echo "Over 2 MiB as sos wrote it, so these members (no memory data) were removed and the rest repacked with xz -9: $PRUNED"
    )"
    echo "- \`console.log\`: the guest's serial console; \`versions.txt\`: what the guest reported."
    echo
    echo "## What to expect"
    echo
    echo "- Bundle: cgroup v2 tables for system.slice/vmt-high.service (memory.events high rising,"
    echo "  usage above memory.high 64 MiB, memory.pressure some/full rising) and"
    echo "  system.slice/vmt-oom.service (memory.max 96 MiB, memory.events max and oom_kill rising);"
    echo "  kernel-log oom_kill events for \`oom-hog\` with oom_memcg=/system.slice/vmt-oom.service."
    echo "  CGR001 flags both services, OOM001 the kills with their cgroup; THP001 fires (THP always,"
    echo "  postgres processes)."
    [ "${WAVES:-0}" = 1 ] && {
        echo "- Reclaim waves: host \`allocstall_*\` and \`pgscan_direct\` rise during the capture"
        echo "  (global direct reclaim, not a cgroup's); RCL001 reports it with kswapd's share of the"
        echo "  scanning and the reclaim efficiency. The waves disturb the rest: fewer samples, and"
        echo "  the other episodes' promises above need not hold (check the console log)."
    }
    echo "- sosreport: the same host at one moment: \`sos_commands/kernel/dmesg\` with the OOM kills,"
    echo "  the process list with postgres and high-hog (oom-hog only when ps ran while one lived),"
    echo "  THP \`always\`."
    echo
    echo "## Observed in the guest (console log)"
    echo
    echo '```'
    sed -n '/^=== what the episodes did/,/^=== guest done/p' "$dest/console.log"
    echo '```'
} >"$dest/PROVENANCE.md"
log "$SUITE: $(du -h "$dest"/vmcollect.tar.gz "$dest"/sosreport.tar.* | tr '\n\t' '  ')"
