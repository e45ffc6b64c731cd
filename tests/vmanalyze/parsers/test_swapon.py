"""parsers/swapon.py on real `swapon --bytes --show` output (a swap area made for the test)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.swapon import parse_swapon
from vmanalyze.parsers.swaps import parse_swaps


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="swapon needs root")
def test_live_swap_file_matches_proc_swaps(tmp_path: Path) -> None:
    swap = tmp_path / "t.swap"
    subprocess.run(["fallocate", "-l", "16M", str(swap)], check=True)
    swap.chmod(0o600)
    subprocess.run(["mkswap", str(swap)], check=True, capture_output=True)
    try:
        if subprocess.run(["swapon", str(swap)], capture_output=True).returncode != 0:
            pytest.skip("this file system cannot hold a swap file")
        out = subprocess.run(
            ["swapon", "--bytes", "--show"], capture_output=True, text=True, check=True
        ).stdout
        proc = parse_swaps(Path("/proc/swaps").read_text())
    finally:
        subprocess.run(["swapoff", str(swap)], capture_output=True)
    rows = {r["filename"]: r for r in parse_swapon(out)}
    ours = rows[str(swap)]
    assert ours["type"] == "file" and ours["used_bytes"] == 0
    kernel = next(r for r in proc if r["filename"] == str(swap))
    assert ours["size_bytes"] == kernel["size_bytes"]
    assert ours["priority"] == kernel["priority"]


def test_no_swap_and_bad_input() -> None:
    assert parse_swapon("") == []  # sos writes the file empty when no swap is active
    with pytest.raises(ParseError):
        parse_swapon("NAME TYPE SIZE USED PRIO\n/dev/sda2 partition 2G 0B -2\n")  # no --bytes
