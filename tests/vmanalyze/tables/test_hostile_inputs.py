"""Hostile inputs (issue 11, requirements 1 and 2): bounded memory, one-line errors, clean text.

Every example of the issue has a test here; the property-based tests at the end feed random and
mutated manifests, records, archives and directories to the loader. None of them relies on a
catch-all: the only exceptions allowed out of the loader are InputError and
UnsupportedFormatError, and whatever is loaded must survive Parquet, JSON and HTML.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import lzma
import os
import re
import shutil
import tarfile
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vmanalyze.analysis import analyze
from vmanalyze.dataset import write_parquet
from vmanalyze.errors import InputError, UnsupportedFormatError
from vmanalyze.inputs import CapturedInput, Limits, parse_record_stream, read_input
from vmanalyze.packs import Pack, frame_records
from vmanalyze.tables import build_tables
from vmreports import render_html

from . import crafted

FIXTURE_TREE = crafted.REPO / "tests" / "fixtures" / "debian12-kernel6.18"
INPUT_ERRORS = (InputError, UnsupportedFormatError)
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@functools.cache
def _bundle() -> list[tuple[str, bytes]]:
    return crafted.small_bundle()


@pytest.fixture
def bundle() -> list[tuple[str, bytes]]:
    return _bundle()


def _replace(members: list[tuple[str, bytes]], name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in members]


def _manifest(members: list[tuple[str, bytes]]) -> dict[str, Any]:
    return json.loads(dict(members)["manifest.json"])


def _write(path: Path, members: list[tuple[str, bytes]]) -> str:
    path.write_bytes(gzip.compress(crafted.tar_bytes(members), compresslevel=1))
    return str(path)


def _peak(work: Callable[[], Any]) -> tuple[Any, int]:
    """What `work` returns or raises (as the exception), and the peak of Python allocations."""
    tracemalloc.start()
    try:
        try:
            out = work()
        except INPUT_ERRORS as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _survives_every_output(path: str, tmp_path: Path) -> Any:
    """Analyze `path` and write every output: Parquet, JSON, HTML. Returns the Analysis."""
    analysis = analyze(path, cache=False)
    write_parquet(analysis.dataset, tmp_path / "parquet")
    json.dumps(analysis.to_json_dict(), default=str).encode("utf-8")
    render_html(analysis).encode("utf-8")
    return analysis


# -- requirement 1: memory --------------------------------------------------------------------
def test_sparse_member_is_counted_expanded_and_skipped_by_name(tmp_path: Path) -> None:
    lone = tmp_path / "sparse.tar"
    lone.write_bytes(crafted.sparse_member("proc/meminfo", 3 << 30) + crafted.end_of_archive())
    assert lone.stat().st_size == 2048
    (out, peak) = _peak(lambda: read_input(str(lone)))
    assert isinstance(out, InputError)
    assert "proc/meminfo: skipped: 3,221,225,472 bytes" in str(out)
    assert "(--max-member-bytes)" in str(out)
    assert peak < 4 << 20
    bomb = tmp_path / "bomb.tar"
    bomb.write_bytes(crafted.sparse_member("proc/meminfo", 100 << 30) + crafted.end_of_archive())
    with pytest.raises(InputError, match=r"more than 4,294,967,296 bytes \(--max-bytes\)"):
        read_input(str(bomb))


def test_sparse_member_beside_real_files_keeps_the_rest(tmp_path: Path) -> None:
    members = crafted.captured_tree("h/")
    archive = tmp_path / "sos.tar"
    body = crafted.tar_bytes(m for m in members if m[0] != "h/proc/meminfo")
    archive.write_bytes(crafted.sparse_member("h/proc/meminfo", 3 << 30) + body)
    captured = read_input(str(archive))
    assert "proc/meminfo" not in captured.files and "proc/vmstat" in captured.files
    assert captured.warnings == [
        "h/proc/meminfo: skipped: 3,221,225,472 bytes is over the per-member limit of "
        "67,108,864 (--max-member-bytes)"
    ]


@pytest.fixture(scope="module")
def huge_tar(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An uncompressed tar of one 32 MiB proc/meminfo of NULs (bz2 is slow on other text)."""
    raw = crafted.write_huge_member(
        tmp_path_factory.mktemp("huge") / "raw.tar.gz", "proc/meminfo", 32 << 20, b"\0" * 64
    )
    return gzip.decompress(raw.read_bytes())


