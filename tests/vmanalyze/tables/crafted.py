"""Crafted hostile inputs, shared by the tests and benchmarks/hostile.py.

The bytes a hostile bundle is made of: a GNU sparse member that declares gigabytes in a few
hundred bytes, one huge member streamed through gzip, millions of empty members, and a small
real bundle (cut from sample-bundles/numa-remote.tar.gz) to mutate.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BUNDLE = REPO / "sample-bundles" / "numa-remote.tar.gz"
BLOCK = 512


def small_bundle(pids: int = 2) -> list[tuple[str, bytes]]:
    """A real bundle's members, with the per-process ones of only `pids` processes."""
    out: list[tuple[str, bytes]] = []
    kept: list[str] = []
    with tarfile.open(SAMPLE_BUNDLE, "r:gz") as tar:
        for info in tar:
            parts = info.name.split("/")
            per_process = len(parts) > 2 and parts[0] == "proc" and parts[1].isdigit()
            if per_process and parts[1] not in kept:
                if len(kept) >= pids:
                    continue
                kept.append(parts[1])
            f = tar.extractfile(info)
            if f is not None:
                out.append((info.name, f.read()))
    return out


def _itn(number: int, digits: int, fmt: int) -> bytes:
    """A tar number field (octal, or base-256 when it does not fit)."""
    return tarfile.itn(number, digits, fmt)  # type: ignore[attr-defined]


def captured_tree(prefix: str) -> list[tuple[str, bytes]]:
    """The bundle's /proc and /sys files as a one-shot capture below `prefix`: first records."""
    return [
        (prefix + name, stream.split(b"\n@@ vmcollect", 1)[0].split(b"\n", 1)[1])
        for name, stream in small_bundle()
        if name.startswith(("proc/", "sys/"))
    ]


def _header(info: tarfile.TarInfo) -> bytearray:
    return bytearray(info.tobuf(format=tarfile.GNU_FORMAT))


def _checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header[:BLOCK])


def tar_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar of regular files, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1764167405
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sparse_member(name: str, expanded: int, data: bytes = b"MemTotal: 1 kB\n") -> bytes:
    """One old-GNU sparse member (type ``S``): `data` stored at the end of `expanded` bytes.

    Its header declares `expanded` bytes while the archive holds one data block.
    """
    info = tarfile.TarInfo(name)
    info.size = len(data)
    header = _header(info)
    header[156:157] = b"S"
    header[386:398] = _itn(expanded - len(data), 12, tarfile.GNU_FORMAT)
    header[398:410] = _itn(len(data), 12, tarfile.GNU_FORMAT)
    header[482:483] = b"\0"  # no extended sparse headers
    header[483:495] = _itn(expanded, 12, tarfile.GNU_FORMAT)
    _checksum(header)
    padding = -len(data) % BLOCK
    return bytes(header) + data + b"\0" * padding


def member(name: str, data: bytes) -> bytes:
    """One regular member: its header, its data and the padding; archives are these joined."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1764167405
    return bytes(_header(info)) + data + b"\0" * (-len(data) % BLOCK)


def end_of_archive() -> bytes:
    return b"\0" * (2 * BLOCK)


def write_huge_member(path: Path, name: str, size: int, line: bytes = b"MemFree: 0 kB\n") -> Path:
    """A .tar.gz holding one member of `size` bytes of `line` repeated, written in chunks."""
    info = tarfile.TarInfo(name)
    info.size = size
    chunk = line * ((1 << 20) // len(line))
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(_header(info))
        left = size
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            out.write(piece)
            left -= len(piece)
        out.write(b"\0" * (-size % BLOCK) + end_of_archive())
    return path


def write_tiny_members(path: Path, count: int) -> Path:
    """A .tar.gz of `count` empty members ``proc/<n>/comm``: a header each, nothing else."""
    template = _header(tarfile.TarInfo("proc/0000000000/comm"))
    with gzip.open(path, "wb", compresslevel=1) as out:
        batch = bytearray()
        for n in range(count):
            header = bytearray(template)
            header[5:15] = b"%010d" % n
            _checksum(header)
            batch += header
            if len(batch) >= 1 << 22:
                out.write(batch)
                batch.clear()
        out.write(batch + end_of_archive())
    return path
