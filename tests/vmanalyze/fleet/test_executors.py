"""execute_local's bookkeeping when the process pool breaks, driven by a scripted pool.

A worker that dies makes the pool refuse new work at once, while its future reports the
death only on the next ``wait``. Under load, a result finishing beside it can wake the loop
first: the next ``submit`` then meets the broken pool. That race once ended a batch with
"internal error (BrokenProcessPool ...)"; the real crash tests (test_batch_crash.py) hit it
only sometimes, so it is scripted here.
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace
from typing import Any

import pytest
from vmanalyze.fleet import executors
from vmanalyze.fleet.task import Task


class ScriptedPool:
    """Pool 1: the first task's worker dies, noticed only when a third task is submitted."""

    def __init__(self, generation: int, log: list[str]) -> None:
        self.generation = generation
        self.log = log
        self.dying: Future[Any] | None = None

    def submit(self, fn: Any, task: Task) -> Future[Any]:
        future: Future[Any] = Future()
        if self.generation == 1 and task.path == "a":
            self.dying = future  # still running: its death is not reported yet
        elif self.generation == 1 and task.path == "c":
            assert self.dying is not None
            self.dying.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            self.log.append("submit refused")
            raise BrokenProcessPool("the process pool is not usable anymore")
        else:
            future.set_result(SimpleNamespace(path=task.path, attempts=None))
        self.log.append(f"pool {self.generation} runs {task.path}")
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.log.append(f"pool {self.generation} shut down")


def test_a_pool_that_breaks_between_wait_and_submit_retries_the_dead_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    pools = iter(range(1, 10))
    monkeypatch.setattr(executors, "_new_pool", lambda jobs: ScriptedPool(next(pools), log))
    monkeypatch.setattr(executors, "_death_cause", lambda pool: "exit status 70")
    tasks = [Task(path=p, rules=None, rules_key="k") for p in ("a", "b", "c")]  # type: ignore[arg-type]

    results = list(executors.execute_local(tasks, jobs=2))

    assert sorted((r.path, r.attempts) for r in results) == [("a", 2), ("b", 1), ("c", 1)]
    assert "submit refused" in log
    assert log.index("pool 2 runs a") < log.index("pool 2 runs c")  # the dead task alone first
