"""vmreports: render an analysis as one self-contained HTML report.

With ``analysis`` from :func:`vmanalyze.analysis.analyze`:

>>> from vmreports import render_html
>>> html = render_html(analysis)  # doctest: +SKIP
"""

from __future__ import annotations

from vmreports.render import build_view, render_html, render_view

__all__ = ["build_view", "render_html", "render_view"]
