"""`vmanalyze rules` and `vmanalyze rules CODE` on a registry of known rules."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
import typer
from typer.testing import CliRunner
from vmanalyze import Setting
from vmanalyze.cli import rules_cmd
from vmanalyze.registry import discover

from .helpers import entry_point, make_rule

RULES = (
    make_rule(
        "THP001",
        name="thp-always-enabled",
        severity="warning",
        settings=[Setting("min_anon_huge_pct", 20.0, "Share of anon memory in huge pages.")],
    ),
    make_rule("THP002", name="thp-defrag-always", severity="critical"),
)


def app() -> typer.Typer:
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """vmanalyze (test app)."""

    rules_cmd.register(cli)
    return cli


@pytest.fixture(autouse=True)
def fake_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        entry_point("THP", RULES, package="vmtriage", version="0.1.0"),
        entry_point("ACME", error=ImportError("cannot import name 'x'"), package="acme-rules"),
    ]

    def fake_discover(entry_points: Iterable[object] | None = None, **kwargs: object) -> object:
        return discover(eps, **kwargs)

    monkeypatch.setattr(rules_cmd, "discover", fake_discover)


def test_rules_lists_code_name_severity_package_version() -> None:
    result = CliRunner().invoke(app(), ["rules"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "2 rules"
    assert [" ".join(line.strip("│ ").split()) for line in lines if "THP" in line] == [
        "THP001 │ thp-always-enabled │ warning │ vmtriage │ 0.1.0",
        "THP002 │ thp-defrag-always │ critical │ vmtriage │ 0.1.0",
    ]
    header = [line for line in lines if "code" in line][0]
    assert header.replace("┃", " ").split() == ["code", "name", "severity", "package", "version"]
    assert result.stderr == (
        "warning: acme-rules 1.2.0: entry point ACME = 'acme_rules:ACME_RULES' failed to load: "
        "ImportError: cannot import name 'x'\n"
    )


def test_rules_code_prints_full_documentation_with_settings() -> None:
    result = CliRunner().invoke(app(), ["rules", "thp001", "--plugins", ""])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# thp-always-enabled (THP001)\n")
    assert "- Package: vmtriage 0.1.0\n" in result.stdout
    for section in ("What it does", "Why is this bad?", "Example", "Remediation", "References"):
        assert f"\n## {section}\n" in result.stdout
    assert "| `min_anon_huge_pct` | `20.0` | float | Share of anon memory in huge pages. |" in (
        result.stdout
    )
    assert result.stderr == ""  # --plugins "" loads the built-in pack only


def test_unknown_code_is_a_one_line_error_with_status_2() -> None:
    result = CliRunner().invoke(app(), ["rules", "XYZ999"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == "vmanalyze: error: no rule with code, name or prefix 'XYZ999' (see `vmanalyze rules`)\n"
    )


def test_unknown_plugin_package_is_a_one_line_error() -> None:
    result = CliRunner().invoke(app(), ["rules", "--plugins", "nope"])
    assert result.exit_code == 2
    assert result.stderr == (
        "vmanalyze: error: --plugins: no installed rule pack named 'nope' "
        "(installed: acme-rules, vmtriage)\n"
    )


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app(), ["rules", "--help"])
    assert result.exit_code == 0
    assert "vmanalyze rules swap-thrashing" in result.stdout
