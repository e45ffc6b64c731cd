"""Collect from fixture roots (--proc-root/--sys-root) built from this machine's real files."""

import os
import shutil
import time

import pytest

from .bundle_reader import Bundle
from .conftest import copy_process, root_args, run_collector


def _collect(root, out_dir, *extra):
    args = root_args(root, count=2) + ["-o", out_dir, "-q"] + list(extra)
    _, out, _ = run_collector(args)
    return Bundle(out.strip())


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_fixture_files_are_stored_verbatim(fixture_root, out_dir):
    b = _collect(fixture_root, out_dir)
    for rel in ("meminfo", "vmstat", "zoneinfo", "buddyinfo", "swaps"):
        want = _read(os.path.join(fixture_root, "proc", rel))
        records = b.records("proc/" + rel)
        assert [label for label, _ in records] == ["start", 0, 1, "end"]
        assert all(body == want for _, body in records), rel
    node = "sys/devices/system/node/node0/numastat"
    assert b.records(node)[0][1] == _read(os.path.join(fixture_root, node))
    assert b.records("sys/kernel/mm/transparent_hugepage/enabled")[0][1] == _read(
        os.path.join(fixture_root, "sys/kernel/mm/transparent_hugepage/enabled")
    )
    assert b.manifest["options"]["proc_root"].endswith("/proc")


def test_missing_files_are_absent_not_errors(fixture_root, out_dir):
    os.unlink(os.path.join(fixture_root, "proc", "pressure", "memory"))
    b = _collect(fixture_root, out_dir)
    assert "proc/pressure/memory" not in b.members
    assert b.manifest["files"]["proc/pressure/memory"] == {"absent": 4}
    # pagetypeinfo and slabinfo were never copied: absent at start and end only (read with the
    # configuration files, not in every sample).
    assert b.manifest["files"]["proc/pagetypeinfo"] == {"absent": 2}
    assert b.manifest["files"]["proc/slabinfo"] == {"absent": 2}


def test_process_that_exits_mid_sample_is_gone(fixture_root, out_dir):
    """A pid whose directory is listed but whose files vanish: 'gone', and the run goes on."""
    pid_dir = copy_process(fixture_root, os.getpid(), new_pid=999999)
    for leaf in ("status", "comm", "cgroup", "cmdline"):
        os.unlink(os.path.join(pid_dir, leaf))
    b = _collect(fixture_root, out_dir)
    files = b.manifest["files"]
    assert files["proc/[pid]/comm"]["gone"] >= 1
    assert 999999 in files["proc/[pid]/comm"]["pids"]["gone"]
    assert len(b.records("proc/999999/stat")) == 4


def test_fifo_standing_in_for_a_hung_read_times_out(fixture_root, out_dir):
    """A FIFO never answers: the read is abandoned on time and the manifest says so."""
    pid_dir = copy_process(fixture_root, os.getpid(), new_pid=424242)
    os.unlink(os.path.join(pid_dir, "cmdline"))
    os.mkfifo(os.path.join(pid_dir, "cmdline"))
    started = time.time()
    b = _collect(fixture_root, out_dir, "--read-timeout", "300ms")
    elapsed = time.time() - started
    entry = b.manifest["files"]["proc/[pid]/cmdline"]
    assert entry["timed_out"] == 1, entry
    assert entry["pids"]["timed_out"] == [424242]
    assert "proc/424242/cmdline" not in b.members
    # The other processes' command lines were still read after the hung one.
    assert "proc/1/cmdline" in b.members
    # A FIFO never answers: without the deadline the run would hang until it is killed.
    # Four snapshots at 100 ms plus one 300 ms deadline take about a second; the bounds
    # leave room for a machine under heavy load (this failed at 10 s / 2 s under load).
    assert elapsed < 60, elapsed
    assert all(s["duration_ns"] < 20e9 for s in b.samples)


