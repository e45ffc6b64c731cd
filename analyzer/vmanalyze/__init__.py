"""vmanalyze."""

from vmanalyze.rule import (
    Finding,
    Rule,
    RuleContext,
    Setting,
    Severity,
    Skip,
    Subject,
    rule,
)

__all__ = ["Finding", "Rule", "RuleContext", "Setting", "Severity", "Skip", "Subject", "rule"]
