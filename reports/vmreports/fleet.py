"""Render the fleet page of a batch (``fleet.html``): hosts x rules, one self-contained file.

The page has no external resource: its CSS and JavaScript are inline and its data is one
JSON document in a ``<script type="application/json">`` element, escaped by jinja2's
``tojson`` (``<``, ``>``, ``&`` and ``'`` become ``\\u003c``...), so text from an input
(a host name, a finding message) can never close the element or inject markup. Every
other value goes through jinja2's autoescape. The matrix is drawn, sorted and filtered in
the page by vanilla JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["page_row", "render_fleet", "rule_counts"]

_env = Environment(
    loader=PackageLoader("vmreports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

_SEVERITIES = ("critical", "warning", "info")
_RANK = {"info": 0, "warning": 1, "critical": 2}
_REPORT = re.compile(r"reports/[A-Za-z0-9_][A-Za-z0-9._-]*\.html")


def _link(report: Any) -> str | None:
    """A report link for fleet.html: only ``reports/<safe name>.html``, else none.

    >>> _link("reports/db01-x.html"), _link("javascript:alert(1)"), _link("reports/../x.html")
    ('reports/db01-x.html', None, None)
    """
    return report if isinstance(report, str) and _REPORT.fullmatch(report) else None


def page_row(state: Mapping[str, Any], *, error: str | None, worst: str | None) -> dict[str, Any]:
    """One input's row of the page, from its stored result (a resume state's fields).

    ``cells`` holds, per rule code, the input's worst finding severity, else ``ok``,
    ``skipped`` or ``error``; ``error`` is shown next to the input's path, so without it.

    >>> row = page_row({"input_hash": "ab" * 32, "status": "ok",
    ...     "rules": [{"code": "A", "status": "ran"}, {"code": "B", "status": "skipped",
    ...     "reason": "no data"}], "findings": [{"code": "A", "severity": "warning"}]},
    ...     error=None, worst="warning")
    >>> row["cells"], row["counts"], row["reasons"]
    ({'A': 'warning', 'B': 'skipped'}, {'A': 1}, {'B': 'no data'})
    """
    cells: dict[str, str] = {}
    for status in state.get("rules") or []:
        cells[str(status.get("code"))] = {"ran": "ok"}.get(str(status.get("status")), "")
        if status.get("status") in ("skipped", "error"):
            cells[str(status.get("code"))] = str(status.get("status"))
    counts: dict[str, int] = {}
    findings = state.get("findings") or []
    for finding in findings:
        code = str(finding.get("code"))
        severity = str(finding.get("severity") or "info").strip().lower()
        counts[code] = counts.get(code, 0) + 1
        current = cells.get(code)
        if current not in _RANK or _RANK[severity] > _RANK[str(current)]:
            cells[code] = severity
    return {
        "id": str(state.get("input_hash") or "")[:12] or None,
        "host": state.get("host"),
        "input": state.get("name") or state.get("input"),
        "path": state.get("input"),
        "kind": state.get("kind"),
        "start": state.get("start"),
        "end": state.get("end"),
        "samples": state.get("samples"),
        "status": state.get("status"),
        "error": error,
        "report": _link(state.get("report")),
        "worst": worst,
        "findings": len(findings),
        "cells": cells,
        "counts": counts,
        "reasons": {
            str(r.get("code")): r.get("reason")
            for r in state.get("rules") or []
            if r.get("status") != "ran"
        },
    }


def rule_counts(
    inputs: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per rule: inputs whose worst finding is critical/warning/info, findings, errors, skips.

    These count inputs (a host captured twice counts twice); ``hosts`` counts the distinct
    hosts with a finding of the rule, ``inputs`` the inputs with one. Rules of the catalog
    come first (in its order), then codes seen only in the inputs.
    """
    catalog = {str(r["code"]): dict(r) for r in rules}
    codes = list(catalog)
    for row in inputs:
        for code in row.get("cells") or {}:
            if code not in catalog:
                catalog[code] = {"code": code, "name": "", "severity": "", "summary": ""}
                codes.append(code)
    out = []
    for code in codes:
        entry = {**catalog[code], "critical": 0, "warning": 0, "info": 0}
        entry.update(findings=0, ok=0, skipped=0, error=0)
        hosts = set()
        for row in inputs:
            cell = (row.get("cells") or {}).get(code)
            if cell in entry:
                entry[cell] += 1
            if cell in _SEVERITIES:
                hosts.add(row.get("host"))
            entry["findings"] += int((row.get("counts") or {}).get(code, 0))
        entry["inputs"] = sum(entry[s] for s in _SEVERITIES)
        entry["hosts"] = len(hosts)
        out.append(entry)
    return out


def render_fleet(
    *,
    inputs: Sequence[Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]],
    root_causes: Sequence[Mapping[str, Any]] = (),
    drift: Sequence[Mapping[str, Any]] = (),
    generated: str = "",
    version: str = "",
    title: str = "vmtriage fleet",
) -> str:
    """The fleet page.

    ``inputs``: one mapping per input with ``id``, ``host``, ``input``, ``start``, ``end``,
    ``status`` (``ok``/``failed``), ``error``, ``report`` (a relative link), ``worst``,
    ``findings`` (count) and ``cells`` (rule code -> ``critical``/``warning``/``info``/
    ``ok``/``skipped``/``error``). ``rules``: the selected rules (``code``, ``name``,
    ``severity``, ``summary``). ``root_causes``: hosts grouped by root cause (``label``,
    ``hosts``, ``inputs``, ``host_names``), most hosts first; ``drift``: hosts whose memory
    settings differ from their role's majority (``host``, ``role``, ``setting``, ``value``,
    ``majority``, ``majority_hosts``, ``role_hosts``).
    """
    counts = rule_counts(inputs, rules)
    data = {
        "inputs": [dict(row) for row in inputs],
        "rules": counts,
        "generated": generated,
        "version": version,
    }
    ok = [row for row in inputs if row.get("status") == "ok"]
    failed = [row for row in inputs if row.get("status") != "ok"]
    worst: dict[str, int] = {s: 0 for s in _SEVERITIES}
    for row in ok:
        if row.get("worst") in worst:
            worst[str(row["worst"])] += 1
    return _env.get_template("fleet.html.j2").render(
        title=title,
        data=data,
        counts=counts,
        ok=ok,
        failed=failed,
        worst=worst,
        hosts=len({row.get("host") for row in ok}),
        root_causes=list(root_causes),
        drift=list(drift),
        generated=generated,
        version=version,
    )
