"""The parsed-tables cache: where it lives, its keys, its entries, its size bound.

An entry is a directory ``<root>/<key>/`` holding ``source.json`` and one
``<table>.parquet`` per table (see :func:`vmanalyze.dataset.write_parquet`); the key is
``<content hash>-s<schema version>-v<analyzer version>``. Entries are private to the user
(``0700`` directories, ``0600`` files): their tables include the command lines of the
host's processes.

- The root is ``$VMANALYZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/vmanalyze``, else
  ``~/.cache/vmanalyze``. A root that is not a directory, not ours, or writable by others
  is not used: the run goes on without the cache, with one warning.
- The key names the input unambiguously (:func:`content_hash`).
- An entry is trusted only after :func:`read_entry` checked it: a real directory of
  regular files (no links), exactly the documented tables, a ``source.json`` of the right
  shape and types. Anything else is removed and the input parsed again.
- An entry is written in a private temporary directory renamed into place; a failed write
  removes it.
- The cache holds at most :data:`DEFAULT_MAX_BYTES` (``$VMANALYZE_CACHE_MAX``, e.g.
  ``500M``; ``0`` turns the cache off): after each write, the least recently used
  entries go until it fits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmanalyze.errors import InputError
from vmanalyze.safeio import NotRegularFile, file_kind, open_regular

ENV_DIR = "VMANALYZE_CACHE_DIR"
ENV_MAX = "VMANALYZE_CACHE_MAX"
#: Default size bound of the cache. A cached bundle takes a few MiB (a 10-minute bundle of
#: a busy host about 5 MiB), so this keeps a couple of hundred inputs: our choice.
DEFAULT_MAX_BYTES = 1 << 30
SOURCE_FILE = "source.json"
#: A source.json larger than this is not ours (a real one is a few KiB to a few MiB).
MAX_SOURCE_BYTES = 64 << 20
#: Temporary entry directories older than this are leftovers of a killed run.
STALE_TMP_S = 3600.0
KEY = re.compile(r"^(dir-)?[0-9a-f]{64}-s[0-9]+-v[A-Za-z0-9.+_-]+$")
_TMP = ".tmp-"
_CHUNK = 1 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class CacheUnusable(Exception):
    """The cache directory cannot be used (the run goes on without the cache)."""


# -- the key -------------------------------------------------------------------------------


def _field(digest: Any, data: bytes) -> None:
    """A length-prefixed field: no two sequences of fields hash the same bytes."""
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


def _hash_file(f: Any) -> bytes:
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.digest()


def _sorted_names(path: str, digest: Any) -> Iterator[str] | None:
    """The sorted names in a directory, or None (and the reason hashed) if unreadable."""
    try:
        with os.scandir(path) as it:
            return iter(sorted(entry.name for entry in it))
    except OSError as exc:
        digest.update(b"E")
        _field(digest, (exc.strerror or "unreadable").encode())
        return None


class Hashed:
    """An input's content hash (:func:`content_hash`), with the bytes read to make it that
    the reader may use instead of reading them again (see :func:`hash_and_keep`)."""

    def __init__(
        self,
        digest: str,
        data: bytes | None = None,
        files: dict[str, tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.digest = digest
        self._data = data
        self._files = files if files is not None else {}

    def take_data(self) -> bytes | None:
        """A file input's bytes, handed over (None: not kept, read the file)."""
        data, self._data = self._data, None
        return data

    def take_file(self, rel: str) -> tuple[bytes, bytes] | None:
        """A directory input's file (relative path, ``/``-separated) and its sha256 digest,
        handed over (None: not kept, read it)."""
        return self._files.pop(rel, None)


#: Decides which regular files of a directory the hash keeps: (relative path, size) -> bool.
KeepFile = Callable[[str, int], bool]


class _Keeper:
    """What a hash keeps of the bytes it reads: at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int, wanted: KeepFile | None) -> None:
        self.left = max_bytes
        self.wanted = wanted
        self.files: dict[str, tuple[bytes, bytes]] = {}

    def wants(self, rel: str, size: int) -> bool:
        return self.wanted is not None and size <= self.left and self.wanted(rel, size)

    def keep(self, rel: str, data: bytes, content: bytes) -> None:
        if len(data) <= self.left:
            self.left -= len(data)
            self.files[rel] = (data, content)


def _hash_entry(root: str, sub: str, digest: Any, keeper: _Keeper | None = None) -> bool:
    """Hash one entry (type, length-prefixed name, content hash or link target); True for
    a directory, whose entries come next. ``keeper`` keeps the wanted files' bytes."""
    full = os.path.join(root, sub)
    encoded = os.fsencode(sub)
    try:
        st = os.lstat(full)
    except OSError:
        digest.update(b"?")
        _field(digest, encoded)
        return False
    if stat.S_ISDIR(st.st_mode):
        digest.update(b"d")
        _field(digest, encoded)
        return True
    if stat.S_ISREG(st.st_mode):
        try:
            with open_regular(full, follow=False) as f:
                if keeper is not None and keeper.wants(sub, st.st_size):
                    data = f.read()
                    content = hashlib.sha256(data).digest()
                    keeper.keep(sub, data, content)
                else:
                    content = _hash_file(f)
            digest.update(b"f")
        except OSError:
            content = b""
            digest.update(b"u")  # unreadable (the loader skips it too)
        _field(digest, encoded)
        _field(digest, content)
    elif stat.S_ISLNK(st.st_mode):
        digest.update(b"l")
        _field(digest, encoded)
        with contextlib.suppress(OSError):
            _field(digest, os.fsencode(os.readlink(full)))
    else:
        digest.update(b"o")
        _field(digest, encoded)
        _field(digest, file_kind(st.st_mode).encode())
    return False


