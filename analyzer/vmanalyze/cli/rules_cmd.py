"""``vmanalyze rules``: list the installed rules, or show one rule's documentation.

``vmanalyze rules SWP001``, ``vmanalyze rules swap-thrashing`` and ``vmanalyze rules SWP`` all
work: a rule is found by code, by name, or by a prefix of either. One match prints its
documentation; several print the matching rules' list.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vmanalyze.cli.common import run_guarded
from vmanalyze.cli.helpfmt import Command
from vmanalyze.cli.options import DebugOption, PluginsOption, VersionOption, fail
from vmanalyze.config import ConfigError, split_list
from vmanalyze.registry import RegisteredRule, Registry, discover
from vmanalyze.results import to_jsonable
from vmanalyze.ruledoc import render_rule

__all__ = ["find_rules", "register", "rules"]

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class RulesFormat(enum.StrEnum):
    text = "text"
    json = "json"


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


def find_rules(registry: Registry, query: str) -> list[RegisteredRule]:
    """The rules whose code or name is ``query`` (case-insensitive), else starts with it.

    An exact code or name wins over prefixes: ``THP001`` is one rule even if ``THP0010``
    existed.
    """
    wanted = query.strip().lower()
    exact = [e for e in registry if wanted in (e.code.lower(), e.rule.name.lower())]
    if exact:
        return exact
    return [
        e
        for e in registry
        if wanted and (e.code.lower().startswith(wanted) or e.rule.name.startswith(wanted))
    ]


def _as_dict(entry: RegisteredRule, *, full: bool) -> dict[str, Any]:
    rule = entry.rule
    row: dict[str, Any] = {
        "code": entry.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "package": entry.package,
        "version": entry.version,
        "requires": list(rule.requires),
        "optional": list(rule.optional),
    }
    if full:
        row["settings"] = [
            {
                "name": s.name,
                "default": to_jsonable(s.default),
                "type": getattr(s.type, "__name__", None) or type(s.default).__name__,
                "doc": s.doc,
            }
            for s in rule.settings
        ]
        row["documentation"] = render_rule(entry, level=1)
    return row


def _print_table(entries: list[RegisteredRule]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 200, markup=False, highlight=False)
    table = Table(title=f"{len(entries)} rules" if len(entries) != 1 else "1 rule")
    for column in ("code", "name", "severity", "package", "version"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        severity = entry.rule.severity.value
        table.add_row(
            entry.code,
            entry.rule.name,
            Text(severity, style=_SEVERITY_STYLE[severity]),
            entry.package,
            entry.version,
        )
    console.print(table)


def rules(
    query: Annotated[
        str | None,
        typer.Argument(
            metavar="RULE",
            help="A rule's code (SWP001), name (swap-thrashing) or a prefix of either (SWP, "
            "swap): one match prints its documentation, several print their list.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        RulesFormat,
        typer.Option("--format", "-f", metavar="FORMAT", help="Output format: text or json."),
    ] = RulesFormat.text,
    plugins: PluginsOption = None,
    version: VersionOption = False,
    debug: DebugOption = False,
) -> None:
    """List the installed rules, or print one rule's documentation and settings.

    \b
    Example:
        vmanalyze rules swap-thrashing
    """
    run_guarded(lambda: _rules(query, fmt, plugins))


def _rules(query: str | None, fmt: RulesFormat, plugins: str | None) -> None:
    registry = _load(plugins)
    entries = list(registry) if query is None else find_rules(registry, query)
    if query is not None and not entries:
        hint = " (see `vmanalyze rules`)" if registry.entries else ""
        fail(f"no rule with code, name or prefix {query.strip()!r}{hint}")
    single = query is not None and len(entries) == 1
    if fmt is RulesFormat.json:
        document: Any = (
            _as_dict(entries[0], full=True)
            if single
            else [_as_dict(e, full=False) for e in entries]
        )
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif single:
        typer.echo(render_rule(entries[0], level=1), nl=False)
    else:
        _print_table(entries)
    _report_errors(registry)


def register(app: typer.Typer) -> None:
    """Add the ``rules`` command to the ``vmanalyze`` app."""
    app.command("rules", cls=Command)(rules)
