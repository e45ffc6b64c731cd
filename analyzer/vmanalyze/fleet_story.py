"""The fleet's story: hosts grouped by root cause, and memory settings that drift.

Two pure functions over what a batch already has per input:

- :func:`root_cause` names one analysis' root cause: the first incident's root
  (``docs/story.md``), else its most severe warning or critical finding. The *key* groups
  hosts whose cause is the same problem in the same thing: the rule code plus the process
  name and command line, or the cgroup path, of the subject; the *label* says it for people
  (``THP001 thp-always-on-database-host: postgres``).
- :func:`drift` lists, within each host role, the hosts whose memory settings differ from
  the majority of that role: THP enabled/defrag, swappiness, overcommit memory/ratio,
  zone_reclaim_mode and the hugepage pool.

>>> [(r["host"], r["setting"], r["value"], r["majority"]) for r in drift([
...     {"host": "db1", "role": "database", "swappiness": 10},
...     {"host": "db2", "role": "database", "swappiness": 10},
...     {"host": "db3", "role": "database", "swappiness": 60},
... ])]
[('db3', 'swappiness', '60', '10')]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["DRIFT_SETTINGS", "RootCause", "drift", "group_by_root_cause", "root_cause"]

#: The host facts compared across a role (``vmanalyze.facts`` names).
DRIFT_SETTINGS = (
    "thp_enabled",
    "thp_defrag",
    "swappiness",
    "overcommit_memory",
    "overcommit_ratio",
    "zone_reclaim_mode",
    "hugepages_total",
)

_SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}
_DIGITS = re.compile(r"\d+")


class RootCause(dict[str, Any]):
    """``{"key", "label", "code", "name", "subject", "from_incident", "severity"}``."""


def _subject_key(subject: str, cmdline: str | None) -> tuple[str, str]:
    """(grouping key, human label) of a finding's subject.

    >>> _subject_key("process:5794:leaky-cache", "python3 /srv/cache.py")
    ('process:leaky-cache:python3 /srv/cache.py', 'leaky-cache (python3 /srv/cache.py)')
    >>> _subject_key("cgroup:/kubepods.slice/pod-1234.slice", None)
    ('cgroup:/kubepods.slice/pod-N.slice', 'cgroup /kubepods.slice/pod-1234.slice')
    """
    kind, _, rest = subject.partition(":")
    if kind == "process":
        comm = rest.split(":", 1)[1] if ":" in rest else rest
        line = " ".join((cmdline or "").split())
        label = f"{comm} ({line})" if line else comm
        return f"process:{comm}:{line}", label
    if kind == "cgroup":
        return f"cgroup:{_DIGITS.sub('N', rest)}", f"cgroup {rest}"
    if kind == "node":
        return "node", f"NUMA node {rest}"
    return kind, "host" if kind == "host" else subject


def root_cause(
    incidents: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    cmdlines: Mapping[int, str] | None = None,
) -> RootCause | None:
    """The root cause of one analysis from its JSON ``incidents`` and ``findings``.

    ``cmdlines``: pid -> command line, to tell "java" from "java" (same command line).
    ``None`` when there is no incident and no warning or critical finding.
    """
    chosen: Mapping[str, Any] | None = None
    from_incident = False
    if incidents:
        index = incidents[0]["root"].get("finding")
        if isinstance(index, int) and 0 <= index < len(findings):
            chosen, from_incident = findings[index], True
    if chosen is None:
        serious = [f for f in findings if _SEVERITY_RANK.get(f.get("severity", ""), 0) >= 2]
        if not serious:
            return None
        chosen = max(serious, key=lambda f: _SEVERITY_RANK[f["severity"]])
    subject = str(chosen.get("subject") or "host")
    pid = None
    if subject.startswith("process:"):
        part = subject.split(":")[1]
        pid = int(part) if part.isdigit() else None
    cmdline = (cmdlines or {}).get(pid) if pid is not None else None
    key, label = _subject_key(subject, cmdline)
    code, name = str(chosen.get("code")), str(chosen.get("name") or "")
    return RootCause(
        key=f"{code}|{key}",
        label=f"{code} {name}: {label}" if label != "host" else f"{code} {name}",
        code=code,
        name=name,
        subject=subject,
        from_incident=from_incident,
        severity=chosen.get("severity"),
    )


def group_by_root_cause(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``host``, ``input`` and ``root_key``/``root_label`` -> one group per root
    cause, most hosts first: ``{"label", "key", "hosts", "inputs", "host_names"}``.

    >>> group_by_root_cause([
    ...     {"host": "a", "input": "a1", "root_key": "THP001|host", "root_label": "THP001 x"},
    ...     {"host": "a", "input": "a2", "root_key": "THP001|host", "root_label": "THP001 x"},
    ...     {"host": "b", "input": "b1", "root_key": "THP001|host", "root_label": "THP001 x"},
    ...     {"host": "c", "input": "c1", "root_key": None, "root_label": None},
    ... ])
    [{'key': 'THP001|host', 'label': 'THP001 x', 'hosts': 2, 'inputs': 3, 'host_names': ['a', 'b']}]
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row.get("root_key")
        if not key:
            continue
        group = groups.setdefault(
            key, {"key": key, "label": row.get("root_label"), "hosts": set(), "inputs": 0}
        )
        group["hosts"].add(str(row.get("host")))
        group["inputs"] += 1
    out = []
    for group in groups.values():
        names = sorted(group.pop("hosts"))
        out.append({**group, "hosts": len(names), "inputs": group["inputs"], "host_names": names})
    out.sort(key=lambda g: (-g["hosts"], -g["inputs"], g["label"] or ""))
    return [{k: g[k] for k in ("key", "label", "hosts", "inputs", "host_names")} for g in out]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN: not captured
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def drift(hosts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Hosts whose settings differ from the majority of hosts with the same role.

    One row per differing (host, setting): ``host``, ``role`` (``None`` when unknown: such
    hosts are compared with each other), ``setting``, ``value``, ``majority`` (the most common
    value, only when more than half the role's hosts that reported the setting agree),
    ``majority_hosts``, ``role_hosts``. A setting a host did not report is not a difference.
    The latest row of a host wins when it appears several times.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for row in hosts:
        latest[str(row.get("host"))] = row
    by_role: dict[Any, list[Mapping[str, Any]]] = {}
    for row in latest.values():
        by_role.setdefault(row.get("role"), []).append(row)
    out: list[dict[str, Any]] = []
    for role, rows in by_role.items():
        if len(rows) < 3:  # a majority of two is no majority to drift from
            continue
        for setting in DRIFT_SETTINGS:
            values = {str(r.get("host")): _text(r.get(setting)) for r in rows}
            known = {h: v for h, v in values.items() if v is not None}
            if len(known) < 3:
                continue
            majority, count = Counter(known.values()).most_common(1)[0]
            if count * 2 <= len(known):
                continue
            for host, value in sorted(known.items()):
                if value != majority:
                    out.append(
                        {
                            "host": host,
                            "role": role,
                            "setting": setting,
                            "value": value,
                            "majority": majority,
                            "majority_hosts": count,
                            "role_hosts": len(known),
                        }
                    )
    out.sort(key=lambda r: (str(r["role"]), r["host"], DRIFT_SETTINGS.index(r["setting"])))
    return out
