"""A whole batch: find the work, run it on an executor, store each result, build the fleet."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vmanalyze import __version__, exit_codes
from vmanalyze.fleet.executors import execute_dask, execute_local
from vmanalyze.fleet.inputs import split_duplicates
from vmanalyze.fleet.rules import RuleSpec, rule_catalog
from vmanalyze.fleet.store import FleetFiles, FleetWriter
from vmanalyze.fleet.task import BatchError, Task, TaskResult, _one_line
from vmanalyze.inputs import Limits
from vmanalyze.rule import Severity

__all__ = ["BatchResult", "run_batch"]


@dataclass
class BatchResult:
    """Counts of one batch run and the files it wrote."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    #: Each input's result, without its report and tables.
    results: list[TaskResult] = field(default_factory=list)
    #: The stored results of the inputs skipped because they were done already.
    earlier: list[TaskResult] = field(default_factory=list)
    files: FleetFiles = field(default_factory=FleetFiles)
    unmatched: list[str] = field(default_factory=list)
    #: (input, the input with the same content that was analyzed instead)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    #: Earlier results made with another rule selection, replaced (with ``force``).
    replaced: int = 0

    def exit_status(self, fail_on: Severity | str | None) -> int:
        """:data:`~vmanalyze.exit_codes.INPUT_FAILED` when an input failed; else
        :data:`~vmanalyze.exit_codes.FINDINGS` with ``fail_on`` reached by a finding; else
        :data:`~vmanalyze.exit_codes.OK`."""
        if self.failed:
            return exit_codes.INPUT_FAILED
        if fail_on is None:
            return exit_codes.OK
        threshold = Severity.parse(fail_on)
        for result in [*self.results, *self.earlier]:
            for finding in result.findings or []:
                if Severity.parse(finding.get("severity") or "info") >= threshold:
                    return exit_codes.FINDINGS
        return exit_codes.OK


ProgressCallback = Callable[[TaskResult], None]


def run_batch(
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    rules: RuleSpec,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    cache: bool = False,
    limits: Limits | None = None,
    timeout: float | None = None,
    on_result: ProgressCallback | None = None,
) -> BatchResult:
    """Analyze ``inputs`` into ``out_dir`` (see the module doc); resumable, never aborted by
    one input. ``scheduler``: a Dask scheduler address, else ``jobs`` local processes.
    ``timeout``: seconds each input may take (see :func:`time_limit`)."""
    started = time.perf_counter()
    registry = rules.registry()
    rules_key = rules.key(registry)
    try:
        writer = FleetWriter(out_dir, version=__version__, rules_key=rules_key)
    except OSError as exc:
        where = exc.filename or out_dir
        raise BatchError(f"cannot use {where}: {exc.strerror or exc}") from None
    other = writer.other_rule_results()
    if other and not force:
        raise BatchError(
            f"{out_dir} holds {other} result(s) made with another rule selection (--select, "
            "--ignore, --config or --plugins); mixing them would drop findings. Write to "
            "another -o DIR, or add --force to replace them with this selection"
        )
    replaced = writer.drop_other_rule_results() if other else 0
    inputs, duplicates, hashes = split_duplicates(inputs)
    done = frozenset() if force else writer.done_hashes()
    tasks = [
        Task(
            path=path if scheduler else os.path.abspath(path),
            rules=rules,
            rules_key=rules_key,
            done=done,
            cache=cache,
            limits=limits or Limits(),
            timeout=timeout,
            input_hash=hashes.get(path),
        )
        for path in inputs
    ]
    batch = BatchResult(total=len(tasks), duplicates=duplicates, replaced=replaced)
    if scheduler:
        stream = execute_dask(tasks, scheduler)
    else:
        stream = execute_local(tasks, jobs or os.cpu_count() or 1)
    for result in stream:
        if result.status in ("ok", "failed"):
            try:
                writer.store(result)
            except (OSError, ValueError, TypeError) as exc:
                result.status, result.error = "failed", f"storing: {_one_line(exc)}"
                writer.store(result)
        if result.status == "skipped":
            batch.skipped += 1
        elif result.status == "ok":
            batch.ok += 1
        else:
            batch.failed += 1
        light = result.light()
        batch.results.append(light)
        if on_result is not None:
            on_result(light)
    # Skipped inputs count for --fail-on with the findings recorded when they were done.
    skipped = [r.input_hash for r in batch.results if r.status == "skipped"]
    batch.earlier = writer.current_results(skipped)
    batch.files = writer.assemble(rule_catalog(rules))
    batch.wall_s = round(time.perf_counter() - started, 3)
    return batch
