"""Broken on purpose: its rule names a chart ("pie") that the report does not draw."""

from collections.abc import Iterator

from vmanalyze import Finding, RuleContext, rule


@rule(code="BCH001", name="pie-chart", severity="info", chart="pie")
def pie_chart(ctx: RuleContext) -> Iterator[Finding]:
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
    - tests/rules_api/test_plugin_packs.py
    """
    yield Finding(message="always")


RULES = (pie_chart,)
