"""Load an input into tables, cache them as Parquet, export them.

>>> import vmanalyze
>>> ds = vmanalyze.load("sample-bundles/healthy-idle.tar.gz")   # doctest: +SKIP
>>> ds.meminfo[["ts", "mem_available_bytes"]].head()             # doctest: +SKIP

Parsed inputs are cached as Parquet under a key made of the input's content hash, the
tables' schema version and the analyzer's version, so a second analysis of the same bundle
skips parsing. :mod:`vmanalyze.cache` says where the cache lives, how entries are checked
before they are trusted, and its size bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vmanalyze import arrow_tables
from vmanalyze import cache as _cache  # `load` has a parameter named cache
from vmanalyze.cache import SOURCE_FILE, Hashed, content_hash
from vmanalyze.facts import HostFacts, count_samples
from vmanalyze.inputs import Limits, hash_input, read_input
from vmanalyze.manifest_schema import clean_text
from vmanalyze.safeio import PRIVATE, PUBLIC, atomic_write, atomic_writer, open_regular
from vmanalyze.tables import build_tables
from vmanalyze.version import __version__

#: Bump when a table or column changes meaning: cached Parquet of older versions is ignored.
#: 2: empty tables keep typed key columns; 3: snapshot is an integer (start -1, end last + 1);
#: 4: sosreports: ps table, processes from ps, text kernel logs in oom_events, clock;
#: 5: host facts from every source (vmanalyze.facts)
SCHEMA_VERSION = 5
__all__ = ["Dataset", "content_hash", "load", "parse", "read_parquet", "write_parquet"]


@dataclass
class Dataset:
    """The tables of one input. Each table is a pandas DataFrame; see docs/tables.md."""

    tables: dict[str, pd.DataFrame]
    source: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"no table {name!r}; tables: {', '.join(sorted(tables))}")

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def table(self, name: str) -> pd.DataFrame | None:
        """A table, or None when the input has no data for it."""
        df = self.tables.get(name)
        return None if df is None or df.empty else df

    @property
    def warnings(self) -> list[str]:
        return list(self.source.get("warnings", []))

    @property
    def facts(self) -> HostFacts:
        """The host facts of this input (vmanalyze.facts): absent ones are ``None``."""
        return HostFacts.from_tables(self.tables)

    @property
    def host(self) -> dict[str, Any]:
        """The host facts as a dict (``None`` for absent facts)."""
        return self.facts.as_dict()

    @property
    def sample_count(self) -> int:
        """How many samples the input holds (:func:`vmanalyze.facts.count_samples`)."""
        return count_samples(self.tables)


def input_names(path: str | os.PathLike[str]) -> dict[str, str]:
    """``input`` (absolute path) and ``input_name`` as text that encodes as UTF-8: a path that
    is not UTF-8 keeps its readable part, its bad bytes shown as U+FFFD (never a surrogate
    that would break the JSON, the Parquet or the report).

    >>> input_names("/srv/bundles/db\\udcff.tar.gz")["input_name"]
    'db\ufffd.tar.gz'
    """
    text = os.fsdecode(path)
    return {
        "input": clean_text(os.path.abspath(text)),
        "input_name": clean_text(os.path.basename(os.path.normpath(text))),
    }


def default_cache_dir() -> Path:
    """Where the cache lives (see :mod:`vmanalyze.cache`)."""
    return _cache.default_dir()


def parse(path: str, limits: Limits | None = None, hashed: Hashed | None = None) -> Dataset:
    """Read and parse an input into tables, without any cache (``hashed``: see
    :func:`vmanalyze.inputs.read_input`)."""
    started = time.perf_counter()
    captured = read_input(path, limits, hashed)
    tables, warnings = build_tables(captured)
    source = {
        **input_names(path),
        "kind": captured.kind,
        "sha256": captured.sha256,
        "samples": count_samples(tables),
        "warnings": warnings,
        "analyzer_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "parse_seconds": round(time.perf_counter() - started, 3),
        "manifest": captured.manifest,
    }
    return Dataset(tables, source)


def write_parquet(dataset: Dataset, directory: str | Path, *, mode: int = PUBLIC) -> list[Path]:
    """One Parquet file per table plus source.json, each table with the schema every writer
    gives it (:mod:`vmanalyze.arrow_tables`). Each file is written exclusively, then renamed
    into place."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in sorted(dataset.tables.items()):
        path = directory / f"{name}.parquet"
        with atomic_writer(path, mode=mode) as f:
            arrow_tables.write(arrow_tables.to_arrow(df), f)  # as export and the fleet do
        written.append(path)
    text = json.dumps(dataset.source, indent=1, sort_keys=True, default=str)
    atomic_write(directory / SOURCE_FILE, text.encode("utf-8"), mode=mode)
    return written


