"""The tmpfs mounts member: mount table parsing, which mounts are statvfs'd, the run's member."""

import os
import subprocess
import tempfile

import pytest
from vmcollect import mounts
from vmcollect.sources import Roots

from .bundle_reader import Bundle
from .conftest import root_args, run_collector

# Lines shaped as this host's /proc/self/mountinfo prints them, plus an NFS mount with a tmpfs
# below it and /run mounted over (the top mount is the one a path reaches).
MOUNTINFO = (
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
    "24 22 0:21 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=8041224k,nr_inodes=2010306\n"
    "25 24 0:23 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw,inode64\n"
    "26 22 0:24 / /run rw,nosuid,nodev,noexec shared:5 - tmpfs tmpfs rw,size=1612228k\n"
    "27 22 0:25 / /run rw,nosuid,nodev shared:6 - tmpfs tmpfs rw,size=65536k\n"
    "40 22 0:50 / /mnt/nfs rw,relatime shared:20 - nfs4 srv:/export rw,vers=4.2\n"
    "41 40 0:51 / /mnt/nfs/scratch rw shared:21 - tmpfs tmpfs rw\n"
    "42 22 0:52 / /mnt/my\\040space rw shared:22 - tmpfs tmpfs rw\n"
    "43 22 0:53 / /home/u/fs rw shared:23 - fuse.sshfs u@h:/ rw\n"
)


def test_parse_mountinfo_reads_every_mount_of_this_host():
    with open("/proc/self/mountinfo") as f:
        parsed = mounts.parse_mountinfo(f.read())
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    assert [m[2] for m in parsed] == points
    assert parsed[0][2] == "/" or "/" in points


def test_only_reachable_tmpfs_mounts_are_kept():
    found = mounts.reachable_tmpfs(mounts.parse_mountinfo(MOUNTINFO))
    assert found == [
        ("/dev", "devtmpfs"),
        ("/dev/shm", "tmpfs"),
        ("/run", "tmpfs"),
        ("/mnt/my space", "tmpfs"),
    ]


def test_the_cap_keeps_well_known_mounts_then_the_largest():
    secrets = [
        (
            "/var/lib/kubelet/pods/%03d/volumes/kubernetes.io~secret/token" % i,
            "tmpfs",
            1 << 20,
            4096 * (i % 7),
            1 << 19,
            100,
            90,
        )
        for i in range(300)
    ]
    shm = ("/dev/shm", "tmpfs", 1 << 30, 0, 1 << 30, 1000, 1000)
    grown = ("/run/grows", "tmpfs", 1 << 30, 0, 1 << 30, 1000, 1000)
    chosen = mounts.choose(secrets + [grown, shm], keep=("/run/grows",))
    assert len(chosen) == mounts.MAX_LISTED
    assert [r[0] for r in chosen[:2]] == ["/dev/shm", "/run/grows"]
    used = [r[3] for r in chosen[2:]]
    assert used == sorted(used, reverse=True)
    dropped = [r[3] for r in secrets if r not in chosen]
    assert min(used) == 4096 * 5 and max(dropped) == 4096 * 5


def test_render_escapes_spaces_and_counts_what_was_cut():
    text = mounts.render([("/mnt/my space", "tmpfs", 8192, 4096, 4096, 10, 9)], 3).decode()
    assert text.splitlines() == [
        "# vmcollect tmpfs mounts: 3 tmpfs-like mounts found, 1 listed",
        mounts.HEADER,
        "/mnt/my\\040space tmpfs 8192 4096 4096 10 9",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_live_tmpfs_shows_what_was_written_to_it():
    point = tempfile.mkdtemp(prefix="vmc-tmpfs-")
    subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", point])
    try:
        with open(os.path.join(point, "blob"), "wb") as f:
            f.write(b"x" * (3 << 20))
        data, listed = mounts.snapshot(Roots())
        rows = [line.split() for line in data.decode().splitlines()[2:]]
        row = [r for r in rows if r[0] == point][0]
        assert point in listed
        assert row[1] == "tmpfs"
        assert int(row[2]) == 16 << 20
        assert (3 << 20) <= int(row[3]) < (4 << 20)
        assert int(row[2]) == int(row[3]) + int(row[4])
    finally:
        subprocess.check_call(["umount", point])
        os.rmdir(point)


def test_under_a_root_the_table_of_pid_1_is_read_through_its_root(fixture_root, out_dir):
    """--root: proc/1/mountinfo is the host's table; proc/1/root/<point> reaches each mount."""
    os.makedirs(os.path.join(fixture_root, "proc/1/root/dev/shm"))
    with open(os.path.join(fixture_root, "proc/1/mountinfo"), "w") as f:
        f.write(MOUNTINFO)
    args = root_args(fixture_root, count=2) + ["-o", out_dir, "-q"]
    _, out, _ = run_collector(args)
    b = Bundle(out.strip())
    records = b.records(mounts.MEMBER)
    assert [label for label, _ in records] == ["start", "end"]
    lines = records[0][1].decode().splitlines()
    # Only /dev and /dev/shm exist under the fixture's proc/1/root: the others are unreachable.
    assert lines[0] == "# vmcollect tmpfs mounts: 2 tmpfs-like mounts found, 2 listed"
    assert [line.split()[:2] for line in lines[2:]] == [["/dev/shm", "tmpfs"], ["/dev", "devtmpfs"]]
    st = os.statvfs(os.path.join(fixture_root, "proc/1/root/dev/shm"))
    assert int(lines[2].split()[2]) == st.f_blocks * st.f_frsize
    assert b.manifest["files"][mounts.MEMBER] == {"captured": 2}
