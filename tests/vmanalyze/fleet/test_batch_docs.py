"""docs/fleet.md against a real batch: findings.parquet and inputs.parquet, column by column."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import Run

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[3] / "docs" / "fleet.md"
TYPES = {"timestamp[us, UTC]": "timestamp[us, tz=UTC]"}


def documented(section: str) -> list[tuple[str, str]]:
    """(column, type) rows of the table under ``### section`` in docs/fleet.md."""
    text = DOC.read_text().split(f"### {section}\n", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows.append((name, TYPES.get(cells[1], cells[1])))
    return rows


@pytest.mark.parametrize(
    "name", ["findings.parquet", "inputs.parquet", "incidents.parquet", "drift.parquet"]
)
def test_fleet_files_have_the_documented_columns_and_types(fleet_run: Run, name: str) -> None:
    schema = pq.read_schema(fleet_run.out / name)
    real = [(field.name, str(field.type)) for field in schema]
    assert dict(documented(name)) == dict(real)
    assert len(documented(name)) == len(real)
