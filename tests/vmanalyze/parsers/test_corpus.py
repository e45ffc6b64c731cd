"""The corpus conformance run on a small corpus built from the debian12 fixture."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.support.corpus import main, read_table, split_root

ROWS = [
    ("src-a/proc/meminfo", "meminfo", "capture", "MemTotal 24684092 kB; no swap; 54 lines"),
    (
        "src-a/proc/5399/stat",
        "pid-stat",
        "edge-case",
        "pid 5399 comm 'x) S 1 (y z' state S; 52 fields",
    ),
    (
        "src-a/proc/zoneinfo",
        "zoneinfo",
        "capture",
        "nodes 0; zones DMA/DMA32/Normal/Movable/Device; per-node stats section (4.8+)",
    ),
    ("src-a/proc/swaps", "swaps", "capture", "/tmp/vmtriage swap file size 65532 used 0"),
    (
        "src-a/sys/kernel/mm/transparent_hugepage/defrag",
        "thp-defrag",
        "capture",
        "active = madvise; 5 options",
    ),
    ("src-a/proc/sys/vm/lowmem_reserve_ratio", "sysctl-vm", "capture", "256\\t256\\t32\\t0\\t0"),
]


def _corpus(root: Path, debian12: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["# corpus", "", "| path in corpus | kind | source | status | notable properties |"]
    lines.append("|---|---|---|---|---|")
    for path, kind, status, notes in rows:
        lines.append(f"| `{path}` | {kind} | test | {status} | {notes} |")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        source = debian12 / path.split("/", 1)[1]
        if source.exists():
            shutil.copyfile(source, target)
        else:
            target.write_bytes(b"")
    (root / "README.md").write_text("\n".join(lines) + "\n")
    return root


def test_passes_when_files_agree_with_the_readme(tmp_path, debian12, capsys):
    assert main([str(_corpus(tmp_path, debian12, ROWS))]) == 0
    out = capsys.readouterr().out
    assert "OK: every supported file parsed" in out
    assert re.search(r"^total\s+6\s+0\s+0\s", out, re.MULTILINE)


def test_fails_on_a_wrong_value_and_lists_it(tmp_path, debian12, capsys):
    rows = [*ROWS[1:], ("src-a/proc/meminfo", "meminfo", "capture", "MemTotal 1 kB")]
    assert main([str(_corpus(tmp_path, debian12, rows))]) == 1
    out = capsys.readouterr().out
    assert "src-a/proc/meminfo: meminfo: MemTotal: README says 1024" in out


def test_empty_and_edited_files_do_not_fail(tmp_path, debian12, capsys):
    rows = [
        ("src-b/proc/pressure/memory", "pressure-memory", "empty", "EMPTY FILE (0 bytes)"),
        ("src-b/proc/vmstat", "vmstat", "edited", "nonsense 999 counters"),
    ]
    root = _corpus(tmp_path, debian12, rows)
    (root / "src-b/proc/pressure/memory").write_bytes(b"")
    (root / "src-b/proc/vmstat").write_text("broken line with words\n")
    assert main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "known-odd" in out and "src-b/proc/vmstat" in out


def test_listed_but_missing_file_fails(tmp_path, debian12, capsys):
    root = _corpus(tmp_path, debian12, ROWS[:1])
    (root / "README.md").write_text(
        (root / "README.md").read_text() + "| `src-a/proc/vmstat` | vmstat | t | capture | x |\n"
    )
    assert main([str(root)]) == 1
    assert "listed in README.md but missing" in capsys.readouterr().out


def test_helpers(tmp_path):
    assert split_root("pcp/meminfo-root-002/sys/devices/system/node/node0/meminfo") == (
        "pcp/meminfo-root-002",
        "sys/devices/system/node/node0/meminfo",
    )
    assert split_root("cadvisor/testdata/smaps4") is None
    readme = tmp_path / "README.md"
    readme.write_text("| `a/proc/meminfo` | meminfo | s | capture | MemTotal 1 kB |\n")
    assert read_table(readme)["a/proc/meminfo"].notes == "MemTotal 1 kB"


def test_unreadable_corpus(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
