"""Reading inputs safely: every kind of bad input is a one-line error or a warning."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from vmanalyze.errors import InputError, UnsupportedFormatError
from vmanalyze.inputs import (
    CapturedInput,
    Limits,
    expand_repeats,
    parse_record_stream,
    read_input,
    split_member,
)

from .conftest import manifest_of, read_members, write_tar


def _info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def test_bundle_kind_comes_from_content_not_name(live_bundle: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "whatever.bin"
    renamed.write_bytes(live_bundle.read_bytes())
    captured = read_input(str(renamed))
    assert captured.kind == "vmcollect-bundle"
    assert [s.label for s in captured.snapshots] == ["start", "0", "1", "2", "3", "end"]
    assert [label for label, _ in captured.files["proc/meminfo"]] == [
        "start",
        "0",
        "1",
        "2",
        "3",
        "end",
    ]


def test_captured_directory_and_tar_of_it_are_one_sample(tmp_path: Path) -> None:
    root = tmp_path / "capture" / "host1"
    for rel in (
        "proc/meminfo",
        "proc/vmstat",
        "proc/sys/vm/swappiness",
        "sys/kernel/mm/transparent_hugepage/enabled",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(Path("/" + rel).read_bytes())
    captured = read_input(str(root))
    assert captured.kind == "directory" and [s.label for s in captured.snapshots] == ["0"]
    assert captured.files["proc/meminfo"][0][1] == (root / "proc/meminfo").read_bytes()
    archive = tmp_path / "capture.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(tmp_path / "capture", arcname="capture")
    from_tar = read_input(str(archive))
    assert from_tar.kind == "directory"
    assert set(from_tar.files) == set(captured.files)


def test_sosreport_is_recognised_by_its_layout(tmp_path: Path) -> None:
    top = tmp_path / "sosreport-db01-2024-01-01-abcdef"
    (top / "sos_commands" / "process").mkdir(parents=True)
    (top / "sos_commands" / "process" / "ps_auxwww").write_text(
        "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
    )
    (top / "proc").mkdir()
    (top / "proc" / "meminfo").write_bytes(Path("/proc/meminfo").read_bytes())
    archive = tmp_path / "sosreport.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        tar.add(top, arcname=top.name)
    captured = read_input(str(archive))
    assert captured.kind == "sosreport"
    assert "proc/meminfo" in captured.files


@pytest.mark.parametrize(
    "name, reason",
    [("/etc/passwd", "absolute member path"), ("proc/../../etc/passwd", "'..'")],
)
def test_absolute_and_dotdot_members_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    archive = write_tar(tmp_path / "evil.tar.gz", [(_info(name), b"x")])
    with pytest.raises(InputError, match=reason):
        read_input(str(archive))


def test_links_devices_and_fifos_are_never_followed(tmp_path: Path, live_bundle: Path) -> None:
    members = read_members(live_bundle)
    members = [(m, d) for m, d in members if m.name != "proc/vmstat"]
    members += [
        (_info("proc/vmstat", tarfile.SYMTYPE, "/etc/shadow"), b""),
        (_info("proc/zoneinfo.hard", tarfile.LNKTYPE, "manifest.json"), b""),
        (_info("dev/sda", tarfile.BLKTYPE), b""),
        (_info("proc/fifo", tarfile.FIFOTYPE), b""),
    ]
    archive = write_tar(tmp_path / "links.tar.gz", members)
    before = set(os.listdir(tmp_path))
    captured = read_input(str(archive))
    assert "proc/vmstat" not in captured.files
    assert "dev/sda" not in captured.files and "proc/fifo" not in captured.files
    assert set(os.listdir(tmp_path)) == before  # nothing extracted or created


def test_decompression_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    zeros = tarfile.TarInfo("proc/meminfo")
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tar:
        zeros.size = 64 << 20
        tar.addfile(zeros, io.BytesIO(bytes(64 << 20)))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(InputError, match="more than 8,388,608 bytes \\(--max-bytes\\)"):
        read_input(str(bomb), Limits(max_bytes=8 << 20))


def test_member_count_is_capped(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "many.tar.gz", [(_info(f"x/{i}"), b"") for i in range(50)])
    with pytest.raises(InputError, match="more than 10 entries"):
        read_input(str(archive), Limits(max_members=10))


def test_truncated_bundle_keeps_complete_data_with_a_warning(
    tmp_path: Path, live_bundle: Path
) -> None:
    data = live_bundle.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    # Per-process members come last and are most of a bundle: a cut at 85% lands among them.
    cut.write_bytes(data[: len(data) * 85 // 100])
    captured = read_input(str(cut))
    assert any("truncated" in w for w in captured.warnings)
    assert len(captured.snapshots) == 6
    assert len(captured.files["proc/meminfo"]) == 6


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"PK\x03\x04 not a tar", "unknown format"),
        (b"\x1f\x8b\x08\x00garbage-after-gzip-magic", "archive"),
    ],
)
def test_not_an_archive(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "input.tar.gz"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason):
        read_input(str(path))


def test_broken_manifest_and_newer_format(tmp_path: Path, live_bundle: Path) -> None:
    members = read_members(live_bundle)
    broken = [(m, b"{not json" if m.name == "manifest.json" else d) for m, d in members]
    with pytest.raises(InputError, match="broken manifest.json"):
        read_input(str(write_tar(tmp_path / "broken.tar.gz", broken)))
    manifest = json.loads(dict((m.name, d) for m, d in members)["manifest.json"])
    manifest["format_version"] = 99
    newer = [
        (m, json.dumps(manifest).encode() if m.name == "manifest.json" else d) for m, d in members
    ]
    with pytest.raises(UnsupportedFormatError, match="upgrade vmanalyze"):
        read_input(str(write_tar(tmp_path / "newer.tar.gz", newer)))


def test_garbage_in_one_record_costs_that_record(tmp_path: Path, live_bundle: Path) -> None:
    members = read_members(live_bundle)
    out = []
    for m, d in members:
        if m.name == "proc/meminfo":
            d = d.replace(b"@@ vmcollect 2 ", b"@@ garbage!! 2 ", 1)
        out.append((m, d))
    captured = read_input(str(write_tar(tmp_path / "garbage.tar.gz", out)))
    assert [label for label, _ in captured.files["proc/meminfo"]] == ["start", "0", "1"]
    assert any("proc/meminfo" in w and "unreadable record" in w for w in captured.warnings)


def test_cli_gives_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"nope")
    proc = subprocess.run(
        [sys.executable, "-m", "vmanalyze", "export", str(bad), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"vmanalyze: error: {bad}: not a vmcollect bundle, sosreport or tar archive "
        "(unknown format)"
    ]


def _written_out(stream: bytes) -> bytes:
    """A record stream with its repeat records written out in full (format 1), written here
    from docs/bundle-format.md rather than with the reader's code."""
    out, previous, pos = [], b"", 0
    while pos < len(stream):
        nl = stream.index(b"\n", pos)
        label, length = stream[pos:nl].split(b" ")[2:]
        if length == b"=":
            out.append(b"@@ vmcollect %s %d\n%s\n" % (label, len(previous), previous))
            pos = nl + 1
            continue
        previous = stream[nl + 1 : nl + 1 + int(length)]
        out.append(stream[pos : nl + 2 + int(length)])
        pos = nl + 2 + int(length)
    return b"".join(out)


