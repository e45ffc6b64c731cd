#!/usr/bin/env bash
# Scenario numa-remote: a real two-node NUMA episode, captured inside a QEMU guest (this host has
# one NUMA node). The guest has 2 vCPUs and 2 x 1 GiB, one CPU and one memory backend per node
# (distance 10/20). Inside it (numa-guest/guest-run.sh):
#
#   numa-remote  `numactl --cpunodebind=0 --membind=1`: runs on node 0, all its memory on node 1
#   numa-spill   `numactl --cpunodebind=0`, default policy: fills node 0, then spills onto node 1
#   vmcollect    `--interval 1s --duration 40s --output /host/out/` over the steady state
#
# so node 1 takes remote allocations (other_node, and numa_miss from the spill), node 0 reports
# numa_foreign, and numa_maps shows bind:1 memory on N1 for a task whose CPUs are node 0's.
#
# Steps: install qemu-system-x86 / mmdebstrap / e2fsprogs when missing; build (once, cached in
# build/numa-guest/image/) a minimal Debian root of the host's release with python3, numactl and the
# distribution kernel; boot it with -kernel/-initrd (no init system: /sbin/vmt-init), under KVM
# when /dev/kvm works, else TCG; pass the collector in and the bundle out through a 9p share
# (build/numa-guest/run/, removed at exit); check the bundle and move it to
# sample-bundles/numa-remote.tar.gz; write the scenario's README line.
#
# Usage: numa-remote.sh [--probe] [--rebuild]
#   --probe     boot and run the workloads without the collector (proves the guest; console log in
#               build/numa-guest/console-probe.log); needs no dist/vmcollect.pyz
#   --rebuild   rebuild the cached guest image
# Environment:
#   NUMA_ACCEL=auto|kvm|tcg   accelerator (auto: KVM if usable)
#   DURATION=40               collection window in seconds (INTERVAL from lib.sh, default 1s)
#   GUEST_TIMEOUT=480         seconds before the guest is killed
#   VMCOLLECT_PYZ             collector zipapp (default dist/vmcollect.pyz, built by `make pyz`)

SCENARIO=numa-remote
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

MODE=collect
REBUILD=0
for arg in "$@"; do
    case "$arg" in
    --probe) MODE=probe ;;
    --rebuild) REBUILD=1 ;;
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "unknown argument: $arg (see --help)" ;;
    esac
done

DURATION=${DURATION:-40}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-480}
PYZ=${VMCOLLECT_PYZ:-$REPO_ROOT/dist/vmcollect.pyz}
GUEST_SRC="$SCEN_DIR/numa-guest"
GUEST_WORK="$REPO_ROOT/build/numa-guest"
IMAGE="$GUEST_WORK/image"
RUN="$GUEST_WORK/run"
CONSOLE="$GUEST_WORK/console-$MODE.log"
GUEST_PACKAGES=python3,numactl,linux-image-amd64,initramfs-tools,zstd
# The workloads' sizes (MiB, churn per second): see numa-guest/workload.py. Node 1 must hold
# HOLD + CHURN + EXTRA + SPILL_CHURN plus the collector (about 450 of its 1024 MiB), and both
# workloads share node 0's one vCPU: under TCG their churn costs about 0.7 s of it per second.
HOLD_MIB=256 CHURN_MIB=64 EXTRA_MIB=64 SPILL_CHURN_MIB=48
# Seconds: collector alone first (a baseline); then at most READY_TIMEOUT for the workloads to
# fill their resident buffers (about 12 s under TCG), and SETTLE before the steady-state snapshot.
BASELINE=4 READY_TIMEOUT=120 SETTLE=3

mkdir -p "$GUEST_WORK"
# One run at a time: runs share the image cache and the 9p share directory (make samples may start
# this scenario while someone runs it by hand).
exec 9>"$GUEST_WORK/.lock"
if ! flock -n 9; then
    log "another numa-remote run holds build/numa-guest/.lock: waiting for it"
    flock -w 900 9 || die "build/numa-guest/.lock still held after 900s"
fi

# ---------------------------------------------------------------------------------------------
# Tools

# need_packages PKG...: apt-get install the packages that are not installed yet.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]} (log: build/numa-guest/apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$GUEST_WORK/apt.log" 2>&1; then
        apt-get update -q >>"$GUEST_WORK/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$GUEST_WORK/apt.log" 2>&1 ||
            die "apt-get install ${missing[*]} failed: see build/numa-guest/apt.log"
    fi
}

