"""Tables as Arrow and Parquet: the one conversion shared by the parsed-tables cache,
``vmanalyze export`` and the fleet dataset (``vmanalyze batch``), so that a table has the
same schema wherever it is written (docs/tables.md gives each column's Parquet type).

:func:`to_arrow` starts from the table's pandas types (already Parquet-safe:
:func:`vmanalyze.tables.frame_types`) and settles the few that readers disagree on:

- timestamps are microseconds UTC, integers int64, floats (and durations, in seconds)
  float64, booleans bool, text string;
- lists of integers are ``list<int64>``; any other list, dict or mixed value is JSON text;
- a column without any value is typed by its name (:func:`vmanalyze.tables.null_column_type`);
- values that do not fit their type (an unsigned integer beyond int64) are kept as text.

:func:`write` writes a table as Parquet with those timestamps (Spark reads them unchanged).
"""

from __future__ import annotations

import io
import json
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vmanalyze.tables import null_column_type

__all__ = ["cast_column", "column_type", "parquet_bytes", "to_arrow", "write"]

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


def _int_list(value: Any) -> bool:
    """A list (or 1-d array) whose items are all integers (not booleans)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype.kind in "iu"
    return isinstance(value, list | tuple) and all(
        isinstance(item, int | np.integer) and not isinstance(item, bool) for item in value
    )


def _object_column(values: list[Any]) -> list[Any] | None:
    """An object column's values to convert as they are (None), or as JSON text: lists of
    integers stay lists, text stays text; each distinct list is encoded once."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if all(isinstance(v, str) for v in present) or all(_int_list(v) for v in present):
        return None
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


def column_type(name: str, dtype: pa.DataType) -> pa.DataType:
    """The type a column of Arrow type ``dtype`` is written as (see the module doc).

    >>> [str(column_type(n, t)) for n, t in (("ts", pa.timestamp("ns", tz="UTC")),
    ...     ("pid", pa.int32()), ("cpus", pa.list_(pa.int8())), ("used_bytes", pa.null()))]
    ['timestamp[us, tz=UTC]', 'int64', 'list<item: int64>', 'int64']
    """
    if pa.types.is_dictionary(dtype):
        return column_type(name, dtype.value_type)
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
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        value = dtype.value_type
        if pa.types.is_integer(value) or pa.types.is_null(value):
            return pa.list_(pa.int64())
    return pa.string()


def cast_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``target``; values that do not fit (e.g. uint64 beyond int64) as text."""
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
        values = [None if v is None else _text(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, type=pa.string())])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(_jsonish(value))


def to_arrow(df: pd.DataFrame, *, pandas_metadata: bool = True) -> pa.Table:
    """One table as Arrow, with the types every writer uses (see the module doc).

    ``pandas_metadata``: keep what lets :meth:`pyarrow.Table.to_pandas` restore the
    DataFrame's dtypes (the cache and ``export`` keep it; the fleet dataset, whose parts are
    read together, does not).
    """
    frame = df.reset_index(drop=True)
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
    for col in frame.columns:
        if frame[col].dtype == object:
            converted = _object_column(frame[col].tolist())
            if converted is not None:
                frame[col] = pd.Series(converted, dtype=object)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns, fields = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        target = column_type(name, column.type)
        column = cast_column(column, target)
        columns.append(column)
        fields.append(pa.field(name, column.type))
    metadata = table.schema.metadata if pandas_metadata else None
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=metadata))


def write(table: pa.Table, where: str | IO[bytes]) -> None:
    """Write ``table`` as Parquet (timestamps in microseconds)."""
    pq.write_table(table, where, coerce_timestamps="us", allow_truncated_timestamps=True)


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as the bytes of a Parquet file (see :func:`write`)."""
    buffer = io.BytesIO()
    write(table, buffer)
    return buffer.getvalue()