def _hash_tree(root: str, digest: Any, keeper: _Keeper | None = None) -> None:
    """Each entry below ``root``, depth first in name order, then ``]`` at the end of each
    directory. FIFOs, devices and sockets count by type and name only: never opened.
    Iterative: a tree thousands of directories deep does not exhaust the stack."""
    first = _sorted_names(root, digest)
    stack: list[tuple[str, Iterator[str]]] = [("", first)] if first is not None else []
    while stack:
        rel, names = stack[-1]
        name = next(names, None)
        if name is None:
            digest.update(b"]")
            stack.pop()
            continue
        sub = f"{rel}/{name}" if rel else name
        if _hash_entry(root, sub, digest, keeper):
            inner = _sorted_names(os.path.join(root, sub), digest)
            if inner is not None:
                stack.append((sub, inner))


def content_hash(path: str) -> str:
    """What names an input: the sha256 of a file's bytes, or ``dir-`` and the sha256 of a
    directory's tree (entry types, length-prefixed relative names and content hashes, so
    two different trees never share it).

    FIFOs, devices and sockets are refused before anything opens them; an input that
    cannot be read raises :class:`~vmanalyze.errors.InputError`.
    """
    return hash_and_keep(path, max_bytes=0).digest


def hash_and_keep(path: str, *, max_bytes: int, wanted: KeepFile | None = None) -> Hashed:
    """:func:`content_hash`, keeping up to ``max_bytes`` of what it read, so that the input's
    reader does not read it again: a file's bytes (if it fits whole), or a directory's files
    that ``wanted`` accepts (with their sha256 digests)."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            digest = hashlib.sha256(b"vmanalyze-tree-1\0")
            keeper = _Keeper(max_bytes, wanted) if max_bytes else None
            _hash_tree(path, digest, keeper)
            return Hashed("dir-" + digest.hexdigest(), files=keeper.files if keeper else None)
        with open_regular(path) as f:
            if not 0 < os.fstat(f.fileno()).st_size <= max_bytes:
                return Hashed(_hash_file(f).hex())
            data = f.read(max_bytes + 1)
            file_digest = hashlib.sha256(data)
            if len(data) <= max_bytes:
                return Hashed(file_digest.hexdigest(), data)
            del data  # it grew while read: hash the rest, keep nothing
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                file_digest.update(chunk)
            return Hashed(file_digest.hexdigest())
    except NotRegularFile as exc:
        raise InputError(path, f"{exc.strerror}, not a bundle, archive or directory") from None
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None


# -- where, how big ------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """'1G', '500M', '0' -> bytes; raises ValueError.

    >>> parse_size("1G"), parse_size("500MiB"), parse_size("0")
    (1073741824, 524288000, 0)
    """
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    number = float(value[: -len(unit)] if unit else value)
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"not a size: {text!r}")
    return int(number * _UNITS[unit])


def default_dir() -> Path:
    """``$VMANALYZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/vmanalyze``, else ``~/.cache/vmanalyze``."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmanalyze"


def max_bytes() -> int:
    """The size bound: ``$VMANALYZE_CACHE_MAX`` (0 turns the cache off), else the default."""
    text = os.environ.get(ENV_MAX)
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        return parse_size(text)
    except ValueError:
        raise InputError(f"${ENV_MAX}", f"not a size: {text!r} (examples: 1G, 500M, 0)") from None