@pytest.mark.parametrize(
    "compress",
    [
        lambda b: gzip.compress(b, compresslevel=1),
        lambda b: bz2.compress(b, compresslevel=1),
        lambda b: lzma.compress(b, preset=0),
    ],
    ids=["gz", "bz2", "xz"],
)
def test_huge_member_is_skipped_in_bounded_memory(
    tmp_path: Path, huge_tar: bytes, compress: Callable[[bytes], bytes]
) -> None:
    """32 MiB of NULs compress 1,000 to 1,000,000 times; they are read through, never held."""
    path = tmp_path / "huge.tar"
    path.write_bytes(compress(huge_tar))
    assert path.stat().st_size < 1 << 20
    limits = Limits(max_member_bytes=1 << 20)
    (out, peak) = _peak(lambda: read_input(str(path), limits))
    assert isinstance(out, InputError)
    assert "proc/meminfo: skipped: 33,554,432 bytes" in str(out)
    assert peak < 12 << 20  # tarfile's own r|bz2 holds what one 10 KiB block expands to


def test_kept_files_are_capped_together(tmp_path: Path, bundle: list[tuple[str, bytes]]) -> None:
    path = _write(tmp_path / "b.tar.gz", bundle)
    kept = sum(len(d) for _n, d in bundle)
    read_input(path, Limits(max_read_bytes=kept))
    with pytest.raises(InputError, match=r"add up to more than 100,000 bytes \(--max-read-bytes\)"):
        read_input(path, Limits(max_read_bytes=100_000))


def test_directory_files_are_capped_one_by_one(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE_TREE, tree, symlinks=True)
    (tree / "proc" / "zoneinfo").write_bytes(b"x" * 5000)
    captured = read_input(str(tree), Limits(max_member_bytes=4096))
    assert "proc/zoneinfo" not in captured.files and "proc/meminfo" in captured.files
    assert any(w.startswith("proc/zoneinfo: skipped: 5,000 bytes") for w in captured.warnings)
    with pytest.raises(InputError, match=r"more than 3 entries \(--max-members\)"):
        read_input(str(tree), Limits(max_members=3))


def test_many_members_are_refused_at_the_cap(tmp_path: Path) -> None:
    path = crafted.write_tiny_members(tmp_path / "tiny.tar.gz", 2000)
    with pytest.raises(InputError, match=r"more than 1,000 entries \(--max-members\)"):
        read_input(str(path), Limits(max_members=1000))
    assert len(read_input(str(path)).files) == 2000  # all proc/<n>/comm, 0 bytes each


