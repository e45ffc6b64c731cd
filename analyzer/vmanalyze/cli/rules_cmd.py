"""``vmanalyze rules``: list the installed rules, or show one rule's documentation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vmanalyze.cli.options import PluginsOption, fail
from vmanalyze.config import ConfigError, split_list
from vmanalyze.docs_gen import render_rule
from vmanalyze.registry import Registry, discover

__all__ = ["register", "rules"]

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _load(plugins: str | None) -> Registry:
    try:
        if plugins is not None:
            return discover(only=split_list(plugins), only_source="--plugins")
        return discover()
    except ConfigError as exc:
        fail(str(exc))


def _report_errors(registry: Registry) -> None:
    for error in registry.errors:
        typer.echo(f"warning: {error.message}", err=True)


def rules(
    code: Annotated[
        str | None,
        typer.Argument(metavar="CODE", help="Show this rule's documentation.", show_default=False),
    ] = None,
    plugins: PluginsOption = None,
) -> None:
    """List the installed rules, or print one rule's documentation and settings.

    Example:

        vmanalyze rules

        vmanalyze rules THP001
    """
    registry = _load(plugins)
    if code is not None:
        entry = registry.get(code)
        if entry is None:
            hint = " (see `vmanalyze rules`)" if registry.entries else ""
            fail(f"unknown rule code {code.strip().upper()!r}{hint}")
        typer.echo(render_rule(entry, level=1), nl=False)
        _report_errors(registry)
        return

    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(title=f"{len(registry)} rules" if len(registry) != 1 else "1 rule")
    for column in ("code", "name", "severity", "package", "version"):
        table.add_column(column, no_wrap=True)
    for entry in registry:
        severity = entry.rule.severity.value
        table.add_row(
            entry.code,
            entry.rule.name,
            f"[{_SEVERITY_STYLE[severity]}]{severity}[/]",
            entry.package,
            entry.version,
        )
    console.print(table)
    _report_errors(registry)


def register(app: typer.Typer) -> None:
    """Add the ``rules`` command to the ``vmanalyze`` app."""
    app.command("rules")(rules)
