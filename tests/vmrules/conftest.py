"""Fixtures of the rule tests: the real sample bundles, and bundles collected during a test.

- ``sample_bundle("swap-thrash")``: the tables of ``sample-bundles/<name>.tar.gz`` (loaded once
  per session, without the Parquet cache); the test is skipped when the bundle is absent.
- ``live_capture``: runs the real collector (``python -m vmcollect``) in the background while
  the test changes the host, and loads the bundle it wrote.
- ``kernel_setting``: writes a /proc or /sys file for the test and restores it afterwards
  (needs root: the test is skipped otherwise).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import vmanalyze

REPO = Path(__file__).resolve().parents[2]
#: Held by every test that writes kernel settings, so that two pytest runs don't interleave
#: their writes and restores (one would restore the other's value).
KERNEL_LOCK = Path(tempfile.gettempdir()) / "vmtriage-rules-kernel-settings.lock"
BUNDLES = REPO / "sample-bundles"


@pytest.fixture(scope="session")
def sample_bundle() -> Callable[[str], Any]:
    """``load(name)``: the Dataset of ``sample-bundles/<name>.tar.gz``."""
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        path = BUNDLES / f"{name}.tar.gz"
        if not path.is_file():
            pytest.skip(f"sample-bundles/{name}.tar.gz is not there (not produced yet)")
        if name not in cache:
            cache[name] = vmanalyze.load(path, cache=False)
        return cache[name]

    return load


class LiveCapture:
    """The real collector running in the background; ``start()``, change the host, ``finish()``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.proc: subprocess.Popen[str] | None = None

    def start(self, interval: str = "200ms", count: int = 5) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "collector")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vmcollect", "--interval", interval, "--count", str(count)]
            + ["-o", str(self.out), "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )

    def finish(self, timeout: float = 120) -> Any:
        """Wait for the collector and load its bundle (the last line of its output)."""
        assert self.proc is not None, "start() first"
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, f"vmcollect failed ({self.proc.returncode}): {err}"
        path = out.strip().splitlines()[-1]
        return vmanalyze.load(path, cache=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def live_capture(tmp_path: Path) -> Iterator[LiveCapture]:
    capture = LiveCapture(tmp_path)
    try:
        yield capture
    finally:
        capture.stop()


@pytest.fixture
def kernel_setting() -> Iterator[Callable[[str, str], None]]:
    """``set(path, value)``: write a /proc or /sys file, restored in reverse order at the end.

    The restore value is the file's content before the first write (for THP files, the
    selected ``[value]``). A file that someone else changed meanwhile (the host is shared:
    ``make samples`` changes THP and sysctls too) is left as they set it. Skips the test
    when not root.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to change kernel settings")
    # one test at a time changes the kernel, across concurrent pytest runs on this host
    lock = open(KERNEL_LOCK, "a")  # noqa: SIM115 - held until the fixture ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    saved: list[tuple[Path, str]] = []
    written: dict[Path, str] = {}

    def current(path: Path) -> str:
        text = path.read_text().strip()
        if "[" in text:  # "always [madvise] never"
            return text.split("[", 1)[1].split("]", 1)[0]
        return text

    def write(path: str, value: str) -> None:
        p = Path(path)
        if not any(s[0] == p for s in saved):
            saved.append((p, current(p)))
        p.write_text(f"{value}\n")
        for q, _ in saved:  # the kernel may change paired files (dirty_bytes zeroes dirty_ratio)
            written[q] = current(q)

    try:
        yield write
    finally:
        for p, value in reversed(saved):
            with contextlib.suppress(OSError):
                if current(p) == written.get(p):
                    p.write_text(f"{value}\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


#: Real /proc and /sys files published by others (see its README.md), beside the repository.
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_capture() -> Callable[[str], tuple[Path, Any]]:
    """``load(relative_dir)``: (the directory, its Dataset) for a capture of the shared corpus
    (``../shared/corpus/<relative_dir>``, a single snapshot); skipped when absent."""

    def load(relative: str) -> tuple[Path, Any]:
        path = CORPUS / relative
        if not path.is_dir():
            pytest.skip(f"the shared corpus capture {relative} is not there")
        return path, vmanalyze.load(path, cache=False)

    return load


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read the shared corpus run in `make corpus`, not in `make test`.

    The project's own test suite must not depend on ../shared; the corpus step (`make corpus`,
    run by .ci/run when ../shared/corpus exists) selects them with `-m corpus`.
    """
    for item in items:
        if "corpus_capture" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)
