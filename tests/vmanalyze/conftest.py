"""Fixtures shared by the analyzer tests (collector tests run under Python 3.6: keep this here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEBIAN12 = FIXTURES / "debian12-kernel6.18"


@pytest.fixture
def debian12() -> Path:
    """Root of the real capture of the development VM (see its PROVENANCE.md)."""
    return DEBIAN12


@pytest.fixture
def fixture_text() -> Callable[[str], str]:
    """Read a file of the debian12 capture by kernel path (``proc/meminfo``), bytes as text."""

    def read(relpath: str) -> str:
        return (DEBIAN12 / relpath).read_bytes().decode("utf-8")

    return read
