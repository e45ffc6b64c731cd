"""Broken on purpose: registered under prefix BAD, but its rule is OOPS001."""

from collections.abc import Iterator

from vmanalyze import Finding, RuleContext, rule


@rule(code="OOPS001", name="always-fires", severity="info")
def always_fires(ctx: RuleContext) -> Iterator[Finding]:
    """Fires on every input.

    ## What it does
    Yields one finding about the host.

    ## Why is this bad?
    It is a test rule.

    ## Example
    Any input.

    ## Remediation
    None needed.

    ## References
    - tests/rules_api/test_plugins_installed.py
    """
    yield Finding(message="always")


RULES = (always_fires,)
