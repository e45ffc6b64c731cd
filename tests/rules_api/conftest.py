"""Fixtures of the rule-framework tests.

``installed_packs`` builds the packs of ``tests/plugins/`` with pip (``--no-deps
--no-build-isolation``) into a temporary ``--target`` directory put on ``sys.path`` while this
package's tests run, so discovery sees real distributions with real entry points without
changing the shared virtualenv; the directory is dropped from ``sys.path`` afterwards.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their packs explicitly: ignore a VMANALYZE_PLUGINS set by the caller."""
    monkeypatch.delenv("VMANALYZE_PLUGINS", raising=False)


@pytest.fixture(scope="package")  # gone before other packages' tests see the default registry
def installed_packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("plugins")
    sources = []
    for pack in sorted(PLUGINS.iterdir()):
        if (pack / "pyproject.toml").is_file():
            copy = work / "src" / pack.name  # build in a copy: pip writes build/ and *.egg-info
            shutil.copytree(
                pack, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
            )
            sources.append(str(copy))
    target = work / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--target",
        str(target),
        *sources,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"pip install of tests/plugins failed:\n{done.stdout}\n{done.stderr}")
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for module in [m for m in sys.modules if m.startswith("vmanalyze_rules_")]:
            del sys.modules[module]
        importlib.invalidate_caches()
