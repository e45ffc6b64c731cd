"""EXA001 high-swappiness."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, rule


@rule(
    code="EXA001",
    name="high-swappiness",
    severity=Severity.INFO,
    requires=("sysctl_vm",),
    settings=[
        Setting(
            "max_swappiness",
            60,
            "Highest vm.swappiness accepted without a finding (the kernel default is 60).",
        ),
        Setting(
            "strict_roles",
            "database",
            "Comma-separated host roles for which a high swappiness is a warning.",
        ),
    ],
)
def high_swappiness(ctx: RuleContext) -> Iterator[Finding]:
    """vm.swappiness is above the kernel default, so anonymous memory is swapped out early.

    ## What it does
    Reads `vm.swappiness` from the `sysctl_vm` table (columns `name`, `value`; the last
    value wins when it was captured several times) and flags a value above
    `max_swappiness`.

    ## Why is this bad?
    A high swappiness makes reclaim prefer swapping anonymous pages over dropping page
    cache. Application heaps and database buffers then go to swap while cold file pages
    stay in memory, and every access to them is a major fault.

    ## Example
    `sysctl_vm` rows: `name=swappiness, value=100` gives
    "vm.swappiness is 100, above 60".

    ## Remediation
    Set `vm.swappiness` to 60 or lower (10 is common for database hosts):
    `sysctl -w vm.swappiness=10`, and persist it in `/etc/sysctl.d/`.

    ## References
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#swappiness
    """
    sysctl = ctx.tables["sysctl_vm"]
    names = sysctl["name"].astype(str).str.removeprefix("vm.")
    rows = sysctl[names == "swappiness"]
    if rows.empty:
        return
    value = pd.to_numeric(rows["value"], errors="coerce").dropna()
    if value.empty:
        return
    swappiness = int(value.iloc[-1])
    limit = int(ctx.settings["max_swappiness"])
    if swappiness <= limit:
        return
    strict_roles = {r.strip() for r in str(ctx.settings["strict_roles"]).split(",")}
    raised = ctx.host_role in strict_roles
    yield Finding(
        subject="host",
        message=f"vm.swappiness is {swappiness}, above {limit}",
        evidence={"swappiness": swappiness, "max_swappiness": limit},
        severity=Severity.WARNING if raised else None,
        severity_reason=f"host role is {ctx.host_role}" if raised else None,
    )
