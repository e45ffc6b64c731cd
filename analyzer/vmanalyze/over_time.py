"""What a one-snapshot input (a sosreport, an Insights archive, a captured tree) cannot tell.

Rates, trends and stalls need the same counters read at several times: from one snapshot the
rules that measure them skip (``needs at least 2 samples``, ``swap rates need at least two
timestamped snapshots``...). :func:`needs_capture_over_time` names those rules, so that the
report and the terminal summary can say what is missing and how to get it: a vmcollect
capture while the problem shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vmanalyze.results import AnalysisResult

#: A skip reason that is about time: too few samples or snapshots, no interval between them.
_TIME_REASON = re.compile(r"\b(samples?|snapshots?|interval)\b", re.IGNORECASE)

#: How to take a capture over time (docs: README "For the customer: run the collector").
VMCOLLECT_HOWTO = (
    "run `python3 vmcollect.pyz --duration 30m --output /var/tmp/` on the host while the "
    "problem shows (a sample every 5 s; `vmcollect.pyz` is built by `make pyz`) and analyze "
    "the bundle it writes"
)


@dataclass(frozen=True)
class OverTime:
    """Rules a one-snapshot input could not evaluate, and why."""

    rules: tuple[tuple[str, str], ...]  # (code, skip reason)
    howto: str = VMCOLLECT_HOWTO

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.rules]


def needs_capture_over_time(result: AnalysisResult, sample_count: int) -> OverTime | None:
    """The rules skipped for want of a time series, when the input is one snapshot.

    ``None`` for an input with several samples, or when no rule needed more than one.
    """
    if sample_count > 1:
        return None
    rules = tuple(
        (status.code, status.reason or "")
        for status in sorted(result.rules, key=lambda s: s.code)
        if status.status == "skipped" and _TIME_REASON.search(status.reason or "")
    )
    return OverTime(rules) if rules else None