def open_root(root: Path, *, create: bool = True) -> Path:
    """Check (and create) the cache root; raise :class:`CacheUnusable` if it is unsafe."""
    try:
        if create and not os.path.lexists(root):
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(root)
    except OSError as exc:
        raise CacheUnusable(f"{root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CacheUnusable(f"{root}: {file_kind(st.st_mode)}, not a directory")
    if st.st_uid != os.geteuid():
        raise CacheUnusable(f"{root}: owned by uid {st.st_uid}, not by this user")
    if st.st_mode & 0o022:
        raise CacheUnusable(f"{root}: writable by other users (mode {st.st_mode & 0o777:o})")
    if not os.access(root, os.W_OK | os.X_OK):
        raise CacheUnusable(f"{root}: not writable")
    return root


# -- entries -------------------------------------------------------------------------------

_SOURCE_TYPES: dict[str, tuple[type, ...]] = {
    "input": (str,),
    "input_name": (str,),
    "kind": (str,),
    "sha256": (str,),
    "samples": (int,),
    "warnings": (list,),
    "analyzer_version": (str,),
    "schema_version": (int,),
    "parse_seconds": (int, float),
    "manifest": (dict,),
}


def check_source(source: Any, *, version: str, schema: int) -> str | None:
    """Why a cached source.json cannot be trusted, or None.

    >>> good = {"input": "/x", "input_name": "x", "kind": "directory", "sha256": "dir-0",
    ...         "samples": 1, "warnings": [], "analyzer_version": "1", "schema_version": 2,
    ...         "parse_seconds": 0.1, "manifest": {}}
    >>> check_source(good, version="1", schema=2) is None
    True
    >>> check_source({**good, "samples": "1"}, version="1", schema=2)
    'samples is str'
    >>> check_source({**good, "warnings": [3]}, version="1", schema=2)
    'warnings holds a non-string'
    """
    if not isinstance(source, dict):
        return "not a JSON object"
    for key, types in _SOURCE_TYPES.items():
        value = source.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            return f"{key} is {type(value).__name__}"
    if not all(isinstance(w, str) for w in source["warnings"]):
        return "warnings holds a non-string"
    if source["samples"] < 0:
        return "negative samples"
    if source["analyzer_version"] != version or source["schema_version"] != schema:
        return "made by another version"
    return None


def _regular_files(entry: Path) -> dict[str, int]:
    """The files of an entry directory and their sizes; raise ValueError for anything else."""
    st = os.lstat(entry)
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{file_kind(st.st_mode)}, not a directory")
    sizes = {}
    with os.scandir(entry) as it:
        for item in it:
            item_st = item.stat(follow_symlinks=False)
            if not stat.S_ISREG(item_st.st_mode):
                raise ValueError(f"{item.name}: {file_kind(item_st.st_mode)}")
            sizes[item.name] = item_st.st_size
    return sizes


def read_entry(
    entry: Path, tables: frozenset[str], *, version: str, schema: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated source.json and the open Parquet files (name -> binary file) of an
    entry; raise ValueError or OSError when anything is not as written."""
    sizes = _regular_files(entry)
    expected = {SOURCE_FILE, *(f"{name}.parquet" for name in tables)}
    if set(sizes) != expected:
        extra = sorted(set(sizes) - expected)[:3]
        missing = sorted(expected - set(sizes))[:3]
        raise ValueError(f"unexpected files {extra}, missing {missing}")
    if sizes[SOURCE_FILE] > MAX_SOURCE_BYTES:
        raise ValueError("source.json too large")
    with open_regular(entry / SOURCE_FILE, follow=False) as f:
        source = json.loads(f.read(MAX_SOURCE_BYTES + 1).decode("utf-8"))
    problem = check_source(source, version=version, schema=schema)
    if problem:
        raise ValueError(f"source.json: {problem}")
    files = {name: entry / f"{name}.parquet" for name in sorted(tables)}
    return source, files


def touch(entry: Path) -> None:
    """Mark an entry as just used (its directory's mtime orders the eviction)."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Entry:
    """One cache entry, for ``vmanalyze cache`` and the eviction."""

    key: str
    path: Path
    size: int
    used: float
    input_name: str | None = None


def entries(root: Path) -> list[Entry]:
    """The entries under ``root`` (least recently used first); unreadable ones skipped."""
    found = []
    try:
        items = list(os.scandir(root))
    except OSError:
        return []
    for item in items:
        if not KEY.match(item.name):
            continue
        path = Path(item.path)
        try:
            st = os.lstat(path)
            sizes = _regular_files(path)
        except (OSError, ValueError):
            continue
        name = None
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            if sizes.get(SOURCE_FILE, MAX_SOURCE_BYTES + 1) <= MAX_SOURCE_BYTES:
                with open_regular(path / SOURCE_FILE, follow=False) as f:
                    source = json.loads(f.read().decode("utf-8"))
                if isinstance(source, dict) and isinstance(source.get("input_name"), str):
                    name = source["input_name"]
        found.append(Entry(item.name, path, sum(sizes.values()), st.st_mtime, name))
    found.sort(key=lambda e: (e.used, e.key))
    return found


def evict(root: Path, limit: int, *, keep: str | None = None) -> list[str]:
    """Remove least recently used entries until the cache holds at most ``limit`` bytes
    (never ``keep``, the entry just written); also leftovers of killed runs. Returns the
    removed keys."""
    now = time.time()
    with contextlib.suppress(OSError):
        for item in os.scandir(root):
            if item.name.startswith(_TMP):
                with contextlib.suppress(OSError):
                    if now - item.stat(follow_symlinks=False).st_mtime > STALE_TMP_S:
                        remove(Path(item.path))
    found = entries(root)
    total = sum(e.size for e in found)
    removed = []
    for e in found:
        if total <= limit:
            break
        if e.key == keep:
            continue
        remove(e.path)
        total -= e.size
        removed.append(e.key)
    return removed


def clear(root: Path) -> int:
    """Remove every entry (and leftover) of the cache; return how many entries went."""
    count = 0
    with contextlib.suppress(OSError):
        for item in os.scandir(root):
            if KEY.match(item.name) or item.name.startswith(_TMP):
                count += bool(KEY.match(item.name))
                if item.is_dir(follow_symlinks=False):
                    remove(Path(item.path))
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)
    return count
