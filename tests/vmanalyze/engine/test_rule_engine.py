"""engine.run: skipping, errors, ordering, defaults filled in, settings and host role."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip
from vmanalyze.config import ConfigError, load_config
from vmanalyze.engine import run
from vmanalyze.facts import HostFacts, count_samples
from vmanalyze.registry import PluginError, Registry

from .helpers import make_rule, vmstat_table

TABLES = {
    "vmstat": vmstat_table([100, 9_100, 18_100]),
    "meminfo": pd.DataFrame({"mem_available_bytes": [1 << 30]}),
    "pid_stat": pd.DataFrame(columns=["pid", "majflt"]),
    "host": pd.DataFrame([{"hostname": "db01", "kernel_release": "6.1.0"}]),
}


def test_missing_and_empty_required_tables_skip_without_calling() -> None:
    called = []

    def body(ctx: RuleContext) -> None:
        called.append(ctx.rule.code)

    rules = [
        make_rule("TST001", requires=("vmstat", "zoneinfo", "buddyinfo"), body=body),
        make_rule("TST002", requires=("pid_stat",), body=body),
        make_rule("TST003", requires=("vmstat",), optional=("zoneinfo",), body=body),
    ]
    result = run(TABLES, rules)
    assert [(s.code, s.status, s.reason) for s in result.rules] == [
        ("TST001", "skipped", "missing tables: zoneinfo, buddyinfo"),
        ("TST002", "skipped", "empty tables: pid_stat"),
        ("TST003", "ran", None),
    ]
    assert called == ["TST003"]


def test_a_failing_rule_is_an_error_and_the_others_still_run() -> None:
    def boom(ctx: RuleContext) -> None:
        raise ZeroDivisionError("division by zero")

    def fine(ctx: RuleContext) -> Finding:
        return Finding(message="ok")

    result = run(TABLES, [make_rule("TST001", body=boom), make_rule("TST002", body=fine)])
    error = result.status("TST001")
    assert error is not None
    assert (error.status, error.reason) == ("error", "ZeroDivisionError: division by zero")
    assert error.traceback is not None and "in boom" in error.traceback
    assert [f.code for f in result.findings] == ["TST002"]
    assert result.by_status("ran")[0].code == "TST002"


def test_errors_inside_a_generator_and_bad_outputs_are_reported() -> None:
    def gen_fails(ctx: RuleContext) -> Iterator[Finding]:
        yield Finding(message="first")
        raise KeyError("pgmajfault")

    def returns_string(ctx: RuleContext) -> str:
        return "not a finding"

    def bad_evidence(ctx: RuleContext) -> Finding:
        return Finding(message="x", evidence={"obj": object()})

    def foreign_code(ctx: RuleContext) -> Finding:
        return Finding(message="x", code="ZZZ999")

    def unexplained(ctx: RuleContext) -> Finding:
        return Finding(message="x", severity=Severity.CRITICAL)

    result = run(
        TABLES,
        [
            make_rule("TST001", body=gen_fails),
            make_rule("TST002", body=returns_string),
            make_rule("TST003", body=bad_evidence),
            make_rule("TST004", body=foreign_code),
            make_rule("TST005", body=unexplained),
        ],
    )
    reasons = {s.code: s.reason for s in result.rules}
    assert all(s.status == "error" for s in result.rules)
    assert reasons["TST001"] == "KeyError: 'pgmajfault'"
    assert reasons["TST002"] == "TypeError: rule returned str; return or yield Finding objects"
    assert reasons["TST003"] is not None
    assert reasons["TST003"].startswith("TypeError: object value <object object at")
    assert reasons["TST003"].endswith("is not JSON-serialisable")
    assert reasons["TST004"] == "ValueError: finding has code ZZZ999, but the rule is TST004"
    assert reasons["TST005"] == (
        "ValueError: finding changes the severity to critical without severity_reason"
    )
    assert result.findings == ()


def test_skip_raised_returned_or_yielded() -> None:
    def raises(ctx: RuleContext) -> None:
        ctx.require_samples(5)

    def returns(ctx: RuleContext) -> Skip:
        return Skip("no NUMA: one node")

    def yields(ctx: RuleContext) -> Iterator[Finding | Skip]:
        yield Finding(message="dropped")
        yield Skip("cgroup v1")

    result = run(
        TABLES,
        [
            make_rule("TST001", body=raises),
            make_rule("TST002", body=returns),
            make_rule("TST003", body=yields),
        ],
    )
    assert [(s.status, s.reason) for s in result.rules] == [
        ("skipped", "needs at least 5 samples, the input has 1 sample"),
        ("skipped", "no NUMA: one node"),
        ("skipped", "cgroup v1"),
    ]
    assert result.findings == ()


def test_findings_get_defaults_and_are_sorted_critical_first_then_code() -> None:
    def info_rule(ctx: RuleContext) -> Iterator[Finding]:
        yield Finding(message="b", subject="node:1")
        yield Finding(message="a", subject="node:0")

    def escalated(ctx: RuleContext) -> Finding:
        return Finding(
            message="c",
            severity=Severity.CRITICAL,
            severity_reason="peak 12x the threshold",
            remediation="Add memory.",
        )

    rules = [
        make_rule("AAA001", severity="info", body=info_rule),
        make_rule("ZZZ001", name="late", severity="warning", body=escalated),
        make_rule("MMM001", severity="warning", body=lambda ctx: Finding(message="d")),
    ]
    result = run(TABLES, rules)
    assert [(f.code, f.severity, f.subject) for f in result.findings] == [
        ("ZZZ001", Severity.CRITICAL, "host"),
        ("MMM001", Severity.WARNING, "host"),
        ("AAA001", Severity.INFO, "node:1"),
        ("AAA001", Severity.INFO, "node:0"),
    ]
    first = result.findings[0]
    assert (first.name, first.severity_reason, first.remediation) == (
        "late",
        "peak 12x the threshold",
        "Add memory.",
    )
    assert result.findings[1].remediation == "Fix it like this."  # the doc's section
    assert result.findings[1].severity_reason is None
    assert result.max_severity is Severity.CRITICAL
    assert [s.findings for s in result.rules] == [2, 1, 1]


def test_settings_from_config_host_facts_role_and_sample_count(tmp_path) -> None:
    seen: dict[str, object] = {}

    def body(ctx: RuleContext) -> None:
        seen.update(
            limit=ctx.settings["min_majflt_per_s"],
            other=ctx.settings["window_s"],
            role=ctx.host_role,
            host=dict(ctx.host),
            samples=ctx.sample_count,
        )

    r = make_rule(
        "FLT001",
        requires=("vmstat",),
        settings=[
            Setting("min_majflt_per_s", 500.0, "Major faults per second."),
            Setting("window_s", 60, "Window."),
        ],
        body=body,
    )
    (tmp_path / "vmanalyze.toml").write_text(
        '[host]\nrole = "database"\n\n[rules.FLT001]\nmin_majflt_per_s = 200\n'
    )
    result = run(TABLES, [r], load_config(cwd=tmp_path))
    assert result.status("FLT001") is not None
    assert seen == {
        "limit": 200.0,
        "other": 60,
        "role": "database",
        "host": {**HostFacts().as_dict(), "hostname": "db01", "kernel_release": "6.1.0"},
        "samples": 1,
    }
    samples = pd.DataFrame({"snapshot": ["start", "0", "1", "2", "3", "end"]})
    samples["phase"] = ["start", "sample", "sample", "sample", "sample", "end"]
    run({**TABLES, "samples": samples}, [r], host={"role": "hypervisor"})
    assert (seen["samples"], seen["role"], seen["host"]) == (
        4,
        "hypervisor",
        {"role": "hypervisor"},
    )


def test_selection_and_validation_of_config() -> None:
    rules = [make_rule("MEM001"), make_rule("MEM002"), make_rule("SWP001")]
    result = run(TABLES, rules, load_config(select=["MEM"], ignore=["MEM002"], cwd="/nonexistent"))
    assert [s.code for s in result.rules] == ["MEM001"]
    with pytest.raises(ConfigError, match="--select: unknown rule code 'MEM003'"):
        run(TABLES, rules, load_config(select=["MEM003"], cwd="/nonexistent"))


def test_rules_cannot_modify_the_callers_tables() -> None:
    def mutate(ctx: RuleContext) -> None:
        df = ctx.tables["vmstat"]
        df["pgmajfault"] = 0
        df.loc[0, "pgmajfault"] = -1

    before = TABLES["vmstat"].copy()
    assert run(TABLES, [make_rule(requires="vmstat", body=mutate)]).rules[0].status == "ran"
    pd.testing.assert_frame_equal(TABLES["vmstat"], before)


def test_plugin_errors_become_error_rows_and_duplicates_are_refused() -> None:
    registry = Registry(
        entries=Registry.from_rules([make_rule("MEM001")]).entries,
        errors=(PluginError("acme", "1.0", "ACM", "acme 1.0: entry point ACM failed"),),
        prefixes=("MEM",),
    )
    result = run(TABLES, registry)
    assert [(s.code, s.status, s.reason) for s in result.rules] == [
        ("ACM", "error", "acme 1.0: entry point ACM failed"),
        ("MEM001", "ran", None),
    ]
    assert result.plugin_errors == registry.errors
    with pytest.raises(ValueError, match="duplicate rule code MEM001"):
        run(TABLES, [make_rule("MEM001"), make_rule("MEM001")])


def test_sample_count_counts_samples_not_start_and_end_snapshots() -> None:
    bundle = pd.DataFrame({"phase": ["start", "sample", "sample", "end"]})
    assert count_samples({"samples": bundle}) == 2
    assert count_samples({"samples": pd.DataFrame({"phase": ["start", "end"]})}) == 2
    assert count_samples({"samples": pd.DataFrame({"snapshot": ["0"]})}) == 1
    assert count_samples({"meminfo": TABLES["meminfo"]}) == 1
    assert count_samples({}) == 0
