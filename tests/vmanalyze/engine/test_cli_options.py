"""The shared --select/--ignore/--config/--plugins/--fail-on options and prepare_rules()."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner
from vmanalyze import Finding, Setting
from vmanalyze.cli import options
from vmanalyze.cli.options import (
    ConfigOption,
    FailOnOption,
    IgnoreOption,
    PluginsOption,
    SelectOption,
    prepare_rules,
)
from vmanalyze.engine import run
from vmanalyze.registry import discover
from vmanalyze.results import exit_status, to_json_dict

from .helpers import entry_point, make_rule

RULES = (
    make_rule("MEM001", severity="critical", body=lambda ctx: Finding(message="low")),
    make_rule(
        "MEM002",
        severity="warning",
        settings=[Setting("limit", 5, "A limit.")],
        body=lambda ctx: Finding(message=f"limit {ctx.settings['limit']}"),
    ),
    make_rule("SWP001", severity="info", body=lambda ctx: Finding(message="swap")),
)


def app(cwd: Path) -> typer.Typer:
    cli = typer.Typer()

    @cli.command()
    def analyze(
        select: SelectOption = None,
        ignore: IgnoreOption = None,
        config: ConfigOption = None,
        plugins: PluginsOption = None,
        fail_on: FailOnOption = None,
    ) -> None:
        registry, cfg = prepare_rules(
            select=select, ignore=ignore, config=config, plugins=plugins, fail_on=fail_on, cwd=cwd
        )
        result = run({"meminfo": pd.DataFrame({"x": [1]})}, registry, cfg)
        typer.echo(json.dumps(to_json_dict(result, {}, {})["findings"]))
        raise typer.Exit(exit_status(result, cfg.fail_on))

    return cli


@pytest.fixture(autouse=True)
def fake_packs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    eps: list[object] = [entry_point("MEM", RULES[:2], package="vmtriage", version="0.1.0")]
    eps.append(entry_point("SWP", RULES[2:], package="swap-rules", version="2.0"))

    def fake_discover(entry_points: Iterable[object] | None = None, **kwargs: object) -> object:
        return discover(eps, **kwargs)

    monkeypatch.setattr(options, "discover", fake_discover)
    return eps


def invoke(tmp_path: Path, *args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app(tmp_path), list(args))
    findings = json.loads(result.stdout)
    return result.exit_code, [f["message"] for f in findings], result.stderr


def test_defaults_run_everything_and_exit_0(tmp_path: Path) -> None:
    assert invoke(tmp_path) == (0, ["low", "limit 5", "swap"], "")


def test_select_ignore_fail_on_and_config_file(tmp_path: Path) -> None:
    assert invoke(tmp_path, "--select", "MEM,SWP", "--ignore", "MEM001")[:2] == (
        0,
        ["limit 5", "swap"],
    )
    assert invoke(tmp_path, "--select", "MEM002", "--select", "SWP001", "--fail-on", "WARNING")[
        :2
    ] == (1, ["limit 5", "swap"])
    config = tmp_path / "other.toml"
    config.write_text('ignore = ["SWP"]\nfail-on = "critical"\n[rules.MEM002]\nlimit = 9\n')
    assert invoke(tmp_path, "--config", str(config))[:2] == (1, ["low", "limit 9"])


def test_plugins_option_beats_env_beats_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vmanalyze.toml").write_text('plugins = ["swap-rules"]\n')
    assert invoke(tmp_path)[1] == ["low", "limit 5", "swap"]
    monkeypatch.setenv("VMANALYZE_PLUGINS", "")
    assert invoke(tmp_path)[1] == ["low", "limit 5"]
    assert invoke(tmp_path, "--plugins", "swap-rules")[1] == ["low", "limit 5", "swap"]


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--select", "MEM009"], None, "vmanalyze: error: --select: unknown rule code 'MEM009'"),
        (
            ["--ignore", "M-1"],
            None,
            "vmanalyze: error: --ignore: 'M-1' is not a rule code, prefix or ALL",
        ),
        (
            [],
            "[rules.MEM002]\nlimt = 1\n",
            "vmanalyze: error: vmanalyze.toml [rules.MEM002]: rule MEM002 "
            "has no setting 'limt' (its settings: limit)",
        ),
        ([], "select = [\n", "vmanalyze: error: vmanalyze.toml: invalid TOML: "),
        (
            ["--config", "missing.toml"],
            None,
            "vmanalyze: error: missing.toml: config file not found",
        ),
        (
            ["--plugins", "x"],
            None,
            "vmanalyze: error: --plugins: no installed rule pack named 'x' "
            "(installed: swap-rules, vmtriage)",
        ),
    ],
)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, args: list[str], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "vmanalyze.toml").write_text(config)
    result = CliRunner().invoke(app(tmp_path), args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(message)


def test_fail_on_offers_the_severities(tmp_path: Path) -> None:
    result = CliRunner().invoke(app(tmp_path), ["--fail-on", "fatal"])
    assert result.exit_code == 2
    text = " ".join(result.stderr.replace("│", " ").split())  # typer draws a box around it
    assert "'fatal' is not one of 'info', 'warning', 'critical'" in text
