"""Which finding matters most: the order of the findings, and so the report's headline.

Findings are ranked by, in order:

1. **severity**: critical, warning, info;
2. **evidence of harm**: something was killed (``kill``), tasks stalled or the host paged
   (``stall``: memory stalls, compaction stalls, swapping, refaults, major faults), a
   measured shortage or trend (``measured``: low memory, growth, remote access), or a
   configuration alone (``config``). A finding states its harm in ``Finding.harm``; without
   it, its rule's usual one (``@rule(harm=...)``, ``measured`` by default);
3. **cause before symptom**: a finding whose rule explains (``@rule(explains=...)``) another
   finding of the same severity takes that symptom's harm, and comes before it (THP
   ``always`` explains the AnonHugePages growth of the database it runs under; a cgroup limit
   explains the OOM kills and refaults inside it);
4. then the rule whose findings started earliest; a rule's own findings keep the order the
   rule gave them; the code decides only between rules whose findings started at the same
   moment: never the code alone.

What a rule's findings weigh is declared by the rule: this module knows no rule pack.

>>> from vmanalyze.registry import discover
>>> from vmanalyze.rule import Finding, Rule, Severity
>>> rules = discover(only=()).rules
>>> growth = Finding("grew", code="MEM002", severity=Severity.WARNING)
>>> thp = Finding("THP always", code="THP001", severity=Severity.WARNING)
>>> [f.code for f in rank([growth, thp], rules)]
['THP001', 'MEM002']
>>> kill = Finding("killed", code="OOM001", severity=Severity.WARNING)
>>> [f.code for f in rank([thp, kill], rules)]
['OOM001', 'THP001']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import pandas as pd

from vmanalyze.rule import Finding, Rule, Severity

__all__ = ["HARM_RANK", "Harm", "rank"]

Harm = Literal["kill", "stall", "measured", "config"]
HARM_RANK: Mapping[str, int] = {"kill": 3, "stall": 2, "measured": 1, "config": 0}


def _severity(finding: Finding) -> int:
    return (finding.severity or Severity.INFO).rank


def rank(findings: Iterable[Finding], rules: Iterable[Rule] = ()) -> list[Finding]:
    """The findings, most important first (see the module docstring); ``rules``: the rules
    that made them (their declared harm and what they explain)."""
    items = list(findings)
    by_code = {r.code: r for r in rules}

    def _harm(finding: Finding) -> int:
        declared = by_code.get(finding.code or "")
        harm = finding.harm or (declared.harm if declared is not None else "measured")
        return HARM_RANK.get(harm, 1)

    def _explains(code: str) -> tuple[str, ...]:
        declared = by_code.get(code)
        return declared.explains if declared is not None else ()

    present: dict[tuple[int, str], int] = {}
    began: dict[tuple[int, str], float] = {}
    for f in items:
        slot = (_severity(f), f.code or "")
        present[slot] = max(present.get(slot, -1), _harm(f))
        start = f.start.value if isinstance(f.start, pd.Timestamp) else float("inf")
        began[slot] = min(began.get(slot, float("inf")), start)

    def order(f: Finding) -> tuple[int, int, int, float, str]:
        sev, code = _severity(f), f.code or ""
        symptoms = [present[(sev, s)] for s in _explains(code) if (sev, s) in present]
        harm = max([_harm(f), *symptoms])
        return (-sev, -harm, -int(bool(symptoms)), began[(sev, code)], code)

    return sorted(items, key=order)  # stable: a rule's own order is kept
