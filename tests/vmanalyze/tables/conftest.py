"""Real bundles for the data-layer tests: collected on this machine by the real collector."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def collect(out_dir: Path, *args: str) -> Path:
    env = dict(os.environ, PYTHONPATH=str(REPO / "collector"))
    proc = subprocess.run(
        [sys.executable, "-m", "vmcollect", "-q", "-o", str(out_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def live_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-sample bundle of this machine, collected once per test session."""
    return collect(tmp_path_factory.mktemp("live"), "--interval", "200ms", "--count", "4")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("VMANALYZE_CACHE_DIR", str(d))
    return d


def read_members(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(bundle, "r:gz") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            info = tarfile.TarInfo(info.name) if info.isreg() else info
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def manifest_of(members: list[tuple[tarfile.TarInfo, bytes]]) -> dict:
    return json.loads(dict((m.name, d) for m, d in members)["manifest.json"])
