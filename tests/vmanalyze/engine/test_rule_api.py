"""The rule decorator, Setting, Finding, Severity and RuleContext."""

from __future__ import annotations

import pandas as pd
import pytest
import vmanalyze
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule
from vmanalyze.rule import RuleDefinitionError

from .helpers import DOC, make_rule


def test_public_names_are_reexported_from_the_package() -> None:
    from vmanalyze import rule as decorator
    from vmanalyze.rule import rule as same

    assert decorator is same
    assert {"rule", "Finding", "Severity", "Setting", "Skip", "RuleContext"} <= set(
        vmanalyze.__all__
    )


def test_byte_text_is_one_formatter_for_rules_and_the_cli() -> None:
    from vmanalyze.cli import cache_cmd
    from vmanalyze.units import fmt_bytes
    from vmrules import _common

    assert vmanalyze.fmt_bytes is fmt_bytes is _common.fmt_bytes is cache_cmd.fmt_bytes
    assert [fmt_bytes(v) for v in (512, 200 << 20, 3 * (1 << 30) // 2)] == [
        "512 B",
        "200.0 MiB",
        "1.5 GiB",
    ]


def test_rule_object_carries_metadata_and_parsed_doc() -> None:
    r = make_rule(
        "MEM012",
        name="memavailable-low",
        severity="critical",
        requires=("meminfo",),
        optional=("pressure_memory",),
        settings=[Setting("min_available_pct", 5.0, "Lowest MemAvailable, % of MemTotal.")],
    )
    assert (r.code, r.name, r.severity, r.prefix) == (
        "MEM012",
        "memavailable-low",
        Severity.CRITICAL,
        "MEM",
    )
    assert r.requires == ("meminfo",)
    assert r.optional == ("pressure_memory",)
    assert r.summary == "Something is wrong with the host."
    assert list(r.sections) == [
        "What it does",
        "Why is this bad?",
        "Example",
        "Remediation",
        "References",
    ]
    assert r.remediation == "Fix it like this."
    assert r.defaults() == {"min_available_pct": 5.0}
    assert r.setting("min_available_pct").doc == "Lowest MemAvailable, % of MemTotal."
    assert repr(r) == "<Rule MEM012 memavailable-low>"


@pytest.mark.parametrize("code", ["M001", "MEMORY001", "MEM01", "mem001", "MEM0001", "ME-001"])
def test_bad_codes_are_refused_at_decoration(code: str) -> None:
    with pytest.raises(RuleDefinitionError, match=r"does not match \^\[A-Z\]\{2,5\}"):
        make_rule(code)


def test_five_letter_prefix_is_a_valid_code() -> None:
    assert make_rule("CGRPX001").prefix == "CGRPX"


@pytest.mark.parametrize("name", ["SwapThrashing", "swap_thrashing", "swap--x", "-swap", ""])
def test_names_must_be_kebab_case(name: str) -> None:
    with pytest.raises(RuleDefinitionError, match="rule TST001: name .* is not kebab-case"):
        make_rule(name=name)


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(RuleDefinitionError, match="unknown severity 'fatal'"):
        make_rule(severity="fatal")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("## Why is this bad?", r"lacks the section\(s\) '## Why is this bad\?'"),
        ("## References", r"lacks the section\(s\) '## References'"),
    ],
)
def test_missing_doc_sections_are_named(section: str, message: str) -> None:
    def f(ctx: RuleContext) -> None:
        return None

    f.__doc__ = DOC.replace(section, "## Something else")
    with pytest.raises(RuleDefinitionError, match=rf"rule TST001 \(.*f\): the docstring {message}"):
        rule(code="TST001", name="x", severity="info")(f)


def test_docstring_without_summary_or_in_wrong_order_is_refused() -> None:
    def f(ctx: RuleContext) -> None:
        return None

    f.__doc__ = DOC.split("\n", 2)[2]
    with pytest.raises(RuleDefinitionError, match="must start with a one-line summary"):
        rule(code="TST001", name="x", severity="info")(f)

    f.__doc__ = DOC.replace("## Example", "## Tmp").replace("## Remediation", "## Example")
    f.__doc__ = f.__doc__.replace("## Tmp", "## Remediation")
    with pytest.raises(RuleDefinitionError, match="must come in the order What it does, Why"):
        rule(code="TST001", name="x", severity="info")(f)

    f.__doc__ = DOC.replace("Fix it like this.", "")
    with pytest.raises(RuleDefinitionError, match="section '## Remediation' is empty"):
        rule(code="TST001", name="x", severity="info")(f)


def test_rule_function_takes_exactly_the_context() -> None:
    def two(vmstat: pd.DataFrame, meminfo: pd.DataFrame) -> None:
        return None

    two.__doc__ = DOC
    with pytest.raises(RuleDefinitionError, match="takes exactly one argument, the context"):
        rule(code="TST001", name="x", severity="info")(two)


