"""Options shared by the commands that run rules: --select/--ignore/--config/--plugins/--fail-on.

Use the ``Annotated`` aliases as parameter types, then :func:`prepare_rules` to load the packs
and the configuration (a bad option or config file exits with status 2 and one line)::

    @app.command()
    def analyze(
        path: Path,
        select: SelectOption = None,
        ignore: IgnoreOption = None,
        config: ConfigOption = None,
        plugins: PluginsOption = None,
        fail_on: FailOnOption = None,
    ) -> None:
        registry, cfg = prepare_rules(
            select=select, ignore=ignore, config=config, plugins=plugins, fail_on=fail_on
        )
        result = engine.run(tables, registry, cfg)
        ...
        raise typer.Exit(results.exit_status(result, cfg.fail_on))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from vmanalyze.config import Config, ConfigError, load_config, split_list
from vmanalyze.registry import ENV_VAR, Registry, discover
from vmanalyze.rule import Severity

__all__ = [
    "ConfigOption",
    "DebugOption",
    "InputArgument",
    "FailOnOption",
    "IgnoreOption",
    "MaxBytesOption",
    "MaxMembersOption",
    "MaxMemberBytesOption",
    "MaxReadBytesOption",
    "NoCacheOption",
    "PluginsOption",
    "SelectOption",
    "VersionOption",
    "fail",
    "prepare_rules",
]

SelectOption = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        metavar="CODES",
        help="Run only these rules: codes or prefixes (THP, SWP001, ALL), comma-separated or "
        "repeated. Replaces `select` of the config file.",
        show_default=False,
    ),
]
IgnoreOption = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        metavar="CODES",
        help="Do not run these rules: codes or prefixes, comma-separated or repeated. Added to "
        "`ignore` of the config file; the most specific selector wins.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Config file (TOML: select, ignore, [rules.CODE] settings, [host] role). "
        "Default: vmanalyze.toml in the current directory, if present.",
        show_default=False,
        dir_okay=False,
    ),
]
PluginsOption = Annotated[
    str | None,
    typer.Option(
        "--plugins",
        metavar="PACKAGES",
        help=f"Third-party rule packs to load, by distribution name, comma-separated (default: "
        f"${ENV_VAR}, else all installed; the built-in rules always load).",
        show_default=False,
    ),
]
FailOnOption = Annotated[
    Severity | None,
    typer.Option(
        "--fail-on",
        case_sensitive=False,
        metavar="SEVERITY",
        help="Exit with status 1 when a finding at or above this severity (info, warning, "
        "critical) exists. Default: the config file's setting, else never.",
        show_default=False,
    ),
]


InputArgument = Annotated[
    str,
    typer.Argument(
        metavar="INPUT",
        help="A vmcollect bundle, sosreport or directory; - reads it from standard input.",
        show_default=False,
    ),
]
MaxBytesOption = Annotated[
    str,
    typer.Option(
        "--max-bytes",
        metavar="SIZE",
        help="Refuse an input whose members or files add up to more than this, at their "
        "declared size (a sparse member counts expanded).",
    ),
]
MaxMembersOption = Annotated[
    int,
    typer.Option(
        "--max-members",
        metavar="N",
        help="Refuse an archive or directory with more entries than this.",
    ),
]
MaxMemberBytesOption = Annotated[
    str,
    typer.Option(
        "--max-member-bytes",
        metavar="SIZE",
        help="Skip, with a warning, any one member or file bigger than this.",
    ),
]
MaxReadBytesOption = Annotated[
    str,
    typer.Option(
        "--max-read-bytes",
        metavar="SIZE",
        help="Refuse an input whose files to analyze add up to more than this: it bounds "
        "the memory used (2.5 to 3.5 times this, plus the code).",
    ),
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Parse again even if a cached copy exists.")
]


def _show_version(value: bool) -> None:
    if value:
        from vmanalyze import __version__, exit_codes

        typer.echo(f"vmanalyze {__version__}")
        raise typer.Exit(exit_codes.OK)


def _set_debug(value: bool) -> None:
    from vmanalyze.cli.common import set_debug

    set_debug(value)


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version",
        help="Print the version and exit.",
        is_eager=True,
        callback=_show_version,
        show_default=False,
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="On an internal error, print the traceback (for a bug report).",
        callback=_set_debug,
        show_default=False,
    ),
]


def fail(message: str) -> NoReturn:
    """Print ``vmanalyze: error: message`` (one line) on stderr and exit with status 2."""
    from vmanalyze.cli.common import fail as common_fail

    common_fail(" ".join(message.split()))


def prepare_rules(
    *,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    config: Path | None = None,
    plugins: str | None = None,
    fail_on: Severity | None = None,
    cwd: Path | None = None,
) -> tuple[Registry, Config]:
    """Load the config file and the rule packs; check the config against the rules.

    Which packs load: ``--plugins``, else ``$VMANALYZE_PLUGINS``, else ``plugins`` of the
    config file, else all. Plugin load errors are not fatal: they are in
    ``registry.errors`` (and become ``error`` rows of the result). Bad options or config:
    :func:`fail` (exit 2).
    """
    try:
        cfg = load_config(
            config, cwd=cwd, select=select, ignore=ignore, fail_on=fail_on, plugins=plugins
        )
        if plugins is not None:
            registry = discover(only=split_list(plugins), only_source="--plugins")
        elif ENV_VAR in os.environ or cfg.plugins is None:
            registry = discover()
        else:
            registry = discover(only=cfg.plugins, only_source=f"{cfg.file.origin} plugins")
        cfg.validate(registry.rules, prefixes=registry.prefixes, failed=registry.failed_prefixes())
    except ConfigError as exc:
        fail(str(exc))
    return registry, cfg
