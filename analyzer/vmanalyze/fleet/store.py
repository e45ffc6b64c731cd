"""The only writer of a batch's output directory (the workers just return results).

:class:`FleetWriter` stores each result atomically as it arrives (table parts and report
first, ``.state/<hash>.json`` last, so an interrupted batch resumes), and
:meth:`FleetWriter.assemble` builds the fleet-level files from every input done in the
directory: ``findings.parquet``, ``incidents.parquet``, ``drift.parquet``,
``inputs.parquet``, ``fleet.html`` and a ``tables/<table>/host=<host>/<hash>.parquet``
dataset whose parts share one schema per table.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vmanalyze.fleet.arrow import (
    DRIFT_SCHEMA,
    FINDINGS_SCHEMA,
    INCIDENTS_SCHEMA,
    INPUTS_SCHEMA,
    cast_column,
    merge_types,
    parquet_bytes,
)
from vmanalyze.fleet.inputs import error_without_path
from vmanalyze.fleet.task import (
    HASH,
    REPORT,
    SAFE_NAME,
    TABLE_NAME,
    TaskResult,
    _iso,
    _utc,
    state_problem,
)
from vmanalyze.rule import Severity
from vmanalyze.safeio import atomic_write, make_dirs, open_regular

__all__ = ["FleetFiles", "FleetWriter", "unify_dataset", "worst_severity"]

STATE_DIR = ".state"
TABLES_DIR = "tables"
#: A resume state larger than this is not ours (a real one is a few KiB to a few MiB).
MAX_STATE_BYTES = 64 << 20


def _atomic_write(path: Path, data: bytes, root: Path | None = None) -> None:
    """Write ``path`` atomically (:func:`vmanalyze.safeio.atomic_write`); with ``root``, its
    missing directories below ``root`` are created and none may be a link or not ours."""
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        make_dirs(path.parent, root)
    atomic_write(path, data)


def worst_severity(findings: Iterable[Mapping[str, Any]]) -> str | None:
    worst: Severity | None = None
    for finding in findings:
        severity = Severity.parse(finding.get("severity") or "info")
        if worst is None or severity > worst:
            worst = severity
    return None if worst is None else worst.value


@dataclass
class FleetFiles:
    """What :meth:`FleetWriter.assemble` wrote, and what it left out."""

    inputs: int = 0
    ok: int = 0
    #: distinct host names among the inputs analyzed (a host captured twice counts once)
    hosts: int = 0
    failed: int = 0
    findings: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    rewritten_parts: int = 0
    stale: int = 0
    fleet_html: Path | None = None


class FleetWriter:
    """The only writer of the output directory (the workers just return results)."""

    def __init__(self, out_dir: str | os.PathLike[str], *, version: str, rules_key: str) -> None:
        self.out = Path(out_dir)
        self.version = version
        self.rules_key = rules_key
        self.state_dir = self.out / STATE_DIR
        self.out.mkdir(parents=True, exist_ok=True)
        make_dirs(self.state_dir, self.out)
        self.failures: list[TaskResult] = []

    # -- resume ---------------------------------------------------------------------------
    def _states(self) -> Iterator[TaskResult]:
        """The valid resume states (see :func:`state_problem`); any other is as if that
        input was never done, so it is analyzed again and its state rewritten."""
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                with open_regular(path, follow=False) as f:
                    raw = f.read(MAX_STATE_BYTES + 1)
                if len(raw) > MAX_STATE_BYTES:
                    continue
                state = json.loads(raw.decode("utf-8"))
            except (OSError, ValueError, RecursionError):
                continue
            if state_problem(state, path.stem) is None:
                yield TaskResult.from_state(state)

    def _current(self, state: TaskResult) -> bool:
        return (
            state.status == "ok"
            and state.analyzer_version == self.version
            and state.rules_key == self.rules_key
        )

    def _other_rules(self, state: TaskResult) -> bool:
        return (
            state.status == "ok"
            and state.analyzer_version == self.version
            and state.rules_key != self.rules_key
        )

    def other_rule_results(self) -> int:
        """Inputs done here by this analyzer version, but with another rule selection."""
        return sum(1 for s in self._states() if self._other_rules(s))

    def drop_other_rule_results(self) -> int:
        """Forget the inputs done with another rule selection: state, table parts, report."""
        dropped = 0
        for state in list(self._states()):
            if not self._other_rules(state):
                continue
            input_hash = str(state.input_hash)
            report = state.report
            if report is not None and REPORT.fullmatch(str(report)):
                (self.out / str(report)).unlink(missing_ok=True)
            self._remove_parts(input_hash)
            (self.state_dir / f"{input_hash}.json").unlink(missing_ok=True)
            dropped += 1
        return dropped

    def done_hashes(self) -> frozenset[str]:
        """Inputs already analyzed here by this analyzer version with the same rules."""
        return frozenset(str(s.input_hash) for s in self._states() if self._current(s))

    def current_results(self, hashes: Iterable[str | None]) -> list[TaskResult]:
        """The stored results of these inputs done by this version with these rules."""
        wanted = set(hashes)
        return [s for s in self._states() if s.input_hash in wanted and self._current(s)]

    # -- per input ------------------------------------------------------------------------
    def _remove_parts(self, input_hash: str) -> None:
        tables = self.out / TABLES_DIR
        if not tables.is_dir():
            return
        for part in tables.glob(f"*/host=*/{input_hash}.parquet"):
            part.unlink(missing_ok=True)

    def store(self, result: TaskResult) -> None:
        """Write one input's report, table parts and (last) its state, each atomically."""
        if result.status != "ok":
            if result.status == "failed":
                self.failures.append(result.light())
            return
        input_hash = str(result.input_hash)
        if not HASH.match(input_hash):
            raise ValueError(f"bad input hash {input_hash!r}")
        if not SAFE_NAME.fullmatch(str(result.host_partition)):
            raise ValueError(f"bad host partition {result.host_partition!r}")
        report = result.report
        if report is not None and not REPORT.fullmatch(str(report)):
            raise ValueError(f"bad report name {report!r}")
        (self.state_dir / f"{input_hash}.json").unlink(missing_ok=True)
        self._remove_parts(input_hash)
        partition = f"host={result.host_partition}"
        for table, data in result.parts.items():
            if not TABLE_NAME.fullmatch(table):
                continue
            part = self.out / TABLES_DIR / table / partition / f"{input_hash}.parquet"
            _atomic_write(part, data, self.out)
        if result.report_html is not None and result.report:
            html = result.report_html.encode("utf-8", "replace")
            _atomic_write(self.out / str(result.report), html, self.out)
        result.tables = sorted(result.parts)
        result.analyzed_at = _iso(pd.Timestamp.now(tz="UTC"))
        state = result.state()
        text = json.dumps(state, indent=1, sort_keys=True, allow_nan=False, default=str)
        _atomic_write(self.state_dir / f"{input_hash}.json", text.encode("utf-8"), self.out)

    # -- the fleet ------------------------------------------------------------------------
    def assemble(self, rules: Sequence[Mapping[str, Any]]) -> FleetFiles:
        """Build findings.parquet, inputs.parquet, the tables dataset and fleet.html from
        every input done here with this version and these rules, plus this run's failures."""
        files = FleetFiles()
        states = []
        for state in self._states():
            if self._current(state):
                states.append(state)
            elif state.status == "ok":
                files.stale += 1
        ok_hashes = {s.input_hash for s in states}
        failures = [f for f in self.failures if f.input_hash not in ok_hashes]
        states.sort(key=lambda s: (str(s.host), str(s.start), str(s.input_hash)))

        finding_rows = [
            {
                "host": s.host,
                "input": s.input,
                "input_hash": s.input_hash,
                "collection_start": _utc(s.start),
                "code": f.get("code"),
                "name": f.get("name"),
                "severity": f.get("severity"),
                "subject": f.get("subject"),
                "message": f.get("message"),
                "start": _utc(f.get("start")),
                "end": _utc(f.get("end")),
                "evidence": json.dumps(f.get("evidence"), sort_keys=True, allow_nan=False),
                "remediation": f.get("remediation"),
            }
            for s in states
            for f in s.findings or []
        ]
        _write_table(self.out / "findings.parquet", finding_rows, FINDINGS_SCHEMA)
        files.findings = len(finding_rows)

        incident_rows = [
            {
                "host": s.host,
                "input": s.input,
                "input_hash": s.input_hash,
                "collection_start": _utc(s.start),
                "incident": number,
                "root_code": i.get("root_code"),
                "root_subject": i.get("root_subject"),
                "root_cause": i.get("root_label"),
                "root_key": i.get("root_key"),
                "start": _utc(i.get("start")),
                "severity": i.get("severity"),
                "confidence": i.get("confidence"),
                "explains": i.get("explains") or [],
                "headline": i.get("headline"),
                "story": i.get("story"),
            }
            for s in states
            for number, i in enumerate(s.incidents or [])
        ]
        _write_table(self.out / "incidents.parquet", incident_rows, INCIDENTS_SCHEMA)
        from vmanalyze.fleet_story import drift, group_by_root_cause

        causes = group_by_root_cause(
            {
                "host": s.host,
                "input": s.input,
                "root_key": s.root_key,
                "root_label": s.root_label,
            }
            for s in states
        )
        drifted = drift(
            {**(s.settings or {}), "host": s.host}
            for s in sorted(states, key=lambda s: str(s.start))
            if s.settings
        )
        _write_table(self.out / "drift.parquet", drifted, DRIFT_SCHEMA)

        input_rows = [_input_row(s) for s in [*states, *failures]]
        _write_table(self.out / "inputs.parquet", input_rows, INPUTS_SCHEMA)
        files.inputs, files.ok, files.failed = len(input_rows), len(states), len(failures)
        files.hosts = len({s.host for s in states})

        files.tables, files.rewritten_parts = unify_dataset(self.out / TABLES_DIR)

        from vmreports.fleet import page_row, render_fleet

        html = render_fleet(
            inputs=[
                page_row(
                    s.state(),
                    error=error_without_path(s.input, s.error),
                    worst=worst_severity(s.findings or []),
                )
                for s in [*states, *failures]
            ],
            rules=list(rules),
            root_causes=causes,
            drift=drifted,
            generated=_iso(pd.Timestamp.now(tz="UTC")) or "",
            version=self.version,
        )
        files.fleet_html = self.out / "fleet.html"
        _atomic_write(files.fleet_html, html.encode("utf-8"))
        return files


