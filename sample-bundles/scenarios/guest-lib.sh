# shellcheck shell=bash disable=SC2034  # variables set here are used by the callers
# QEMU guest helpers shared by the scenarios that boot a minimal Debian guest: numa-remote.sh (a
# two-node NUMA guest) and kernels.sh (bullseye / bookworm / trixie guests under systemd). Source it
# after lib.sh; the caller sets, before calling the functions:
#
#   GUEST_WORK        build/<name>/: image cache (image/), 9p share (run/), logs
#   SUITE             Debian release of the guest
#   GUEST_PACKAGES    mmdebstrap --include list (comma-separated)
#   GUEST_MIRROR      optional mirror URL; without it the host's own apt sources (the host's release)
#   GUEST_HOOKS       array: extra mmdebstrap arguments (hooks) that make the guest
#   GUEST_KEY_FILES   array: files the image is built from (a change rebuilds it)
#   GUEST_FREE_MIB    free space in the root image (default 512)
#   GUEST_ACCEL       auto|kvm|tcg (auto: KVM if a guest really runs under it)
#   GUEST_QEMU_ARGS   array: machine-specific QEMU arguments (-smp, -m, -numa ...)
#   GUEST_APPEND      kernel command line
#   GUEST_TIMEOUT     seconds before the guest is killed
#   CONSOLE           serial console log file
#
# Functions: need_packages, image_key, ensure_image, pick_accel, boot_guest.
# The guest prints "boot: scenario started at guest uptime Xs" when its scenario starts, and leaves
# a line "rc=N" in run/out/status (the share's out/ folder) when it ends.

IMAGE="$GUEST_WORK/image"
RUN="$GUEST_WORK/run"
# Paths in messages are relative to the repository root.
GUEST_REL=${GUEST_WORK#"$REPO_ROOT"/}
mkdir -p "$GUEST_WORK"

# need_packages PKG...: apt-get install the host packages that are not installed yet.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]} (log: $GUEST_REL/apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$GUEST_WORK/apt.log" 2>&1; then
        apt-get update -q >>"$GUEST_WORK/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$GUEST_WORK/apt.log" 2>&1 ||
            die "apt-get install ${missing[*]} failed: see $GUEST_REL/apt.log"
    fi
}

# image_key: a digest of everything the image is built from.
image_key() {
    {
        echo "suite=$SUITE packages=$GUEST_PACKAGES mirror=${GUEST_MIRROR:-host} layout=1"
        printf '%s\n' "${GUEST_HOOKS[@]}"
        cat "${GUEST_KEY_FILES[@]}"
    } | sha256sum | cut -d' ' -f1
}

# build_image: image/{vmlinuz,initrd.img,rootfs.img,kernel-release,packages,key}.
build_image() {
    local new="$GUEST_WORK/image.new" sources=() f mib
    if [ -n "${GUEST_MIRROR:-}" ]; then
        sources=("$GUEST_MIRROR")
    else
        # The host's Debian release, fetched through the host's own apt sources.
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && sources+=("$f")
        done
        [ "${#sources[@]}" -gt 0 ] || die "no apt sources on this host to build the guest from"
    fi
    rm -rf "$new"
    mkdir -p "$new"
    on_restore rm -rf "$new"
    log "building the guest image ($SUITE: $GUEST_PACKAGES), log: $GUEST_REL/mmdebstrap.log"
    # The hooks' "$1" is mmdebstrap's root directory: single quotes on purpose.
    # shellcheck disable=SC2016
    mmdebstrap --variant=minbase --include="$GUEST_PACKAGES" \
        --aptopt='Acquire::Retries "3"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --essential-hook='mkdir -p "$1/etc/initramfs-tools/hooks" "$1/etc/initramfs-tools/conf.d"' \
        --essential-hook="upload $SCEN_DIR/guest-initramfs-hook /etc/initramfs-tools/hooks/vmt-guest" \
        --essential-hook='chmod 755 "$1/etc/initramfs-tools/hooks/vmt-guest"' \
        --essential-hook='printf "MODULES=list\nRESUME=none\nCOMPRESS=zstd\n" >"$1/etc/initramfs-tools/conf.d/vmt-guest.conf"' \
        "${GUEST_HOOKS[@]}" \
        --customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" >"$1/.vmt-packages"' \
        "$SUITE" "$new/rootfs.tar" "${sources[@]}" >"$GUEST_WORK/mmdebstrap.log" 2>&1 ||
        die "mmdebstrap failed: see $GUEST_REL/mmdebstrap.log"
    # mke2fs -d takes a directory (bookworm's cannot read a tarball): unpack, make the image, drop.
    mkdir "$new/root"
    tar -C "$new/root" --numeric-owner -xpf "$new/rootfs.tar"
    rm -f "$new/rootfs.tar"
    mv "$new/root/.vmt-packages" "$new/packages"
    cp "$new"/root/boot/vmlinuz-* "$new/vmlinuz"
    cp "$new"/root/boot/initrd.img-* "$new/initrd.img"
    f=$(basename "$new"/root/boot/vmlinuz-*)
    echo "${f#vmlinuz-}" >"$new/kernel-release"
    mib=$(($(du -sm "$new/root" | cut -f1) + ${GUEST_FREE_MIB:-512}))
    mke2fs -q -t ext4 -L vmt-root -d "$new/root" "$new/rootfs.img" "${mib}M" >/dev/null
    rm -rf "$new/root"
    image_key >"$new/key"
    rm -rf "$IMAGE"
    mv "$new" "$IMAGE"
    log "guest image: kernel $(cat "$IMAGE/kernel-release"), root $(du -sh --apparent-size "$IMAGE/rootfs.img" | cut -f1)"
}

