"""Fixtures of the report tests (the collector tests run under Python 3.6 from the tests
root: keep fixtures here). Shared helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from vmanalyze.analysis import Analysis

from tests.support.cdp import Browser, find_chromium

from .helpers import ARTIFACTS, analysis_with_fake_rules


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
            "Chromium is not installed: run tests/install-system-packages.sh "
            "(apt-get install chromium) to run the browser tests"
        )
    with Browser.launch(executable) as b:
        yield b
