"""Fixtures of the report tests: sample bundles, analyses with stand-in rules, Chromium.

(The collector tests run under Python 3.6 from the tests root: keep fixtures here.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cdp import Browser, find_chromium  # noqa: E402
from fake_rules import registry as fake_registry  # noqa: E402
from vmanalyze import engine  # noqa: E402
from vmanalyze.analysis import Analysis  # noqa: E402
from vmanalyze.config import Config  # noqa: E402
from vmanalyze.dataset import Dataset, load  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample-bundles"
FIXTURES = REPO / "tests" / "fixtures"
ARTIFACTS = REPO / "artifacts" / "report"
SCENARIOS = (
    "healthy-idle",
    "thp-always-postgres",
    "swap-thrash",
    "pagecache-thrash",
    "overcommit",
    "oom-kill",
    "memory-leak",
    "numa-remote",
)

_datasets: dict[str, Dataset] = {}


def dataset_of(name: str) -> Dataset:
    """A sample bundle (or the debian12 fixture directory) as tables, loaded once per session."""
    if name not in _datasets:
        path = (
            FIXTURES / "debian12-kernel6.18" if name == "debian12" else SAMPLES / f"{name}.tar.gz"
        )
        if not path.exists():
            pytest.skip(f"{path.name} is not in this checkout")
        _datasets[name] = load(path)
    return _datasets[name]


def analysis_with_fake_rules(name: str) -> Analysis:
    """The sample bundle analysed by the stand-in rules of fake_rules.py."""
    ds = dataset_of(name)
    return Analysis(ds, engine.run(ds.tables, fake_registry(), Config()))


@pytest.fixture(scope="session")
def analysis_of() -> Callable[[str], Analysis]:
    return analysis_with_fake_rules


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """artifacts/report/ (gitignored): screenshots, PDFs and reports of the browser tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session; the tests skip, saying why, without one."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "Chromium is not installed: run tests/report/install-chromium.sh "
            "(apt-get install chromium) to run the browser tests"
        )
    with Browser.launch(executable) as b:
        yield b