# ---------------------------------------------------------------------------------------------
# The guest image: build/numa-guest/image/{vmlinuz,initrd.img,rootfs.img,kernel-release,key}

# image_key: a digest of everything the image is built from (a change rebuilds it).
image_key() {
    {
        echo "suite=$SUITE packages=$GUEST_PACKAGES layout=1"
        cat "$GUEST_SRC/vmt-init" "$GUEST_SRC/initramfs-hook"
    } | sha256sum | cut -d' ' -f1
}

build_image() {
    local new="$GUEST_WORK/image.new" sources=() f mib
    # The guest is the host's Debian release, fetched through the host's own apt sources.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && sources+=("$f")
    done
    [ "${#sources[@]}" -gt 0 ] || die "no apt sources on this host to build the guest from"
    rm -rf "$new"
    mkdir -p "$new"
    on_restore rm -rf "$new"
    log "building the guest image ($SUITE: $GUEST_PACKAGES), log: build/numa-guest/mmdebstrap.log"
    # The hooks' "$1" is mmdebstrap's root directory: single quotes on purpose.
    # shellcheck disable=SC2016
    mmdebstrap --variant=minbase --include="$GUEST_PACKAGES" \
        --aptopt='Acquire::Retries "3"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --essential-hook='mkdir -p "$1/etc/initramfs-tools/hooks" "$1/etc/initramfs-tools/conf.d"' \
        --essential-hook="upload $GUEST_SRC/initramfs-hook /etc/initramfs-tools/hooks/vmt-guest" \
        --essential-hook='chmod 755 "$1/etc/initramfs-tools/hooks/vmt-guest"' \
        --essential-hook='printf "MODULES=list\nRESUME=none\nCOMPRESS=zstd\n" >"$1/etc/initramfs-tools/conf.d/vmt-guest.conf"' \
        --customize-hook="upload $GUEST_SRC/vmt-init /sbin/vmt-init" \
        --customize-hook='chmod 755 "$1/sbin/vmt-init"; echo numa-guest >"$1/etc/hostname"' \
        "$SUITE" "$new/rootfs.tar" "${sources[@]}" >"$GUEST_WORK/mmdebstrap.log" 2>&1 ||
        die "mmdebstrap failed: see build/numa-guest/mmdebstrap.log"
    # mke2fs -d takes a directory (bookworm's cannot read a tarball): unpack, make the image, drop.
    mkdir "$new/root"
    tar -C "$new/root" --numeric-owner -xpf "$new/rootfs.tar"
    rm -f "$new/rootfs.tar"
    cp "$new"/root/boot/vmlinuz-* "$new/vmlinuz"
    cp "$new"/root/boot/initrd.img-* "$new/initrd.img"
    f=$(basename "$new"/root/boot/vmlinuz-*)
    echo "${f#vmlinuz-}" >"$new/kernel-release"
    mib=$(($(du -sm "$new/root" | cut -f1) + 512))
    mke2fs -q -t ext4 -L vmt-root -d "$new/root" "$new/rootfs.img" "${mib}M" >/dev/null
    rm -rf "$new/root"
    image_key >"$new/key"
    rm -rf "$IMAGE"
    mv "$new" "$IMAGE"
    log "guest image: kernel $(cat "$IMAGE/kernel-release"), root $(du -sh --apparent-size "$IMAGE/rootfs.img" | cut -f1)"
}

# ---------------------------------------------------------------------------------------------
# Booting it

