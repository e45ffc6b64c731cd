"""Broken on purpose: imports a module that is not installed."""

import vmanalyze_no_such_dependency  # noqa: F401

RULES = ()
