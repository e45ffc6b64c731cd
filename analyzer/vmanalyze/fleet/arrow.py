"""The Arrow side of a batch: each table of an input as a dataset part, the fleet files'
schemas, and one schema per table across every input of the dataset.

A part has the schema :mod:`vmanalyze.arrow_tables` gives the table everywhere (the cache
and ``export`` too), plus ``input_hash``; its ``host`` column, if any, is ``host_value``
(``host`` is the partition column).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from vmanalyze.arrow_tables import cast_column, parquet_bytes, to_arrow

__all__ = [
    "DRIFT_SCHEMA",
    "FINDINGS_SCHEMA",
    "INCIDENTS_SCHEMA",
    "INPUTS_SCHEMA",
    "cast_column",
    "merge_types",
    "parquet_bytes",
    "table_to_arrow",
]


def table_to_arrow(df: pd.DataFrame, input_hash: str) -> pa.Table:
    """One table of one input as a part of the fleet dataset (see the module doc)."""
    frame = df.rename(columns={"host": "host_value"}) if "host" in df.columns else df
    table = to_arrow(frame, pandas_metadata=False)
    return table.append_column(
        pa.field("input_hash", pa.string()),
        pa.chunked_array([pa.array([input_hash] * table.num_rows, pa.string())]),
    )


FINDINGS_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("input", pa.string()),
        ("input_hash", pa.string()),
        ("collection_start", pa.timestamp("us", tz="UTC")),
        ("code", pa.string()),
        ("name", pa.string()),
        ("severity", pa.string()),
        ("subject", pa.string()),
        ("message", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("end", pa.timestamp("us", tz="UTC")),
        ("evidence", pa.string()),
        ("remediation", pa.string()),
    ]
)

INCIDENTS_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("input", pa.string()),
        ("input_hash", pa.string()),
        ("collection_start", pa.timestamp("us", tz="UTC")),
        ("incident", pa.int64()),
        ("root_code", pa.string()),
        ("root_subject", pa.string()),
        ("root_cause", pa.string()),
        ("root_key", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("severity", pa.string()),
        ("confidence", pa.float64()),
        ("explains", pa.list_(pa.string())),
        ("headline", pa.string()),
        ("story", pa.string()),
    ]
)

DRIFT_SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("role", pa.string()),
        ("setting", pa.string()),
        ("value", pa.string()),
        ("majority", pa.string()),
        ("majority_hosts", pa.int64()),
        ("role_hosts", pa.int64()),
    ]
)

INPUTS_SCHEMA = pa.schema(
    [
        ("input", pa.string()),
        ("name", pa.string()),
        ("input_hash", pa.string()),
        ("host", pa.string()),
        ("host_partition", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("end", pa.timestamp("us", tz="UTC")),
        ("samples", pa.int64()),
        ("findings", pa.int64()),
        ("worst_severity", pa.string()),
        ("root_cause", pa.string()),
        ("warnings", pa.int64()),
        ("report", pa.string()),
        ("hash_s", pa.float64()),
        ("load_s", pa.float64()),
        ("rules_s", pa.float64()),
        ("report_s", pa.float64()),
        ("parts_s", pa.float64()),
        ("total_s", pa.float64()),
        ("cpu_s", pa.float64()),
        ("attempts", pa.int64()),
        ("worker", pa.string()),
        ("peak_rss_bytes", pa.int64()),
        ("analyzer_version", pa.string()),
        ("collector_version", pa.string()),
        ("rules_key", pa.string()),
        ("analyzed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two parts' columns unify to: numbers widen, anything else mixed is text."""
    if a == b:
        return a
    kinds = []
    for t in (a, b):
        if pa.types.is_boolean(t):
            kinds.append("bool")
        elif pa.types.is_integer(t):
            kinds.append("int64")
        elif pa.types.is_floating(t):
            kinds.append("float64")
        else:
            kinds.append("other")
    if "other" in kinds or "bool" in kinds:
        return pa.string()
    return pa.float64() if "float64" in kinds else pa.int64()
