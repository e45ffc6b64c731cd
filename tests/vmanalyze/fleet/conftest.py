"""Fixtures of the batch tests: real sample bundles, broken inputs, a rule pack that fires.

The built-in rules may not find anything in the sample bundles, so the batch runs with the
example pack of ``tests/plugins/`` (built with pip into a temporary ``--target``, put on
``PYTHONPATH`` of the batch processes) and a config that makes its two rules fire: every
host gets EXA001 (swappiness above 10), hosts with major faults get EXA002.

``batch_run`` runs ``python -m vmanalyze batch`` as a real subprocess (real process pool,
real exit status); ``fleet_run`` is one such batch over real bundles plus a corrupt, a
truncated and a hostile input, shared by the tests that check its outputs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from vmanalyze.exit_codes import INPUT_FAILED

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample-bundles"
#: On the batches' PYTHONPATH: their workers import tests.vmanalyze.fleet.faulty (test-only).
TESTS = ROOT
#: Real bundles used by the batch tests: small ones, from different scenarios.
REAL = ("memory-leak", "pagecache-thrash", "oom-kill")

CONFIG = """\
[rules.EXA001]
max_swappiness = 10

[rules.EXA002]
min_majflt_per_s = 20.0
critical_factor = 50.0
"""


@dataclass
class Run:
    """A finished ``vmanalyze batch`` process."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    out: Path


@pytest.fixture(scope="session")
def example_pack(tmp_path_factory: pytest.TempPathFactory, plugin_packs: Any) -> Iterator[Path]:
    """The example rule pack installed into a temporary directory, on sys.path."""
    with plugin_packs(["vmanalyze-rules-example"], tmp_path_factory.mktemp("pack")) as target:
        yield target


@pytest.fixture(scope="session")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "vmanalyze.toml"
    path.write_text(CONFIG)
    return path


def _hostile(path: Path) -> None:
    """A tar.gz with a member path escaping the archive (refused by the loader)."""
    with tarfile.open(path, "w:gz") as tar:
        data = b"MemTotal: 1 kB\n"
        info = tarfile.TarInfo("../../etc/evil")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of real bundles (immune to `make samples` rewriting them) and broken inputs."""
    root = tmp_path_factory.mktemp("inputs")
    good = root / "good"
    good.mkdir()
    out: dict[str, Path] = {}
    for name in REAL:
        target = good / f"{name}.tar.gz"
        shutil.copyfile(SAMPLES / f"{name}.tar.gz", target)
        out[name] = target
    bad = root / "bad"
    bad.mkdir()
    out["corrupt"] = bad / "corrupt.tar.gz"
    out["corrupt"].write_bytes(b"\x1f\x8b" + os.urandom(4000))  # gzip magic, garbage after
    data = (SAMPLES / "oom-kill.tar.gz").read_bytes()
    out["truncated"] = bad / "truncated.tar.gz"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["stub"] = bad / "stub.tar.gz"
    out["stub"].write_bytes(data[:40])  # cut inside the first gzip block
    out["hostile"] = bad / "hostile.tar.gz"
    _hostile(out["hostile"])
    out["root"] = root
    return out


def _env(example_pack: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VMANALYZE_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(example_pack), str(TESTS), env.get("PYTHONPATH", "")) if p
    )
    env["VMANALYZE_CACHE_DIR"] = str(example_pack.parent / "cache")
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def batch_run(example_pack: Path, config_file: Path):  # type: ignore[no-untyped-def]
    """Run ``vmanalyze batch ARGS... -o OUT --config CONFIG -q``; return a :class:`Run`."""

    def run(
        args: list[str],
        out: Path,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 600,
        fault: str | None = None,
    ) -> Run:
        # fault: ``crash`` or ``hang``: workers that fail on some inputs (see faulty.py)
        launcher = ["tests.vmanalyze.fleet.faulty", fault] if fault else ["vmanalyze"]
        command = [
            sys.executable,
            "-m",
            *launcher,
            "batch",
            *args,
            "-o",
            str(out),
            "--config",
            str(config_file),
            "-q",
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=_env(example_pack, env),
            timeout=timeout,
            check=False,
        )
        return Run(command, done.returncode, done.stdout, done.stderr, out)

    return run


@pytest.fixture(scope="session")
def fleet_run(batch_run, inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Run:  # type: ignore[no-untyped-def]
    """One batch over the real bundles (given as a directory) and the broken inputs."""
    out = tmp_path_factory.mktemp("fleet") / "out"
    bad = [str(inputs[k]) for k in ("corrupt", "truncated", "stub", "hostile")]
    run: Run = batch_run([str(inputs["root"] / "good"), *bad, "--jobs", "2"], out)
    assert run.returncode == INPUT_FAILED, run.stderr
    return run
