"""One schema per table: `vmanalyze export`, the parsed-tables cache and the fleet dataset of
`vmanalyze batch` write every table of the same real input with the same Arrow schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import SAMPLES

pytestmark = pytest.mark.slow  # a batch and two analyses of real bundles

#: A bundle with NUMA lists (numa_topology.cpus, zoneinfo.protection) and a memory leak.
BUNDLES = ("numa-remote", "memory-leak")


def _schemas(files: list[Path]) -> dict[str, pa.Schema]:
    out = {}
    for path in files:
        schema = pq.read_schema(path).remove_metadata()
        out[path.parent.parent.name if path.parent.name.startswith("host=") else path.stem] = schema
    return out


def _fleet_part(schema: pa.Schema) -> pa.Schema:
    """A fleet part's schema as a table's: without ``input_hash``, ``host_value`` as ``host``."""
    fields = [
        f.with_name("host") if f.name == "host_value" else f
        for f in schema
        if f.name != "input_hash"
    ]
    return pa.schema(fields)


@pytest.mark.parametrize("name", BUNDLES)
def test_export_cache_and_fleet_write_the_same_schemas(
    name: str, batch_run: Any, tmp_path: Path
) -> None:
    bundle = tmp_path / f"{name}.tar.gz"
    bundle.write_bytes((SAMPLES / f"{name}.tar.gz").read_bytes())
    env = {**os.environ, "VMANALYZE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("VMANALYZE_CACHE_MAX", None)
    done = subprocess.run(
        [sys.executable, "-m", "vmanalyze", "export", str(bundle), "-o", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    export = _schemas(sorted((tmp_path / "x").glob("*.parquet")))
    (entry,) = (tmp_path / "cache").iterdir()  # export filled the cache
    cache = _schemas(sorted(entry.glob("*.parquet")))

    run = batch_run([str(bundle), "--jobs", "1"], tmp_path / "fleet")
    assert run.returncode == 0, run.stderr
    fleet = _schemas(sorted((tmp_path / "fleet" / "tables").glob("*/host=*/*.parquet")))

    assert cache == export
    assert fleet  # tables with rows only: an empty table has no part
    assert set(fleet) <= set(export)
    for table, schema in fleet.items():
        assert _fleet_part(schema) == export[table], table
        assert schema.field("input_hash").type == pa.string()
    if name == "numa-remote":  # the deliberate fix: lists of CPUs are lists everywhere
        assert fleet["numa_topology"].field("cpus").type == pa.list_(pa.int64())
        assert export["zoneinfo"].field("protection").type == pa.list_(pa.int64())
