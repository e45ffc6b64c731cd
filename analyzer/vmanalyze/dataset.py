"""Load an input into tables, cache them as Parquet, export them.

>>> import vmanalyze
>>> ds = vmanalyze.load("sample-bundles/healthy-idle.tar.gz")   # doctest: +SKIP
>>> ds.meminfo[["ts", "mem_available_bytes"]].head()             # doctest: +SKIP

Parsed inputs are cached as Parquet under a key made of the input's content hash, the
tables' schema version and the analyzer's version, so a second analysis of the same bundle
skips parsing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vmanalyze import __version__
from vmanalyze.facts import HostFacts
from vmanalyze.inputs import Limits, read_input
from vmanalyze.tables import build_tables

#: Bump when a table or column changes meaning: cached Parquet of older versions is ignored.
SCHEMA_VERSION = 3  # 3: host facts from every source (vmanalyze.facts)
SOURCE_FILE = "source.json"


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
        return int(self.source.get("samples") or 0)


def content_hash(path: str) -> str:
    """sha256 of a file, or of a directory's relative paths and file contents."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if not os.path.isfile(full) or os.path.islink(full):
                    continue
                digest.update(os.path.relpath(full, path).encode("utf-8", "surrogateescape"))
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
        return "dir-" + digest.hexdigest()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    env = os.environ.get("VMANALYZE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmanalyze"


def parse(path: str, limits: Limits | None = None) -> Dataset:
    """Read and parse an input into tables, without any cache."""
    started = time.perf_counter()
    captured = read_input(path, limits)
    tables, warnings = build_tables(captured)
    source = {
        "input": os.path.abspath(path),
        "input_name": os.path.basename(os.path.normpath(path)),
        "kind": captured.kind,
        "sha256": captured.sha256,
        "samples": captured.sample_count,
        "warnings": warnings,
        "analyzer_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "parse_seconds": round(time.perf_counter() - started, 3),
        "manifest": captured.manifest,
    }
    return Dataset(tables, source)


def write_parquet(dataset: Dataset, directory: str | Path) -> list[Path]:
    """One Parquet file per table plus source.json; timestamps in microseconds (Spark reads
    them unchanged)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in sorted(dataset.tables.items()):
        path = directory / f"{name}.parquet"
        table = pa.Table.from_pandas(df, preserve_index=False)  # typed: tables.frame_types
        pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        written.append(path)
    with open(directory / SOURCE_FILE, "w") as f:
        json.dump(dataset.source, f, indent=1, sort_keys=True, default=str)
    return written


def read_parquet(directory: str | Path) -> Dataset:
    directory = Path(directory)
    with open(directory / SOURCE_FILE) as f:
        source = json.load(f)
    tables = {}
    for path in sorted(directory.glob("*.parquet")):
        df = pq.read_table(path).to_pandas()
        for col in df.columns:
            if str(df[col].dtype).startswith("datetime64[us"):
                df[col] = df[col].astype("datetime64[ns, UTC]")
        tables[path.stem] = df
    return Dataset(tables, source)


def load(
    path: str | os.PathLike[str],
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    limits: Limits | None = None,
) -> Dataset:
    """Load a vmcollect bundle, sosreport or captured directory as a :class:`Dataset`.

    With ``cache`` (the default), parsed tables are kept as Parquet keyed by the input's
    content hash; loading the same input again reads them back instead of parsing.
    """
    path = os.fspath(path)
    if not cache:
        return parse(path, limits)
    from vmanalyze.inputs import InputError

    if not os.path.exists(path):
        raise InputError(path, "no such file or directory")
    key = f"{content_hash(path)}-s{SCHEMA_VERSION}-v{__version__}"
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    entry = root / key
    if (entry / SOURCE_FILE).exists():
        try:
            ds = read_parquet(entry)
            ds.source["cached"] = True
            ds.source["input"] = os.path.abspath(path)
            return ds
        except (OSError, ValueError, pa.ArrowException):
            shutil.rmtree(entry, ignore_errors=True)
    ds = parse(path, limits)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        write_parquet(ds, tmp)
        try:
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass  # an unwritable cache only costs speed
    ds.source["cached"] = False
    return ds
