"""docs/json-format.md: its example against the schema and against real output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from vmanalyze.analysis import Analysis

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[3] / "docs"
SCHEMA = json.loads((DOCS / "json-format.schema.json").read_text())


def example() -> dict[str, Any]:
    (block,) = re.findall(r"```json\n(.*?)```", (DOCS / "json-format.md").read_text(), re.S)
    return json.loads(block)


def test_example_and_real_output_validate(swap_analysis: Analysis) -> None:
    jsonschema.validate(example(), SCHEMA)
    jsonschema.validate(swap_analysis.to_json_dict(), SCHEMA)


def test_example_has_the_keys_of_real_output(swap_analysis: Analysis) -> None:
    doc, real = example(), swap_analysis.to_json_dict()
    assert list(doc) == list(real)
    assert list(doc["input"]) == list(real["input"])  # input.kind, not input.format
    assert set(doc["host"]) <= set(real["host"])
    assert list(doc["findings"][0]) == list(real["findings"][0])
    assert all(list(r) == list(real["rules"][0]) for r in doc["rules"])
    schema_input = SCHEMA["properties"]["input"]["properties"]
    assert list(schema_input) == list(real["input"])