# pick_accel: KVM when a guest really runs under it, else TCG. /dev/kvm can open fine and still
# hang the guest (nested virtualisation without VMX, as on some CI VMs), so the test boots the
# guest kernel without a root file system: it panics, and -no-reboot ends QEMU, within seconds.
pick_accel() {
    local probe="$GUEST_WORK/kvm-probe.log"
    ACCEL=${NUMA_ACCEL:-auto}
    if [ "$ACCEL" = auto ]; then
        ACCEL=tcg
        if [ -e /dev/kvm ]; then
            timeout 10 qemu-system-x86_64 -accel kvm -cpu host -m 256M -nodefaults -no-user-config \
                -display none -monitor none -serial "file:$probe" -no-reboot -kernel "$IMAGE/vmlinuz" \
                -append "console=ttyS0 panic=-1" >/dev/null 2>&1 || true
            if grep -q 'Kernel panic' "$probe" 2>/dev/null; then
                ACCEL=kvm
            else
                log "/dev/kvm is there but a guest does not run under it: using TCG"
            fi
            rm -f "$probe"
        fi
    fi
    # shellcheck disable=SC2054 # the commas are QEMU's
    case "$ACCEL" in
    kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
    # Without ERMS/FSRM, the kernel clears pages and glibc's memset fills buffers with vector
    # stores instead of `rep stosb`, which TCG runs byte by byte: page faults get 4-7x faster.
    tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max,-erms,-fsrm) ;;
    *) die "NUMA_ACCEL must be auto, kvm or tcg, not '$ACCEL'" ;;
    esac
}

# stage_share: the 9p share (guest /host): scenario script, workload, collector, settings, out/.
stage_share() {
    rm -rf "$RUN"
    on_restore rm -rf "$RUN"
    mkdir -p "$RUN/out"
    cp "$GUEST_SRC/guest-run.sh" "$GUEST_SRC/workload.py" "$RUN/"
    [ "$MODE" = probe ] || cp "$PYZ" "$RUN/vmcollect.pyz"
    cat >"$RUN/scenario.env" <<EOF
MODE=$MODE ACCEL=$ACCEL INTERVAL=$INTERVAL DURATION=$DURATION
BASELINE=$BASELINE READY_TIMEOUT=$READY_TIMEOUT SETTLE=$SETTLE
HOLD_MIB=$HOLD_MIB CHURN_MIB=$CHURN_MIB EXTRA_MIB=$EXTRA_MIB SPILL_CHURN_MIB=$SPILL_CHURN_MIB
EOF
}

boot_guest() {
    local rc=0 t0 tail_pid
    # shellcheck disable=SC2054 # the commas are QEMU's
    local qemu_args=(
        -name numa-remote-guest -machine q35 -nodefaults -no-user-config "${ACCEL_ARGS[@]}"
        -smp 2 -m 2G
        -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G
        -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1
        -numa dist,src=0,dst=1,val=20
        -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img"
        -append "console=ttyS0 root=/dev/vda rw init=/sbin/vmt-init fastboot panic=-1 loglevel=4"
        # snapshot=on: the guest's writes go to a throw-away overlay, the cached image stays clean
        -drive "file=$IMAGE/rootfs.img,format=raw,if=virtio,snapshot=on"
        -virtfs "local,path=$RUN,mount_tag=host0,security_model=none,id=host0"
        -nic none -display none -monitor none -serial "file:$CONSOLE" -no-reboot
    )
    : >"$CONSOLE"
    log "booting the guest ($ACCEL, kernel $(cat "$IMAGE/kernel-release"), mode $MODE), console: build/numa-guest/${CONSOLE##*/}"
    t0=$(date +%s)
    timeout --kill-after=10 "$GUEST_TIMEOUT" qemu-system-x86_64 "${qemu_args[@]}" &
    QEMU_PID=$!
    on_restore _kill_wait "$QEMU_PID"
    # Show the console as it comes (in the background: a signal must reach our trap at once).
    tail -n +1 -f --pid="$QEMU_PID" "$CONSOLE" | sed -u 's/^/  guest| /' >&2 &
    tail_pid=$!
    on_restore _kill_wait "$tail_pid"
    wait "$QEMU_PID" || rc=$?
    wait "$tail_pid" || true
    GUEST_SECONDS=$(($(date +%s) - t0))
    [ "$rc" = 124 ] && die "the guest did not finish within ${GUEST_TIMEOUT}s (killed)"
    [ "$rc" = 0 ] || die "qemu exited with status $rc"
    BOOT_SECONDS=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^boot: scenario started at guest uptime \([0-9.]*\)s$/\1/p')
    log "guest ran ${GUEST_SECONDS}s (kernel boot to scenario start: ${BOOT_SECONDS:-?}s guest uptime)"
    [ -f "$RUN/out/status" ] || die "the guest scenario did not finish (no status): see the console log"
    grep -qx 'rc=0' "$RUN/out/status" || die "guest scenario failed: $(cat "$RUN/out/status")"
}

