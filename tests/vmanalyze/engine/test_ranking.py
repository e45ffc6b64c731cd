"""The headline is the most important finding (vmanalyze.ranking), on the real samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from vmanalyze.analysis import analyze
from vmanalyze.engine import run
from vmanalyze.ranking import rank
from vmanalyze.registry import discover
from vmanalyze.rule import Finding, Severity
from vmreports.render import build_view

BUNDLES = Path(__file__).resolve().parents[3] / "sample-bundles"


def test_thp_postgres_headline_is_thp001() -> None:
    analysis = analyze(BUNDLES / "thp-always-postgres.tar.gz", cache=False)
    codes = [f.code for f in analysis.result.findings]
    assert codes[0] == "THP001"
    # redis-server's growth since it started is a symptom THP always explains: below it
    assert codes.index("MEM002") > codes.index("THP001")
    view = build_view(analysis)
    assert view.verdict.startswith("thp-always-on-database-host")
    assert analysis.to_json_dict()["findings"][0]["code"] == "THP001"


def test_order_does_not_depend_on_rule_order() -> None:
    dataset = analyze(BUNDLES / "swap-thrash.tar.gz", cache=False).dataset
    rules = list(discover().rules)
    forward = run(dataset.tables, rules).findings
    backward = run(dataset.tables, list(reversed(rules))).findings
    assert [(f.code, f.subject) for f in forward] == [(f.code, f.subject) for f in backward]
    # the cgroup limit explains the swapping inside it: cause first, among the warnings
    warnings = [f.code for f in forward if f.severity == Severity.WARNING]
    assert warnings.index("CGR001") < warnings.index("SWP001")


@pytest.mark.parametrize(
    ("harmful", "configured"),
    [("OOM001", "THP001"), ("PSI001", "OVC001"), ("SWP001", "NUMA003")],
)
def test_harm_ranks_above_configuration_alone(harmful: str, configured: str) -> None:
    """Same severity, unrelated rules: kills, stalls and swapping come before configuration,
    whatever their codes' alphabetical order."""
    rules = discover(only=()).rules
    assert next(r for r in rules if r.code == configured).harm == "config"
    a = Finding("seen", code=configured, severity=Severity.WARNING)
    b = Finding("seen", code=harmful, severity=Severity.WARNING)
    assert [f.code for f in rank([a, b], rules)] == [harmful, configured]
    assert [f.code for f in rank([b, a], rules)] == [harmful, configured]
    # without the rules' declarations, both weigh the same: the code decides
    assert [f.code for f in rank([b, a])] == sorted([harmful, configured])


def test_a_plug_in_rule_declares_its_harm_and_what_it_explains() -> None:
    """The ranking knows no pack: a third-party rule weighs what its @rule declares."""
    from vmanalyze.rule import RuleDefinitionError, rule

    def make(code: str, **kwargs: object) -> object:
        def f(ctx: object) -> None:
            """Stand-in.

            ## What it does
            x
            ## Why is this bad?
            x
            ## Example
            x
            ## Remediation
            x
            ## References
            x
            """

        return rule(code=code, name="stand-in", severity="warning", **kwargs)(f)

    cause = make("ACME001", harm="config", explains=("ACME002",))
    symptom = make("ACME002", harm="stall")
    other = make("ACME003", harm="measured")
    findings = [Finding("s", code=c, severity=Severity.WARNING) for c in ("ACME003", "ACME002")]
    findings.append(Finding("c", code="ACME001", severity=Severity.WARNING))
    ranked = rank(findings, [cause, symptom, other])  # type: ignore[list-item]
    assert [f.code for f in ranked] == ["ACME001", "ACME002", "ACME003"]
    with pytest.raises(RuleDefinitionError, match="harm .bad."):
        make("ACME004", harm="bad")
    with pytest.raises(RuleDefinitionError, match="explains .oops."):
        make("ACME005", explains=("oops",))


def test_a_finding_can_state_its_own_harm() -> None:
    static = Finding("threshold large", code="DRT001", severity=Severity.WARNING, harm="config")
    growth = Finding("grew", code="MEM002", severity=Severity.WARNING)
    assert [f.code for f in rank([static, growth], discover(only=()).rules)] == [
        "MEM002",
        "DRT001",
    ]
    with pytest.raises(ValueError, match="harm"):
        Finding("x", harm="bad")
