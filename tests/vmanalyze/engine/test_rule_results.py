"""The JSON result (validated against docs/json-format.schema.json) and the exit status."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from vmanalyze import Finding, RuleContext, Severity, Subject
from vmanalyze.engine import run
from vmanalyze.registry import PluginError, Registry
from vmanalyze.results import exit_status, iso_utc, to_json, to_json_dict, to_jsonable

from .helpers import make_rule

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "json-format.schema.json").read_text()
)


def storm(ctx: RuleContext) -> Iterator[Finding]:
    top = pd.DataFrame(
        {
            "end": pd.to_datetime(["2026-11-26 14:00:10", "2026-11-26 14:00:20"], utc=True),
            "majflt_per_s": [900.0, float("nan")],
        }
    )
    yield Finding(
        subject=Subject.process(1234, "postgres"),
        message="900 major faults/s",
        start=pd.Timestamp("2026-11-26 15:00:00", tz="Europe/Paris"),
        end=pd.Timestamp("2026-11-26 14:00:20.5"),
        evidence={
            "mean": np.float64(812.5),
            "count": np.int64(3),
            "missing": float("nan"),
            "na": pd.NA,
            "top_intervals": top,
            "nodes": [{"node": 0, "free_bytes": np.int64(1 << 20)}],
            "window": pd.Timedelta(seconds=90),
        },
        severity=Severity.CRITICAL,
        severity_reason="peak 12x the threshold",
    )


def quiet(ctx: RuleContext) -> None:
    return None


@pytest.fixture(scope="module")
def result() -> Any:
    registry = Registry(
        entries=Registry.from_rules(
            [
                make_rule("FLT001", name="major-fault-storm", requires="vmstat", body=storm),
                make_rule("MEM001", requires="meminfo", body=quiet),
                make_rule("SWP001", body=lambda ctx: Finding(message="swapping")),
            ]
        ).entries,
        errors=(PluginError("acme", "1.0", "ACME", "acme 1.0: entry point ACME failed"),),
    )
    return run({"vmstat": pd.DataFrame({"pgmajfault": [1, 2]})}, registry)


def test_json_document_has_exactly_the_documented_shape(result: Any) -> None:
    doc = to_json_dict(
        result,
        {"path": Path("host.tar.gz"), "format": "vmcollect-bundle", "samples": np.int64(120)},
        {"hostname": "db01", "cpu_count": 64},
    )
    jsonschema.validate(doc, SCHEMA)
    assert list(doc) == [
        "schema_version",
        "input",
        "host",
        "findings",
        "rules",
        "coverage",
        "incidents",
        "story_errors",
    ]
    assert doc["incidents"] == [] and doc["story_errors"] == []
    assert doc["schema_version"] == 1
    assert doc["input"] == {"path": "host.tar.gz", "format": "vmcollect-bundle", "samples": 120}
    assert doc["host"] == {"hostname": "db01", "cpu_count": 64}
    assert doc["findings"][0] == {
        "code": "FLT001",
        "name": "major-fault-storm",
        "severity": "critical",
        "subject": "process:1234:postgres",
        "message": "900 major faults/s",
        "start": "2026-11-26T14:00:00Z",
        "end": "2026-11-26T14:00:20.500000Z",
        "evidence": {
            "mean": 812.5,
            "count": 3,
            "missing": None,
            "na": None,
            "top_intervals": [
                {"end": "2026-11-26T14:00:10Z", "majflt_per_s": 900.0},
                {"end": "2026-11-26T14:00:20Z", "majflt_per_s": None},
            ],
            "nodes": [{"node": 0, "free_bytes": 1048576}],
            "window": 90.0,
        },
        "remediation": "Fix it like this.",
    }
    assert doc["findings"][1]["code"] == "SWP001"
    assert doc["findings"][1]["start"] is None
    assert doc["rules"] == [
        {"code": "ACME", "status": "error", "reason": "acme 1.0: entry point ACME failed"},
        {"code": "FLT001", "status": "ran", "reason": None},
        {"code": "MEM001", "status": "skipped", "reason": "missing tables: meminfo"},
        {"code": "SWP001", "status": "ran", "reason": None},
    ]
    text = to_json(result, {}, {})
    assert "NaN" not in text
    jsonschema.validate(json.loads(text), SCHEMA)


def test_schema_rejects_what_the_format_forbids(result: Any) -> None:
    doc = to_json_dict(result, {}, {})
    for mutate in (
        lambda d: d["findings"][0].update(severity="fatal"),
        lambda d: d["findings"][0].update(start="2026-11-26 14:00:00"),
        lambda d: d["rules"][1].update(reason="ran but has a reason"),
        lambda d: d.update(extra=1),
    ):
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_iso_utc_and_conversions() -> None:
    assert iso_utc(pd.Timestamp("2026-11-26 14:00:00")) == "2026-11-26T14:00:00Z"
    assert iso_utc(dt.datetime(2026, 11, 26, 16, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "2026-11-26T14:00:00Z"
    )
    assert iso_utc(pd.NaT) is None and iso_utc(None) is None
    assert to_jsonable(pd.Series([1.5, math.inf], index=["a", "b"])) == {"a": 1.5, "b": None}
    assert to_jsonable(pd.DataFrame({"v": [1]}, index=pd.Index([7], name="pid"))) == [
        {"pid": 7, "v": 1}
    ]
    assert to_jsonable({3: {1, 2}, "s": Severity.WARNING, "b": np.bool_(True)}) == {
        "3": [1, 2],
        "s": "warning",
        "b": True,
    }
    with pytest.raises(TypeError, match="complex value"):
        to_jsonable(1j)


def test_exit_status(result: Any) -> None:
    assert exit_status(result, None) == 0
    assert exit_status(result, "critical") == 1
    assert exit_status(result, Severity.WARNING) == 1
    only_warning = run({}, [make_rule("SWP001", body=lambda ctx: Finding(message="x"))])
    assert exit_status(only_warning, Severity.CRITICAL) == 0
    assert exit_status(only_warning, Severity.WARNING) == 1
    assert exit_status(only_warning, "info") == 1
    assert exit_status(run({}, []), "info") == 0
