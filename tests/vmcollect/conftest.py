"""Fixtures for the collector tests. Python 3.6 compatible: these also run under 3.6."""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTOR = os.path.join(REPO, "collector")
if COLLECTOR not in sys.path:
    sys.path.insert(0, COLLECTOR)

# Files copied from this machine's /proc and /sys into fixture roots (real captured files).
PROC_FILES = (
    "meminfo",
    "vmstat",
    "zoneinfo",
    "buddyinfo",
    "pressure/memory",
    "swaps",
    "loadavg",
    "stat",
    "version",
    "cmdline",
    "cpuinfo",
    "sys/kernel/osrelease",
    "sys/kernel/hostname",
    "sys/vm/swappiness",
    "sys/vm/overcommit_memory",
    "sys/vm/overcommit_ratio",
    "sys/vm/min_free_kbytes",
    "sys/vm/zone_reclaim_mode",
)
SYS_FILES = (
    "kernel/mm/transparent_hugepage/enabled",
    "kernel/mm/transparent_hugepage/defrag",
    "devices/system/node/online",
    "devices/system/node/node0/meminfo",
    "devices/system/node/node0/numastat",
    "devices/system/node/node0/vmstat",
    "devices/system/node/node0/cpulist",
    "devices/system/node/node0/distance",
)


def collector_command():
    """How to run the collector: the zipapp when VMTRIAGE_PYZ names one, else the package."""
    pyz = os.environ.get("VMTRIAGE_PYZ") or os.path.join(REPO, "dist", "vmcollect.pyz")
    if os.path.exists(pyz):
        return [sys.executable, pyz]
    return [sys.executable, "-m", "vmcollect"]


def run_collector(args, check=True, **kwargs):
    env = dict(os.environ, PYTHONPATH=COLLECTOR)
    proc = subprocess.Popen(
        collector_command() + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        universal_newlines=True,
        **kwargs,
    )
    out, err = proc.communicate(timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError("vmcollect failed (%d): %s" % (proc.returncode, err))
    return proc.returncode, out, err


def _copy(src, dst):
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError:
        return False
    d = os.path.dirname(dst)
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(dst, "wb") as f:
        f.write(data)
    return True


def copy_process(root, pid, new_pid=None):
    """Copy a live process's identity files into a fixture root (optionally renumbered)."""
    new_pid = new_pid or pid
    for leaf in ("stat", "status", "comm", "cgroup", "cmdline"):
        _copy("/proc/%d/%s" % (pid, leaf), os.path.join(root, "proc", str(new_pid), leaf))
    return os.path.join(root, "proc", str(new_pid))


def root_args(root, count=1):
    """Arguments that collect `count` samples from a fixture root, 100 ms apart."""
    return [
        "--proc-root",
        os.path.join(root, "proc"),
        "--sys-root",
        os.path.join(root, "sys"),
        "--interval",
        "100ms",
        "--count",
        str(count),
    ]


@pytest.fixture
def fixture_root(tmp_path):
    """A proc/sys tree built from this machine's real files, with pid 1 and this process."""
    root = str(tmp_path / "root")
    for rel in PROC_FILES:
        _copy("/proc/" + rel, os.path.join(root, "proc", rel))
    for rel in SYS_FILES:
        _copy("/sys/" + rel, os.path.join(root, "sys", rel))
    copy_process(root, 1)
    copy_process(root, os.getpid())
    return root


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return str(d)


def leftovers(directory):
    """Partial bundles or spools left in a directory."""
    return [n for n in os.listdir(directory) if ".partial-" in n or n.startswith(".vmcollect")]


class Unprivileged(object):
    """Run the collector as 'nobody' from a world-readable copy of the zipapp."""

    def __init__(self, workdir):
        import pwd

        self.nobody = pwd.getpwnam("nobody")
        self.workdir = workdir
        self.python = None
        for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
            try:
                ok = (
                    subprocess.call(
                        [candidate, "-c", "pass"], preexec_fn=self.demote, stderr=subprocess.DEVNULL
                    )
                    == 0
                )
            except OSError:
                ok = False
            if ok:
                self.python = candidate
                break
        self.collector = os.path.join(workdir, "collector")
        shutil.copytree(COLLECTOR, self.collector)

    def demote(self):
        os.setgroups([])
        os.setgid(self.nobody.pw_gid)
        os.setuid(self.nobody.pw_uid)

    def run(self, args):
        env = dict(os.environ, PYTHONPATH=self.collector)
        proc = subprocess.Popen(
            [self.python, "-m", "vmcollect"] + list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            universal_newlines=True,
            preexec_fn=self.demote,
            cwd=self.workdir,
        )
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err


def unprivileged_runner():
    """An `Unprivileged` runner in a new world-readable directory; a skip reason instead."""
    if os.geteuid() != 0:
        return None, "needs root to drop privileges"
    import tempfile

    workdir = tempfile.mkdtemp(prefix="vmtriage-nobody-")
    os.chmod(workdir, 0o755)
    runner = Unprivileged(workdir)
    if runner.python is None:
        shutil.rmtree(workdir)
        return None, "no Python interpreter that 'nobody' can run"
    for d, _dirs, files in os.walk(workdir):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    return runner, None


@pytest.fixture
def unprivileged():
    """An `Unprivileged` runner with a world-readable work directory, or skip when not root."""
    runner, reason = unprivileged_runner()
    if runner is None:
        pytest.skip(reason)
    yield runner
    shutil.rmtree(runner.workdir, ignore_errors=True)


def has_fifo_support(tmp_path):
    return hasattr(os, "mkfifo")


__all__ = ["run_collector", "copy_process", "leftovers", "shutil"]
