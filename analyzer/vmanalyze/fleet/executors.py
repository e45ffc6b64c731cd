"""Where a batch's tasks run: local worker processes, or a Dask cluster.

Both yield each :class:`~vmanalyze.fleet.task.TaskResult` as it finishes. The function a
worker runs is looked up as ``vmanalyze.fleet.task.run_task`` when the tasks are submitted
(tests replace it there, before the pool starts, to run workers that crash or hang).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from vmanalyze.fleet import task as task_module
from vmanalyze.fleet.task import BatchError, Task, TaskResult, _one_line, failed_result

__all__ = ["HARD_TIMEOUT_GRACE_S", "MAX_WORKER_DEATHS", "execute_dask", "execute_local"]

#: A task whose worker dies this many times is recorded as failed (so: retried once).
MAX_WORKER_DEATHS = 2
#: Worker processes are replaced after this many inputs, which bounds their memory.
MAX_TASKS_PER_CHILD = 10
#: A local worker still running this long after its input's --timeout is killed.
HARD_TIMEOUT_GRACE_S = 10.0


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    # forkserver: workers start from a clean process that already imported the analyzer
    # (fast, and no fork of the client's threads); max_tasks_per_child bounds their memory.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vmanalyze.fleet", "vmanalyze.analysis", "pyarrow.parquet"])
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, max_tasks_per_child=MAX_TASKS_PER_CHILD
    )


def _death_cause(pool: ProcessPoolExecutor) -> str:
    codes = []
    with contextlib.suppress(Exception):
        for process in list(getattr(pool, "_processes", {}).values()):
            code = process.exitcode
            if code is not None and code != 0:
                codes.append(code)
    for code in codes:
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
    if codes:
        return f"exit status {codes[0]}"
    return "killed or out of memory"


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes (one of them is stuck and ignores its alarm)."""
    with contextlib.suppress(Exception):
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()


def execute_local(tasks: Sequence[Task], jobs: int) -> Iterator[TaskResult]:
    """Run ``tasks`` on ``jobs`` local processes; yield each result as it finishes.

    At most ``jobs`` tasks are in flight, so when a worker dies the tasks that were running
    are known. Those are retried one at a time (alone, so a second death is that input's
    own); a task whose worker dies :data:`MAX_WORKER_DEATHS` times is yielded as failed.

    A task with a ``timeout`` stops itself (:func:`time_limit`); one still running
    :data:`HARD_TIMEOUT_GRACE_S` later is stuck where the alarm cannot reach (a long call
    into C): the workers are killed, that input fails as timed out, and the tasks that ran
    beside it run again, not charged.
    """
    jobs = max(1, jobs)
    queue: deque[int] = deque(range(len(tasks)))
    isolated: deque[int] = deque()
    deaths = [0] * len(tasks)
    running: dict[Future[TaskResult], int] = {}
    deadline: dict[Future[TaskResult], float] = {}
    pool = _new_pool(jobs)
    worker = task_module.run_task

    def submit(source: deque[int]) -> bool:
        """Submit the next task of ``source``; False (the task stays first) if the pool broke.

        A worker can die between ``wait`` and this call: the pool then refuses new work, and
        the dead worker's future, still in ``running``, reports the death on the next ``wait``.
        """
        nonlocal pool
        index = source[0]
        try:
            future = pool.submit(worker, tasks[index])
        except BrokenProcessPool:
            if running:
                return False
            pool.shutdown(wait=True, cancel_futures=True)  # broken with nothing in flight
            pool = _new_pool(jobs)
            future = pool.submit(worker, tasks[index])
        source.popleft()
        running[future] = index
        limit = tasks[index].timeout
        if limit:
            deadline[future] = time.monotonic() + limit + HARD_TIMEOUT_GRACE_S
        return True

    try:
        while queue or isolated or running:
            if isolated:
                if not running:
                    submit(isolated)
            else:
                while queue and len(running) < jobs and submit(queue):
                    pass
            pending = [deadline[f] for f in running if f in deadline]
            wait_s = max(0.0, min(pending) - time.monotonic()) if pending else None
            done, _ = wait(running, timeout=wait_s, return_when=FIRST_COMPLETED)
            broken: list[int] = []
            for future in done:
                index = running.pop(future)
                deadline.pop(future, None)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(index)
                    continue
                except Exception as exc:  # e.g. a result that would not pickle
                    result = failed_result(tasks[index], f"worker error: {_one_line(exc)}")
                result.attempts = deaths[index] + 1
                yield result
            now = time.monotonic()
            stuck = [f for f in running if not broken and deadline.get(f, now + 1) <= now]
            if stuck:
                _kill_workers(pool)
                for future in stuck:
                    index = running.pop(future)
                    yield failed_result(
                        tasks[index],
                        f"timed out after {tasks[index].timeout:g} s (--timeout); the worker "
                        "did not stop and was killed",
                        attempts=deaths[index] + 1,
                    )
                for index in running.values():  # lost with the pool, through no fault
                    (isolated if deaths[index] else queue).appendleft(index)
                running.clear()
                deadline.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = _new_pool(jobs)
                continue
            if not broken:
                continue
            broken.extend(running.values())  # the pool is gone: whatever ran is lost too
            running.clear()
            deadline.clear()
            cause = _death_cause(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            pool = _new_pool(jobs)
            for index in broken:
                deaths[index] += 1
                if deaths[index] >= MAX_WORKER_DEATHS:
                    yield failed_result(
                        tasks[index],
                        f"the worker process died {deaths[index]} times while analyzing this "
                        f"input (last: {cause}); not retried again",
                        attempts=deaths[index],
                    )
                else:
                    isolated.append(index)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def execute_dask(tasks: Sequence[Task], address: str) -> Iterator[TaskResult]:
    """Run ``tasks`` on the Dask cluster at ``address``; yield each result as it finishes.

    Each task is submitted with ``retries=1``; a task whose workers keep dying ends with
    ``KilledWorker`` (after the scheduler's ``allowed-failures``) and is yielded as failed.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise BatchError(
            f"--scheduler needs dask.distributed ({exc.name or exc} is not installed): "
            "pip install 'vmtriage[dask]'"
        ) from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(exc)}"
        ) from None
    try:
        run = uuid.uuid4().hex[:8]
        worker = task_module.run_task
        futures = {
            client.submit(worker, task, key=f"vmanalyze-{run}-{i}", pure=False, retries=1): i
            for i, task in enumerate(tasks)
        }
        for future in as_completed(list(futures), loop=client.loop):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                name = type(exc).__name__
                text = " ".join(str(exc).split())[:300]
                result = failed_result(
                    tasks[index], f"{name}: {text} (the worker died or was lost)", attempts=2
                )
            yield result
            future.release()
    finally:
        client.close()
