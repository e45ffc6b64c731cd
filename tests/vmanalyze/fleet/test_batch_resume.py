"""Resume: a killed batch, a lost state, --force, changed rule options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .conftest import REAL, _env

pytestmark = pytest.mark.slow  # real batches: tens of seconds each


def _states(out: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / ".state").glob("*.json"))}


def test_killed_batch_resumes(
    batch_run: Any, inputs: dict[str, Path], example_pack: Path, config_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = [str(inputs[name]) for name in REAL]
    command = [
        sys.executable,
        "-m",
        "vmanalyze",
        "batch",
        *paths,
        "-o",
        str(out),
        "--config",
        str(config_file),
        "--jobs",
        "1",
        "-q",
    ]
    process = subprocess.Popen(
        command,
        env=_env(example_pack),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while not list((out / ".state").glob("*.json")):
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the client and its workers, mid-run
        process.wait()
    done_first = set(_states(out))
    assert 1 <= len(done_first) < len(REAL)
    assert not (out / "fleet.html").exists()  # killed before the fleet files

    run = batch_run([*paths, "--jobs", "2"], out)
    assert run.returncode == 0, run.stderr
    skipped = len(done_first)
    assert f"{len(REAL) - skipped} analyzed, {skipped} already done, 0 failed" in run.stderr
    states = _states(out)
    assert set(states) >= done_first and len(states) == len(REAL)
    frame = pd.read_parquet(out / "inputs.parquet")
    assert len(frame) == len(REAL) and set(frame["status"]) == {"ok"}
    assert len(list((out / "reports").iterdir())) == len(REAL)
    assert not list(out.rglob(".*.tmp-*"))  # no half-written file left behind

    # Everything done: a third run analyzes nothing and rebuilds the same fleet files.
    before = {k: v["analyzed_at"] for k, v in states.items()}
    again = batch_run(paths, out)
    assert again.returncode == 0
    assert f"0 analyzed, {len(REAL)} already done, 0 failed" in again.stderr
    assert {k: v["analyzed_at"] for k, v in _states(out).items()} == before
    assert len(pd.read_parquet(out / "findings.parquet")) == len(
        pd.read_parquet(out / "findings.parquet").drop_duplicates(
            ["input_hash", "code", "subject", "message"]
        )
    )

    # A lost state is redone, the others are not; --force redoes everything.
    lost = sorted(states)[0]
    (out / ".state" / f"{lost}.json").unlink()
    partial = batch_run(paths, out)
    assert f"1 analyzed, {len(REAL) - 1} already done" in partial.stderr
    assert _states(out)[lost]["analyzed_at"] != before[lost]
    forced = batch_run([*paths, "--force"], out)
    assert f"{len(REAL)} analyzed, 0 already done" in forced.stderr
    assert all(s["analyzed_at"] != before[k] for k, s in _states(out).items())
    assert len(pd.read_parquet(out / "inputs.parquet")) == len(REAL)


def test_other_rule_options_redo_and_fail_on(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = str(inputs["memory-leak"])
    first = batch_run([path, "--select", "EXA001"], out)
    assert first.returncode == 0, first.stderr
    # Same input, other rules: done again, and the fleet shows only the current rules.
    second = batch_run([path, "--select", "EXA001", "--fail-on", "info"], out)
    assert "0 analyzed, 1 already done" in second.stderr
    assert second.returncode == 1  # EXA001 (info) is at or above --fail-on info
    # Another selection into the same DIR would drop EXA001's findings: refused...
    refused = batch_run([path, "--ignore", "EXA001"], out)
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"vmanalyze: error: {out} holds 1 result(s) made with another rule")
    assert "--force" in line
    assert "EXA001" in set(pd.read_parquet(out / "findings.parquet")["code"])
    # ... unless --force says to replace them, which the run reports.
    third = batch_run([path, "--ignore", "EXA001", "--force"], out)
    assert third.returncode == 0, third.stderr
    assert "replaced 1 earlier result(s)" in third.stderr
    assert "1 analyzed, 0 already done" in third.stderr
    findings = pd.read_parquet(out / "findings.parquet")
    assert "EXA001" not in set(findings["code"])
    assert "left out of the fleet files" not in third.stderr  # same input, replaced


def test_identical_inputs_are_analyzed_once(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    original = inputs["memory-leak"]
    copies = []
    for name in ("copy-a.tar.gz", "copy-b.tar.gz"):
        copy = tmp_path / name
        copy.write_bytes(original.read_bytes())
        copies.append(copy)
    out = tmp_path / "out"
    done = batch_run([str(original), *map(str, copies)], out)
    assert done.returncode == 0, done.stderr
    assert "1 analyzed, 0 already done, 0 failed of 1 inputs, 2 duplicates" in done.stderr
    for copy in copies:
        assert f"duplicate: {copy}: same content as {original}, analyzed once" in done.stderr
    assert len(pd.read_parquet(out / "inputs.parquet")) == 1
