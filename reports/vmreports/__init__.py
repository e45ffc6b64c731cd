"""vmreports: render an analysis as one self-contained HTML report.

>>> from vmreports import render_html
>>> html = render_html(analysis)   # doctest: +SKIP  (analysis = vmanalyze.analysis.analyze(...))
"""

from __future__ import annotations

from vmreports.render import build_view, render_html, render_view

__all__ = ["build_view", "render_html", "render_view"]
