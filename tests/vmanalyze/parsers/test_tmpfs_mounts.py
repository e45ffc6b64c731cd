"""parsers/tmpfs_mounts.py and parsers/df.py: the tmpfs mounts of a bundle and of a sosreport.

Checked against a tmpfs mounted for the test (its statvfs and `df -al -x autofs`, as sos runs
it) and the Debian sosreport fixture's real `df` output.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.df import parse_df
from vmanalyze.parsers.tmpfs_mounts import parse_tmpfs_mounts

SOS_DF = Path("tests/fixtures/sosreport-debian12/sos_commands/filesys/df_-al_-x_autofs")


@pytest.fixture
def live_tmpfs(tmp_path: Path):
    """A 16 MiB tmpfs holding a 3 MiB file (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "my tmpfs"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)], check=True)
    try:
        (point / "blob").write_bytes(b"x" * (3 << 20))
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


@pytest.mark.root
def test_df_of_a_live_tmpfs_matches_statvfs(live_tmpfs: Path) -> None:
    out = subprocess.run(
        ["df", "-al", "-x", "autofs"], capture_output=True, text=True, check=True
    ).stdout
    row = next(r for r in parse_df(out) if r["mount_point"] == str(live_tmpfs))
    st = os.statvfs(live_tmpfs)
    assert row["fstype"] == "tmpfs"
    assert row["size_bytes"] == st.f_blocks * st.f_frsize == 16 << 20
    assert row["used_bytes"] == (st.f_blocks - st.f_bfree) * st.f_frsize
    assert (3 << 20) <= row["used_bytes"] < (4 << 20)
    assert row["inodes"] is None


@pytest.mark.root
def test_collector_record_of_a_live_tmpfs(live_tmpfs: Path) -> None:
    """The record the collector writes (run as the collector does), escaped space and all."""
    code = (
        "import sys; sys.path.insert(0, 'collector'); from vmcollect import mounts, sources; "
        "sys.stdout.buffer.write(mounts.snapshot(sources.Roots())[0])"
    )
    text = subprocess.run(
        ["python3", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "my\\040tmpfs" in text
    row = next(r for r in parse_tmpfs_mounts(text) if r["mount_point"] == str(live_tmpfs))
    st = os.statvfs(live_tmpfs)
    assert row["fstype"] == "tmpfs"
    assert row["size_bytes"] == 16 << 20
    assert (3 << 20) <= row["used_bytes"] < (4 << 20)
    assert row["used_bytes"] + row["avail_bytes"] == row["size_bytes"]
    assert row["inodes"] == st.f_files and row["inodes"] > 0


def test_sosreport_df_keeps_tmpfs_rows_once() -> None:
    rows = parse_df(SOS_DF.read_text())
    assert [(r["mount_point"], r["fstype"]) for r in rows] == [
        ("/dev", "devtmpfs"),
        ("/dev/shm", "tmpfs"),  # listed twice by `df -a` on this host
        ("/sys/fs/cgroup", "tmpfs"),
    ]
    shm = rows[1]
    assert shm["used_bytes"] == 460 * 1024 and shm["size_bytes"] == 24731400 * 1024


def test_bad_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_df("Filesystem 1M-blocks Used Available Use% Mounted on\n")  # df -m: not KiB
    with pytest.raises(ParseError):
        parse_df("tmpfs 10 0\n")
    with pytest.raises(ParseError):
        parse_tmpfs_mounts("/dev/shm tmpfs 1 2 3\n")
    with pytest.raises(ParseError):
        parse_tmpfs_mounts("/dev/shm tmpfs 1 2 3 x 5\n")