# ---------------------------------------------------------------------------------------------

SUITE=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
[ -n "$SUITE" ] || die "cannot tell this host's Debian release (VERSION_CODENAME in /etc/os-release)"

need_packages qemu-system-x86 e2fsprogs
if [ "$MODE" = collect ]; then
    if [ -z "${VMCOLLECT_PYZ:-}" ]; then
        log "make pyz"
        make -C "$REPO_ROOT" --no-print-directory pyz >&2 || die "make pyz failed"
    fi
    [ -f "$PYZ" ] || die "no collector at $PYZ"
    "$WPY" "$PYZ" --help >/dev/null || die "$PYZ --help fails"
fi

if [ "$REBUILD" = 1 ] || [ ! -f "$IMAGE/rootfs.img" ] || [ ! -f "$IMAGE/key" ] ||
    [ "$(cat "$IMAGE/key")" != "$(image_key)" ]; then
    need_packages mmdebstrap
    t_build=$(date +%s)
    build_image
    log "image built in $(($(date +%s) - t_build))s"
else
    log "using the cached guest image (kernel $(cat "$IMAGE/kernel-release"))"
fi

pick_accel
stage_share
boot_guest

if [ "$MODE" = probe ]; then
    log "probe done: the guest's numastat is in build/numa-guest/${CONSOLE##*/}"
    exit 0
fi

guest_bundle=$(tail -n 1 "$RUN/out/collect.stdout")
case "$guest_bundle" in
/host/out/*.tar.gz) BUNDLE="$RUN/out/${guest_bundle#/host/out/}" ;;
*) die "the collector's last stdout line is not a bundle in /host/out/: '$guest_bundle'" ;;
esac
[ -f "$BUNDLE" ] || die "bundle $guest_bundle not found in the share"

# The bundle itself must show the episode (numa-guest/check_bundle.py prints what it found).
# shellcheck disable=SC2034 # CHECK_FAILED is read by lib.sh's finish_bundle
observed=$("$WPY" "$GUEST_SRC/check_bundle.py" "$BUNDLE") || CHECK_FAILED=1
log "observed: $observed"
finish_bundle

kernel=$(cat "$IMAGE/kernel-release")
what="QEMU guest ($ACCEL; Debian $SUITE, kernel $kernel booted directly, no init system): 2 NUMA nodes, each 1 vCPU + 1 GiB, distance 20. From ${BASELINE}s into the capture: \`numa-remote\` (scenarios/numa-guest/workload.py) under \`numactl --cpunodebind=0 --membind=1\` keeps $HOLD_MIB MiB and allocates+frees $CHURN_MIB MiB/s; \`numa-spill\` under \`numactl --cpunodebind=0\` (default policy) holds node 0's free memory + $EXTRA_MIB MiB and churns $SPILL_CHURN_MIB MiB/s, so node 0 is full and its allocations fall back to node 1; THP off for both (prctl); the collector runs unbound"
must_find="Remote NUMA allocation: node 1's other_node (allocations for tasks running on node 0) and numa_miss (allocations that wanted node 0) climb in every sample once node 0 is full (about 12 s after the workloads start), node 0's numa_foreign climbing exactly as fast as node 1's numa_miss, node 0's other_node and numa_miss flat; node 0 MemFree near its low watermark while node 1 has free memory; \`numa-remote\` has Cpus_allowed_list 0 and numa_maps bind:1 with its pages on N1, \`numa-spill\` default policy with pages on N0 and N1. Note: --membind by itself counts as numa_hit + other_node on node 1, not numa_miss"
if [ -f "$README" ]; then
    readme_row "$what" "$must_find" "$observed"
else
    md="$SCEN_DIR/numa-remote.md"
    grep -qx '<!-- scenarios:begin -->' "$md" 2>/dev/null || printf '%s\n' "" "<!-- scenarios:begin -->" \
        "| scenario | what ran and how | kernel | collector | duration / interval | what a correct analysis must find | observed during the capture |" \
        "|---|---|---|---|---|---|---|" "<!-- scenarios:end -->" >>"$md"
    "$WPY" "$FACTS" "$BUNDLE" --readme-row "$md" "$SCENARIO" "$what" "$must_find" "$observed"
    log "no sample-bundles/README.md: line written to sample-bundles/scenarios/numa-remote.md"
fi
