"""The pieces of vmanalyze.fleet without processes: inputs, names, schemas, the page."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from vmanalyze.fleet import (
    BatchResult,
    discover_inputs,
    host_slug,
    report_name,
    table_to_arrow,
    unify_dataset,
    worst_severity,
)
from vmreports.fleet import render_fleet, rule_counts


def test_discover_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.tgz").write_bytes(b"x")
    (tmp_path / "sub" / "c.tar.xz").write_bytes(b"x")
    (tmp_path / "sub" / "notes.txt").write_text("no")
    (tmp_path / "sos" / "sos_commands").mkdir(parents=True)
    (tmp_path / "sos" / "inner.tar.gz").write_bytes(b"x")  # inside an input dir: not separate
    (tmp_path / "captured" / "proc").mkdir(parents=True)
    (tmp_path / ".state").mkdir()
    (tmp_path / ".state" / "hidden.tar.gz").write_bytes(b"x")
    os.symlink(tmp_path / "a.tar.gz", tmp_path / "sub" / "link.tar.gz")
    found, unmatched, refused = discover_inputs([str(tmp_path)])
    names = sorted(os.path.relpath(p, tmp_path) for p in found)
    assert names == ["a.tar.gz", "captured", "sos", "sub/b.tgz", "sub/c.tar.xz"]
    assert unmatched == [] and refused == []
    # Globs, explicit files whatever their name, duplicates, and missing paths.
    explicit = tmp_path / "sub" / "notes.txt"
    found, unmatched, refused = discover_inputs(
        [
            str(tmp_path / "sub" / "*.t*z"),
            str(explicit),
            str(tmp_path / "a.tar.gz"),
            str(tmp_path / "a.tar.gz"),
            str(tmp_path / "nope-*.tar.gz"),
            "/no/such/bundle.tar.gz",
        ]
    )
    # link.tar.gz (a glob match) is a.tar.gz: the later a.tar.gz arguments are duplicates.
    assert [os.path.basename(p) for p in found] == [
        "b.tgz",
        "c.tar.xz",
        "link.tar.gz",
        "notes.txt",
        "bundle.tar.gz",
    ]
    assert unmatched == [str(tmp_path / "nope-*.tar.gz")]
    assert discover_inputs([str(tmp_path / "captured")])[0] == [str(tmp_path / "captured")]


def test_host_slug_and_report_name() -> None:
    assert host_slug("db01.example.com") == "db01.example.com"
    assert host_slug("../../etc/passwd") == "etc_passwd"
    assert host_slug("a b/c") == "a_b_c"
    assert host_slug(None) == host_slug("") == host_slug("...") == "unknown"
    assert len(host_slug("x" * 500)) == 64
    start = pd.Timestamp("2026-11-26 14:33:12.5", tz="UTC")
    assert report_name("db01", start, "ab" * 32) == "db01-20261126T143312Z-abababab.html"
    assert report_name("db01", None, "dir-" + "cd" * 32) == "db01-notime-cdcdcdcd.html"


def test_table_to_arrow_conventions() -> None:
    df = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2026-11-26 14:00:00.123456789"] * 2, utc=True),
            "naive": pd.to_datetime(["2026-11-26 14:00:00"] * 2),
            "n": pd.array([1, None], dtype="Int64"),
            "u": pd.Series([1, 2], dtype="uint32"),
            "f": [1.5, None],
            "nothing_bytes": [None, None],
            "nothing": [None, None],
            "cpus": [[0, 1], [2]],
            "flag": pd.array([True, None], dtype="boolean"),
            "cat": pd.Categorical(["a", "b"]),
            "host": ["x", "y"],
        }
    )
    table = table_to_arrow(df, "h" * 64)
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {
        "ts": "timestamp[us, tz=UTC]",
        "naive": "timestamp[us, tz=UTC]",
        "n": "int64",
        "u": "int64",
        "f": "double",
        "nothing_bytes": "int64",
        "nothing": "string",
        "cpus": "list<item: int64>",  # as in export and the cache (docs/tables.md)
        "flag": "bool",
        "cat": "string",
        "host_value": "string",
        "input_hash": "string",
    }
    assert table.schema.metadata is None
    assert table["cpus"].to_pylist() == [[0, 1], [2]]
    assert table["input_hash"].to_pylist() == ["h" * 64] * 2


def test_unify_dataset(tmp_path: Path) -> None:
    root = tmp_path / "tables"
    a = pa.table(
        {
            "ts": pa.array([1], pa.timestamp("us", tz="UTC")),
            "x": [1],
            "y": ["s"],
            "input_hash": ["a"],
        }
    )
    b = pa.table(
        {
            "ts": pa.array([2], pa.timestamp("us", tz="UTC")),
            "x": [2.5],
            "z": [True],
            "y": pa.array([3], pa.int64()),
            "input_hash": ["b"],
        }
    )
    for host, name, table in (("h1", "a", a), ("h2", "b", b)):
        (root / "t" / f"host={host}").mkdir(parents=True)
        pq.write_table(table, root / "t" / f"host={host}" / f"{name}.parquet")
    counts, rewritten = unify_dataset(root)
    assert counts == {"t": 2} and rewritten == 2
    schemas = {str(pq.read_schema(p)) for p in root.glob("t/*/*.parquet")}
    assert len(schemas) == 1
    table = ds.dataset(root / "t", format="parquet", partitioning="hive").to_table()
    assert table.column_names == ["ts", "x", "y", "z", "input_hash", "host"]
    frame = table.to_pandas().sort_values("input_hash")
    assert frame["x"].tolist() == [1.0, 2.5]
    assert frame["y"].tolist() == ["s", "3"]
    assert frame["z"].isna().tolist() == [True, False]
    assert unify_dataset(root) == ({"t": 2}, 0)  # already unified: nothing rewritten


def test_worst_severity_and_exit_status() -> None:
    assert worst_severity([]) is None
    assert worst_severity([{"severity": "info"}, {"severity": "critical"}]) == "critical"
    from vmanalyze import exit_codes
    from vmanalyze.fleet import TaskResult

    done = TaskResult(status="ok", findings=[{"severity": "warning"}])
    result = BatchResult(results=[done])
    assert result.exit_status(None) == exit_codes.OK == 0
    assert result.exit_status("warning") == exit_codes.FINDINGS == 1
    assert result.exit_status("critical") == exit_codes.OK
    result.failed = 1
    assert result.exit_status("warning") == exit_codes.INPUT_FAILED == 3


def test_render_fleet_counts_and_escaping() -> None:
    inputs = [
        {
            "id": "1",
            "host": "a",
            "status": "ok",
            "worst": "warning",
            "findings": 3,
            "cells": {"X001": "warning", "X002": "ok"},
            "counts": {"X001": 3},
        },
        {
            "id": "2",
            "host": "b",
            "status": "ok",
            "worst": None,
            "findings": 0,
            "cells": {"X001": "ok", "X002": "skipped"},
            "counts": {},
        },
        {"id": "3", "host": "c</script>", "status": "failed", "error": "bad & <b>", "cells": {}},
    ]
    rules = [
        {"code": "X001", "name": "one", "severity": "warning", "summary": "s"},
        {"code": "X002", "name": "two", "severity": "info", "summary": "t"},
    ]
    counts = {r["code"]: r for r in rule_counts(inputs, rules)}
    assert counts["X001"]["warning"] == 1 and counts["X001"]["findings"] == 3
    assert counts["X001"]["ok"] == 1 and counts["X001"]["hosts"] == 1
    assert counts["X001"]["inputs"] == 1
    assert counts["X002"]["skipped"] == 1 and counts["X002"]["hosts"] == 0
    html = render_fleet(inputs=inputs, rules=rules, generated="now", version="0.1.0")
    assert "c</script>" not in html and "c\\u003c/script\\u003e" in html
    assert "bad &amp; &lt;b&gt;" in html
    start = html.index('id="fleet-data">') + len('id="fleet-data">')
    doc = json.loads(html[start : html.index("</script>", start)])
    assert doc["inputs"][2]["host"] == "c</script>"


@pytest.mark.parametrize("args", [["--jobs", "0"], []])
def test_bad_options_exit_2(args: list[str], tmp_path: Path) -> None:
    from typer.testing import CliRunner
    from vmanalyze.cli import _register_commands, app

    _register_commands()
    target = [str(tmp_path / "empty")] if not args else [str(tmp_path)]
    (tmp_path / "empty").mkdir(exist_ok=True)
    result = CliRunner().invoke(app, ["batch", *target, "-o", str(tmp_path / "o"), *args])
    assert result.exit_code == 2


def test_writer_refuses_paths_outside_dir(tmp_path: Path) -> None:
    from vmanalyze.fleet import FleetWriter, TaskResult

    writer = FleetWriter(tmp_path / "out", version="0", rules_key="k")
    good: dict[str, Any] = {
        "status": "ok",
        "input_hash": "a" * 64,
        "host_partition": "h",
        "parts": {},
        "report": "reports/h-x.html",
        "report_html": "<p>",
        "analyzer_version": "0",
        "rules_key": "k",
    }
    writer.store(TaskResult(**good))
    assert (tmp_path / "out" / "reports" / "h-x.html").read_text() == "<p>"
    assert writer.done_hashes() == {"a" * 64}
    assert FleetWriter(tmp_path / "out", version="1", rules_key="k").done_hashes() == set()
    assert FleetWriter(tmp_path / "out", version="0", rules_key="j").done_hashes() == set()
    for bad in (
        {"report": "../escape.html"},
        {"host_partition": "../x"},
        {"input_hash": "../../x"},
    ):
        with pytest.raises(ValueError):
            writer.store(TaskResult(**{**good, **bad}))
    assert not (tmp_path / "escape.html").exists()


def test_scheduler_without_dask_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from vmanalyze.fleet import BatchError, execute_dask

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(BatchError, match=r"pip install 'vmtriage\[dask\]'"):
        next(execute_dask([], "tcp://127.0.0.1:8786"))


def test_duplicates_are_found_by_content_hashing_only_equal_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vmanalyze.cache
    from vmanalyze.fleet import split_duplicates

    a, b, c, other = (tmp_path / n for n in ("a.tar.gz", "b.tar.gz", "c.tar.gz", "o.tar.gz"))
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    c.write_bytes(b"sand bytes")  # same size, other content
    other.write_bytes(b"another size")
    fifo = tmp_path / "f.tar.gz"
    os.mkfifo(fifo)  # never opened: it would block
    hashed: list[str] = []
    real = vmanalyze.cache.content_hash

    def counting(path: str) -> str:
        hashed.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(vmanalyze.cache, "content_hash", counting)
    paths = [str(p) for p in (a, other, b, fifo, c)]
    unique, duplicates, hashes = split_duplicates(paths)
    assert unique == [str(a), str(other), str(fifo), str(c)]
    assert duplicates == [(str(b), str(a))]
    assert sorted(hashed) == ["a.tar.gz", "b.tar.gz", "c.tar.gz"]
    # The hashes made here go to the workers, which do not hash those inputs again.
    assert hashes == {str(a): real(str(a)), str(c): real(str(c))}
