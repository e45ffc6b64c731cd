"""Fleet analysis: many inputs on local cores or on a Dask cluster (``vmanalyze batch``).

The work is split so that it runs the same way in a local process pool and on a Dask
cluster, one module per job:

- :mod:`~vmanalyze.fleet.inputs` expands the command-line arguments (files, directories,
  globs) into input paths and finds duplicates, on the client;
- :mod:`~vmanalyze.fleet.rules` makes the rule selection explicit for the workers;
- :mod:`~vmanalyze.fleet.task` is the worker: :func:`run_task` analyzes one input into a
  typed :class:`TaskResult` (never raising for a bad input), which is also what the output
  directory keeps of it (its resume state);
- :mod:`~vmanalyze.fleet.executors` runs the tasks on local processes (a worker that dies is
  retried once alone, then the input fails; one stuck past ``--timeout`` is killed) or on
  Dask (``retries=1``), yielding results as they finish; :mod:`~vmanalyze.fleet.timeouts`
  stops an input in its worker;
- :mod:`~vmanalyze.fleet.store` is the only writer of the output directory: each result as it
  arrives (table parts and report first, ``.state/<hash>.json`` last, so an interrupted
  batch resumes), then the fleet files from every input done there;
- :mod:`~vmanalyze.fleet.arrow` holds the fleet files' schemas and gives each table one
  schema across the dataset; :mod:`~vmanalyze.fleet.batch` ties them together.

Workers only need to *read* the inputs: everything they produce travels back to the
client, which writes it. The fleet page itself is drawn by :mod:`vmreports.fleet`. See
docs/fleet.md.
"""

from __future__ import annotations

from vmanalyze.fleet.arrow import table_to_arrow
from vmanalyze.fleet.batch import BatchResult, run_batch
from vmanalyze.fleet.executors import HARD_TIMEOUT_GRACE_S, execute_dask, execute_local
from vmanalyze.fleet.inputs import (
    ARCHIVE_SUFFIXES,
    discover_inputs,
    error_without_path,
    split_duplicates,
)
from vmanalyze.fleet.rules import RuleSpec, rule_catalog
from vmanalyze.fleet.store import FleetFiles, FleetWriter, unify_dataset, worst_severity
from vmanalyze.fleet.task import (
    BatchError,
    Task,
    TaskResult,
    host_slug,
    report_name,
    run_task,
    state_problem,
)
from vmanalyze.fleet.timeouts import InputTimeout, time_limit

__all__ = [
    "ARCHIVE_SUFFIXES",
    "HARD_TIMEOUT_GRACE_S",
    "BatchError",
    "BatchResult",
    "FleetFiles",
    "FleetWriter",
    "InputTimeout",
    "RuleSpec",
    "Task",
    "TaskResult",
    "discover_inputs",
    "error_without_path",
    "execute_dask",
    "execute_local",
    "host_slug",
    "report_name",
    "rule_catalog",
    "run_batch",
    "run_task",
    "split_duplicates",
    "state_problem",
    "table_to_arrow",
    "time_limit",
    "unify_dataset",
    "worst_severity",
]
