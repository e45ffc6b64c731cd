"""Exported tables read back in Apache Spark unchanged: a real local Spark with its JVM.

Every table of a few inputs (a bundle, a bundle with empty tables, a one-file capture where
most tables are empty) is written with ``write_parquet`` and read by Spark; names, types,
row counts and every value must match the pandas table.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from vmanalyze.dataset import parse, write_parquet

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"  # we use no pandas-on-Spark
)
REPO = Path(__file__).resolve().parents[3]
SPARK_TYPES = {
    "Int64": "bigint",
    "int64": "bigint",
    "str": "string",
    "bool": "boolean",
    "boolean": "boolean",
}


def _one_file_capture(root: Path) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_bytes(Path("/proc/meminfo").read_bytes())
    return root


def _spark_type(dtype: Any, sample: Any) -> str:
    name = str(dtype)
    if name.startswith("datetime64"):
        return "timestamp"
    if name.startswith("float"):
        return "double"
    if name == "object" and isinstance(sample, list):
        return "array<bigint>"
    return SPARK_TYPES.get(name, name)


def _python(value: Any) -> Any:
    """A pandas cell as Spark's Row gives it back."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").tz_localize(None).to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, list):
        return [_python(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["healthy-idle", "numa-remote", "one-file-capture"])
def test_every_table_reads_back_in_spark(spark: Any, tmp_path: Path, name: str) -> None:
    if name == "one-file-capture":
        source = str(_one_file_capture(tmp_path / "capture"))
    else:
        source = str(REPO / "sample-bundles" / f"{name}.tar.gz")
    dataset = parse(source)
    out = tmp_path / "parquet"
    write_parquet(dataset, out)
    empty = 0
    for table, df in dataset.tables.items():
        sdf = spark.read.parquet(str(out / f"{table}.parquet"))
        assert sdf.columns == list(df.columns), table
        assert sdf.count() == len(df), table
        empty += df.empty
        for column, field in zip(df.columns, sdf.schema.fields, strict=True):
            sample = df[column].dropna().iloc[0] if df[column].notna().any() else None
            assert field.dataType.simpleString() == _spark_type(df[column].dtype, sample), (
                table,
                column,
            )
        rows = [tuple(_python(v) for v in row) for row in df.itertuples(index=False)]
        got = [tuple(row) for row in sdf.collect()]
        assert got == rows, table
    if name != "healthy-idle":
        assert empty >= 2  # the point of these inputs: empty tables still read back
