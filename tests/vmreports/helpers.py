"""Shared by the report tests: sample bundles, analyses with the stand-in rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze import engine
from vmanalyze.analysis import Analysis
from vmanalyze.config import Config
from vmanalyze.dataset import Dataset, load
from vmanalyze.facts import HostFacts, count_samples
from vmanalyze.registry import Registry
from vmanalyze.results import AnalysisResult, RuleStatus
from vmanalyze.rule import Finding, Rule

from .fake_rules import registry as fake_registry

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample-bundles"
FIXTURES = REPO / "tests" / "fixtures"
ARTIFACTS = REPO / "artifacts" / "report"
SCENARIOS = (
    "healthy-idle",
    "thp-always-postgres",
    "swap-thrash",
    "pagecache-thrash",
    "overcommit",
    "oom-kill",
    "memory-leak",
    "numa-remote",
)

_datasets: dict[str, Dataset] = {}


def dataset_of(name: str) -> Dataset:
    """A sample bundle (or the debian12 fixture directory) as tables, loaded once per session."""
    if name not in _datasets:
        if name == "debian12":
            path = FIXTURES / "debian12-kernel6.18"
        else:
            path = SAMPLES / f"{name}.tar.gz"
        if not path.exists():
            pytest.skip(f"{path.name} is not in this checkout")
        _datasets[name] = load(path)
    return _datasets[name]


def analysis_with_fake_rules(name: str) -> Analysis:
    """The sample bundle analysed by the stand-in rules of fake_rules.py."""
    ds = dataset_of(name)
    return Analysis(ds, engine.run(ds.tables, fake_registry(), Config()))


def result_of(
    tables: Mapping[str, pd.DataFrame],
    findings: Iterable[Finding] = (),
    rules: Iterable[RuleStatus] = (),
    *,
    more_rules: Iterable[Rule] = (),
) -> AnalysisResult:
    """A hand-made result over ``tables``, filled as the engine fills one: the stand-in rules
    (and ``more_rules``) registered, the host facts of the ``host`` table and the sample
    count of the tables."""
    registry = Registry.from_rules((*fake_registry().rules, *more_rules), "vmtriage-report-tests")
    return AnalysisResult(
        tuple(findings),
        tuple(rules),
        registered=registry.entries,
        host=HostFacts.from_tables(tables),
        sample_count=count_samples(tables),
    )
