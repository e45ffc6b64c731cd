"""A Kubernetes node's cgroup tree, collected by the real collector, in the cgroup_memory table;
and a non-root run's own list of what it missed, repeated by the analysis."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.dataset import parse
from vmanalyze.parsers.pressure_memory import parse_pressure_memory

from tests.vmcollect.cgroup_tree import APP, BESTEFFORT, POD, V2_CGROUPS, build_v2_kubelet_tree
from tests.vmcollect.conftest import PROC_FILES, SYS_FILES, _copy, copy_process, unprivileged_runner

from .conftest import collect


@pytest.fixture(scope="module")
def node_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four samples of a fixture root holding kubelet's v2 tree, the 4 largest every sample;
    and the root."""
    root = tmp_path_factory.mktemp("node")
    for rel in PROC_FILES:
        _copy("/proc/" + rel, str(root / "proc" / rel))
    for rel in SYS_FILES:
        _copy("/sys/" + rel, str(root / "sys" / rel))
    copy_process(str(root), 1)
    build_v2_kubelet_tree(str(root / "sys" / "fs" / "cgroup"))
    out = tmp_path_factory.mktemp("out")
    bundle = collect(
        out,
        "--root",
        str(root),
        "--interval",
        "100ms",
        "--count",
        "4",
        "--max-cgroups",
        "4",
    )
    return bundle, root


def test_every_pod_and_container_is_a_row_keyed_by_its_full_path(
    node_bundle: tuple[Path, Path],
) -> None:
    bundle, root = node_bundle
    table = parse(str(bundle)).tables["cgroup_memory"]
    assert set(table["version"]) == {"v2"}
    assert sorted(set(table["cgroup"])) == sorted("/" + p for p, _c, _l, _o in V2_CGROUPS)
    app = table[table["cgroup"] == "/" + APP].set_index("snapshot")
    samples = parse(str(bundle)).tables["samples"].set_index("phase")["snapshot"]
    # Not among the 4 largest: the start and the end only, with every file.
    assert list(app.index) == [samples["start"], samples["end"]]
    row = app.loc[samples["start"]]
    assert row["current"] == 2139095040 and row["max"] == 2147483648
    assert row["events_oom_kill"] == 2 and row["events_local_max"] == 41
    assert row["events_local_oom_group_kill"] == 0
    assert row["swap_current"] == 0 and pd.isna(row["swap_max"])  # "max": no limit
    assert (row["swap_events_high"], row["swap_events_max"], row["swap_events_fail"]) == (0, 0, 0)
    assert row["low"] == 0 and row["peak"] == 2139095040 + 4096
    psi = parse_pressure_memory((root / "sys/fs/cgroup" / APP / "memory.pressure").read_text())
    assert row["pressure_some_total_us"] == psi["some_total_us"] > 0
    assert row["stat_workingset_refault_file"] == 18231
    # The largest are in every snapshot; their limits too, peaks at start and end only.
    pod = table[table["cgroup"] == "/" + POD].set_index("snapshot")
    assert list(pod.index) == [-1, 0, 1, 2, 3, 4]  # start, the 4 samples, end
    assert (pod["max"] == 2147483648).all()
    assert pod["peak"].notna().tolist() == [True, False, False, False, False, True]
    root = table[table["cgroup"] == "/"].iloc[0]
    assert pd.isna(root["current"])  # the root cgroup has no memory.current
    assert "/" + BESTEFFORT in set(table["cgroup"])


@pytest.fixture(scope="module")
def nobody_bundle() -> Path:
    """A real bundle of this machine collected as 'nobody'."""
    runner, reason = unprivileged_runner()
    if runner is None:
        pytest.skip(reason)
    try:
        out = os.path.join(runner.workdir, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)
        code, stdout, err = runner.run(["--interval", "100ms", "--count", "2", "-o", out, "-q"])
        assert code == 0, err
        kept = Path(tempfile.mkdtemp(prefix="vmtriage-nobody-bundle-")) / "nobody.tar.gz"
        shutil.copy(stdout.strip(), kept)
    finally:
        shutil.rmtree(runner.workdir, ignore_errors=True)
    yield kept
    shutil.rmtree(kept.parent, ignore_errors=True)


def test_analysis_repeats_what_a_non_root_run_missed(nobody_bundle: Path) -> None:
    dataset = parse(str(nobody_bundle))
    said = [w for w in dataset.warnings if "not root: missed" in w]
    uid = dataset.source["manifest"]["host"]["uid"]
    assert uid != 0
    assert any(
        w.startswith(f"collected as uid {uid}, not root: missed free pages by migrate type")
        and "(proc/pagetypeinfo: PermissionError" in w
        for w in said
    ), said
    assert any("smaps_rollup and numa_maps of other users' processes" in w for w in said)