def test_max_processes_keeps_the_largest_by_rss(fixture_root, out_dir):
    base = _read(os.path.join(fixture_root, "proc", "1", "stat"))
    head, _, tail = base.rpartition(b")")
    fields = tail.split(b" ")
    for pid, rss in ((2001, 10), (2002, 500), (2003, 90000), (2004, 3)):
        new = list(fields)
        new[22] = str(rss).encode()  # field 24 (rss) is index 22 after the ") " split
        d = os.path.join(fixture_root, "proc", str(pid))
        os.makedirs(d)
        with open(os.path.join(d, "stat"), "wb") as f:
            f.write(
                str(pid).encode()
                + b" (fake"
                + str(pid).encode()
                + b") ".join([b"", b""])[:0]
                + b")"
                + b" ".join(new)
            )
        for leaf in ("comm", "status", "cgroup", "cmdline"):
            with open(os.path.join(d, leaf), "wb") as f:
                f.write(b"fake\n")
    b = _collect(fixture_root, out_dir, "--max-processes", "2")
    stat_pids = sorted(
        int(n.split("/")[1])
        for n in b.members
        if n.endswith("/stat") and n.startswith("proc/") and n.split("/")[1].isdigit()
    )
    assert 2003 in stat_pids and 2004 not in stat_pids and 2001 not in stat_pids
    assert len(stat_pids) == 2
    assert b.manifest["processes"]["skipped_over_max"] == len(
        os.listdir(os.path.join(fixture_root, "proc"))
    ) - 2 - sum(1 for n in os.listdir(os.path.join(fixture_root, "proc")) if not n.isdigit())


def test_deep_files_skip_processes_in_state_d(fixture_root, out_dir):
    pid_dir = copy_process(fixture_root, 1, new_pid=31337)
    stat_path = os.path.join(pid_dir, "stat")
    data = _read(stat_path)
    close = data.rfind(b")")
    data = data[: close + 2] + b"D" + data[close + 3 :]
    with open(stat_path, "wb") as f:
        f.write(data)
    with open(os.path.join(pid_dir, "smaps_rollup"), "wb") as f:
        f.write(b"must never be read\n")
    with open(os.path.join(fixture_root, "proc", "1", "smaps_rollup"), "wb") as f:
        f.write(b"Rss:                1234 kB\n")
    b = _collect(fixture_root, out_dir, "--deep", "5")
    assert "proc/31337/smaps_rollup" not in b.members
    assert 31337 in b.manifest["processes"]["deep_skipped"]["state D"]
    assert b.records("proc/1/smaps_rollup")[0] == ("start", b"Rss:                1234 kB\n")
    assert b.labels("proc/1/smaps_rollup") == ["start", "end"]


def test_deep_zero_reads_no_deep_files(fixture_root, out_dir):
    with open(os.path.join(fixture_root, "proc", "1", "smaps_rollup"), "wb") as f:
        f.write(b"Rss: 1 kB\n")
    b = _collect(fixture_root, out_dir, "--deep", "0")
    assert not [n for n in b.members if n.endswith(("smaps_rollup", "numa_maps"))]


def test_permission_denied_is_recorded(fixture_root, unprivileged):
    """Run as 'nobody' against a root-only file: the bundle is written, the denial recorded."""
    root = os.path.join(unprivileged.workdir, "root")
    shutil.copytree(fixture_root, root)
    for d, _dirs, files in os.walk(root):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    os.chmod(os.path.join(root, "proc", "zoneinfo"), 0o400)
    out_dir = os.path.join(unprivileged.workdir, "out")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    code, out, err = unprivileged.run(root_args(root) + ["-o", out_dir, "-q"])
    assert code == 0, err
    b = Bundle(out.strip())
    assert b.manifest["files"]["proc/zoneinfo"]["denied"] == 3
    assert "Permission denied" in b.manifest["files"]["proc/zoneinfo"]["error"]
    assert b.manifest["host"]["uid"] == unprivileged.nobody.pw_uid
    assert "proc/meminfo" in b.members


