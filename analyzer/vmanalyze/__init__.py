"""vmanalyze: diagnose Linux memory problems from vmcollect bundles and sosreports.

Tables as pandas DataFrames, for notebooks:

>>> import vmanalyze
>>> ds = vmanalyze.load("bundle.tar.gz")  # doctest: +SKIP
"""

from typing import Any

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

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load",
    "Finding",
    "Rule",
    "RuleContext",
    "Setting",
    "Severity",
    "Skip",
    "Subject",
    "rule",
]


def load(path: Any, **kwargs: Any) -> Any:
    """Load a bundle, sosreport or captured directory: see :func:`vmanalyze.dataset.load`."""
    from vmanalyze.dataset import load as _load

    return _load(path, **kwargs)