def _input_row(result: TaskResult) -> dict[str, Any]:
    """One row of inputs.parquet (docs/fleet.md)."""
    timings = result.timings or {}
    findings = result.findings or []
    return {
        "input": result.input,
        "name": result.name,
        "input_hash": result.input_hash,
        "host": result.host,
        "host_partition": result.host_partition,
        "kind": result.kind,
        "status": result.status,
        "error": result.error,
        "start": _utc(result.start),
        "end": _utc(result.end),
        "samples": result.samples,
        "findings": len(findings) if result.status == "ok" else None,
        "worst_severity": worst_severity(findings),
        "root_cause": result.root_label,
        "warnings": len(result.warnings or []),
        "report": result.report,
        **{k: timings.get(k) for k in ("hash_s", "load_s", "rules_s", "report_s", "parts_s")},
        "total_s": timings.get("total_s"),
        "cpu_s": timings.get("cpu_s"),
        "attempts": result.attempts,
        "worker": result.worker,
        "peak_rss_bytes": result.peak_rss_bytes,
        "analyzer_version": result.analyzer_version,
        "collector_version": result.collector_version,
        "rules_key": result.rules_key,
        "analyzed_at": _utc(result.analyzed_at),
    }


def _write_table(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    arrays = []
    for f in schema:
        values = columns[f.name]
        if pa.types.is_floating(f.type):
            values = [None if v is None or not math.isfinite(v) else float(v) for v in values]
        arrays.append(pa.array(values, type=f.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    _atomic_write(path, parquet_bytes(table))


def unify_dataset(root: Path) -> tuple[dict[str, int], int]:
    """Give every part of each ``tables/<table>`` dataset the same schema.

    The union of the columns (in first-seen order, ``input_hash`` last) with the types
    merged by :func:`merge_types`; parts that differ are rewritten (atomically) with the
    missing columns as nulls. Returns the parts per table and how many were rewritten.
    """
    counts: dict[str, int] = {}
    rewritten = 0
    if not root.is_dir():
        return counts, rewritten
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        parts = sorted(table_dir.glob("host=*/*.parquet"))
        if not parts:
            continue
        schemas = [(part, pq.read_schema(part)) for part in parts]
        order: list[str] = []
        types: dict[str, pa.DataType] = {}
        for _, schema in schemas:
            for f in schema:
                if f.name not in types:
                    order.append(f.name)
                    types[f.name] = f.type
                else:
                    types[f.name] = merge_types(types[f.name], f.type)
        if "input_hash" in order:
            order.remove("input_hash")
            order.append("input_hash")
        target = pa.schema([pa.field(name, types[name]) for name in order])
        for part, schema in schemas:
            if schema.remove_metadata().equals(target):
                continue
            table = pq.read_table(part, partitioning=None)
            arrays = []
            for f in target:
                if f.name in table.column_names:
                    arrays.append(cast_column(table[f.name], f.type))
                else:
                    arrays.append(pa.chunked_array([pa.nulls(table.num_rows, f.type)]))
            fixed = pa.Table.from_arrays(arrays, schema=target)
            _atomic_write(part, parquet_bytes(fixed))
            rewritten += 1
        counts[table_dir.name] = len(parts)
    return counts, rewritten
