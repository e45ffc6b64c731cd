"""Config: ruff-style select/ignore, vmanalyze.toml, per-rule settings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from vmanalyze import Setting, Severity
from vmanalyze.config import Config, ConfigError, load_config, split_list

from .helpers import make_rule

RULES = [
    make_rule("MEM001"),
    make_rule("MEM002"),
    make_rule("MEM010"),
    make_rule("SWP001"),
    make_rule("FLT001", settings=[Setting("min_majflt_per_s", 500.0, "Faults per second.")]),
]
CODES = [r.code for r in RULES]


def selected(config: Config) -> list[str]:
    config.validate(RULES)
    return [code for code in CODES if config.is_selected(code)]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vmanalyze.toml"
    path.write_text(text)
    return path


def test_default_selects_everything(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.path is None and config.fail_on is None and config.host_role is None
    assert selected(config) == CODES


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        (["MEM"], None, ["MEM001", "MEM002", "MEM010"]),
        (["MEM,SWP001"], ["MEM00"], ["MEM010", "SWP001"]),
        (["ALL"], ["MEM", "FLT001"], ["SWP001"]),
        (["MEM"], ["MEM"], []),  # same specificity, same source: ignore wins
        (["MEM001"], ["MEM"], ["MEM001"]),  # more specific select beats the prefix ignore
        (["mem002"], None, ["MEM002"]),
    ],
)
def test_cli_selection_more_specific_wins(
    tmp_path: Path, select: list[str], ignore: list[str] | None, expected: list[str]
) -> None:
    assert selected(load_config(cwd=tmp_path, select=select, ignore=ignore)) == expected


def test_file_and_cli_layers(tmp_path: Path) -> None:
    write(tmp_path, 'select = ["MEM", "FLT"]\nignore = ["MEM002"]\nextend-select = ["SWP001"]\n')
    assert selected(load_config(cwd=tmp_path)) == ["MEM001", "MEM010", "SWP001", "FLT001"]
    # --ignore adds to the file's ignores
    assert selected(load_config(cwd=tmp_path, ignore=["MEM001"])) == ["MEM010", "SWP001", "FLT001"]
    # --select replaces the file's select; the file's more specific ignore still applies
    assert selected(load_config(cwd=tmp_path, select=["MEM"])) == ["MEM001", "MEM010", "SWP001"]
    # at equal specificity the command line beats the file
    assert selected(load_config(cwd=tmp_path, select=["MEM002"])) == ["MEM002", "SWP001"]


def test_file_settings_role_fail_on_and_plugins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'fail-on = "warning"\nplugins = ["vmanalyze-rules-acme"]\n\n[host]\nrole = "database"\n\n'
        "[rules.FLT001]\nmin_majflt_per_s = 200\n",
    )
    config = load_config(path)
    config.validate(RULES)
    assert config.path == path
    assert (config.fail_on, config.host_role, config.plugins) == (
        Severity.WARNING,
        "database",
        ("vmanalyze-rules-acme",),
    )
    assert config.settings_for(RULES[-1]) == {"min_majflt_per_s": 200.0}
    assert config.settings_for(RULES[0]) == {}
    cli = load_config(path, fail_on="critical", plugins="a,b", host_role="hypervisor")
    assert (cli.fail_on, cli.plugins, cli.host_role) == (
        Severity.CRITICAL,
        ("a", "b"),
        "hypervisor",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('selct = ["MEM"]\n', "vmanalyze.toml: unknown key 'selct' (known keys: select, ignore,"),
        ('select = "MEM"\nignore = [1]\n', "vmanalyze.toml ignore: expected a list of strings"),
        ('select = ["MEM-1"]\n', "vmanalyze.toml select: 'MEM-1' is not a rule code, prefix"),
        ("[host]\nrole = 3\n", "vmanalyze.toml [host]: role must be a non-empty string, got 3"),
        ('[host]\nname = "x"\n', "vmanalyze.toml [host]: unknown key 'name' (known keys: role)"),
        ("[rules]\nFLT001 = 3\n", "vmanalyze.toml [rules]: FLT001 must be a table"),
        (
            "[rules.FLT001]\nx = [1]\n",
            "vmanalyze.toml [rules.FLT001]: x: expected a number, boolean or string",
        ),
        ('fail-on = "fatal"\n', "vmanalyze.toml fail-on: unknown severity 'fatal'"),
        ("select = [\n", "vmanalyze.toml: invalid TOML: "),
    ],
)
def test_file_shape_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(cwd=tmp_path)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "select", "message"),
    [
        ('select = ["MEM003"]\n', None, "vmanalyze.toml select: unknown rule code 'MEM003'"),
        ('ignore = ["XYZ"]\n', None, "vmanalyze.toml ignore: unknown rule code or prefix 'XYZ'"),
        ("", ["QQ1"], "--select: unknown rule code or prefix 'QQ1'"),
        ("[rules.FLT009]\nx = 1\n", None, "vmanalyze.toml [rules]: unknown rule code 'FLT009'"),
        (
            "[rules.FLT001]\nmin_majflt = 1\n",
            None,
            "vmanalyze.toml [rules.FLT001]: rule FLT001 has no setting 'min_majflt' "
            "(its settings: min_majflt_per_s)",
        ),
        (
            '[rules.FLT001]\nmin_majflt_per_s = "high"\n',
            None,
            "vmanalyze.toml [rules.FLT001]: min_majflt_per_s: expected a float, got 'high' (str)",
        ),
        (
            "[rules.MEM001]\nlimit = 1\n",
            None,
            "vmanalyze.toml [rules.MEM001]: rule MEM001 has no setting 'limit' "
            "(its settings: none)",
        ),
    ],
)
def test_unknown_codes_and_settings_are_errors(
    tmp_path: Path, text: str, select: list[str] | None, message: str
) -> None:
    write(tmp_path, text)
    config = load_config(cwd=tmp_path, select=select)
    with pytest.raises(ConfigError) as info:
        config.validate(RULES)
    assert str(info.value) == message


def test_known_pack_prefix_without_rules_and_failed_pack_hint(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, select=["CGR", "MEM"])
    config.validate(RULES, prefixes=["CGR"])  # an empty pack's prefix is still valid
    config = load_config(cwd=tmp_path, ignore=["ACME001"])
    with pytest.raises(
        ConfigError, match=r"\(the pack acme 1.0 that provides ACME failed to load\)"
    ):
        config.validate(RULES, failed={"ACME": "acme 1.0"})


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^nope.toml: config file not found$"):
        load_config("nope.toml", cwd=tmp_path)


def test_split_list() -> None:
    assert split_list(["MEM, SWP", "THP001", ""]) == ("MEM", "SWP", "THP001")
    assert split_list("a,b") == ("a", "b")
    assert split_list(None) is None
