"""Builders shared by the rule-framework tests: rules, fake entry points, tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from vmanalyze import Rule, RuleContext, Setting, Severity, rule
from vmanalyze.rule import RuleOutput

DOC = """Something is wrong with the host.

## What it does
Checks something.

## Why is this bad?
Because.

## Example
A table row.

## Remediation
Fix it like this.

## References
- https://docs.kernel.org/admin-guide/sysctl/vm.html
"""


def make_rule(
    code: str = "TST001",
    *,
    name: str = "test-problem",
    severity: Severity | str = Severity.WARNING,
    requires: str | Iterable[str] = (),
    optional: str | Iterable[str] = (),
    settings: Iterable[Setting] = (),
    body: Callable[[RuleContext], RuleOutput] | None = None,
) -> Rule:
    """A rule with a valid docstring whose function is ``body`` (default: no findings)."""

    def function(ctx: RuleContext) -> RuleOutput:
        return body(ctx) if body is not None else None

    function.__doc__ = DOC
    return rule(
        code=code,
        name=name,
        severity=severity,
        requires=requires,
        optional=optional,
        settings=tuple(settings),
    )(function)


@dataclass(frozen=True)
class FakeDist:
    name: str
    version: str


@dataclass(frozen=True)
class FakeEntryPoint:
    """An entry point of group vmanalyze.rules whose load() returns ``target`` or raises."""

    name: str
    value: str
    dist: FakeDist | None
    target: Any = None
    error: BaseException | None = None

    def load(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.target


def entry_point(
    name: str,
    target: Any = None,
    *,
    package: str = "vmanalyze-rules-acme",
    version: str = "1.2.0",
    error: BaseException | None = None,
) -> FakeEntryPoint:
    module = package.replace("-", "_")
    return FakeEntryPoint(name, f"{module}:{name}_RULES", FakeDist(package, version), target, error)


def vmstat_table(majflt: list[int], *, step_s: int = 10) -> pd.DataFrame:
    ts = pd.date_range("2026-11-26 14:00:00", periods=len(majflt), freq=f"{step_s}s", tz="UTC")
    return pd.DataFrame({"ts": ts, "pgmajfault": majflt})
