"""Every file vmanalyze writes is created exclusively and renamed into place (issue 11, req 5).

The attacker is another local user (``nobody``) who plants symbolic links in a shared
sticky (``1777``) directory where an engineer running as root writes a report: at the
temporary names the analyzer used to use (``.<report>.tmp-<pid>``, predictable) and at the
final names. The root-owned file the links point to must never change.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.safeio import PRIVATE, atomic_write, atomic_writer

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "debian12-kernel6.18" / "proc"
SECRET = b"root-owned data that must not change\n"


@pytest.fixture
def sticky() -> Iterator[Path]:
    """A world-writable sticky directory like /tmp (tmp_path's parents are root-only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    path = Path(tempfile.mkdtemp(prefix="vmtriage-sticky-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_bytes(SECRET)
    path.chmod(0o644)
    return path


def plant(link: Path, target: Path) -> None:
    """A symbolic link made by the user ``nobody`` (its owner is nobody, not root)."""
    subprocess.run(["ln", "-s", str(target), str(link)], user="nobody", check=True)
    assert link.is_symlink() and os.lstat(link).st_uid == 65534


def capture(root: Path) -> Path:
    (root / "proc").mkdir(parents=True)
    for name in ("meminfo", "vmstat"):
        shutil.copyfile(FIXTURE / name, root / "proc" / name)
    (root / "proc" / "sys" / "kernel").mkdir(parents=True)
    (root / "proc" / "sys" / "kernel" / "hostname").write_text("db01\n")
    return root


def no_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob("*") if ".tmp-" in p.name]


# -- the helper --------------------------------------------------------------------------------


def test_atomic_write_replaces_a_link_never_writes_through_it(tmp_path: Path, victim: Path) -> None:
    target = tmp_path / "report.html"
    target.symlink_to(victim)
    atomic_write(target, b"<html>")
    assert not target.is_symlink() and target.read_bytes() == b"<html>"
    assert victim.read_bytes() == SECRET
    assert no_leftovers(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half")
        raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_modes_public_and_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "report.html", b"x")
        atomic_write(tmp_path / "entry.parquet", b"x", mode=PRIVATE)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "report.html").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "entry.parquet").st_mode) == 0o600


# -- the commands, against links planted by another user ---------------------------------------


def test_report_ignores_links_planted_by_another_user(
    sticky: Path, victim: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner
    from vmanalyze.cli import _register_commands, app

    monkeypatch.setenv("VMANALYZE_CACHE_DIR", str(tmp_path / "cache"))
    data = capture(tmp_path / "db01")
    report = sticky / "db01.report.json"
    # The names the analyzer used to write through, for this very process, and the report.
    plant(sticky / f".{report.name}.tmp-{os.getpid()}", victim)
    plant(report, victim)
    _register_commands()
    result = CliRunner().invoke(app, ["analyze", str(data), "-f", "json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    assert victim.read_bytes() == SECRET
    assert not report.is_symlink() and os.stat(report).st_uid == 0
    assert json.loads(report.read_text())["input"]["name"] == "db01"
    assert no_leftovers(sticky) == [f".{report.name}.tmp-{os.getpid()}"]  # nobody's link only


def test_export_ignores_links_planted_by_another_user(
    sticky: Path, victim: Path, tmp_path: Path
) -> None:
    from vmanalyze.dataset import load, read_parquet, write_parquet

    out = sticky / "tables"
    out.mkdir()
    out.chmod(0o1777)
    for name in ("meminfo.parquet", "source.json", f".meminfo.parquet.tmp-{os.getpid()}"):
        plant(out / name, victim)
    dataset = load(capture(tmp_path / "db01"), cache=False)
    written = write_parquet(dataset, out)
    assert victim.read_bytes() == SECRET
    assert len(written) == len(dataset.tables)
    assert not (out / "meminfo.parquet").is_symlink()
    pd.testing.assert_frame_equal(read_parquet(out).meminfo, dataset.meminfo)
    assert json.loads((out / "source.json").read_text())["input_name"] == "db01"


def test_fleet_writer_ignores_links_planted_by_another_user(sticky: Path, victim: Path) -> None:
    from vmanalyze.fleet import FleetWriter, TaskResult

    out = sticky / "fleet"
    out.mkdir()
    out.chmod(0o1777)
    writer = FleetWriter(out, version="0", rules_key="k")
    input_hash = "a" * 64
    part_dir = out / "tables" / "meminfo" / "host=db01"
    part_dir.mkdir(parents=True)
    (out / "reports").mkdir()
    for d in (
        out / "tables",
        out / "tables" / "meminfo",
        part_dir,
        out / "reports",
        out / ".state",
    ):
        d.chmod(0o1777)
    pid = os.getpid()
    names = [
        out / ".state" / f"{input_hash}.json",
        out / "reports" / "db01-x.html",
        part_dir / f"{input_hash}.parquet",
        out / "fleet.html",
        out / "findings.parquet",
        out / "inputs.parquet",
    ]
    for name in names:
        plant(name.with_name(f".{name.name}.tmp-{pid}"), victim)
        plant(name, victim)
    frame = pd.DataFrame({"ts": [1], "mem_total_bytes": [1 << 30]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    writer.store(
        TaskResult(
            **{
                "status": "ok",
                "input": "/x/db01.tar.gz",
                "input_hash": input_hash,
                "host": "db01",
                "host_partition": "db01",
                "parts": {"meminfo": buffer.getvalue()},
                "report": "reports/db01-x.html",
                "report_html": "<p>db01</p>",
                "analyzer_version": "0",
                "rules_key": "k",
            }
        )
    )
    files = writer.assemble([])
    assert victim.read_bytes() == SECRET
    assert files.ok == 1 and files.fleet_html == out / "fleet.html"
    for name in names:
        assert not name.is_symlink() and os.stat(name).st_uid == 0, name
    assert (out / "reports" / "db01-x.html").read_text() == "<p>db01</p>"
    assert len(pd.read_parquet(out / "inputs.parquet")) == 1


def test_fleet_writer_refuses_a_linked_directory(sticky: Path, tmp_path: Path) -> None:
    """``reports`` planted as a link to another directory: nothing lands there."""
    from vmanalyze.fleet import FleetWriter, TaskResult

    out = sticky / "fleet"
    out.mkdir()
    out.chmod(0o1777)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plant(out / "reports", elsewhere)
    writer = FleetWriter(out, version="0", rules_key="k")
    with pytest.raises(PermissionError, match="a symbolic link, not a directory"):
        writer.store(
            TaskResult(
                status="ok",
                input_hash="a" * 64,
                host_partition="db01",
                parts={},
                report="reports/db01-x.html",
                report_html="<p>",
            )
        )
    assert list(elsewhere.iterdir()) == []
    assert list((out / ".state").iterdir()) == []  # no state: the input is not done

    # The output directory's .state itself planted by nobody: the batch stops, one line.
    other = sticky / "other"
    other.mkdir()
    other.chmod(0o1777)
    plant(other / ".state", elsewhere)
    from vmanalyze.fleet import BatchError, RuleSpec, run_batch

    with pytest.raises(BatchError, match=r"\.state: a symbolic link, not a directory"):
        run_batch([], other, RuleSpec())
