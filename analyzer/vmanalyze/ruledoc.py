"""A rule's documentation as Markdown, from its declaration.

``vmanalyze rules CODE``, ``docs/rules.md`` (:mod:`vmanalyze.docs_gen`) and the report's rule
docs all render a rule with :func:`render_rule`. It needs the rule and its package only, not
plugin discovery, so the report can use it (docs/architecture.md).
"""

from __future__ import annotations

import json

from vmanalyze.results import RegisteredRule
from vmanalyze.rule import Rule, Setting, SettingValue

__all__ = ["cell", "render_rule", "toml_value"]


def cell(text: str) -> str:
    """Text for one Markdown table cell: on one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def toml_value(value: SettingValue) -> str:
    """A setting value as TOML (``true``, ``500.0``, ``"database"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _settings_section(rule: Rule, hashes: str) -> list[str]:
    if not rule.settings:
        return []
    lines = [
        f"{hashes} Settings",
        "",
        "| Setting | Default | Type | Description |",
        "| --- | --- | --- | --- |",
    ]
    setting: Setting
    for setting in rule.settings:
        lines.append(
            f"| `{setting.name}` | `{toml_value(setting.default)}` | "
            f"{setting.value_type.__name__} | {cell(setting.doc)} |"
        )
    lines += ["", "Override in `vmanalyze.toml`:", "", "```toml", f"[rules.{rule.code}]"]
    lines += [f"{s.name} = {toml_value(s.default)}" for s in rule.settings]
    lines += ["```", ""]
    return lines


def render_rule(entry: RegisteredRule | Rule, *, level: int = 1, version: bool = True) -> str:
    """A rule's full documentation as Markdown, its title at heading ``level``.

    Metadata (severity, package, tables), the docstring sections, and a ``Settings`` section
    (before ``References``) listing each setting with its default, type and doc.
    """
    rule = entry.rule if isinstance(entry, RegisteredRule) else entry
    title = "#" * level
    sub = "#" * (level + 1)
    lines = [f"{title} {rule.name} ({rule.code})", "", rule.summary, ""]
    lines.append(f"- Severity: {rule.severity.value}")
    if isinstance(entry, RegisteredRule):
        package = f"{entry.package} {entry.version}" if version else entry.package
        lines.append(f"- Package: {package}")
    tables = ", ".join(f"`{t}`" for t in rule.requires) or "none"
    lines.append(f"- Requires tables: {tables}")
    if rule.optional:
        lines.append("- Uses if present: " + ", ".join(f"`{t}`" for t in rule.optional))
    lines.append("")
    settings_done = False
    for heading, body in rule.sections.items():
        if heading == "References" and not settings_done:
            lines += _settings_section(rule, sub)
            settings_done = True
        lines += [f"{sub} {heading}", "", body, ""]
    if not settings_done:
        lines += _settings_section(rule, sub)
    return "\n".join(lines).rstrip() + "\n"
