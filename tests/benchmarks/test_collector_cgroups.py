"""benchmarks/collector.py's cgroup tree: any --cgroups count, made and removed as root."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "collector.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_collector", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if os.geteuid() != 0 or module._memory_hierarchy() is None:
        pytest.skip("needs root and a writable memory cgroup hierarchy")
    return module


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen(["sleep", "600"]) for _ in range(2)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def _memory_cgroup(pid: int) -> str:
    """The memory cgroup of `pid`, from /proc/PID/cgroup (v1 memory line, else the v2 one)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    v1 = [line for line in lines if "memory" in line.split(":")[1].split(",")]
    return (v1 or [line for line in lines if line.startswith("0::")])[0].split(":", 2)[2]


@pytest.mark.parametrize("count", range(13))
def test_make_cgroups_makes_count_cgroups_and_removes_them(
    bench: ModuleType, sleepers: list[subprocess.Popen[bytes]], count: int
) -> None:
    mount = bench._memory_hierarchy()[0]
    made_at = os.path.join(mount, f"vmtriage-bench-{os.getpid()}")  # removed even on a failure
    try:
        top = bench.make_cgroups(count, sleepers)
        if count == 0:
            assert top is None
            return
        made = [d for d, _dirs, _files in os.walk(top)]
        assert len(made) == count
        leaves = {d[len(mount) :] for d in made if not any(o.startswith(d + "/") for o in made)}
        homes = {_memory_cgroup(p.pid) for p in sleepers}
        assert homes <= leaves, (homes, leaves)  # every process in a leaf of the tree
        if count >= 6:  # room for a pod and a container: the processes are in containers
            assert all(h.endswith(".scope") and "cri-containerd-" in h for h in homes)
    finally:
        for proc in sleepers:
            proc.kill()
            proc.wait()
        if os.path.exists(made_at):
            bench.remove_cgroups(made_at)
    assert top == made_at and not os.path.exists(top)


def test_load_running_removes_a_tree_that_failed_halfway(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while the cgroups are made (here the fourth mkdir) leaves no tree behind, and
    the processes are gone."""
    made: list[str] = []
    mkdir = os.mkdir

    def failing_mkdir(path: str, *args: int) -> None:
        if len(made) == 3:
            raise OSError("injected")
        mkdir(path, *args)
        made.append(path)

    monkeypatch.setattr(bench.os, "mkdir", failing_mkdir)
    with pytest.raises(OSError, match="injected"), bench.load_running(3, 0, 10):
        pass
    monkeypatch.undo()
    assert len(made) == 3 and not any(os.path.exists(d) for d in made)
    assert not os.path.exists(bench.bench_top())
