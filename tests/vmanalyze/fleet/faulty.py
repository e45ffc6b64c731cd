"""Test-only workers that fail the way real ones do, injected without hooks in vmanalyze.

``python -m tests.vmanalyze.fleet.faulty FAULT vmanalyze-arguments...`` (from the repository
root, on ``PYTHONPATH``)
runs the command line with ``vmanalyze.fleet.task.run_task`` replaced, before any pool
starts, by one of the functions below. The executors submit that function by reference,
so the worker processes (local or Dask) import this module and run it:

- ``crash``: a worker analyzing an input whose file name holds ``crashme`` exits abruptly
  (``os._exit``), as if it were killed;
- ``hang``: a worker analyzing an input whose file name holds ``hangme`` blocks its alarm
  signal inside the time limit and sleeps, as if stuck in a long call into C.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from vmanalyze.fleet import task as fleet_task

_run_task = fleet_task.run_task


def crash_on_crashme(task: fleet_task.Task) -> fleet_task.TaskResult:
    if "crashme" in os.path.basename(task.path):
        os._exit(70)
    return _run_task(task)


def _stuck(*args: Any, **kwargs: Any) -> Any:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(3600)


def hang_on_hangme(task: fleet_task.Task) -> fleet_task.TaskResult:
    if "hangme" in os.path.basename(task.path):
        import vmanalyze.analysis

        vmanalyze.analysis.analyze = _stuck  # this worker only: it is killed
    return _run_task(task)


if __name__ == "__main__":
    # Under its importable name, so that the workers can unpickle the function.
    from tests.vmanalyze.fleet import faulty

    fault = sys.argv.pop(1)
    fleet_task.run_task = {"crash": faulty.crash_on_crashme, "hang": faulty.hang_on_hangme}[fault]
    from vmanalyze.cli import main

    main()
