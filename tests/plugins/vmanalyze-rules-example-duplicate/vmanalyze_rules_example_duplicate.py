"""Broken on purpose: reuses the code EXA001 of vmanalyze-rules-example."""

from collections.abc import Iterator

from vmanalyze import Finding, RuleContext, rule


@rule(code="EXA001", name="swappiness-copy", severity="warning")
def swappiness_copy(ctx: RuleContext) -> Iterator[Finding]:
    """A second rule with code EXA001.

    ## What it does
    Yields one finding about the host.

    ## Why is this bad?
    Its code is taken.

    ## Example
    Any input.

    ## Remediation
    Pick a free code.

    ## References
    - docs/writing-rules.md
    """
    yield Finding(message="copy")


RULES = (swappiness_copy,)
