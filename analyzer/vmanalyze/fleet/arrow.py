"""The Arrow side of a batch: each table of an input as Arrow, the fleet files' schemas, and
one schema per table across every input of the dataset."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vmanalyze.tables import null_column_type

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

_JSON = json.JSONEncoder(default=str, sort_keys=True)


def _jsonish(value: Any) -> Any:
    """Lists, arrays and dicts as JSON text; bytes as text; anything else unchanged."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return _JSON.encode(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _jsonish_column(values: list[Any]) -> list[Any]:
    """:func:`_jsonish` of each value; the same list (often ``[]`` or ``[0, 1]``) once."""
    seen: dict[Any, Any] = {}
    out = []
    for value in values:
        key: Any = None
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iufb":
            key = (value.dtype.kind, value.tobytes())
        elif isinstance(value, list | tuple):
            try:
                key = ("list", tuple(value))
                hash(key)
            except TypeError:
                key = None
        if key is None:
            out.append(_jsonish(value))
            continue
        if key not in seen:
            seen[key] = _jsonish(value)
        out.append(seen[key])
    return out


def _normalize_type(name: str, dtype: pa.DataType) -> pa.DataType:
    """The type every reader (pandas, pyarrow, DuckDB, Spark) agrees on."""
    if pa.types.is_dictionary(dtype):
        return _normalize_type(name, dtype.value_type)
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_date(dtype):
        return pa.date32()
    if pa.types.is_null(dtype):
        return null_column_type(name)
    if pa.types.is_integer(dtype):
        return pa.int64()
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype) or pa.types.is_duration(dtype):
        return pa.float64()
    if pa.types.is_boolean(dtype):
        return pa.bool_()
    return pa.string()


def cast_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_duration(column.type) and pa.types.is_floating(target):
        micro = column.cast(pa.duration("us"), safe=False).cast(pa.int64())
        return pc.divide(micro.cast(pa.float64()), 1e6)
    try:
        return column.cast(target, safe=not pa.types.is_timestamp(target))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Values that do not fit (e.g. uint64 beyond int64): keep them as text.
        values = [None if v is None else str(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, type=pa.string())])


def table_to_arrow(df: pd.DataFrame, input_hash: str) -> pa.Table:
    """One table of one input as Arrow, with the batch's column conventions.

    Timestamps are microseconds UTC, integers int64, floats float64, lists and dicts JSON
    text, all-null columns int64 (sizes, counts) or string; an ``input_hash`` column is
    added (the partition column ``host`` comes from the directory name).
    """
    frame = df.reset_index(drop=True).copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    if "host" in frame.columns:
        frame = frame.rename(columns={"host": "host_value"})
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = pd.Series(_jsonish_column(frame[col].tolist()), dtype=object)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    fields = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        target = _normalize_type(name, column.type)
        columns.append(cast_column(column, target))
        fields.append(pa.field(name, target))
    columns.append(pa.chunked_array([pa.array([input_hash] * table.num_rows, pa.string())]))
    fields.append(pa.field("input_hash", pa.string()))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


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
