"""Run the selected rules over the tables and collect their findings.

``run(tables, rules, config)`` calls every rule the configuration selects, in code order:

- a rule whose required tables are absent or empty is ``skipped`` (``missing tables:
  vmstat``) and never called (insights-core's dependency check);
- a rule that raises :class:`~vmanalyze.rule.Skip` is ``skipped`` with its reason;
- a rule that raises anything else, returns something that is not findings, or yields an
  invalid finding (unserialisable evidence, a foreign code) is ``error`` with the exception
  type and message; the traceback is kept for ``--verbose``. The other rules still run;
- otherwise it ``ran``, and its findings get the rule's code and name, its severity unless
  the finding overrides it, and its ``## Remediation`` section unless the finding has one.

Findings are ranked by :func:`vmanalyze.ranking.rank`: severity, then evidence of harm, causes
before the symptoms they explain; never by code order alone. Then the packs'
event sources and link types compose the findings into incidents (:mod:`vmanalyze.story`),
kept in ``AnalysisResult.story``.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from vmanalyze.config import Config
from vmanalyze.facts import HostFacts, count_samples
from vmanalyze.ranking import rank
from vmanalyze.registry import Registry
from vmanalyze.results import AnalysisResult, RuleStatus, to_jsonable
from vmanalyze.rule import Finding, Rule, RuleContext, Skip
from vmanalyze.story import build as build_story

__all__ = ["AnalysisResult", "RuleStatus", "run"]


def _usable(df: object) -> bool:
    return isinstance(df, pd.DataFrame) and not df.empty


def host_facts(tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The host facts of the ``host`` table (:class:`~vmanalyze.facts.HostFacts`) as a dict;
    absent facts are ``None``, never NaN."""
    return HostFacts.from_tables(tables).as_dict()


def _missing(rule: Rule, tables: Mapping[str, pd.DataFrame]) -> str | None:
    absent = [t for t in rule.requires if not isinstance(tables.get(t), pd.DataFrame)]
    empty = [t for t in rule.requires if t not in absent and not _usable(tables[t])]
    parts = []
    if absent:
        parts.append("missing tables: " + ", ".join(absent))
    if empty:
        parts.append("empty tables: " + ", ".join(empty))
    return "; ".join(parts) or None


def _collect(output: object) -> list[Finding] | Skip:
    """The findings of one call (iterating a generator runs the rule's body)."""
    if output is None:
        return []
    if isinstance(output, Finding | Skip):
        return [output] if isinstance(output, Finding) else output
    if isinstance(output, str | bytes | Mapping) or not isinstance(output, Iterable):
        raise TypeError(f"rule returned {type(output).__name__}; return or yield Finding objects")
    findings: list[Finding] = []
    for item in output:
        if isinstance(item, Skip):
            return item
        if not isinstance(item, Finding):
            raise TypeError(f"rule yielded {type(item).__name__}; yield Finding objects")
        findings.append(item)
    return findings


def _complete(rule: Rule, finding: Finding) -> Finding:
    if finding.code not in (None, rule.code):
        raise ValueError(f"finding has code {finding.code}, but the rule is {rule.code}")
    if finding.severity not in (None, rule.severity) and not finding.severity_reason:
        raise ValueError(
            f"finding changes the severity to {finding.severity} without severity_reason"
        )
    to_jsonable(finding.evidence)  # raises TypeError now, naming the rule, not at output time
    return dataclasses.replace(
        finding,
        code=rule.code,
        name=rule.name,
        severity=finding.severity or rule.severity,
        severity_reason=finding.severity_reason if finding.severity else None,
        remediation=finding.remediation or rule.remediation,
    )


def _run_one(
    rule: Rule,
    tables: Mapping[str, pd.DataFrame],
    config: Config,
    host: Mapping[str, Any],
    host_role: str | None,
    sample_count: int,
) -> tuple[RuleStatus, list[Finding]]:
    missing = _missing(rule, tables)
    if missing:
        return RuleStatus(rule.code, "skipped", missing), []
    started = time.perf_counter()
    try:
        ctx = RuleContext(
            rule=rule,
            tables={
                name: tables[name].copy(deep=False)  # copy-on-write: the rule can't alter ours
                for name in (*rule.requires, *rule.optional)
                if isinstance(tables.get(name), pd.DataFrame)
            },
            settings=config.settings_for(rule),
            host=host,
            host_role=host_role,
            sample_count=sample_count,
        )
        outcome = _collect(rule.function(ctx))
        if isinstance(outcome, Skip):
            elapsed = time.perf_counter() - started
            return RuleStatus(rule.code, "skipped", outcome.reason, duration_s=elapsed), []
        findings = [_complete(rule, f) for f in outcome]
    except Skip as skip:
        elapsed = time.perf_counter() - started
        return RuleStatus(rule.code, "skipped", skip.reason, duration_s=elapsed), []
    except Exception as exc:
        elapsed = time.perf_counter() - started
        reason = f"{type(exc).__name__}: {exc}"
        return (
            RuleStatus(rule.code, "error", reason, traceback.format_exc(), elapsed),
            [],
        )
    elapsed = time.perf_counter() - started
    return RuleStatus(rule.code, "ran", None, None, elapsed, len(findings)), findings


def run(
    tables: Mapping[str, pd.DataFrame],
    rules: Registry | Iterable[Rule],
    config: Config | None = None,
    *,
    host: Mapping[str, Any] | None = None,
    sample_count: int | None = None,
) -> AnalysisResult:
    """Run the rules ``config`` selects over ``tables`` (table name -> DataFrame).

    ``rules``: a :class:`~vmanalyze.registry.Registry` (its load errors become ``error``
    rows, coded by pack prefix) or rules given directly. ``config`` defaults to every rule
    with default settings; it is validated against the rules first
    (:class:`~vmanalyze.config.ConfigError`). ``host``: host facts (default: the first row
    of the ``host`` table). ``sample_count``: default
    :func:`~vmanalyze.facts.count_samples` of the tables given (a slice of an input's tables
    counts the samples it holds).
    """
    registry = rules if isinstance(rules, Registry) else Registry.from_rules(rules)
    config = config or Config()
    config.validate(registry.rules, prefixes=registry.prefixes, failed=registry.failed_prefixes())
    typed = HostFacts.from_mapping(host) if host is not None else HostFacts.from_tables(tables)
    facts = dict(host) if host is not None else typed.as_dict()
    role = config.host_role
    if role is None and isinstance(facts.get("role"), str):
        role = facts["role"]
    count = sample_count if sample_count is not None else count_samples(tables)

    statuses = [RuleStatus(e.entry_point, "error", e.message, e.traceback) for e in registry.errors]
    findings: list[Finding] = []
    for rule in registry.rules:
        if not config.is_selected(rule.code):
            continue
        status, found = _run_one(rule, tables, config, facts, role, count)
        statuses.append(status)
        findings.extend(found)
    findings = rank(findings, registry.rules)
    statuses.sort(key=lambda s: s.code)
    story = build_story(
        tables,
        findings,
        link_types=registry.link_types,
        event_sources=registry.event_sources,
        host=facts,
    )
    return AnalysisResult(
        tuple(findings),
        tuple(statuses),
        registry.errors,
        story,
        registered=registry.entries,
        host=typed,
        sample_count=count,
    )