# -- requirement 2: the malformed examples --------------------------------------------
@pytest.mark.parametrize(
    "manifest, message",
    [
        (b"[" * 100_000, "broken manifest.json: nested deeper than 16 levels"),
        (b'{"format_version": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        (b'{"format_version": 1, "host": 7}', "host: expected an object, got 7"),
        (
            b'{"format_version": 1, "host": {"page_size": 100000000000000000000}}',
            "host.page_size: expected an integer from 512 to 1,073,741,824, "
            "got 100000000000000000000",
        ),
        (b'{"format_version": 1, "options": {"interval_s": NaN}}', "NaN is not a number"),
        (b'{"format_version": true}', "format_version: expected an integer"),
        (b'{"format_version": 1, "files": {"proc/meminfo": {"captured": -1}}}', "captured"),
        (b'{"format_version": 1' + b" " * (9 << 20) + b"}", "larger than 8,388,608 bytes"),
    ],
)
def test_malformed_manifest_is_one_line(
    tmp_path: Path, bundle: list[tuple[str, bytes]], manifest: bytes, message: str
) -> None:
    path = _write(tmp_path / "b.tar.gz", _replace(bundle, "manifest.json", manifest))
    with pytest.raises(InputError, match="broken manifest.json: ") as caught:
        read_input(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_sample_lines_are_dropped_with_a_warning(
    tmp_path: Path, bundle: list[tuple[str, bytes]]
) -> None:
    lines = dict(bundle)["samples.jsonl"].splitlines()
    first = json.loads(lines[1])
    bad = [
        json.dumps(first).replace(str(first["wall_ns"]), "Infinity").encode(),
        b'{"label": 1, "wall_ns": ' + b"9" * 4000 + b"}",
        b'{"label": 2, "wall_ns": 99999999999999999999}',
        b'{"label": {"a": 1}, "wall_ns": 5}',
        b"[" * 4000,
    ]
    samples = b"\n".join([lines[0], *bad, *lines[6:]]) + b"\n"
    path = _write(tmp_path / "b.tar.gz", _replace(bundle, "samples.jsonl", samples))
    captured = read_input(path)
    assert [s.label for s in captured.snapshots][:2] == ["start", "5"]
    assert len(captured.snapshots) == len(lines) - 5
    dropped = [w for w in captured.warnings if w.startswith("samples.jsonl line")]
    assert [w.split(":")[0] for w in dropped] == [f"samples.jsonl line {n}" for n in range(2, 7)]
    assert "Infinity is not a number JSON allows" in dropped[0]
    assert "wall_ns: expected an integer from 0 to" in dropped[1]
    assert "wall_ns: expected an integer from 0 to 9,223,372,036,854,775,807" in dropped[2]
    assert 'label: expected "start", "end" or a sample index' in dropped[3]
    assert "nested deeper than 16 levels" in dropped[4]
    tables, _warnings = build_tables(captured)
    assert tables["samples"]["ts"].notna().all()


def test_record_length_of_5000_digits_costs_that_member_tail(
    tmp_path: Path, bundle: list[tuple[str, bytes]]
) -> None:
    meminfo = dict(bundle)["proc/meminfo"]
    stat_name = next(n for n, _d in bundle if re.fullmatch(r"proc/[0-9]+/stat", n))
    stat = dict(bundle)[stat_name]
    digits = b"9" * 5000

    def lengthen(stream: bytes) -> bytes:
        head, _sep, rest = stream.partition(b"@@ vmcollect 1 ")
        return head + b"@@ vmcollect 1 " + digits + b"\n" + rest.split(b"\n", 1)[1]

    members = _replace(
        _replace(bundle, "proc/meminfo", lengthen(meminfo)), stat_name, lengthen(stat)
    )
    captured = read_input(_write(tmp_path / "b.tar.gz", members))
    assert [label for label, _ in captured.files["proc/meminfo"]] == ["start", "0"]
    assert any(w.startswith("proc/meminfo: unreadable record header") for w in captured.warnings)
    tables, warnings = build_tables(captured)
    assert any(stat_name in w and "unreadable record header" in w for w in warnings)
    pid = int(stat_name.split("/")[1])
    # snapshots are integers: start is -1, the first sample 0
    assert set(tables["pid_stat"][tables["pid_stat"]["pid"] == pid]["snapshot"]) == {-1, 0}


def test_lone_surrogate_hostname_reaches_every_output(
    tmp_path: Path, bundle: list[tuple[str, bytes]]
) -> None:
    manifest = _manifest(bundle)
    manifest["host"]["hostname"] = "\ud800db01\udcff"
    text = json.dumps(manifest).encode()
    assert b"\\ud800db01\\udcff" in text
    path = _write(tmp_path / "b.tar.gz", _replace(bundle, "manifest.json", text))
    analysis = _survives_every_output(path, tmp_path)
    assert analysis.dataset.tables["host"]["hostname"].tolist() == ["\ufffddb01\ufffd"]


def test_non_utf8_cgroup_directory_reaches_every_output(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE_TREE, tree, symlinks=True)
    parent = os.fsencode(tree / "sys" / "fs" / "cgroup" / "memory")
    os.rename(os.path.join(parent, b"vmtriage-oomtest"), os.path.join(parent, b"app\xff\xfe"))
    analysis = _survives_every_output(str(tree), tmp_path)
    cgroups = analysis.dataset.tables["cgroup_memory"]
    assert "/app\ufffd\ufffd" in set(cgroups["cgroup"])


def test_non_utf8_member_name_and_huge_mtime(tmp_path: Path) -> None:
    members = [(f"h/{n}", d) for n, d in crafted.small_bundle() if n == "proc/meminfo"]
    body = members[0][1].split(b"\n", 1)[1].split(b"\n@@", 1)[0]
    path = tmp_path / "t.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        for name in ("h\xff/proc/meminfo", "h\xff/etc/hostname"):
            info = tarfile.TarInfo(name)
            data = body if name.endswith("meminfo") else b"db\xff01\n"
            info.size, info.mtime = len(data), 10**15  # base-256: after the year 2262
            tar.addfile(info, __import__("io").BytesIO(data))
    captured = read_input(str(path))
    assert set(captured.files) == {"proc/meminfo", "etc/hostname"}
    assert captured.snapshots[0].wall_ns is None
    analysis = _survives_every_output(str(path), tmp_path)
    assert analysis.dataset.host["hostname"] == "db\ufffd01"  # the host facts read etc/hostname


# -- property-based: random and mutated inputs to the loader ----------------------------------
def _load(path: str, limits: Limits | None = None) -> CapturedInput | None:
    """read_input and build_tables; only the documented input errors may escape."""
    try:
        captured = read_input(path, limits)
    except INPUT_ERRORS as exc:
        assert "\n" not in str(exc)
        return None
    tables, warnings = build_tables(captured)
    for df in tables.values():
        for column in df.columns:
            if df[column].dtype == object or pd.api.types.is_string_dtype(df[column]):
                for value in df[column].dropna():
                    if isinstance(value, str):
                        value.encode("utf-8")  # what Parquet, JSON and HTML need
    return captured


_texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_numbers = st.one_of(
    st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True), st.booleans()
)
_json = st.recursive(
    st.one_of(st.none(), _numbers, _texts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=3)
    ),
    max_leaves=8,
)
_manifest_paths = st.sampled_from(
    [
        ("format_version",),
        ("host",),
        ("host", "hostname"),
        ("host", "page_size"),
        ("host", "cpu_count"),
        ("host", "numa_nodes"),
        ("host", "kernel_release"),
        ("options",),
        ("options", "interval_s"),
        ("collector", "version"),
        ("files",),
        ("files", "proc/meminfo"),
        ("files", "proc/meminfo", "captured"),
        ("files", "proc/meminfo", "error"),
        ("start_wall_ns",),
        ("unknown", "deep"),
    ]
)


