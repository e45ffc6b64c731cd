"""parsers/mounts.py, and parsers/df.py with a mount table: tmpfs mounts whatever their source.

The texts are cut from a real `sos report --only-plugins filesys` (sos 4.0, util-linux
2.38.1, coreutils 9.1) of the development host, taken while two tmpfs were mounted with
other source names than ``tmpfs``: ``shm`` (the name Docker gives a container's /dev/shm,
with Docker's options; 3 MiB written to it) and ``myscratch``. Lines cut: the cgroup mounts
and one mount of the test harness. The live test takes such a sosreport itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.df import parse_df
from vmanalyze.parsers.mounts import parse_mounts

# sos_commands/filesys/mount_-l
MOUNT_L = """\
proc on /proc type proc (rw,relatime)
sysfs on /sys type sysfs (rw,relatime)
devtmpfs on /dev type devtmpfs (rw,relatime,size=12358600k,nr_inodes=3089650,mode=755)
tmpfs on /dev/shm type tmpfs (rw,relatime,size=24731400k)
devpts on /dev/pts type devpts (rw,relatime,mode=600,ptmxmode=000)
/dev/vda on / type ext4 (rw,relatime,discard,no_prefetch_block_bitmaps,resv_strict,resuid=65534,resgid=65534)
devpts on /dev/pts type devpts (rw,relatime,mode=600,ptmxmode=000)
tmpfs on /dev/shm type tmpfs (rw,relatime,size=24731400k)
tmpfs on /sys/fs/cgroup type tmpfs (rw,relatime,mode=755)
cgroup2 on /sys/fs/cgroup/unified type cgroup2 (rw,relatime)
shm on /tmp/s14-docker/shm type tmpfs (rw,nosuid,nodev,noexec,relatime,size=65536k)
myscratch on /tmp/s14-custom type tmpfs (rw,relatime,size=8192k)
"""  # noqa: E501 (real lines)

# proc/<sos's pid>/mounts (sos copies /proc/mounts through its links)
PROC_MOUNTS = """\
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=12358600k,nr_inodes=3089650,mode=755 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24731400k 0 0
devpts /dev/pts devpts rw,relatime,mode=600,ptmxmode=000 0 0
/dev/vda / ext4 rw,relatime,discard,no_prefetch_block_bitmaps,resv_strict,resuid=65534,resgid=65534 0 0
devpts /dev/pts devpts rw,relatime,mode=600,ptmxmode=000 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24731400k 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
shm /tmp/s14-docker/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0
myscratch /tmp/s14-custom tmpfs rw,relatime,size=8192k 0 0
"""  # noqa: E501 (real lines)

# sos_commands/filesys/df_-al_-x_autofs
DF = """\
Filesystem              1K-blocks     Used Available Use% Mounted on
proc                            0        0         0    - /proc
sysfs                           0        0         0    - /sys
devtmpfs                 12358600        0  12358600   0% /dev
tmpfs                    24731400      540  24730860   1% /dev/shm
devpts                          0        0         0    - /dev/pts
/dev/vda                264212084 32442316  73948596  31% /
devpts                          0        0         0    - /dev/pts
tmpfs                    24731400      540  24730860   1% /dev/shm
tmpfs                    12365700        0  12365700   0% /sys/fs/cgroup
cgroup2                         0        0         0    - /sys/fs/cgroup/unified
shm                         65536     3072     62464   5% /tmp/s14-docker/shm
myscratch                    8192        0      8192   0% /tmp/s14-custom
"""

TMPFS_POINTS = ["/dev", "/dev/shm", "/sys/fs/cgroup", "/tmp/s14-docker/shm", "/tmp/s14-custom"]


@pytest.mark.parametrize("table", [MOUNT_L, PROC_MOUNTS], ids=["mount -l", "proc/mounts"])
def test_both_formats_give_the_same_table(table: str) -> None:
    rows = parse_mounts(table)
    assert len(rows) == 12
    assert rows[5] == {"source": "/dev/vda", "mount_point": "/", "fstype": "ext4"}
    assert rows[-2] == {"source": "shm", "mount_point": "/tmp/s14-docker/shm", "fstype": "tmpfs"}
    assert parse_mounts(table) == parse_mounts(MOUNT_L)


@pytest.mark.parametrize("table", [MOUNT_L, PROC_MOUNTS], ids=["mount -l", "proc/mounts"])
def test_df_with_a_mount_table_finds_tmpfs_of_any_source_name(table: str) -> None:
    rows = {r["mount_point"]: r for r in parse_df(DF, table)}
    assert list(rows) == TMPFS_POINTS
    shm = rows["/tmp/s14-docker/shm"]
    assert (shm["fstype"], shm["size_bytes"], shm["used_bytes"]) == ("tmpfs", 64 << 20, 3 << 20)
    assert rows["/tmp/s14-custom"]["fstype"] == "tmpfs"
    assert rows["/dev"]["fstype"] == "devtmpfs"


def test_df_without_a_mount_table_keeps_the_source_name_rule() -> None:
    assert [r["mount_point"] for r in parse_df(DF)] == TMPFS_POINTS[:3]
    # a mount point the table does not list (read at another moment) falls back to the rule
    partial = "".join(line for line in MOUNT_L.splitlines(True) if "s14-custom" not in line)
    assert [r["mount_point"] for r in parse_df(DF, partial)] == TMPFS_POINTS[:4]


def test_the_mount_table_type_wins_over_the_source_name() -> None:
    """A mount whose source is named ``tmpfs`` but is not one (a bind of a disk directory)."""
    df = DF + "tmpfs                    264212084 32442316  73948596  31% /srv/data\n"
    mounts = MOUNT_L + "tmpfs on /srv/data type ext4 (rw,relatime)\n"
    assert "/srv/data" not in [r["mount_point"] for r in parse_df(df, mounts)]
    assert "/srv/data" in [r["mount_point"] for r in parse_df(df)]


def test_names_with_spaces_and_bad_lines() -> None:
    assert (
        parse_mounts("shm on /mnt/a b type tmpfs (rw,relatime,size=1024k)\n")[0]["mount_point"]
        == "/mnt/a b"
    )
    assert (
        parse_mounts("shm /mnt/a\\040b tmpfs rw,relatime,size=1024k 0 0\n")[0]["mount_point"]
        == "/mnt/a b"
    )
    assert parse_mounts("") == []
    with pytest.raises(ParseError, match="line 2"):
        parse_mounts("proc /proc proc rw 0 0\nnot a mount line\n")


@pytest.fixture
def tmpfs_with_other_names(tmp_path: Path):
    """Two tmpfs mounted as root: Docker's `shm` (3 MiB written) and `myscratch`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    shm = tmp_path / "containers" / "4f1c" / "mounts" / "shm"
    custom = tmp_path / "scratch"
    points = []
    try:
        for source, point, options in (
            ("shm", shm, "size=64m,nosuid,nodev,noexec"),
            ("myscratch", custom, "size=8m"),
        ):
            point.mkdir(parents=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", options, source, str(point)], check=True)
            points.append(point)
        (shm / "blob").write_bytes(b"x" * (3 << 20))
        yield shm, custom
    finally:
        for point in points:
            subprocess.run(["umount", str(point)], check=True)


@pytest.mark.root
def test_a_real_sosreport_lists_docker_shm_and_a_custom_tmpfs(
    tmpfs_with_other_names: tuple[Path, Path], tmp_path: Path
) -> None:
    """`sos report` of this host (its filesys and memory plugins), analyzed end to end."""
    from vmanalyze.dataset import parse

    if shutil.which("sos") is None:
        pytest.skip("sos is not installed (apt-get install sosreport)")
    shm, custom = tmpfs_with_other_names
    out = tmp_path / "sos"
    out.mkdir()
    subprocess.run(
        [
            "sos",
            "report",
            "--batch",
            "-q",
            "--only-plugins",
            "filesys,memory",
            "--tmp-dir",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (report,) = out.glob("sosreport-*.tar.xz")
    rows = parse(str(report)).tables["tmpfs_mounts"].set_index("mount_point")
    assert rows.loc[str(shm), "fstype"] == rows.loc[str(custom), "fstype"] == "tmpfs"
    assert rows.loc[str(shm), "size_bytes"] == 64 << 20
    assert (3 << 20) <= rows.loc[str(shm), "used_bytes"] < (4 << 20)
    assert rows.loc["/dev/shm", "fstype"] == "tmpfs"
