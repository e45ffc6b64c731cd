"""The same batch on a Dask LocalCluster (real scheduler and workers over TCP on 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from vmanalyze.exit_codes import INPUT_FAILED

from .conftest import Run

pytestmark = pytest.mark.slow  # real batches: tens of seconds each

distributed = pytest.importorskip("distributed", reason="needs vmtriage[dask]")


@pytest.fixture(scope="module")
def cluster(example_pack: Path) -> Iterator[Any]:
    # Workers are spawned processes: they inherit sys.path, so they see the example pack.
    # allowed-failures=1: a task whose worker dies is tried on a second worker, then fails
    # with KilledWorker (the scheduler's default is 3 retries; it is the cluster's setting).
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            protocol="tcp",
        ) as local,
    ):
        yield local


def _comparable(out: Path) -> pd.DataFrame:
    findings = pd.read_parquet(out / "findings.parquet")
    columns = ["input_hash", "code", "severity", "subject", "message", "start", "end", "evidence"]
    return findings[columns].sort_values(columns[:5]).reset_index(drop=True)


def test_dask_cluster_gives_the_same_findings(
    batch_run: Any, fleet_run: Run, inputs: dict[str, Path], cluster: Any, tmp_path: Path
) -> None:
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    bad = [str(inputs[k]) for k in ("corrupt", "truncated", "stub", "hostile")]
    run = batch_run([str(inputs["root"] / "good"), *bad, "--scheduler", address], tmp_path / "o")
    assert run.returncode == INPUT_FAILED, run.stderr
    pd.testing.assert_frame_equal(_comparable(run.out), _comparable(fleet_run.out))

    local = pd.read_parquet(fleet_run.out / "inputs.parquet").set_index("name")
    remote = pd.read_parquet(run.out / "inputs.parquet").set_index("name")
    assert sorted(remote.index) == sorted(local.index)
    for column in ("status", "input_hash", "host", "samples", "findings", "report"):
        pd.testing.assert_series_equal(
            remote[column].sort_index(), local[column].sort_index(), check_dtype=False
        )
    assert remote.loc["hostile.tar.gz", "error"] == local.loc["hostile.tar.gz", "error"]
    # The work ran in the cluster's worker processes, not in the client.
    with distributed.Client(cluster) as client:
        worker_pids = {str(pid) for pid in client.run(os.getpid).values()}
    workers = {w.rsplit(":", 1)[1] for w in remote["worker"].dropna()}
    assert workers and workers <= worker_pids and str(os.getpid()) not in workers
    for table in ("meminfo", "process_samples"):
        a = pd.read_parquet(run.out / "tables" / table)
        b = pd.read_parquet(fleet_run.out / "tables" / table)
        assert len(a) == len(b)


def test_unreachable_scheduler_is_one_line(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    run = batch_run(
        [str(inputs["memory-leak"]), "--scheduler", "tcp://127.0.0.1:9"], tmp_path / "o"
    )
    assert run.returncode == 2
    assert run.stderr.strip().startswith("vmanalyze: error: cannot reach the Dask scheduler")
    assert len(run.stderr.strip().splitlines()) == 1


def test_dask_worker_death_fails_that_input_only(
    batch_run: Any, inputs: dict[str, Path], cluster: Any, tmp_path: Path
) -> None:
    import shutil

    crash = tmp_path / "crashme.tar.gz"
    shutil.copyfile(inputs["memory-leak"], crash)
    run = batch_run(
        [str(crash), str(inputs["oom-kill"]), "--scheduler", cluster.scheduler_address],
        tmp_path / "o",
        fault="crash",
    )
    assert run.returncode == INPUT_FAILED, run.stderr
    frame = pd.read_parquet(tmp_path / "o" / "inputs.parquet").set_index("name")
    assert frame.loc["oom-kill.tar.gz", "status"] == "ok"
    row = frame.loc["crashme.tar.gz"]
    assert row["status"] == "failed"
    assert "KilledWorker" in row["error"] and "the worker died" in row["error"]


def test_dask_timeout_fails_that_input_only(
    batch_run: Any, inputs: dict[str, Path], cluster: Any, tmp_path: Path
) -> None:
    """Dask runs the task in a worker thread: --timeout must still stop it there."""
    bundle = str(inputs["oom-kill"])
    args = [bundle, "--scheduler", cluster.scheduler_address, "--timeout", "0.05"]
    run = batch_run(args, tmp_path / "o")
    assert run.returncode == INPUT_FAILED, run.stderr
    row = pd.read_parquet(tmp_path / "o" / "inputs.parquet").iloc[0]
    assert row["status"] == "failed"
    assert row["error"] == "timed out after 0.05 s (--timeout)"
    assert row["worker"].rsplit(":", 1)[1] != str(os.getpid())  # it ran on a worker
    # The worker is still usable afterwards: the same input, without a limit, is analyzed.
    again = batch_run([bundle, "--scheduler", cluster.scheduler_address], tmp_path / "o")
    assert again.returncode == 0, again.stderr
