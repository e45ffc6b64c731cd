"""vmreports: render an analysis as a self-contained HTML report (jinja2 templates)."""

from __future__ import annotations

from typing import Any

from vmreports.render import render_html

__all__ = ["render_html"]


def __getattr__(name: str) -> Any:  # pragma: no cover - keeps mypy's view of the package simple
    raise AttributeError(name)
