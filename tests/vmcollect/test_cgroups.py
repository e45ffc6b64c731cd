"""Memory cgroups at every depth: a Kubernetes node's pods and containers, v1 and v2."""

import os
import shutil
import subprocess
import time

import pytest

from .bundle_reader import Bundle
from .cgroup_tree import (
    APP,
    BESTEFFORT,
    PAUSE,
    POD,
    V1_CGROUPS,
    V2_CGROUPS,
    build_v1_kubelet_tree,
    build_v2_kubelet_tree,
)
from .conftest import COLLECTOR, collector_command, run_collector

V2 = "sys/fs/cgroup"


def _collect(args, out_dir, count=3):
    args = list(args) + ["--interval", "100ms", "--count", str(count), "-o", out_dir, "-q"]
    _, out, err = run_collector(args)
    return Bundle(out.strip().splitlines()[-1])


def _fixture_args(root):
    return ["--proc-root", os.path.join(root, "proc"), "--sys-root", os.path.join(root, "sys")]


def _cgroup_dirs(bundle, base):
    """The cgroup directories under `base` with at least one captured memory file."""
    return sorted(
        set(
            n.rsplit("/", 1)[0]
            for n in bundle.members
            if n.startswith(base + "/") and n.rsplit("/", 1)[1].startswith("memory.")
        )
    )


def test_kubelet_v2_tree_every_pod_and_container_is_captured(fixture_root, out_dir):
    written = build_v2_kubelet_tree(os.path.join(fixture_root, "sys", "fs", "cgroup"))
    b = _collect(_fixture_args(fixture_root), out_dir)
    found = _cgroup_dirs(b, V2)
    assert found == sorted(V2 + ("/" + p if p else "") for p, _c, _l, _o in V2_CGROUPS)
    # The container's files, verbatim, new files included, in every snapshot.
    app = V2 + "/" + APP
    for name in ("memory.events.local", "memory.swap.events", "memory.pressure", "memory.stat"):
        records = b.records(app + "/" + name)
        assert [label for label, _ in records] == ["start", 0, 1, 2, "end"], name
        assert all(body == written[APP][name] for _, body in records), name
    assert b.records(app + "/memory.events.local")[0][1].startswith(b"low 0\nhigh 0\nmax 41\n")
    # Limits and peaks that rarely change: start and end only.
    for name in ("memory.swap.max", "memory.low", "memory.peak", "memory.swap.peak"):
        assert b.labels(app + "/" + name) == ["start", "end"], name
    # The root has no memory.current: it is read all the same, without inventing one.
    assert b.labels(V2 + "/memory.stat") == ["start", 0, 1, 2, "end"]
    assert V2 + "/memory.current" not in b.manifest["files"]
    # Files the collector does not know are never read.
    assert not [n for n in b.members if n.endswith(("memory.oom.group", "cgroup.procs"))]
    assert b.manifest["cgroups"] == {
        "found": len(V2_CGROUPS),
        "sampled": len(V2_CGROUPS),
        "walk_limit_reached": False,
    }


def test_max_cgroups_samples_the_largest_and_reads_the_rest_at_start_and_end(fixture_root, out_dir):
    build_v2_kubelet_tree(os.path.join(fixture_root, "sys", "fs", "cgroup"))
    b = _collect(_fixture_args(fixture_root) + ["--max-cgroups", "4"], out_dir)
    every = sorted(
        n[: -len("/memory.stat")]
        for n in b.members
        if n.endswith("/memory.stat") and b.labels(n) == ["start", 0, 1, 2, "end"]
    )
    # The root always, then by memory.current: kubepods.slice (3 GiB), the burstable slice
    # (2.5 GiB), the pod (2 GiB). The container (2 GiB less 8 MiB) misses the cut.
    assert every == [
        V2,
        V2 + "/kubepods.slice",
        V2 + "/kubepods.slice/kubepods-burstable.slice",
        V2 + "/" + POD,
    ]
    for small in (APP, PAUSE, BESTEFFORT, "system.slice/kubelet.service"):
        assert b.labels(V2 + "/" + small + "/memory.stat") == ["start", "end"], small
    assert b.manifest["cgroups"]["sampled"] == 4
    assert b.manifest["cgroups"]["found"] == len(V2_CGROUPS)
    assert b.manifest["options"]["max_cgroups"] == 4


