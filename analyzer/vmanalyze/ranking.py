"""Which finding matters most: the order of the findings, and so the report's headline.

Findings are ranked by, in order:

1. **severity**: critical, warning, info;
2. **evidence of harm**: something was killed (``kill``), tasks stalled or the host paged
   (``stall``: memory stalls, compaction stalls, swapping, refaults, major faults), a
   measured shortage or trend (``measured``: low memory, growth, remote access), or a
   configuration alone (``config``). A finding states its harm in ``Finding.harm``; without
   it, :data:`RULE_HARM` gives the rule's usual one, and ``measured`` for rules it does not
   know (plug-in packs);
3. **cause before symptom**: a finding whose rule explains (:data:`EXPLAINS`) another finding
   of the same severity takes that symptom's harm, and comes before it (THP ``always``
   explains the AnonHugePages growth of the database it runs under; a cgroup limit explains
   the OOM kills and refaults inside it);
4. then the rule whose findings started earliest; a rule's own findings keep the order the
   rule gave them; the code decides only between rules whose findings started at the same
   moment: never the code alone.

>>> from vmanalyze.rule import Finding, Severity
>>> growth = Finding("grew", code="MEM002", severity=Severity.WARNING)
>>> thp = Finding("THP always", code="THP001", severity=Severity.WARNING)
>>> [f.code for f in rank([growth, thp])]
['THP001', 'MEM002']
>>> kill = Finding("killed", code="OOM001", severity=Severity.WARNING)
>>> [f.code for f in rank([thp, kill])]
['OOM001', 'THP001']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import pandas as pd

from vmanalyze.rule import Finding, Severity

__all__ = ["EXPLAINS", "HARM_RANK", "RULE_HARM", "Harm", "rank"]

Harm = Literal["kill", "stall", "measured", "config"]
HARM_RANK: Mapping[str, int] = {"kill": 3, "stall": 2, "measured": 1, "config": 0}

#: The usual harm of each built-in rule's findings (a finding may say otherwise).
RULE_HARM: Mapping[str, Harm] = {
    "OOM001": "kill",
    "PSI001": "stall",
    "SWP001": "stall",
    "THP002": "stall",
    "FRAG001": "stall",
    "FLT001": "stall",
    "CGR001": "stall",
    "DRT001": "stall",
    "PGC001": "stall",
    "SWP004": "stall",
    "RCL001": "stall",
    "ALLOC001": "stall",
    "HUNG001": "stall",
    "MEM001": "measured",
    "MEM002": "measured",
    "SWP002": "measured",
    "NUMA001": "measured",
    "NUMA002": "measured",
    "KMEM001": "measured",
    "SHM001": "measured",
    "MLK001": "measured",
    "THP001": "config",
    "OVC001": "config",
    "NUMA003": "config",
    "HPG001": "config",
    "SWP003": "config",
    "ALLOC002": "config",
}

#: cause -> the symptoms it explains (built-in rules).
EXPLAINS: Mapping[str, tuple[str, ...]] = {
    "THP001": ("MEM002", "THP002", "FRAG001"),
    "CGR001": ("OOM001", "SWP001", "FLT001", "PSI001", "MEM002", "PGC001", "SWP004"),
    "OVC001": ("OOM001",),
    "HPG001": ("MEM001", "OVC001", "SWP001", "OOM001"),
    "NUMA003": ("NUMA001", "NUMA002", "PSI001"),
    "NUMA002": ("NUMA001",),
    "MEM002": ("MEM001", "SWP002", "OOM001"),
    "PGC001": ("PSI001",),
    "SWP004": ("PSI001",),
    "SWP003": ("SWP001",),
    "SWP001": ("PSI001", "FLT001", "HUNG001"),
    "RCL001": ("PSI001", "HUNG001"),
    "ALLOC002": ("ALLOC001", "RCL001", "OOM001"),
    "FRAG001": ("PSI001", "ALLOC001"),
    "KMEM001": ("MEM001", "OOM001"),
    "SHM001": ("MEM001", "SWP002", "OOM001"),
    "MLK001": ("MEM001", "OOM001"),
}


def _harm(finding: Finding) -> int:
    harm = finding.harm or RULE_HARM.get(finding.code or "", "measured")
    return HARM_RANK.get(harm, 1)


def _severity(finding: Finding) -> int:
    return (finding.severity or Severity.INFO).rank


def rank(findings: Iterable[Finding]) -> list[Finding]:
    """The findings, most important first (see the module docstring)."""
    items = list(findings)
    present: dict[tuple[int, str], int] = {}
    began: dict[tuple[int, str], float] = {}
    for f in items:
        slot = (_severity(f), f.code or "")
        present[slot] = max(present.get(slot, -1), _harm(f))
        start = f.start.value if isinstance(f.start, pd.Timestamp) else float("inf")
        began[slot] = min(began.get(slot, float("inf")), start)

    def order(f: Finding) -> tuple[int, int, int, float, str]:
        sev, code = _severity(f), f.code or ""
        symptoms = [present[(sev, s)] for s in EXPLAINS.get(code, ()) if (sev, s) in present]
        harm = max([_harm(f), *symptoms])
        return (-sev, -harm, -int(bool(symptoms)), began[(sev, code)], code)

    return sorted(items, key=order)  # stable: a rule's own order is kept
