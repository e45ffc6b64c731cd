"""A batch over real bundles plus broken inputs: every output file, checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from vmanalyze.exit_codes import INPUT_FAILED

from .conftest import REAL, Run

pytestmark = pytest.mark.slow  # real batches: tens of seconds each

GOOD = len(REAL) + 1  # the real bundles and the truncated one (kept: what was complete)
BAD = ("corrupt", "stub", "hostile")


def _inputs(run: Run) -> pd.DataFrame:
    return pd.read_parquet(run.out / "inputs.parquet")


def _by_name(run: Run) -> dict[str, dict[str, Any]]:
    frame = _inputs(run)
    return {row["name"].removesuffix(".tar.gz"): row for row in frame.to_dict("records")}


def test_exit_status_and_summary(fleet_run: Run) -> None:
    assert fleet_run.returncode == INPUT_FAILED
    assert fleet_run.stdout.strip() == str(fleet_run.out / "fleet.html")
    assert f"{GOOD} analyzed, 0 already done, {len(BAD)} failed" in fleet_run.stderr
    for name in BAD:
        assert re.search(rf"failed: .*{name}\.tar\.gz: ", fleet_run.stderr)
    failures = [line for line in fleet_run.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == len(BAD)
    for line in failures:  # the path once, not "failed: P: P: why"
        path = line.removeprefix("failed: ").split(": ", 1)[0]
        assert line.count(path) == 1, line
    assert "Traceback" not in fleet_run.stderr


def test_inputs_parquet_statuses_and_errors(fleet_run: Run, inputs: dict[str, Path]) -> None:
    frame = _inputs(fleet_run)
    assert len(frame) == GOOD + len(BAD)
    assert frame["input_hash"].notna().sum() >= GOOD
    rows = _by_name(fleet_run)
    for name in (*REAL, "truncated"):
        row = rows[name]
        assert row["status"] == "ok", row
        assert pd.isna(row["error"])
        assert row["host"] and row["host_partition"]
        assert row["start"] < row["end"]
        assert row["samples"] > 1
        assert row["load_s"] > 0 and row["rules_s"] >= 0 and row["report_s"] >= 0
        assert row["total_s"] >= row["load_s"]
        assert row["analyzer_version"]
        assert 0 < row["peak_rss_bytes"] < 1 << 30
        assert row["attempts"] == 1
        assert (fleet_run.out / row["report"]).is_file()
    assert rows["truncated"]["warnings"] >= 1  # "truncated ... kept what was read"
    errors = {name: str(rows[name]["error"]) for name in BAD}
    assert all(rows[name]["status"] == "failed" for name in BAD)
    assert "corrupt.tar.gz" in errors["corrupt"]
    assert "'..'" in errors["hostile"] and "refused" in errors["hostile"]
    assert errors["stub"]
    for name in BAD:
        assert "\n" not in errors[name] and "Traceback" not in errors[name]
    # Timings and timestamps are typed, not strings.
    assert str(frame["start"].dtype) == "datetime64[us, UTC]"
    assert frame["load_s"].dtype == "float64"


def test_reports_named_by_host_time_and_hash(fleet_run: Run) -> None:
    reports = sorted(p.name for p in (fleet_run.out / "reports").iterdir())
    assert len(reports) == GOOD
    for row in _inputs(fleet_run).query("status == 'ok'").to_dict("records"):
        name = Path(row["report"]).name
        stamp = row["start"].strftime("%Y%m%dT%H%M%SZ")
        assert name == f"{row['host_partition']}-{stamp}-{row['input_hash'][:8]}.html"
        html = (fleet_run.out / row["report"]).read_text()
        assert html.lstrip().lower().startswith("<!doctype html")


def test_findings_match_single_host_analysis(
    fleet_run: Run, inputs: dict[str, Path], example_pack: Path, config_file: Path
) -> None:
    from vmanalyze.analysis import analyze
    from vmanalyze.config import load_config
    from vmanalyze.registry import discover
    from vmanalyze.results import finding_to_dict

    findings = pd.read_parquet(fleet_run.out / "findings.parquet")
    assert list(findings.columns)[:3] == ["host", "input", "input_hash"]
    for col in ("code", "severity", "subject", "message", "start", "end", "evidence"):
        assert col in findings.columns
    assert str(findings["start"].dtype) == "datetime64[us, UTC]"
    assert {"EXA001"} <= set(findings["code"])  # the config makes it fire on every host

    registry = discover()
    assert registry.get("EXA001") is not None
    config = load_config(config_file)
    rows = _by_name(fleet_run)
    total = 0
    for name in (*REAL, "truncated"):
        single = analyze(inputs[name], registry=registry, config=config, cache=False)
        expected = [finding_to_dict(f) for f in single.result.findings]
        got = findings[findings["input_hash"] == rows[name]["input_hash"]]
        assert len(got) == len(expected), name
        total += len(expected)
        for want, (_, have) in zip(expected, got.iterrows(), strict=True):
            assert have["code"] == want["code"]
            assert have["severity"] == want["severity"]
            assert have["subject"] == want["subject"]
            assert have["message"] == want["message"]
            assert json.loads(have["evidence"]) == want["evidence"]
            for key in ("start", "end"):
                if want[key] is None:
                    assert pd.isna(have[key])
                else:
                    # Parquet keeps microseconds (what Spark reads); the JSON has nanoseconds.
                    assert have[key] == pd.Timestamp(want[key]).floor("us")
            assert have["host"] == single.dataset.host["hostname"]
            assert have["input"] == str(inputs[name])
    assert len(findings) == total
    by_input = _inputs(fleet_run).set_index("input_hash")["findings"]
    for name in REAL:
        assert (
            by_input[rows[name]["input_hash"]]
            == (findings["input_hash"] == rows[name]["input_hash"]).sum()
        )


def _tables(run: Run) -> list[str]:
    return sorted(p.name for p in (run.out / "tables").iterdir() if p.is_dir())


def test_tables_partitioned_by_host(fleet_run: Run) -> None:
    ok = _inputs(fleet_run).query("status == 'ok'")
    names = _tables(fleet_run)
    assert {"meminfo", "vmstat", "samples", "host", "process_samples"} <= set(names)
    for part in (fleet_run.out / "tables").glob("*/*/*.parquet"):
        assert re.fullmatch(r"host=[A-Za-z0-9._-]+", part.parent.name)
        assert part.stem in set(ok["input_hash"])
    # One file per input in the host table: two inputs of one host are both kept.
    host_parts = list((fleet_run.out / "tables" / "host").glob("host=*/*.parquet"))
    assert len(host_parts) == len(ok)


def test_tables_read_back_with_pandas_and_pyarrow(fleet_run: Run) -> None:
    ok = _inputs(fleet_run).query("status == 'ok'")
    for name in _tables(fleet_run):
        root = fleet_run.out / "tables" / name
        schemas = {str(pq.read_schema(p).remove_metadata()) for p in root.glob("*/*.parquet")}
        assert len(schemas) == 1, f"{name}: parts with different schemas"
        schema = pq.read_schema(next(root.glob("*/*.parquet")))
        for field in schema:
            assert str(field.type) != "null", f"{name}.{field.name} is null-typed"
            if str(field.type).startswith("timestamp"):
                assert str(field.type) == "timestamp[us, tz=UTC]", f"{name}.{field.name}"
        dataset = ds.dataset(root, format="parquet", partitioning="hive")
        table = dataset.to_table()
        assert "host" in table.column_names and "input_hash" in table.column_names
        frame = pd.read_parquet(root)
        assert len(frame) == table.num_rows
        assert set(frame["input_hash"]) <= set(ok["input_hash"])
    meminfo = pd.read_parquet(fleet_run.out / "tables" / "meminfo")
    assert set(meminfo["input_hash"]) == set(ok["input_hash"])
    assert str(meminfo["ts"].dtype) == "datetime64[us, UTC]"


def test_tables_read_back_with_duckdb(fleet_run: Run) -> None:
    duckdb = pytest.importorskip("duckdb")
    out = fleet_run.out
    con = duckdb.connect()
    rows = con.execute(
        "SELECT host, count(DISTINCT input_hash), count(*) FROM read_parquet(?, "
        "hive_partitioning = true) GROUP BY host",
        [str(out / "tables" / "meminfo" / "*" / "*.parquet")],
    ).fetchall()
    ok = _inputs(fleet_run).query("status == 'ok'")
    assert sum(r[1] for r in rows) == len(ok)
    assert {r[0] for r in rows} == set(ok["host_partition"])
    # Every table reads as one dataset, and joins with the fleet files.
    for name in _tables(fleet_run):
        count = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
            [str(out / "tables" / name / "*" / "*.parquet")],
        ).fetchone()
        assert count is not None and count[0] > 0
    joined = con.execute(
        f"SELECT i.name, max(m.mem_total_bytes) FROM read_parquet('{out}/inputs.parquet') i "
        f"JOIN read_parquet('{out}/tables/meminfo/*/*.parquet', hive_partitioning = true) m "
        "USING (input_hash) GROUP BY i.name"
    ).fetchall()
    assert len(joined) == len(ok) and all(r[1] > 0 for r in joined)
    findings = con.execute(
        f"SELECT code, count(*) FROM read_parquet('{out}/findings.parquet') GROUP BY code"
    ).fetchall()
    assert dict(findings)["EXA001"] == len(ok)


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_tables_read_back_with_spark(fleet_run: Run, spark: Any) -> None:
    """Every table directory is one Spark dataset: hosts discovered, schemas of all hosts merge."""
    out = fleet_run.out
    ok = _inputs(fleet_run).query("status == 'ok'")
    for name in _tables(fleet_run):
        frame = spark.read.option("mergeSchema", "true").parquet(str(out / "tables" / name))
        rows = ds.dataset(out / "tables" / name, format="parquet", partitioning="hive")
        assert frame.count() == rows.count_rows() > 0, name
        assert {"host", "input_hash"} <= set(frame.columns), name
    meminfo = spark.read.parquet(str(out / "tables" / "meminfo"))
    assert dict(meminfo.dtypes)["ts"] == "timestamp"
    hosts = {row["host"] for row in meminfo.select("host").distinct().collect()}
    assert hosts == set(ok["host_partition"])
    inputs = spark.read.parquet(str(out / "inputs.parquet"))
    assert inputs.filter("status = 'ok'").count() == len(ok)
    findings = spark.read.parquet(str(out / "findings.parquet"))
    assert findings.filter("code = 'EXA001'").count() == len(ok)


def test_fleet_html_self_contained(fleet_run: Run) -> None:
    html = (fleet_run.out / "fleet.html").read_text()
    assert "<script src" not in html and "<link" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    data = re.search(r'<script type="application/json" id="fleet-data">(.*?)</script>', html, re.S)
    assert data is not None
    doc = json.loads(data.group(1))
    assert len(doc["inputs"]) == GOOD + len(BAD)
    assert {r["code"] for r in doc["rules"]} >= {"EXA001", "EXA002"}
    exa001 = next(r for r in doc["rules"] if r["code"] == "EXA001")
    assert exa001["inputs"] == GOOD  # counts per rule count inputs...
    ok_hosts = {row["host"] for row in doc["inputs"] if row["status"] == "ok"}
    assert exa001["hosts"] == len(ok_hosts)  # ... except "hosts"
    for row in doc["inputs"]:
        if row["status"] == "ok":
            assert (fleet_run.out / row["report"]).is_file()
            assert row["cells"]["EXA001"] == "info"
        else:
            assert row["error"]


def test_incidents_and_root_causes_of_the_fleet(fleet_run: Run) -> None:
    """incidents.parquet holds each input's incidents as its single analysis tells them, and
    inputs.parquet and fleet.html group the inputs by root cause."""
    incidents = pq.read_table(fleet_run.out / "incidents.parquet").to_pandas()
    by_input = {Path(p).name: g for p, g in incidents.groupby("input")}
    oom = by_input["oom-kill.tar.gz"]
    assert oom["root_code"].tolist() == ["CGR001"]
    explains = list(oom["explains"].iloc[0])
    assert [c for c in explains if not c.startswith("event:")] == ["OOM001"]
    assert "event:oom_kill" in explains  # the kills themselves, from the kernel log
    assert oom["root_cause"].iloc[0] == (
        "CGR001 cgroup-memory-limit: cgroup /vmtriage-sample-oom-kill"
    )
    leak = by_input["memory-leak.tar.gz"]
    assert leak["root_code"].tolist() == ["MEM002"]
    assert list(leak["explains"].iloc[0]) == ["event:available_decline"]
    inputs = pq.read_table(fleet_run.out / "inputs.parquet").to_pandas()
    causes = dict(zip(inputs["name"], inputs["root_cause"], strict=True))
    assert causes["oom-kill.tar.gz"] == oom["root_cause"].iloc[0]
    assert causes["memory-leak.tar.gz"].startswith("MEM002 process-memory-growth: leaky-cache")
    assert causes["pagecache-thrash.tar.gz"].startswith("CGR001 cgroup-memory-limit")
    html = (fleet_run.out / "fleet.html").read_text()
    assert '<section id="root-causes">' in html
    assert "CGR001 cgroup-memory-limit: cgroup /vmtriage-sample-oom-kill" in html
    drift = pq.read_table(fleet_run.out / "drift.parquet")
    assert drift.num_rows == 0  # every sample bundle is the same host: nothing to drift from
