"""The JSON of every sample bundle and reference fixture is pinned, byte for byte.

A refactoring must not change what the analysis says. Each input below is analyzed through the
command line (``vmanalyze INPUT -f json``) and compared with ``tests/data/golden/<name>.json``;
the only field normalized is ``input.path`` (where the checkout sits), so a change in a finding,
a number, a key's order or the JSON's layout fails here.

A change that is *meant* to alter the output (a new rule, a reworded message) regenerates the
files, and the diff goes into the same commit for review::

    .venv/bin/python tests/sample_bundles/test_golden_json.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
BUNDLES = sorted((ROOT / "sample-bundles").glob("*.tar.gz"))
FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures").iterdir() if p.is_dir())
INPUTS = {
    **{p.name.removesuffix(".tar.gz"): p for p in BUNDLES},
    **{f"fixture-{p.name}": p for p in FIXTURES},
}
# This captured tree has no date output: its collection time is a file time, which a clone sets.
del INPUTS["fixture-debian12-kernel6.18"]


def analyze(path: Path, out: Path) -> str:
    """Run the command line on *path* and return its JSON with ``input.path`` normalized."""
    env = {**os.environ, "VMANALYZE_PLUGINS": "", "COLUMNS": "120"}
    subprocess.run(
        [sys.executable, "-m", "vmanalyze", str(path), "-f", "json", "-o", str(out), "--no-cache"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    text = out.read_text(encoding="utf-8")
    return text.replace(json.dumps(str(path))[1:-1], f"<inputs>/{path.name}")


def test_every_sample_bundle_has_a_pinned_output() -> None:
    assert len(INPUTS) >= 11
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_json_output_is_unchanged(name: str, tmp_path: Path) -> None:
    got = analyze(INPUTS[name], tmp_path / "out.json")
    want = (GOLDEN / f"{name}.json").read_text(encoding="utf-8")
    assert json.loads(got)["input"]["path"] == f"<inputs>/{INPUTS[name].name}"
    assert got == want, f"{name}: the JSON changed; if that is meant, regenerate (module docstring)"


if __name__ == "__main__":  # regenerate the pinned files
    import tempfile

    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in sorted(INPUTS.items()):
            text = analyze(path, Path(tmp) / "out.json")
            (GOLDEN / f"{name}.json").write_text(text, encoding="utf-8")
            print(f"pinned {name}")