def _records(captured: CapturedInput) -> dict[str, list[tuple[str, bytes]]]:
    """Every captured path's records, packed sources included."""
    out = dict(captured.files)
    known = {s.label for s in captured.snapshots}
    for packs in captured.packs.values():
        for pack in packs:
            for path, stream in pack.members():
                out[path] = split_member(path, stream, known, [])
    return out


def test_repeat_records_read_as_the_records_they_repeat(live_bundle: Path, tmp_path: Path) -> None:
    """Format 2 stores an unchanged capture as a repeat record: the tables see it in full,
    from the archive (the packs' bulk path too) and from the bundle unpacked in a directory."""
    members = read_members(live_bundle)
    assert manifest_of(members)["format_version"] == 2
    streams = {m.name: d for m, d in members if m.name not in ("manifest.json", "samples.jsonl")}
    repeats = [n for n, d in streams.items() if b" =\n" in d]
    assert any(n.endswith("/stat") for n in repeats) and "proc/buddyinfo" in streams
    old = [(m, d if m.name not in streams else _written_out(d)) for m, d in members]
    old_bundle = write_tar(tmp_path / "written-out.tar.gz", old)
    expected = _records(read_input(str(old_bundle)))
    captured = read_input(str(live_bundle))
    assert _records(captured) == expected and not captured.warnings
    unpacked = tmp_path / "unpacked"
    with tarfile.open(live_bundle) as tar:
        tar.extractall(unpacked)  # noqa: S202 (our own bundle)
    from_directory = _records(read_input(str(unpacked)))  # the files a directory input reads
    assert {n for n in from_directory if n.endswith("/stat")} >= {
        n for n in repeats if n.endswith("/stat")
    }
    assert all(records == expected[name] for name, records in from_directory.items())


def test_repeats_of_a_large_record_stop_at_the_member_limit(tmp_path: Path) -> None:
    big = b"1 (x) S " + b"0 " * 200_000 + b"\n"
    stream = b"@@ vmcollect start %d\n%s\n" % (len(big), big) + b"@@ vmcollect 0 =\n" * 1000
    members = [
        (tarfile.TarInfo("manifest.json"), json.dumps({"format_version": 2}).encode()),
        (tarfile.TarInfo("samples.jsonl"), b""),
        (tarfile.TarInfo("proc/1/stat"), stream),
    ]
    bundle = write_tar(tmp_path / "repeats.tar.gz", members)
    limits = Limits(max_member_bytes=4 << 20)
    with pytest.raises(InputError, match="no complete snapshot"):
        read_input(str(bundle), limits)
    parsed, error = parse_record_stream(stream, 4 << 20)
    assert (
        len(parsed) == 11
        and error == "repeats add up to more than 4,194,304 bytes; kept 11 records"
    )


def test_expand_repeats_writes_out_runs_exactly(live_bundle: Path) -> None:
    """expand_repeats copies records in runs and expands a run of repeats at once: the same
    bytes as writing each record out, and a limit inside a run keeps the records that fit."""
    members = read_members(live_bundle)
    streams = [d for m, d in members if m.name not in ("manifest.json", "samples.jsonl")]
    for stream in streams:
        assert expand_repeats(stream, 64 << 20) == (_written_out(stream), None)
    # A limit inside a run of repeats (a record that repeats one that is itself a repeat).
    runs = [
        (stream, records, i)
        for stream in streams
        if b" =\n@@ vmcollect " in stream
        for records in [parse_record_stream(stream)[0]]  # a repeat's body: the same object
        for i in range(2, len(records))
        if records[i][1] is records[i - 2][1] and records[i][1]
    ]
    assert runs
    stream, records, kept = runs[0]
    full = _written_out(stream)
    sizes = [
        len(b"@@ vmcollect %s %d\n" % (label.encode(), len(body))) + len(body) + 1
        for label, body in records
    ]
    limit = sum(sizes[:kept]) + sizes[kept] - 1  # the next record does not fit by one byte
    assert expand_repeats(stream, limit) == (
        full[: sum(sizes[:kept])],
        f"more than {limit:,} bytes with its repeats written out; kept {kept} records",
    )
