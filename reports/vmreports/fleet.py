"""Render the fleet page of a batch (``fleet.html``): hosts x rules, one self-contained file.

The page has no external resource: its CSS and JavaScript are inline and its data is one
JSON document in a ``<script type="application/json">`` element, escaped by jinja2's
``tojson`` (``<``, ``>``, ``&`` and ``'`` become ``\\u003c``...), so text from an input
(a host name, a finding message) can never close the element or inject markup. Every
other value goes through jinja2's autoescape. The matrix is drawn, sorted and filtered in
the page by vanilla JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["render_fleet", "rule_counts"]

_env = Environment(
    loader=PackageLoader("vmreports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

_SEVERITIES = ("critical", "warning", "info")


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