@HYPOTHESIS
@given(changes=st.lists(st.tuples(_manifest_paths, _json), min_size=1, max_size=4))
def test_random_manifest_fields(tmp_path: Path, changes: list[tuple[tuple[str, ...], Any]]) -> None:
    bundle = _bundle()
    manifest = _manifest(bundle)
    for path, value in changes:
        node = manifest
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    text = json.dumps(manifest, allow_nan=True).encode()
    captured = _load(_write(tmp_path / "m.tar.gz", _replace(bundle, "manifest.json", text)))
    if captured is not None:
        host = captured.manifest.get("host") or {}
        assert host.get("page_size") is None or 512 <= host["page_size"] <= 1 << 30
        json.dumps(captured.manifest, allow_nan=False).encode("utf-8")


_labels = st.one_of(st.sampled_from([b"start", b"end", b"0", b"1", b"2"]), st.binary(max_size=6))


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.tuples(_labels, st.binary(max_size=40), st.integers(-3, 3)), max_size=8),
    cut=st.integers(0, 400),
)
def test_random_records_split_the_same_both_ways(
    records: list[tuple[bytes, bytes, int]], cut: int
) -> None:
    stream = b"".join(
        b"@@ vmcollect %s %d\n%s\n" % (label, max(len(body) + skew, 0), body)
        for label, body, skew in records
    )
    stream = stream[: len(stream) - cut % (len(stream) + 1)]
    split, error = parse_record_stream(stream)
    assert error is None or error.startswith(("unreadable record header", "record"))
    for _label, body in split:
        assert body in stream
    pack = Pack()
    pack.add("proc/1/stat", stream)
    framed = frame_records(pack)
    if framed is not None and error is None:
        labels = {-1: "start", -2: "end"}
        assert [
            (labels.get(int(n), str(n)), bytes(pack.data[b:e]))
            for n, b, e in zip(framed.label, framed.body, framed.end, strict=True)
        ] == [(lab, body) for lab, body in split]


_mutations = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6)


@HYPOTHESIS
@given(
    compress=st.sampled_from(["", "gz", "bz2", "xz"]),
    mutate_after=st.booleans(),
    flips=_mutations,
    keep=st.floats(0, 1),
)
def test_mutated_archives(
    tmp_path: Path,
    compress: str,
    mutate_after: bool,
    flips: list[tuple[int, int]],
    keep: float,
) -> None:
    compressors: dict[str, Callable[[bytes], bytes]] = {
        "": bytes,
        "gz": lambda b: gzip.compress(b, compresslevel=1),
        "bz2": bz2.compress,
        "xz": lzma.compress,
    }
    data = bytearray(crafted.tar_bytes(_bundle()))
    if mutate_after:
        data = bytearray(compressors[compress](bytes(data)))
    for position, value in flips:
        data[position % len(data)] = value
    data = data[: max(1, int(len(data) * keep))]
    if not mutate_after:
        data = bytearray(compressors[compress](bytes(data)))
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    (_out, peak) = _peak(lambda: _load(str(path)))
    assert peak < 200 << 20


