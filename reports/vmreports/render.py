"""Render an analysis to one self-contained HTML file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from vmanalyze.analysis import Analysis

_env = Environment(
    loader=PackageLoader("vmreports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render_html(analysis: Analysis) -> str:
    """The report of one host (a first version: findings and host facts)."""
    return _env.get_template("report.html.j2").render(
        host=analysis.dataset.host,
        findings=analysis.result.findings,
        rules=analysis.result.rules,
    )
