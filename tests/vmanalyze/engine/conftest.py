"""Fixtures of the rule-framework tests.

``installed_packs``: every pack of ``tests/plugins/``, installed by the ``plugin_packs``
fixture (tests/conftest.py) while this package's tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their packs explicitly: ignore a VMANALYZE_PLUGINS set by the caller."""
    monkeypatch.delenv("VMANALYZE_PLUGINS", raising=False)


@pytest.fixture(scope="package")  # gone before other packages' tests see the default registry
def installed_packs(tmp_path_factory: pytest.TempPathFactory, plugin_packs: Any) -> Iterator[Path]:
    with plugin_packs(None, tmp_path_factory.mktemp("plugins")) as target:
        yield target
