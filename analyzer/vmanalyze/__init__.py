"""vmanalyze: diagnose Linux memory problems from vmcollect bundles and sosreports.

Tables as pandas DataFrames, for notebooks:

>>> import vmanalyze
>>> ds = vmanalyze.load("bundle.tar.gz")  # doctest: +SKIP

This package's namespace is also **the public API of rule packs** (docs/writing-rules.md,
docs/architecture.md): a rule pack, the built-in ``vmrules`` included, imports from
``vmanalyze`` only, never from its modules (an import-linter contract checks it). It holds
the rule API (:mod:`vmanalyze.rule`), the host facts, counter rates and PSI stall shares, the
range parser and the
story API (event sources and link types, :mod:`vmanalyze.story`). The names beyond the rule
API are imported when first used, so ``import vmanalyze`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vmanalyze.rule import (
    CHARTS,
    Finding,
    Rule,
    RuleContext,
    Setting,
    Severity,
    Skip,
    Subject,
    rule,
)
from vmanalyze.version import __version__

if TYPE_CHECKING:
    from vmanalyze.facts import HostFacts as HostFacts
    from vmanalyze.parsers._common import parse_ranges as parse_ranges
    from vmanalyze.rates import counter_rates as counter_rates
    from vmanalyze.rates import stall_pct as stall_pct
    from vmanalyze.story import Because as Because
    from vmanalyze.story import Event as Event
    from vmanalyze.story import EventSource as EventSource
    from vmanalyze.story import LinkType as LinkType
    from vmanalyze.story import Node as Node
    from vmanalyze.story import StoryContext as StoryContext
    from vmanalyze.story import episodes as episodes
    from vmanalyze.story import event_source as event_source
    from vmanalyze.story import link as link
    from vmanalyze.story import overlap_s as overlap_s
    from vmanalyze.units import fmt_bytes as fmt_bytes

#: The story API (event sources and link types, docs/story.md).
_STORY = (
    "Because",
    "Event",
    "EventSource",
    "LinkType",
    "Node",
    "StoryContext",
    "episodes",
    "event_source",
    "link",
    "overlap_s",
)
#: Public names imported on first use: name -> the module that defines it.
_LAZY = {
    "HostFacts": "vmanalyze.facts",
    "counter_rates": "vmanalyze.rates",
    "stall_pct": "vmanalyze.rates",
    "parse_ranges": "vmanalyze.parsers._common",
    "fmt_bytes": "vmanalyze.units",
    **dict.fromkeys(_STORY, "vmanalyze.story"),
}

__all__ = [
    "__version__",
    "load",
    "CHARTS",
    "Finding",
    "Rule",
    "RuleContext",
    "Setting",
    "Severity",
    "Skip",
    "Subject",
    "rule",
    "HostFacts",
    "counter_rates",
    "stall_pct",
    "parse_ranges",
    "fmt_bytes",
    *_STORY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vmanalyze' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load(path: Any, **kwargs: Any) -> Any:
    """Load a bundle, sosreport or captured directory: see :func:`vmanalyze.dataset.load`."""
    from vmanalyze.dataset import load as _load

    return _load(path, **kwargs)
