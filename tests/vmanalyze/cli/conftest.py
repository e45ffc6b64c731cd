"""Analyses for the command-line tests: one real (a sample bundle), others built by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.analysis import Analysis, analyze
from vmanalyze.dataset import Dataset
from vmanalyze.engine import AnalysisResult, RuleStatus
from vmanalyze.facts import HostFacts
from vmanalyze.registry import discover
from vmanalyze.rule import Finding

ROOT = Path(__file__).resolve().parents[3]
SWAP_BUNDLE = ROOT / "sample-bundles" / "swap-thrash.tar.gz"


@pytest.fixture(scope="session")
def swap_analysis() -> Analysis:
    """The real analysis of the swap-thrash sample bundle (5 findings, 3 skipped rules)."""
    # the built-in pack only: another package's session fixture may have installed test packs
    return analyze(SWAP_BUNDLE, cache=False, registry=discover(only=()))


MakeAnalysis = Callable[..., Analysis]


@pytest.fixture
def make_analysis() -> MakeAnalysis:
    """``make(findings, rules=(), hostname=..., warnings=...)``: an Analysis without an input."""

    def make(
        findings: Sequence[Finding],
        rules: Sequence[RuleStatus] = (),
        *,
        hostname: str = "db01",
        warnings: Sequence[str] = (),
    ) -> Analysis:
        host = pd.DataFrame({"hostname": [hostname], "kernel_release": ["6.1.0-18-amd64"]})
        source = {"kind": "vmcollect-bundle", "samples": 3, "warnings": list(warnings)}
        result = AnalysisResult(
            tuple(findings),
            tuple(rules),
            host=HostFacts.from_tables({"host": host}),
            sample_count=3,
        )
        return Analysis(Dataset({"host": host}, source), result)

    return make