# ensure_image REBUILD: build the image unless a current one is cached (REBUILD=1 forces it).
# Sets IMAGE_SECONDS (0 when cached).
ensure_image() {
    local t0
    IMAGE_SECONDS=0
    if [ "$1" = 1 ] || [ ! -f "$IMAGE/rootfs.img" ] || [ ! -f "$IMAGE/key" ] ||
        [ "$(cat "$IMAGE/key")" != "$(image_key)" ]; then
        need_packages mmdebstrap
        t0=$(date +%s)
        build_image
        IMAGE_SECONDS=$(($(date +%s) - t0))
        log "image built in ${IMAGE_SECONDS}s"
    else
        log "using the cached guest image (kernel $(cat "$IMAGE/kernel-release"))"
    fi
}

# pick_accel: KVM when a guest really runs under it, else TCG. /dev/kvm can open fine and still
# hang the guest (nested virtualisation without VMX, as on some CI VMs), so the test boots the
# guest kernel without a root file system: it panics, and -no-reboot ends QEMU, within seconds.
pick_accel() {
    local probe="$GUEST_WORK/kvm-probe.log"
    ACCEL=${GUEST_ACCEL:-auto}
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
    *) die "the accelerator must be auto, kvm or tcg, not '$ACCEL'" ;;
    esac
}

# new_share: an empty 9p share (guest /host) with its out/ folder. It stays until the next run,
# so what a failed or killed guest left (bundle, logs) can still be read.
new_share() {
    rm -rf "$RUN"
    mkdir -p "$RUN/out"
}

# boot_guest: run the guest to its end. Sets GUEST_SECONDS (QEMU start to exit) and BOOT_SECONDS
# (guest uptime when its scenario started); dies unless run/out/status says rc=0.
boot_guest() {
    local rc=0 t0 tail_pid
    # shellcheck disable=SC2054 # the commas are QEMU's
    local qemu_args=(
        -machine q35 -nodefaults -no-user-config "${ACCEL_ARGS[@]}" "${GUEST_QEMU_ARGS[@]}"
        -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" -append "$GUEST_APPEND"
        # snapshot=on: the guest's writes go to a throw-away overlay, the cached image stays clean
        -drive "file=$IMAGE/rootfs.img,format=raw,if=virtio,snapshot=on"
        -virtfs "local,path=$RUN,mount_tag=host0,security_model=none,id=host0"
        -nic none -display none -monitor none -serial "file:$CONSOLE" -no-reboot
    )
    : >"$CONSOLE"
    log "booting the guest ($ACCEL, kernel $(cat "$IMAGE/kernel-release")), console: $GUEST_REL/${CONSOLE##*/}"
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
    BOOT_SECONDS=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^.*boot: scenario started at guest uptime \([0-9.]*\)s$/\1/p' | head -n 1)
    log "guest ran ${GUEST_SECONDS}s (kernel boot to scenario start: ${BOOT_SECONDS:-?}s guest uptime)"
    [ -f "$RUN/out/status" ] || die "the guest scenario did not finish (no status): see the console log"
    grep -qx 'rc=0' "$RUN/out/status" || die "guest scenario failed: $(cat "$RUN/out/status")"
}

# guest_lock: one run at a time per GUEST_WORK (runs share its image cache and 9p share).
guest_lock() {
    exec 9>"$GUEST_WORK/.lock"
    if ! flock -n 9; then
        log "another run holds $GUEST_REL/.lock: waiting for it"
        flock -w 900 9 || die "$GUEST_REL/.lock still held after 900s"
    fi
}

# need_collector: dist/vmcollect.pyz (make pyz) unless VMCOLLECT_PYZ names one; sets PYZ.
need_collector() {
    PYZ=${VMCOLLECT_PYZ:-$REPO_ROOT/dist/vmcollect.pyz}
    if [ -z "${VMCOLLECT_PYZ:-}" ]; then
        log "make pyz"
        make -C "$REPO_ROOT" --no-print-directory pyz >&2 || die "make pyz failed"
    fi
    [ -f "$PYZ" ] || die "no collector at $PYZ"
    "$WPY" "$PYZ" --help >/dev/null || die "$PYZ --help fails"
}
