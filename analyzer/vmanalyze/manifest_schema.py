"""The schema of a bundle's ``manifest.json`` and ``samples.jsonl`` lines, checked once on read.

A bundle comes from a host we do not control, so its JSON is parsed under bounds and then checked
field by field before anything uses it (docs/bundle-format.md, "Limits a reader applies"):

- size: ``manifest.json`` at most :data:`MAX_MANIFEST_BYTES`, a ``samples.jsonl`` line at most
  :data:`MAX_SAMPLE_LINE_BYTES`;
- nesting: at most :data:`MAX_DEPTH` levels, measured by a scan of the bytes *before* the JSON
  parser runs, so JSON nested 100,000 deep never reaches a recursion limit;
- numbers: ``NaN`` and ``Infinity`` are refused; every field the analyzer uses has a type and a
  range (:data:`MANIFEST`, :data:`SAMPLE`); ``null`` is always allowed and means absent;
- text: invalid UTF-8 and lone surrogates (``"\\ud800"``) become U+FFFD (:func:`clean_text`),
  in keys and values, so every string can be written to Parquet, JSON, HTML and a terminal.

Keys the schema does not name are kept (a newer collector may add some; readers ignore them),
cleaned the same way and bounded by the same size and depth.

>>> validate_manifest(b'{"format_version": 1, "host": {"page_size": 4096}}')["host"]
{'page_size': 4096}
>>> validate_manifest(b'{"format_version": 1, "host": 7}')
Traceback (most recent call last):
...
vmanalyze.manifest_schema.SchemaError: host: expected an object, got 7
>>> validate_manifest(b'{"format_version": 1, "host": {"page_size": 100000000000000000000}}')
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
vmanalyze.manifest_schema.SchemaError: host.page_size: expected an integer ..., got 1000...000
>>> validate_manifest(b"[" * 100000)
Traceback (most recent call last):
...
vmanalyze.manifest_schema.SchemaError: nested deeper than 16 levels
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_MANIFEST_BYTES = 8 << 20
MAX_SAMPLE_LINE_BYTES = 4096
MAX_DEPTH = 16
INT64_MAX = (1 << 63) - 1
#: The longest label: ``start``, ``end`` or a sample index of up to 9 digits.
MAX_SAMPLE_INDEX = 999_999_999

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


class SchemaError(ValueError):
    """JSON from the input that is too big, too deep, malformed, or breaks the schema."""


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8.

    Surrogates come from names decoded with ``surrogateescape`` (tar members, directory
    entries that are not UTF-8) and from JSON escapes such as ``"\\ud800"``.

    >>> clean_text("db01\\udcff"), clean_text("\\ud800x"), clean_text("ok")
    ('db01�', '�x', 'ok')
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def json_depth(data: bytes) -> int:
    """How deeply `data` nests arrays and objects, found without parsing (no recursion).

    >>> json_depth(b'{"a": [1, {"b": "]]]"}]}'), json_depth(b"1"), json_depth(b"[" * 100000)
    (3, 0, 100000)
    """
    brackets = _STRING.sub(b'""', data).translate(None, _BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _refuse_constant(name: str) -> Any:
    raise SchemaError(f"{name} is not a number JSON allows")


def load_json(data: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `data` as JSON within the bounds of the module; strings come back cleaned."""
    if len(data) > max_bytes:
        raise SchemaError(f"larger than {max_bytes:,} bytes")
    if json_depth(data) > max_depth:
        raise SchemaError(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(data.decode("utf-8", "replace"), parse_constant=_refuse_constant)
    except RecursionError:  # cannot happen below MAX_DEPTH; kept as a bound, not a path
        raise SchemaError(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and ints of more than 4,300 digits
        raise SchemaError(str(exc).splitlines()[0][:200]) from None
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# -- the schema ---------------------------------------------------------------------------
Check = Callable[[Any, str], Any]


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if isinstance(value, float):
        text = f"{value:g}"
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(where: str, expected: str, value: Any) -> SchemaError:
    return SchemaError(f"{where}: expected {expected}, got {_shown(value)}")


def integer(lo: int, hi: int) -> Check:
    def check(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(where, f"an integer from {lo:,} to {hi:,}", value)
        return value

    return check


def number(lo: float, hi: float) -> Check:
    def check(value: Any, where: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not lo <= value <= hi
        ):
            raise _fail(where, f"a number from {lo:g} to {hi:g}", value)
        return value

    return check


def text(max_length: int) -> Check:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or len(value) > max_length:
            raise _fail(where, f"a string of at most {max_length:,} characters", value)
        return value

    return check


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "true or false", value)
    return value


def obj(fields: dict[str, Check]) -> Check:
    """An object whose named fields are checked (null means absent); other keys are kept."""

    def check(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        out = dict(value)
        for key, field_check in fields.items():
            if out.get(key) is not None:
                out[key] = field_check(out[key], f"{where}.{key}" if where else key)
        return out

    return check


def mapping(key: Check, item: Check) -> Check:
    """An object whose every key and value are checked."""

    def check(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        for k in value:
            key(k, f"{where} key")
        return {
            k: item(v, f"{where}[{_shown(k)}]") if v is not None else v for k, v in value.items()
        }

    return check


def label(value: Any, where: str) -> str:
    """A snapshot label: ``start``, ``end`` or a sample index (an integer or its digits)."""
    if isinstance(value, str) and (value in ("start", "end") or re.fullmatch(r"[0-9]{1,9}", value)):
        return value if not value.isdigit() else str(int(value))
    if not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= MAX_SAMPLE_INDEX:
        return str(value)
    raise _fail(where, f'"start", "end" or a sample index up to {MAX_SAMPLE_INDEX:,}', value)


_NS = integer(0, INT64_MAX)
_COUNT = integer(0, INT64_MAX)
_OUTCOMES = ("captured", "absent", "gone", "denied", "timed_out", "failed")

#: The manifest fields vmanalyze uses, with their types and ranges (docs/bundle-format.md).
MANIFEST = obj(
    {
        "format": text(64),
        "format_version": integer(0, 1_000_000),
        "collector": obj({"name": text(64), "version": text(64), "python": text(64)}),
        "host": obj(
            {
                "hostname": text(255),
                "kernel_release": text(256),
                "machine": text(64),
                "page_size": integer(512, 1 << 30),
                "clock_ticks": integer(1, 1_000_000),
                "cpu_count": integer(1, 1 << 20),
                "numa_nodes": integer(0, 1 << 16),
                "boot_time_ns": _NS,
                "uid": integer(0, (1 << 32) - 1),
                "anonymized": boolean,
            }
        ),
        "options": obj({"interval_s": number(0, 1e9)}),
        "start_wall_ns": _NS,
        "end_wall_ns": _NS,
        "samples": _COUNT,
        "files": mapping(
            text(4096), obj({**dict.fromkeys(_OUTCOMES, _COUNT), "error": text(4096)})
        ),
    }
)

#: One line of samples.jsonl.
SAMPLE = obj(
    {
        "label": label,
        "wall_ns": _NS,
        "mono_ns": _NS,
        "duration_ns": _NS,
        "late": boolean,
        "skipped_slots": integer(0, MAX_SAMPLE_INDEX),
    }
)


def validate_manifest(data: bytes) -> dict[str, Any]:
    """The checked manifest; :class:`SchemaError` says which field is wrong and how."""
    manifest = MANIFEST(load_json(data, MAX_MANIFEST_BYTES), "")
    if manifest.get("format_version") is None:
        raise SchemaError("format_version: expected an integer, got nothing")
    return manifest


def validate_sample(line: bytes) -> dict[str, Any]:
    """One checked samples.jsonl line, with ``label`` as a string and ``wall_ns`` present.

    >>> validate_sample(b'{"label": 3, "wall_ns": 5}')["label"]
    '3'
    >>> validate_sample(b'{"label": "start", "wall_ns": Infinity}')
    Traceback (most recent call last):
    ...
    vmanalyze.manifest_schema.SchemaError: Infinity is not a number JSON allows
    """
    row = SAMPLE(load_json(line, MAX_SAMPLE_LINE_BYTES), "")
    for key in ("label", "wall_ns"):
        if row.get(key) is None:
            raise SchemaError(f"{key}: missing")
    return row
