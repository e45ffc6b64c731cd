"""What an analysis could check, and what it could not, in words for a person.

Every output (the terminal summary, the report's banner, the JSON's ``coverage`` object) says
how many rules could not run and why, from one :class:`Coverage`:
"11 of 17 rules could not run: one snapshot, no process table".

"No memory problem found" is only said when every rule of :data:`CORE_RULES` ran: the rules
that see the common memory problems. Without them a quiet result means "not checked", not
"healthy". The set is this project's choice, one rule per common problem a memory triage
must rule out (docs/report.md lists it):

- ``MEM001`` low available memory (the host is short of memory),
- ``OOM001`` OOM kills (something was killed),
- ``SWP001`` swap thrashing (the host pages in and out),
- ``PSI001`` memory pressure stalls (tasks waited on memory).

>>> from vmanalyze.results import RuleStatus
>>> rows = [RuleStatus("MEM001", "ran"), RuleStatus("OOM001", "ran"),
...         RuleStatus("SWP001", "skipped", "swap rates need at least two snapshots of vmstat"),
...         RuleStatus("MEM002", "skipped", "missing tables: process_samples"),
...         RuleStatus("PSI001", "skipped", "empty tables: pressure_memory")]
>>> c = coverage(rows)
>>> c.sentence
'3 of 5 rules could not run: one snapshot, no process table, no PSI'
>>> c.core_ran, c.core_missing
(False, ('PSI001', 'SWP001'))
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CORE_RULES", "Coverage", "coverage", "short_reason"]

CORE_RULES: tuple[str, ...] = ("MEM001", "OOM001", "PSI001", "SWP001")

#: Table names in words (docs/tables.md).
_TABLE_WORDS = {
    "process_samples": "no process table",
    "processes": "no process table",
    "pid_stat": "no process table",
    "pid_status": "no process table",
    "pressure_memory": "no PSI",
    "oom_events": "no kernel log",
    "sys_node_numastat": "no NUMA counters",
    "sys_node_meminfo": "no NUMA counters",
    "numa_topology": "no NUMA topology",
    "cgroup_memory": "no memory cgroups",
    "pid_numa_maps": "no numa_maps",
}


class StatusRow(Protocol):
    """What coverage reads of a rule's status (:class:`vmanalyze.results.RuleStatus`)."""

    @property
    def code(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...


def short_reason(reason: str | None, status: str = "skipped") -> str:
    """A skip or error reason in a few words, for grouping.

    >>> short_reason("missing tables: vmstat, zoneinfo")
    'no vmstat'
    >>> short_reason("swap rates need at least two timestamped snapshots of vmstat")
    'one snapshot'
    >>> short_reason("needs at least 2 samples, the input has 1")
    'needs at least 2 samples, the input has 1'
    >>> short_reason("needs at least 2 samples, the input has 1 sample")
    'one snapshot'
    >>> short_reason("the host has 1 NUMA node: no remote memory")
    'one NUMA node'
    >>> short_reason("ValueError: boom", "error")
    'rule error'
    """
    if status == "error":
        return "rule error"
    text = reason or "no reason given"
    match = re.match(r"(?:missing|empty) tables: ([\w, ]+)", text)
    if match:
        first = match.group(1).split(",")[0].strip()
        return _TABLE_WORDS.get(first, f"no {first}")
    if re.search(
        r"single snapshot|one snapshot|\btwo\b[\w ]*snapshots|the input has 1 (sample|snapshot)",
        text,
    ):
        return "one snapshot"
    if re.search(r"has 1 NUMA node", text):
        return "one NUMA node"
    return text.split(";")[0].strip().rstrip(".")


@dataclass(frozen=True)
class Coverage:
    """How many rules ran, which did not and why (reasons grouped, most common first)."""

    total: int
    ran: int
    not_run: tuple[tuple[str, str], ...]  # (code, short reason)
    core_missing: tuple[str, ...]

    @property
    def core_ran(self) -> bool:
        """Whether every rule of :data:`CORE_RULES` ran."""
        return not self.core_missing

    @property
    def reasons(self) -> list[str]:
        counts = Counter(reason for _, reason in self.not_run)
        return [reason for reason, _ in counts.most_common()]

    @property
    def sentence(self) -> str:
        """``"11 of 17 rules could not run: one snapshot, no process table"`` or
        ``"all 17 rules ran"``."""
        if not self.not_run:
            return f"all {self.total} rules ran"
        shown = self.reasons[:4]
        more = len(self.reasons) - len(shown)
        tail = f" and {more} more reasons" if more > 0 else ""
        return f"{len(self.not_run)} of {self.total} rules could not run: {', '.join(shown)}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": self.total,
            "ran": self.ran,
            "not_run": [{"code": code, "why": why} for code, why in self.not_run],
            "summary": self.sentence,
            "core_rules": list(CORE_RULES),
            "core_rules_missing": list(self.core_missing),
        }


def coverage(statuses: Iterable[StatusRow]) -> Coverage:
    """The :class:`Coverage` of an analysis's rule status rows."""
    rows = list(statuses)
    not_run = tuple(
        (row.code, short_reason(row.reason, row.status)) for row in rows if row.status != "ran"
    )
    ran_codes = {row.code for row in rows if row.status == "ran"}
    missing = tuple(code for code in sorted(CORE_RULES) if code not in ran_codes)
    return Coverage(len(rows), len(ran_codes), not_run, missing)