def test_unprivileged_live_run_lists_what_was_denied(unprivileged):
    """On the real /proc as 'nobody': other users' deep files and root-only files are denied."""
    out_dir = os.path.join(unprivileged.workdir, "out-live")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    code, out, err = unprivileged.run(["--interval", "100ms", "--count", "2", "-o", out_dir, "-q"])
    assert code == 0, err
    b = Bundle(out.strip())
    files = b.manifest["files"]
    denied = sorted(k for k, v in files.items() if "denied" in v)
    assert "proc/pagetypeinfo" in denied  # mode 0400, root only
    assert files["proc/slabinfo"]["denied"] == 2  # mode 0400: read at start and end only
    assert "proc/[pid]/smaps_rollup" in denied  # root's processes, read as nobody
    assert b.records("proc/meminfo")[0][1].startswith(b"MemTotal:")
    assert b.manifest["host"]["uid"] == unprivileged.nobody.pw_uid


def test_unwritable_output_directory_fails_cleanly(unprivileged):
    target = os.path.join(unprivileged.workdir, "readonly")
    os.mkdir(target)
    os.chmod(target, 0o755)  # owned by root: 'nobody' cannot write here
    code, out, err = unprivileged.run(["--count", "1", "--interval", "100ms", "-o", target])
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("vmcollect: error: cannot write to")
    assert "Traceback" not in err
    assert os.listdir(target) == []


def test_unprivileged_run_says_at_start_what_it_will_miss(unprivileged):
    """As 'nobody': the kernel log, pagetypeinfo and other users' deep files, said up front."""
    with open("/proc/sys/kernel/dmesg_restrict") as f:
        kmsg_denied = f.read().strip() == "1"  # else anyone may read /dev/kmsg
    out_dir = os.path.join(unprivileged.workdir, "out-missing")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    code, out, err = unprivileged.run(["--interval", "100ms", "--count", "1", "-o", out_dir])
    assert code == 0, err
    lines = err.splitlines()
    start = lines.index("vmcollect: without privilege this run will miss:")
    assert start == 1  # right after the banner, before any sample
    said = lines[start + 1 : start + 4 + kmsg_denied]
    if kmsg_denied:
        kmsg = said.pop(0)
        assert kmsg.startswith("  kernel log: OOM kills") and "(dev/kmsg: PermissionError" in kmsg
    assert "(proc/pagetypeinfo: PermissionError" in said[0]
    assert said[1].startswith("  slab caches by size") and "(proc/slabinfo: Perm" in said[1]
    assert said[2].startswith("  smaps_rollup and numa_maps of other users' processes")
    b = Bundle(out.strip().splitlines()[-1])
    missing = b.manifest["missing"]
    assert [m["path"] for m in missing] == ["dev/kmsg"] * kmsg_denied + [
        "proc/pagetypeinfo",
        "proc/slabinfo",
        "proc/[pid]/smaps_rollup",
    ]
    assert b.manifest["files"]["proc/pagetypeinfo"]["denied"] == 2  # as foretold
    assert b.manifest["files"]["proc/slabinfo"]["denied"] == 2


def test_root_run_misses_nothing(fixture_root, out_dir):
    b = _collect(fixture_root, out_dir)
    assert b.manifest["missing"] == []


def test_zram_mm_stat_is_sampled(fixture_root, out_dir):
    """Every /sys/block/zram<id>/mm_stat is read in every snapshot; other block devices not."""
    live = [d for d in sorted(os.listdir("/sys/block")) if d.startswith("zram")]
    if not live:
        pytest.skip("no zram device on this host (modprobe zram)")
    rel = "sys/block/%s/mm_stat" % live[0]
    os.makedirs(os.path.join(fixture_root, "sys/block", live[0]))
    shutil.copyfile("/" + rel, os.path.join(fixture_root, rel))
    os.makedirs(os.path.join(fixture_root, "sys/block/sda"))
    with open(os.path.join(fixture_root, "sys/block/sda/mm_stat"), "w") as f:
        f.write("not a zram device\n")
    b = _collect(fixture_root, out_dir)
    records = b.records(rel)
    assert [label for label, _ in records] == ["start", 0, 1, "end"]
    assert all(body == _read(os.path.join(fixture_root, rel)) for _, body in records)
    assert len(records[0][1].split()) >= 7  # orig, compr, mem_used_total, limit, max, same...
    assert "sys/block/sda/mm_stat" not in b.members