@HYPOTHESIS
@given(declared=st.integers(0, 1 << 44), members=st.integers(1, 3))
def test_sparse_declared_sizes_never_cost_memory(
    tmp_path: Path, declared: int, members: int
) -> None:
    path = tmp_path / "s.tar"
    path.write_bytes(
        b"".join(crafted.sparse_member(f"proc/{n}/status", declared + 15) for n in range(members))
        + crafted.end_of_archive()
    )
    (out, peak) = _peak(lambda: read_input(str(path), Limits(max_member_bytes=1 << 20)))
    assert peak < 8 << 20  # what is read is at most 3 members of 1 MiB
    assert isinstance(out, INPUT_ERRORS) or not any(len(r) > 1 for r in out.files.values())


_names = st.one_of(
    st.binary(min_size=1, max_size=8).filter(lambda b: b"/" not in b and b"\0" not in b),
    st.sampled_from([b"..", b"-", b"app\xff\xfe", b"\xed\xa0\x80"]),
).filter(lambda b: b not in (b".", b".."))


@HYPOTHESIS
@given(
    cgroup=_names,
    content=st.one_of(st.binary(max_size=200), st.sampled_from([b"9" * 5000, b"-1\n", b"max\n"])),
    leaf=st.sampled_from(["memory.current", "memory.max", "memory.stat", "memory.events"]),
)
def test_random_directories(tmp_path: Path, cgroup: bytes, content: bytes, leaf: str) -> None:
    tree = tmp_path / "tree"
    if not tree.exists():
        os.makedirs(tree / "proc")
        shutil.copy(FIXTURE_TREE / "proc" / "meminfo", tree / "proc" / "meminfo")
    directory = os.path.join(os.fsencode(tree), b"sys/fs/cgroup", cgroup)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, leaf.encode()), "wb") as f:
        f.write(content)
    assert _load(str(tree)) is not None


@pytest.mark.parametrize("number", ["9" * 27, str((1 << 63) - 1)], ids=["27 digits", "int64 max"])
def test_numbers_beyond_64_bits_cost_their_record(tmp_path: Path, number: str) -> None:
    """Every number of a real captured tree made huge: records are dropped, never a crash."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE_TREE, tree, symlinks=True)
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(re.sub(rb"[0-9]+", number.encode(), path.read_bytes()))
    analysis = _survives_every_output(str(tree), tmp_path)
    warnings = analysis.dataset.warnings
    assert any("proc/meminfo: unreadable" in w for w in warnings)
    if len(number) > 19:
        assert any("not a 64-bit integer" in w for w in warnings)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_cut_compressed_archive_always_warns(
    tmp_path: Path, compress: Callable[[bytes], bytes]
) -> None:
    """A stream cut where a tar header would start must not pass for the archive's end."""
    data = compress(crafted.tar_bytes(_bundle()))
    path = tmp_path / "cut.tar"
    for percent in range(40, 100, 7):
        path.write_bytes(data[: len(data) * percent // 100])
        try:
            warnings = read_input(str(path)).warnings
        except InputError as exc:  # nothing complete before the cut (bz2: 900 kB blocks)
            warnings = [str(exc)]
        assert any("truncated" in w for w in warnings), percent


def test_int64_max_starttime_of_a_captured_process_is_null(tmp_path: Path) -> None:
    """One real /proc/PID/stat with starttime (field 22) set to int64 max: that process's start
    time is null in ``processes``, and nothing from analysis to HTML warns."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE_TREE, tree, symlinks=True)
    stat = tree / "proc" / "3007" / "stat"
    head, tail = stat.read_text().rsplit(")", 1)
    fields = tail.split()
    fields[22 - 3] = str((1 << 63) - 1)  # fields after ")" start at field 3 (state)
    stat.write_text(f"{head}) {' '.join(fields)}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis = _survives_every_output(str(tree), tmp_path)
    processes = analysis.dataset.tables["processes"].set_index("pid")
    assert pd.isna(processes.loc[3007, "starttime"])
    assert processes.loc[1, "starttime"] == 9  # the others keep theirs