def test_tables_and_settings_are_checked() -> None:
    with pytest.raises(RuleDefinitionError, match="tables both required and optional: \\['x'\\]"):
        make_rule(requires=("x",), optional=("x",))
    with pytest.raises(RuleDefinitionError, match="table name 'Vm-Stat' is not snake_case"):
        make_rule(requires=("Vm-Stat",))
    with pytest.raises(RuleDefinitionError, match="a setting name is used twice"):
        make_rule(settings=[Setting("a", 1, "doc"), Setting("a", 2, "doc")])
    assert make_rule(requires="vmstat").requires == ("vmstat",)


def test_setting_types_and_coercion() -> None:
    as_float = Setting("min_majflt_per_s", 500, "doc", type=float)
    assert as_float.default == 500.0 and isinstance(as_float.default, float)
    assert as_float.coerce(200) == 200.0
    assert Setting("n", 3, "doc").value_type is int
    assert Setting("flag", True, "doc").coerce(False) is False
    with pytest.raises(ValueError, match=r"expected a float, got 'high' \(str\)"):
        as_float.coerce("high")
    with pytest.raises(ValueError, match=r"expected an int, got True \(bool\)"):
        Setting("n", 3, "doc").coerce(True)
    with pytest.raises(RuleDefinitionError, match="setting 'x' has no doc"):
        Setting("x", 1, " ")
    with pytest.raises(RuleDefinitionError, match="type list is not one of"):
        Setting("x", [1], "doc")
    with pytest.raises(RuleDefinitionError, match="setting name 'MaxX' is not snake_case"):
        Setting("MaxX", 1, "doc")


def test_severity_is_ordered_and_parsed() -> None:
    assert Severity.INFO < Severity.WARNING < Severity.CRITICAL
    assert max([Severity.WARNING, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    assert Severity.parse("Critical") is Severity.CRITICAL
    assert str(Severity.WARNING) == "warning"


def test_finding_validation() -> None:
    f = Finding(message="x", start="2026-11-26T14:00:00Z")
    assert f.subject == "host" and f.start == pd.Timestamp("2026-11-26T14:00:00Z")
    assert Finding(message="x", severity="critical", severity_reason="r").severity is (
        Severity.CRITICAL
    )
    with pytest.raises(ValueError, match="severity_reason given without"):
        Finding(message="x", severity_reason="why")
    with pytest.raises(ValueError, match="subject 'pid 12'"):
        Finding(message="x", subject="pid 12")
    with pytest.raises(ValueError, match="end .* is before"):
        Finding(
            message="x",
            start=pd.Timestamp("2026-11-26 14:00"),
            end=pd.Timestamp("2026-11-26 13:00"),
        )
    with pytest.raises(ValueError, match="non-empty"):
        Finding(message="")


def test_subject_builders() -> None:
    assert Subject.node(1) == "node:1"
    assert Subject.process(1234, "postgres") == "process:1234:postgres"
    assert Subject.cgroup("system.slice/x.service") == "cgroup:/system.slice/x.service"
    for subject in ("host", "node:1", "process:1234:post gres: x", "cgroup:/", "zone:0:Normal"):
        assert Finding(message="m", subject=subject).subject == subject


def test_context_gives_declared_tables_settings_and_facts() -> None:
    r = make_rule(
        requires=("vmstat",),
        optional=("pressure_memory", "zoneinfo"),
        settings=[Setting("limit", 5, "doc")],
    )
    vmstat = pd.DataFrame({"pgmajfault": [1, 2]})
    ctx = RuleContext(
        rule=r,
        tables={"vmstat": vmstat, "zoneinfo": pd.DataFrame(), "meminfo": vmstat},
        settings={"limit": 9},
        host={"hostname": "db01"},
        host_role="database",
        sample_count=3,
    )
    assert ctx.tables["vmstat"] is vmstat
    assert ctx.table("pressure_memory") is None
    assert ctx.table("zoneinfo") is None  # empty counts as absent
    assert ctx.settings["limit"] == 9
    assert (ctx.host["hostname"], ctx.host_role, ctx.sample_count, ctx.multi_sample) == (
        "db01",
        "database",
        3,
        True,
    )
    with pytest.raises(KeyError, match="did not declare table 'meminfo'"):
        ctx.tables["meminfo"]
    with pytest.raises(KeyError, match="did not declare table 'meminfo'"):
        ctx.table("meminfo")
    with pytest.raises(KeyError, match="use ctx.table\\('pressure_memory'\\)"):
        ctx.tables["pressure_memory"]
    with pytest.raises(KeyError, match="has no setting 'limt'"):
        ctx.settings["limt"]
    ctx.require_samples(3)
    with pytest.raises(Skip, match="needs at least 4 samples, the input has 3 samples"):
        ctx.require_samples(4)