def test_new_container_is_found_within_a_minute_of_samples(fixture_root, out_dir):
    """The tree is walked again every 12 samples: a container started mid-run is sampled."""
    base = os.path.join(fixture_root, "sys", "fs", "cgroup")
    build_v2_kubelet_tree(base)
    late = os.path.join(base, POD, "cri-containerd-late.scope")
    args = _fixture_args(fixture_root) + ["--interval", "50ms", "--count", "30", "-o", out_dir]
    proc = subprocess.Popen(
        collector_command() + args + ["-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=dict(os.environ, PYTHONPATH=COLLECTOR),
    )
    _wait_for_snapshots(out_dir, 3)  # start, 0 and 1 are written
    shutil.copytree(os.path.join(base, APP), late)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    b = Bundle(out.strip())
    labels = b.labels(V2 + "/" + POD + "/cri-containerd-late.scope/memory.stat")
    assert labels[-1] == "end" and "start" not in labels
    assert 0 not in labels and 24 in labels  # found by the walk after sample 23 at the latest


def _wait_for_snapshots(out_dir, count, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name in os.listdir(out_dir):
            try:
                with open(os.path.join(out_dir, name, "samples.jsonl")) as f:
                    if len(f.read().splitlines()) >= count:
                        return
            except OSError:
                continue
        time.sleep(0.01)
    raise AssertionError("the collector wrote no spool in %s" % out_dir)


def test_kubelet_v1_tree_nested_cgroups_are_captured(fixture_root, out_dir):
    files = build_v1_kubelet_tree(os.path.join(fixture_root, "sys", "fs", "cgroup", "memory"))
    b = _collect(_fixture_args(fixture_root), out_dir)
    base = "sys/fs/cgroup/memory"
    assert _cgroup_dirs(b, base) == sorted(base + ("/" + p if p else "") for p in V1_CGROUPS)
    leaf = base + "/" + V1_CGROUPS[-2]
    assert b.labels(leaf + "/memory.stat") == ["start", 0, 1, 2, "end"]
    assert b.records(leaf + "/memory.stat")[0][1] == files["memory.stat"]
    assert b.labels(leaf + "/memory.max_usage_in_bytes") == ["start", "end"]
    assert leaf + "/memory.swappiness" not in b.members


def _v1_memory_mount():
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if parts[2] == "cgroup" and "memory" in parts[3].split(","):
                    return parts[1]
    except OSError:
        pass
    return None


@pytest.fixture
def live_kubelet_v1():
    """A real nested v1 memory hierarchy of kubelet's shape, with a process in the container."""
    mount = _v1_memory_mount()
    if os.geteuid() != 0 or mount is None:
        pytest.skip("needs root and a cgroup v1 memory hierarchy")
    top = os.path.join(mount, "vmtriage-test-%d" % os.getpid())
    leaf = os.path.join(top, APP)
    os.makedirs(leaf)
    with open(os.path.join(leaf, "memory.limit_in_bytes"), "w") as f:
        f.write(str(256 << 20))
    sleeper = subprocess.Popen(
        [
            "python3",
            "-c",
            "import time; b = bytearray(24 << 20)\n"
            "for i in range(0, len(b), 4096): b[i] = 1\n"
            "time.sleep(60)",
        ]
    )
    with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
        f.write(str(sleeper.pid))
    try:
        yield mount, top, leaf, sleeper
    finally:
        sleeper.kill()
        sleeper.wait()
        for directory, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            for _ in range(50):
                try:
                    os.rmdir(directory)
                    break
                except OSError:
                    time.sleep(0.05)


def test_live_nested_v1_hierarchy(live_kubelet_v1, out_dir):
    mount, top, leaf, sleeper = live_kubelet_v1
    time.sleep(0.5)  # the child has touched its 24 MiB
    b = _collect([], out_dir)
    bundle_leaf = leaf.lstrip("/")
    usage = [int(body) for _, body in b.records(bundle_leaf + "/memory.usage_in_bytes")]
    assert len(usage) == 5 and all(u >= 24 << 20 for u in usage), usage
    limits = b.records(bundle_leaf + "/memory.limit_in_bytes")
    assert all(int(body) == 256 << 20 for _, body in limits)
    stat = dict(
        line.split() for line in b.records(bundle_leaf + "/memory.stat")[0][1].decode().splitlines()
    )
    assert int(stat["rss"]) + int(stat.get("cache", 0)) >= 24 << 20
    # Every level of the pod's path is captured, parents with the child's usage in theirs.
    level = top
    for part in APP.split("/"):
        level = os.path.join(level, part)
        parent_usage = int(b.records(level.lstrip("/") + "/memory.usage_in_bytes")[0][1])
        assert parent_usage >= usage[0] - (1 << 20), level
    # The process's own cgroup file names the same path.
    cgroup = b.records("proc/%d/cgroup" % sleeper.pid)[0][1].decode()
    relative = "/" + os.path.relpath(leaf, mount)
    assert any(line.endswith(":memory:" + relative) for line in cgroup.splitlines()), cgroup


def test_root_prefix_reads_a_host_mounted_elsewhere(fixture_root, out_dir):
    """--root /host: proc, sys and etc under the prefix, cgroups at their usual places."""
    build_v2_kubelet_tree(os.path.join(fixture_root, "sys", "fs", "cgroup"))
    with open(os.path.join(fixture_root, "proc", "sys", "kernel", "hostname"), "w") as f:
        f.write("node-7\n")
    os.makedirs(os.path.join(fixture_root, "etc"))
    with open(os.path.join(fixture_root, "etc", "os-release"), "w") as f:
        f.write('PRETTY_NAME="Fixture Linux"\n')
    b = _collect(["--root", fixture_root], out_dir, count=1)
    assert b.manifest["host"]["hostname"] == "node-7"
    assert b.manifest["options"]["root"] == fixture_root
    assert b.manifest["options"]["proc_root"] == os.path.join(fixture_root, "proc")
    assert b.records("etc/os-release")[0][1] == b'PRETTY_NAME="Fixture Linux"\n'
    assert b.labels(V2 + "/" + APP + "/memory.events.local") == ["start", 0, "end"]


def test_root_prefix_that_is_not_a_directory_is_one_line(tmp_path):
    code, out, err = run_collector(["--root", str(tmp_path / "nope"), "--count", "1"], check=False)
    assert code == 2 and out == ""
    assert err.strip() == "vmcollect: error: --root %r is not a directory" % str(tmp_path / "nope")
