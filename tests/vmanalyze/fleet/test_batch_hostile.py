"""`vmanalyze batch` against hostile inputs and a hostile output directory (issue 11, req 6).

A FIFO that matches the input glob, an input slower than ``--timeout``, resume states
crafted field by field (a ``javascript:`` report link, wrong types, a FIFO, JSON nested
100,000 deep). Real files, real FIFOs, real batch processes.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vmanalyze.exit_codes import INPUT_FAILED
from vmanalyze.fleet import (
    FleetWriter,
    InputTimeout,
    RuleSpec,
    Task,
    discover_inputs,
    run_task,
    state_problem,
    time_limit,
)

from .conftest import REAL

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "debian12-kernel6.18" / "proc"


def capture(root: Path) -> Path:
    """A small captured directory (real /proc files of the debian12 capture)."""
    (root / "proc" / "sys" / "kernel").mkdir(parents=True)
    for name in ("meminfo", "vmstat"):
        shutil.copyfile(FIXTURE / name, root / "proc" / name)
    (root / "proc" / "sys" / "kernel" / "hostname").write_text("db01\n")
    return root


# -- non-regular files ---------------------------------------------------------------------


def test_fifo_matching_the_glob_is_skipped_unopened(tmp_path: Path) -> None:
    bundles = tmp_path / "bundles"
    (bundles / "sub").mkdir(parents=True)
    (bundles / "a.tar.gz").write_bytes(b"x")
    os.mkfifo(bundles / "b.tar.gz")
    os.mkfifo(bundles / "sub" / "c.tar.gz")
    for args in ([str(bundles / "*.tar.gz")], [str(bundles)], [str(bundles / "b.tar.gz")]):
        found, unmatched, refused = discover_inputs(args)
        assert str(bundles / "b.tar.gz") not in found
        assert (str(bundles / "b.tar.gz"), "a FIFO, not a bundle: skipped") in refused
    found, _, refused = discover_inputs([str(bundles)])
    assert found == [str(bundles / "a.tar.gz")]
    assert sorted(r[0] for r in refused) == [
        str(bundles / "b.tar.gz"),
        str(bundles / "sub" / "c.tar.gz"),
    ]
    found, _, refused = discover_inputs(["/dev/null"])
    assert found == [] and refused == [("/dev/null", "a character device, not a bundle: skipped")]


def test_batch_with_a_fifo_in_its_glob_finishes(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    shutil.copyfile(inputs["oom-kill"], bundles / "oom-kill.tar.gz")
    os.mkfifo(bundles / "stuck.tar.gz")
    run = batch_run([str(bundles / "*.tar.gz"), "--jobs", "1"], tmp_path / "out", timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"warning: {bundles / 'stuck.tar.gz'}: a FIFO, not a bundle: skipped" in run.stderr
    assert "1 analyzed, 0 already done, 0 failed of 1 inputs" in run.stderr


def test_run_task_refuses_a_fifo(tmp_path: Path) -> None:
    """A FIFO given to a worker (e.g. created after discovery) fails that input, unopened."""
    fifo = tmp_path / "late.tar.gz"
    os.mkfifo(fifo)
    result = run_task(Task(str(fifo), RuleSpec(), "k"))
    assert result.status == "failed"
    assert result.error == f"{fifo}: a FIFO, not a bundle, archive or directory"


# -- the time limit --------------------------------------------------------------------------------


def _spin(seconds: float) -> None:
    """Busy Python code that, like the rule engine, carries on after any Exception."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sum(range(1000))
        except Exception:
            continue


def test_time_limit_stops_python_code_in_the_main_thread() -> None:
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    with pytest.raises(InputTimeout), time_limit(0.2):
        _spin(30)
    assert time.monotonic() - started < 10
    with time_limit(5):
        _spin(0.01)  # in time: nothing raised, and no alarm left behind
    assert signal.getsignal(signal.SIGALRM) == before


def test_time_limit_stops_python_code_in_a_worker_thread() -> None:
    """Dask runs tasks in worker threads: the limit must work there too."""
    outcome: list[str] = []

    def task() -> None:
        try:
            with time_limit(0.2):
                _spin(30)
            outcome.append("finished")
        except InputTimeout:
            outcome.append("timed out")

    started = time.monotonic()
    thread = threading.Thread(target=task)
    thread.start()
    thread.join(60)
    assert outcome == ["timed out"] and time.monotonic() - started < 10

    def quick() -> None:
        with time_limit(0.2):
            _spin(0.01)
        time.sleep(0.5)  # the timer would have fired by now
        outcome.append("finished")

    thread = threading.Thread(target=quick)
    thread.start()
    thread.join(60)
    assert outcome == ["timed out", "finished"]


