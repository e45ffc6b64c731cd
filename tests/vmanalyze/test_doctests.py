"""Every docstring example of the analyzer, rule and report packages runs and holds.

Parsers show a sample of their kernel file and its parsed result; this keeps those honest.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest
import vmanalyze
import vmreports
import vmrules


def _modules() -> list[str]:
    names = []
    for package in (vmanalyze, vmrules, vmreports):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith(".__main__"):  # importing it runs the command
                names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_every_parser_module_has_examples() -> None:
    parsers = [m for m in MODULES if m.startswith("vmanalyze.parsers.") and ".parsers._" not in m]
    assert len(parsers) >= 25  # the walk found the parser modules
    without = [
        name
        for name in parsers
        if not any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))
    ]
    assert without == []


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
