"""A worker process that dies mid-task: retried once, then the input fails; others go on."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from vmanalyze.exit_codes import INPUT_FAILED

pytestmark = pytest.mark.slow  # real batches: tens of seconds each


def test_dying_worker_is_retried_once_then_failed(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    crash = tmp_path / "crashme.tar.gz"
    shutil.copyfile(inputs["memory-leak"], crash)
    paths = [str(crash), str(inputs["oom-kill"]), str(inputs["pagecache-thrash"])]
    run = batch_run([*paths, "--jobs", "2"], tmp_path / "out", fault="crash")
    assert run.returncode == INPUT_FAILED, run.stderr
    assert "2 analyzed, 0 already done, 1 failed" in run.stderr
    frame = pd.read_parquet(tmp_path / "out" / "inputs.parquet").set_index("name")
    row = frame.loc["crashme.tar.gz"]
    assert row["status"] == "failed"
    assert row["attempts"] == 2
    assert "worker process died 2 times" in row["error"]
    assert "not retried again" in row["error"]
    for name in ("oom-kill.tar.gz", "pagecache-thrash.tar.gz"):
        assert frame.loc[name, "status"] == "ok"
        assert frame.loc[name, "attempts"] in (1, 2)  # 2 if it shared the pool with the crash

    # With the real worker the same input is fine, and only it is analyzed again.
    again = batch_run(paths, tmp_path / "out")
    assert again.returncode == 0, again.stderr
    assert "1 analyzed, 2 already done, 0 failed" in again.stderr
