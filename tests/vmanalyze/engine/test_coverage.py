"""The analysis never claims more than it checked (vmanalyze.coverage).

A one-shot capture of this host's /proc (meminfo, vmstat, no PSI, no process table) runs the
real rules: the summary, the report banner and the JSON say what could not run and why, and
the report does not say "No memory problem found" while a core rule did not run.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from vmanalyze.analysis import analyze
from vmanalyze.cli.summary import print_summary, render_text
from vmanalyze.coverage import CORE_RULES
from vmreports.render import build_view

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "docs" / "json-format.schema.json").read_text())


@pytest.fixture
def one_shot(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for rel in ("proc/meminfo", "proc/vmstat", "proc/version"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path("/", rel), root / rel)
    return root


def test_one_snapshot_says_what_it_could_not_check(one_shot: Path) -> None:
    analysis = analyze(one_shot, cache=False)
    cover = analysis.result.coverage
    statuses = {s.code: s.status for s in analysis.result.rules}
    assert cover.total == len(statuses)
    assert cover.ran == sum(1 for s in statuses.values() if s == "ran")
    assert len(cover.not_run) == cover.total - cover.ran > 0
    assert statuses["SWP001"] == "skipped" and statuses["PSI001"] == "skipped"
    assert {"SWP001", "PSI001"} <= set(cover.core_missing)
    assert "one snapshot" in cover.reasons and "no PSI" in cover.reasons
    assert cover.sentence.startswith(f"{len(cover.not_run)} of {cover.total} rules could not run: ")

    doc = analysis.to_json_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["coverage"]["summary"] == cover.sentence
    assert doc["coverage"]["core_rules"] == list(CORE_RULES)
    assert "PSI001" in doc["coverage"]["core_rules_missing"]

    out = io.StringIO()
    print_summary(analysis, out)
    assert " ".join(cover.sentence.split()) in " ".join(out.getvalue().split())  # wrapped
    assert " ".join(cover.sentence.split()) in " ".join(render_text(analysis).split())

    view = build_view(analysis)
    assert view.verdict_coverage == cover.sentence
    if view.verdict_level not in ("critical", "warning"):
        assert view.verdict != "No memory problem found"
        assert view.verdict_level == "unknown"
        assert "PSI001" in view.verdict_detail


def test_a_full_bundle_can_say_no_problem_found() -> None:
    analysis = analyze(REPO / "sample-bundles" / "healthy-idle.tar.gz", cache=False)
    assert analysis.result.coverage.core_ran
    view = build_view(analysis)
    assert view.verdict == "No memory problem found"
    assert view.verdict_coverage == analysis.result.coverage.sentence  # NUMA rules: one node
