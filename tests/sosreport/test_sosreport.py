"""Sosreports (sos 4.x on Debian 12, sos 3.x on RHEL CoreOS) and an Insights archive as inputs.

The fixtures are cut from real reports (see each PROVENANCE.md): processes come from ps, the
kernel log from dmesg, the journal and syslog, the clock from date/uptime/btime.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.dataset import parse
from vmanalyze.engine import run
from vmanalyze.inputs import read_input
from vmrules.oom.oom_kills import oom_kills as OOM001
from vmrules.thp.thp_always_on_database_host import thp_always_on_database_host as THP001

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEBIAN12 = FIXTURES / "sosreport-debian12"
RHCOS41 = FIXTURES / "sosreport-rhcos41"
INSIGHTS = FIXTURES / "insights-debian12"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def debian12_tables() -> dict[str, pd.DataFrame]:
    return parse(str(DEBIAN12)).tables


def test_collection_time_is_date_utc_not_a_file_time(debian12_tables):
    # proc/meminfo of this report had the file time 2026-12-05 05:06 (the procfs inode's):
    # the collection time is what date --utc printed, to the second.
    samples = debian12_tables["samples"]
    assert list(samples["ts"]) == [_utc("2026-12-06 06:18:13")]
    # Monotonic time at collection = time since boot (btime 1796537487 = 06:11:27).
    assert list(samples["mono_s"]) == [406.0]
    captured = read_input(str(DEBIAN12))
    assert captured.kind == "sosreport"
    assert captured.manifest["clock"] == {
        "basis": "date --utc",
        "utc_offset_s": 0,
        "boot_ns": 1796537487 * 10**9,
        "boot_basis": "proc/stat btime",
    }


def test_ps_variants_merge_into_one_row_per_process(debian12_tables):
    ps = debian12_tables["ps"].set_index("pid")
    assert len(ps) == 9
    pg = ps.loc[10648]
    # auxwww: user, rss/vsz in KiB; lstart variant: ppid, uid, exact start; comm variant: cgroup
    assert (pg["user"], pg["rss_bytes"], pg["vsz_bytes"]) == (
        "postgres",
        29556 * 1024,
        217124 * 1024,
    )
    assert (pg["ppid"], pg["uid"], pg["nlwp"], pg["comm"]) == (1, 101, 1, "postgres")
    assert pg["start_time"] == _utc("2026-12-06 06:17:59")
    assert pg["starttime"] == (1796537879 - 1796537487) * 100  # ticks after boot
    assert pg["cgroup"] == "4:memory:/process_api/6e6fed40f4015cec054e10412c948dcf"
    assert ps.loc[10649, "command"] == "postgres: 15/main: checkpointer"
    assert ps.loc[2, "comm"] == "kthreadd"


def test_processes_come_from_ps(debian12_tables):
    procs = debian12_tables["processes"].set_index("pid")
    assert procs.loc[10648, "cgroup"] == "/process_api/6e6fed40f4015cec054e10412c948dcf"
    assert procs.loc[10648, "max_rss_bytes"] == 29556 * 1024
    samples = debian12_tables["process_samples"]
    assert (samples["comm"] == "postgres").sum() == 6
    assert samples["majflt"].isna().all()  # ps has no fault counters: null, not 0


def test_thp001_fires_from_the_process_list(debian12_tables):
    result = run(debian12_tables, [THP001])
    assert result.by_status("error") == ()
    [finding] = result.findings
    assert (finding.code, finding.subject) == ("THP001", "process:10648:postgres")
    assert "6 postgres processes" in finding.message


def test_oom_history_from_dmesg_journal_and_syslog_once_each(debian12_tables):
    ev = debian12_tables["oom_events"]
    kills = ev[ev["event"] == "oom_kill"].sort_values("usec")
    # The cgroup OOM of this boot is in dmesg, the journal and messages: kept once, from dmesg.
    # The rotated messages-20261129 adds a global OOM of an earlier boot.
    assert list(kills["victim_pid"]) == [812, 10740]
    assert list(kills["scope"]) == ["global", "cgroup"]
    assert list(kills["source"]) == ["var/log/messages-20261129", "sos_commands/kernel/dmesg"]
    assert list(kills["usec"])[1] == 399013224
    assert list(kills["anon_rss_bytes"]) == [6120400 * 1024, 65256 * 1024]
    assert (ev["event"] == "oom_kill_constraint").sum() == 2
    result = run(debian12_tables, [OOM001])
    assert result.by_status("error") == ()
    subjects = {f.subject: f.message for f in result.findings}
    assert "cgroup:/h13oom" in subjects
    assert "06:18:06Z" in subjects["cgroup:/h13oom"]  # boot 06:11:27 + 399.013 s


def test_compressed_rotated_log_is_read(debian12_tables):
    ev = debian12_tables["oom_events"]
    [hung] = ev[ev["event"] == "hung_task"].to_dict("records")
    assert (hung["victim_name"], hung["victim_pid"], hung["blocked_seconds"]) == (
        "jbd2/vda1-8",
        312,
        120,
    )
    assert hung["source"] == "var/log/kern.log.2.gz"


def test_sysctl_a_fills_the_vm_settings(debian12_tables):
    sysctl = debian12_tables["sysctl_vm"].set_index("name")
    assert sysctl.loc["overcommit_memory", "value_int"] == 0
    assert sysctl.loc["lowmem_reserve_ratio", "value"] == "256 256 32 0 0"


def test_sos3_report_without_manifest_or_btime(tmp_path):
    top = tmp_path / "sosreport-master1-2019-10-02"
    archive = tmp_path / "sosreport.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(RHCOS41, arcname=top.name)
    captured = read_input(str(archive))
    assert captured.kind == "sosreport"
    clock = captured.manifest["clock"]
    assert (clock["basis"], clock["boot_basis"]) == ("date --utc", "uptime (to the minute)")
    tables = parse(str(archive)).tables
    assert list(tables["samples"]["ts"]) == [_utc("2019-10-02 02:54:30")]
    ps = tables["ps"].set_index("pid")
    assert ps.loc[1472, "comm"] == "etcd"
    assert ps.loc[1472, "start_time"] == _utc("2019-10-02 02:20:16")
    assert ps.loc[1022, "user"] == "polkitd" and ps.loc[1022, "uid"] == 999
    # boot = 02:54:30 - 35 min = 02:19:30; etcd started 46 s later
    assert ps.loc[1472, "starttime"] == 46 * 100
    # No /sys/devices/system/node in this report: the topology comes from numactl --hardware
    topo = tables["numa_topology"].set_index("node")
    assert list(topo.index) == [0, 1, 2, 3]
    assert list(topo["cpu_count"]) == [14, 14, 14, 14]
    assert list(topo.loc[2, "distances"]) == [31, 31, 10, 21]
    numastat = tables["sys_node_numastat"].set_index("node")
    assert list(numastat["numa_hit"]) == [129600200, 60501102]
    assert list(numastat["other_node"]) == [23652, 106041]


def test_insights_archive_is_recognised_and_read_through_the_same_parsers():
    captured = read_input(str(INSIGHTS))
    assert captured.kind == "insights"
    tables = parse(str(INSIGHTS)).tables
    assert list(tables["samples"]["ts"]) == [_utc("2026-12-06 06:28:11")]
    ps = tables["ps"].set_index("pid")
    # ps auxcww prints the comm in COMMAND: the same as the comm
    assert list(ps["comm"]) == ["process_api"] + ["postgres"] * 6
    assert ps.loc[13212, "rss_bytes"] == 29516 * 1024
    # START 06:28 of today, local = UTC here
    assert ps.loc[13212, "start_time"] == _utc("2026-12-06 06:28:00")
    assert (tables["processes"]["comm"] == "postgres").sum() == 6


def test_slabtop_lists_the_caches(debian12_tables):
    slab = debian12_tables["slabtop"].set_index("name")
    assert list(slab.index) == [
        "buffer_head",
        "extent_status",
        "dentry",
        "lsm_inode_cache",
        "ext4_inode_cache",
    ]
    assert slab.loc["buffer_head", "cache_size_bytes"] == 208804 * 1024
    assert slab.loc["dentry", "active_objects"] == 126438


def test_free_and_swapon_tables_of_a_sosreport() -> None:
    """`free` and `swapon --bytes --show` of the Debian 12 fixture (procps-ng 4.0.2,
    util-linux 2.38.1), next to the /proc/swaps the same report holds."""
    from vmanalyze.dataset import parse

    tables = parse(
        str(Path(__file__).resolve().parents[1] / "fixtures" / "sosreport-debian12")
    ).tables
    free = tables["free"]
    assert len(free) == 1
    row = free.iloc[0]
    assert row["mem_total_bytes"] == 24731400 * 1024
    assert row["mem_available_bytes"] == 22975540 * 1024
    assert row["swap_total_bytes"] == 65532 * 1024
    swapon = tables["swapon"]
    assert swapon[["filename", "type", "size_bytes", "priority"]].values.tolist() == [
        ["/tmp/h13b.swap", "file", 67104768, -2]
    ]


def test_tmpfs_mounts_of_a_sosreport_come_from_df(debian12_tables):
    """`df -al -x autofs` (filesys plugin): its tmpfs rows, once each, in bytes, no inodes;
    one snapshot, so SHM001 (a growth rule) still needs a bundle."""
    mounts = debian12_tables["tmpfs_mounts"].set_index("mount_point")
    assert list(mounts.index) == ["/dev", "/dev/shm", "/sys/fs/cgroup"]
    assert mounts.loc["/dev/shm", "fstype"] == "tmpfs"
    assert mounts.loc["/dev/shm", "used_bytes"] == 460 * 1024
    assert mounts.loc["/dev", "fstype"] == "devtmpfs"
    assert mounts["inodes"].isna().all()
    assert mounts["snapshot"].nunique() == 1