def _read_table(file: Any) -> pd.DataFrame:
    df = pq.read_table(file).to_pandas()
    for col in df.columns:
        if str(df[col].dtype).startswith("datetime64[us"):
            df[col] = df[col].astype("datetime64[ns, UTC]")
    return df


def read_parquet(directory: str | Path) -> Dataset:
    """The tables and source.json that :func:`write_parquet` wrote to ``directory``."""
    directory = Path(directory)
    with open(directory / SOURCE_FILE) as f:
        source = json.load(f)
    tables = {path.stem: _read_table(path) for path in sorted(directory.glob("*.parquet"))}
    return Dataset(tables, source)


def expected_tables() -> frozenset[str]:
    """The tables every parsed input has (docs/tables.md): a cache entry must hold these."""
    from vmanalyze.tables_doc import TABLES

    return frozenset(doc.name for doc in TABLES)


def _read_cached(entry: Path) -> Dataset:
    """A cache entry, validated (see :func:`vmanalyze.cache.read_entry`)."""
    source, files = _cache.read_entry(
        entry, expected_tables(), version=__version__, schema=SCHEMA_VERSION
    )
    tables = {}
    for name, path in files.items():
        with open_regular(path, follow=False) as f:
            tables[name] = _read_table(f)
    return Dataset(tables, source)


def _store(ds: Dataset, root: Path, entry: Path) -> None:
    """Write ``ds`` as the entry ``entry``: in a private temporary directory, renamed into
    place; nothing is left behind if anything fails."""
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        write_parquet(ds, tmp, mode=PRIVATE)
        os.rename(tmp, entry)
    except BaseException:
        _cache.remove(tmp)
        raise


def load(
    path: str | os.PathLike[str],
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    limits: Limits | None = None,
    input_hash: str | None = None,
    hashed: Hashed | None = None,
) -> Dataset:
    """Load a vmcollect bundle, sosreport or captured directory as a :class:`Dataset`.

    With ``cache`` (the default), parsed tables are kept as Parquet keyed by the input's
    content hash; loading the same input again reads them back instead of parsing. See
    :mod:`vmanalyze.cache`.

    The input is read once: hashed while it is read, or, to look the cache up, hashed
    first with what was read kept for the parse (:func:`vmanalyze.inputs.hash_input`).
    A caller that hashed it already passes ``hashed``, or just its ``input_hash``.
    """
    path = os.fspath(path)
    if hashed is None and input_hash is not None:
        hashed = Hashed(input_hash)
    limit = _cache.max_bytes() if cache else 0
    if not limit:
        return parse(path, limits, hashed)
    if hashed is None:
        hashed = hash_input(path, limits)
    key = f"{hashed.digest}-s{SCHEMA_VERSION}-v{__version__}"
    try:
        root = _cache.open_root(Path(cache_dir) if cache_dir else default_cache_dir())
    except _cache.CacheUnusable as exc:
        ds = parse(path, limits, hashed)
        ds.source["warnings"].append(f"cache not used: {exc}")
        ds.source["cached"] = False
        return ds
    entry = root / key
    if os.path.lexists(entry):
        try:
            ds = _read_cached(entry)
            ds.source["cached"] = True
            ds.source.update(input_names(path))  # the same bytes may have another name
            _cache.touch(entry)
            return ds
        except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException):
            _remove_entry(entry)  # not as written: parse again
    ds = parse(path, limits, hashed)
    with contextlib.suppress(OSError, ValueError, pa.ArrowException):
        _store(ds, root, entry)  # an unwritable cache only costs speed
        _cache.evict(root, limit, keep=key)
    ds.source["cached"] = False
    return ds


def _remove_entry(entry: Path) -> None:
    if os.path.isdir(entry) and not os.path.islink(entry):
        _cache.remove(entry)
    else:
        with contextlib.suppress(OSError):
            os.unlink(entry)