def test_slow_input_fails_alone_with_its_reason(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    """No real bundle is analyzed in 50 ms: it fails as timed out, and is redone later."""
    import pandas as pd

    out = tmp_path / "out"
    bundle = str(inputs["oom-kill"])
    run = batch_run([bundle, "--jobs", "1", "--timeout", "0.05"], out)
    assert run.returncode == INPUT_FAILED, run.stderr
    assert f"failed: {bundle}: timed out after 0.05 s (--timeout)" in run.stderr
    row = pd.read_parquet(out / "inputs.parquet").iloc[0]
    assert row["status"] == "failed" and row["error"] == "timed out after 0.05 s (--timeout)"
    again = batch_run([bundle, "--jobs", "1"], out)
    assert again.returncode == 0, again.stderr
    assert "1 analyzed, 0 already done, 0 failed" in again.stderr


def test_worker_stuck_beyond_its_alarm_is_killed(
    batch_run: Any, inputs: dict[str, Path], tmp_path: Path
) -> None:
    """A worker that ignores its alarm (batch/faulty.py blocks SIGALRM, as a long call into C
    would delay it) is killed after the grace period; the other input is not affected."""
    import pandas as pd
    from vmanalyze.fleet import HARD_TIMEOUT_GRACE_S

    stuck = tmp_path / "hangme.tar.gz"
    shutil.copyfile(inputs["memory-leak"], stuck)
    out = tmp_path / "out"
    started = time.monotonic()
    run = batch_run(
        [str(stuck), str(inputs["oom-kill"]), "--jobs", "2", "--timeout", "20"],
        out,
        fault="hang",
        timeout=300,
    )
    assert run.returncode == INPUT_FAILED, run.stderr
    assert time.monotonic() - started >= 20 + HARD_TIMEOUT_GRACE_S
    frame = pd.read_parquet(out / "inputs.parquet").set_index("name")
    assert frame.loc["oom-kill.tar.gz", "status"] == "ok"
    assert frame.loc["hangme.tar.gz", "error"] == (
        "timed out after 20 s (--timeout); the worker did not stop and was killed"
    )


# -- resume states ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The state a real analysis stores (one worker run in this process)."""
    root = tmp_path_factory.mktemp("state")
    result = run_task(Task(str(capture(root / "db01")), RuleSpec(), "k"))
    assert result.status == "ok", result.error
    writer = FleetWriter(root / "out", version=result.analyzer_version, rules_key="k")
    writer.store(result)
    (path,) = (root / "out" / ".state").glob("*.json")
    state: dict[str, Any] = json.loads(path.read_text())
    assert state_problem(state, path.stem) is None
    return state


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: s.__setitem__(key, value)


CRAFTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "javascript link": _set("report", "javascript:alert(document.cookie)"),
    "absolute link": _set("report", "/etc/passwd"),
    "escaping link": _set("report", "reports/../../x.html"),
    "link elsewhere": _set("report", "https://evil.example/x.html"),
    "partition escapes": _set("host_partition", "../../etc"),
    "samples text": _set("samples", "12"),
    "samples negative": _set("samples", -1),
    "findings not a list": _set("findings", "x"),
    "finding severity": _set("findings", [{"code": "X", "severity": "<b>"}]),
    "finding message": _set("findings", [{"code": "X", "severity": "info", "message": 3}]),
    "rule not an object": _set("rules", ["THP001"]),
    "timings text": _set("timings", {"total_s": "1"}),
    "warnings numbers": _set("warnings", [1]),
    "start not a time": _set("start", "yesterday"),
    "status failed": _set("status", "failed"),
    "hash of another file": _set("input_hash", "b" * 64),
    "tables escape": _set("tables", ["../x"]),
    "not an object": lambda s: s.clear(),
}


@pytest.mark.parametrize("how", sorted(CRAFTED))
def test_crafted_state_is_not_trusted(how: str, real_state: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer = FleetWriter(out, version=real_state["analyzer_version"], rules_key="k")
    state = copy.deepcopy(real_state)
    CRAFTED[how](state)
    path = out / ".state" / f"{real_state['input_hash']}.json"
    path.write_text(json.dumps([] if how == "not an object" else state))
    assert writer.done_hashes() == frozenset()  # so the input is analyzed again
    html = writer.assemble([]).fleet_html.read_text()  # type: ignore[union-attr]
    assert "javascript:" not in html and "/etc/passwd" not in html and "evil.example" not in html


def test_state_files_that_are_not_json_objects(real_state: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer = FleetWriter(out, version=real_state["analyzer_version"], rules_key="k")
    good = out / ".state" / f"{real_state['input_hash']}.json"
    good.write_text(json.dumps(real_state))
    assert writer.done_hashes() == {real_state["input_hash"]}
    (out / ".state" / f"{'c' * 64}.json").write_text("[" * 100_000 + "]" * 100_000)
    (out / ".state" / f"{'d' * 64}.json").write_bytes(b"\xff\xfe{")
    os.mkfifo(out / ".state" / f"{'e' * 64}.json")  # would block a plain open
    (out / ".state" / f"{'f' * 64}.json").symlink_to(good)
    started = time.monotonic()
    assert writer.done_hashes() == {real_state["input_hash"]}
    assert time.monotonic() - started < 30


def test_crafted_state_end_to_end(batch_run: Any, tmp_path: Path) -> None:
    """A state whose report link is ``javascript:``: the input is analyzed again, the page
    links only to the real report, and nothing crashes."""
    data = capture(tmp_path / "db01")
    out = tmp_path / "out"
    first = batch_run([str(data), "--jobs", "1"], out)
    assert first.returncode == 0, first.stderr
    (path,) = (out / ".state").glob("*.json")
    state = json.loads(path.read_text())
    report = state["report"]
    assert report.startswith("reports/") and (out / report).is_file()
    state["report"] = "javascript:alert(document.cookie)"
    state["samples"] = {"nested": ["x"]}
    path.write_text(json.dumps(state))

    again = batch_run([str(data), "--jobs", "1"], out)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "1 analyzed, 0 already done, 0 failed" in again.stderr
    html = (out / "fleet.html").read_text()
    assert "javascript:" not in html and json.dumps(report) in html
    assert json.loads(path.read_text())["report"] == report  # the state was rewritten


def test_real_bundle_states_pass_the_checks(fleet_run: Any) -> None:
    """Every state a real batch stored passes the checks (nothing good is thrown away)."""
    import pandas as pd

    states = sorted((fleet_run.out / ".state").glob("*.json"))
    frame = pd.read_parquet(fleet_run.out / "inputs.parquet")
    assert len(states) == (frame["status"] == "ok").sum() >= len(REAL)
    for path in states:
        assert state_problem(json.loads(path.read_text()), path.stem) is None, path
