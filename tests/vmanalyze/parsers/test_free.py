"""parsers/free.py on real `free` output: the kernel guests' sosreports and this host."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.free import KEYS, SAMPLE_OLD, parse_free

KERNELS = Path(__file__).resolve().parents[2] / "data" / "kernels"


def _sos_free(release: str) -> tuple[str, str]:
    """The `free` and `free -m` a real sosreport of tests/data/kernels holds."""
    with tarfile.open(KERNELS / release / "sosreport.tar.xz") as tar:
        files = {
            m.name.rsplit("/", 1)[1]: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar
            if "/sos_commands/memory/free" in m.name and m.isfile()
        }
    return files["free"], files["free_-m"]


@pytest.mark.parametrize("release", ["bullseye", "bookworm", "trixie"])
def test_sosreport_free_agrees_with_free_m(release: str) -> None:
    kib, mib = _sos_free(release)
    parsed = parse_free(kib)
    assert set(parsed) == set(KEYS)
    in_mib = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in mib.splitlines()[1:]}
    assert parsed["mem_total_bytes"] // (1 << 20) == in_mib["Mem:"][0]
    # `free` and `free -m` ran one after the other: what is in use moved a little between them
    assert abs(parsed["mem_available_bytes"] // (1 << 20) - in_mib["Mem:"][5]) < 128
    assert parsed["swap_total_bytes"] == in_mib["Swap:"][0] * (1 << 20) == 0  # no swap
    assert parsed["mem_cached_bytes"] is None  # the new layout has buff/cache only


def test_live_free_matches_proc_meminfo() -> None:
    out = subprocess.run(["free"], capture_output=True, text=True, check=True).stdout
    parsed = parse_free(out)
    meminfo = {
        line.split(":")[0]: int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
    }
    assert parsed["mem_total_bytes"] == meminfo["MemTotal"]
    assert parsed["swap_total_bytes"] == meminfo["SwapTotal"]
    # MemAvailable moves between the two reads; a few MiB at most
    assert abs(parsed["mem_available_bytes"] - meminfo["MemAvailable"]) < 256 << 20


def test_old_layout_and_errors() -> None:
    old = parse_free(SAMPLE_OLD)
    assert old["mem_buffers_bytes"] == 198464 * 1024
    assert old["mem_total_bytes"] == 16268040 * 1024
    with pytest.raises(ParseError):
        parse_free("Mem: 1 2 3\n")  # no header
    with pytest.raises(ParseError):
        parse_free("   total used free\nMem: 1 2\n")  # fewer values than the header
