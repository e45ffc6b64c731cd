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
# (build/numa-guest/run/, kept until the next run); check the bundle and move it to
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
GUEST_SRC="$SCEN_DIR/numa-guest"
GUEST_WORK="$REPO_ROOT/build/numa-guest"
CONSOLE="$GUEST_WORK/console-$MODE.log"
GUEST_PACKAGES=python3,numactl,linux-image-amd64,initramfs-tools,zstd
GUEST_ACCEL=${NUMA_ACCEL:-auto}
GUEST_KEY_FILES=("$GUEST_SRC/vmt-init" "$SCEN_DIR/guest-initramfs-hook")
# No init system: /sbin/vmt-init mounts the share and runs guest-run.sh.
# The hooks' "$1" is mmdebstrap's root directory: single quotes on purpose.
# shellcheck disable=SC2016
GUEST_HOOKS=(
    --customize-hook="upload $GUEST_SRC/vmt-init /sbin/vmt-init"
    --customize-hook='chmod 755 "$1/sbin/vmt-init"; echo numa-guest >"$1/etc/hostname"'
)
# shellcheck disable=SC2054 # the commas are QEMU's
GUEST_QEMU_ARGS=(
    -name numa-remote-guest -smp 2 -m 2G
    -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G
    -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1
    -numa dist,src=0,dst=1,val=20
)
GUEST_APPEND="console=ttyS0 root=/dev/vda rw init=/sbin/vmt-init fastboot panic=-1 loglevel=4"
# shellcheck source-path=SCRIPTDIR source=guest-lib.sh
. "$SCEN_DIR/guest-lib.sh"

# The workloads' sizes (MiB, churn per second): see numa-guest/workload.py. Node 1 must hold
# HOLD + CHURN + EXTRA + SPILL_CHURN plus the collector (about 450 of its 1024 MiB), and both
# workloads share node 0's one vCPU: under TCG their churn costs about 0.7 s of it per second.
HOLD_MIB=256 CHURN_MIB=64 EXTRA_MIB=64 SPILL_CHURN_MIB=48
# Seconds: collector alone first (a baseline); then at most READY_TIMEOUT for the workloads to
# fill their resident buffers (about 12 s under TCG), and SETTLE before the steady-state snapshot.
BASELINE=4 READY_TIMEOUT=120 SETTLE=3

# One run at a time: runs share the image cache and the 9p share directory (make samples may start
# this scenario while someone runs it by hand).
guest_lock

SUITE=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
[ -n "$SUITE" ] || die "cannot tell this host's Debian release (VERSION_CODENAME in /etc/os-release)"

need_packages qemu-system-x86 e2fsprogs
if [ "$MODE" = collect ]; then need_collector; fi
ensure_image "$REBUILD"

# stage_share: the 9p share (guest /host): scenario script, workload, collector, settings, out/.
stage_share() {
    new_share
    cp "$GUEST_SRC/guest-run.sh" "$GUEST_SRC/workload.py" "$RUN/"
    [ "$MODE" = probe ] || cp "$PYZ" "$RUN/vmcollect.pyz"
    cat >"$RUN/scenario.env" <<EOF
MODE=$MODE ACCEL=$ACCEL INTERVAL=$INTERVAL DURATION=$DURATION
BASELINE=$BASELINE READY_TIMEOUT=$READY_TIMEOUT SETTLE=$SETTLE
HOLD_MIB=$HOLD_MIB CHURN_MIB=$CHURN_MIB EXTRA_MIB=$EXTRA_MIB SPILL_CHURN_MIB=$SPILL_CHURN_MIB
EOF
}

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
