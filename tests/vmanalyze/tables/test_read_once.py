"""An input is read once per analysis, and a batch neither re-reads nor re-hashes it (issue 15).

Every file the analyzer opens goes through :func:`vmanalyze.safeio.open_regular` (a bundle,
an archive, each file of a captured directory while it is hashed) or, for the files of a
directory being parsed, ``vmanalyze.inputs._read_regular``. The tests count the opens and
the bytes read through both, on a real sample bundle and a directory of real /proc files.
The format sniff (``_archive_kind``) reads the first 512 bytes and seeks back: those come
from the read buffer, not the disk, and are counted here anyway.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest
import vmanalyze.cache
import vmanalyze.inputs
import vmanalyze.safeio
from vmanalyze.analysis import analyze
from vmanalyze.cache import content_hash
from vmanalyze.dataset import load

REPO = Path(__file__).resolve().parents[3]
BUNDLE = REPO / "sample-bundles" / "oom-kill.tar.gz"
FIXTURE = REPO / "tests" / "fixtures" / "debian12-kernel6.18" / "proc"
SNIFF = 512


class Reads:
    """Opens and bytes read, per path."""

    def __init__(self) -> None:
        self.opens: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()


class _Counting:
    def __init__(self, f: IO[bytes], path: str, reads: Reads) -> None:
        self._f, self._path, self._reads = f, path, reads

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._reads.bytes[self._path] += len(data)
        return data

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)  # type: ignore[attr-defined]
        self._reads.bytes[self._path] += n or 0
        return n  # type: ignore[no-any-return]

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    counted = Reads()
    real_open = vmanalyze.safeio.open_regular
    real_read = vmanalyze.inputs._read_regular

    def open_regular(path: Any, *, follow: bool = True) -> Any:
        f = real_open(path, follow=follow)
        counted.opens[os.fspath(path)] += 1
        return _Counting(f, os.fspath(path), counted)

    def read_regular(full: str, cap: int) -> bytes | None:
        data = real_read(full, cap)
        counted.opens[full] += 1
        counted.bytes[full] += len(data or b"")
        return data

    for module in (vmanalyze.cache, vmanalyze.inputs):
        monkeypatch.setattr(module, "open_regular", open_regular)
    monkeypatch.setattr(vmanalyze.inputs, "_read_regular", read_regular)
    return counted


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("VMANALYZE_CACHE_MAX", raising=False)
    return tmp_path / "cache"


def test_bundle_is_read_once_with_the_cache(reads: Reads, cache_dir: Path) -> None:
    size = BUNDLE.stat().st_size
    first = load(BUNDLE, cache_dir=cache_dir)
    assert first.source["cached"] is False
    # Hashed for the cache key with the bytes kept: the parse reads no file.
    assert reads.opens[str(BUNDLE)] == 1
    assert reads.bytes[str(BUNDLE)] == size
    second = load(BUNDLE, cache_dir=cache_dir)
    assert second.source["cached"] is True
    assert reads.opens[str(BUNDLE)] == 2  # the hit only hashes it
    assert reads.bytes[str(BUNDLE)] == 2 * size


def test_bundle_is_hashed_while_read_without_the_cache(reads: Reads) -> None:
    digest = content_hash(str(BUNDLE))
    reads.opens.clear()
    reads.bytes.clear()
    ds = load(BUNDLE, cache=False)
    assert ds.source["sha256"] == digest
    assert reads.opens[str(BUNDLE)] == 1
    assert reads.bytes[str(BUNDLE)] == BUNDLE.stat().st_size + SNIFF


def test_directory_files_are_read_once(reads: Reads, cache_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "db01"
    (root / "proc").mkdir(parents=True)
    for name in ("meminfo", "vmstat", "buddyinfo"):
        shutil.copyfile(FIXTURE / name, root / "proc" / name)
    (root / "notes.txt").write_text("not an input file: hashed, never parsed\n")
    reference = load(root, cache=False)
    reads.opens.clear()
    reads.bytes.clear()

    ds = load(root, cache_dir=cache_dir)
    for name in ("meminfo", "vmstat", "buddyinfo"):
        path = str(root / "proc" / name)
        assert reads.opens[path] == 1, name
        assert reads.bytes[path] == (FIXTURE / name).stat().st_size
    assert ds.source["sha256"] == reference.source["sha256"]  # the same digest as read alone
    assert ds.meminfo.equals(reference.meminfo)


def test_batch_worker_reads_once_and_hashes_once(reads: Reads, tmp_path: Path) -> None:
    from vmanalyze.fleet import RuleSpec, Task, run_task

    size = BUNDLE.stat().st_size
    alone = run_task(Task(str(BUNDLE), RuleSpec(), "k"))
    assert alone.status == "ok", alone.error
    assert reads.opens[str(BUNDLE)] == 1 and reads.bytes[str(BUNDLE)] == size

    # Hashed by the client already (split_duplicates): read once, not hashed again.
    digest = alone.input_hash
    assert digest is not None
    hashed: list[str] = []
    real = vmanalyze.cache.hash_and_keep
    reads.opens.clear()
    reads.bytes.clear()

    def counting(path: str, **kwargs: Any) -> Any:
        hashed.append(path)
        return real(path, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vmanalyze.cache, "hash_and_keep", counting)
        patch.setattr(vmanalyze.inputs, "hash_and_keep", counting)
        known = run_task(Task(str(BUNDLE), RuleSpec(), "k", input_hash=digest))
        assert known.status == "ok", known.error
        assert hashed == []
        assert reads.opens[str(BUNDLE)] == 1 and reads.bytes[str(BUNDLE)] == size + SNIFF
        assert known.findings == alone.findings and known.parts.keys() == alone.parts.keys()

        # Already done: skipped without opening the input.
        reads.opens.clear()
        done = run_task(
            Task(str(BUNDLE), RuleSpec(), "k", done=frozenset({digest}), input_hash=digest)
        )
        assert done.status == "skipped" and reads.opens[str(BUNDLE)] == 0


def test_analysis_reads_once(
    reads: Reads, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMANALYZE_CACHE_DIR", str(cache_dir))
    analysis = analyze(BUNDLE)
    assert analysis.dataset.source["cached"] is False
    assert reads.opens[str(BUNDLE)] == 1 and reads.bytes[str(BUNDLE)] == BUNDLE.stat().st_size
