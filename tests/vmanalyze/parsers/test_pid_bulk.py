"""pid_stat and pid_status in bulk: the same columns as record by record, on real and odd input.

The bulk path (``*_from_pack`` of parsers.pid_stat and parsers.pid_status) must either give
exactly what the one-at-a-time path gives or decline (None), never a different answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmanalyze.inputs import read_input, split_member
from vmanalyze.packs import Pack, Packs, frame_records
from vmanalyze.parsers._common import Columns, Labels
from vmanalyze.parsers.pid_stat import stat_from_pack, stat_from_records

from tests.support.pid_bulk import (
    BULK,
    ONE_AT_A_TIME,
    as_lists,
    check_file,
    disagreements,
    pack_of,
    stream,
)
from tests.vmanalyze.tables.conftest import collect

REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "sample-bundles").glob("*.tar.gz"))
FIXTURES = REPO / "tests" / "fixtures"
KERNEL_BUNDLES = sorted((REPO / "tests" / "data" / "kernels").glob("*/vmcollect.tar.gz"))
LABELS = Labels(["start", *map(str, range(20)), "end"])


def unpacked(pack: Pack, labels: Labels = LABELS) -> list[tuple[str, str, bytes]]:
    known = set(labels.labels)
    return [
        (path, label, body)
        for path, data in pack.members()
        for label, body in split_member(path, data, known, [])
    ]


def assert_same(source: str, pack: Pack, labels: Labels = LABELS) -> Columns | None:
    """The bulk columns of a pack (None if it declined) equal the one-at-a-time columns."""
    bulk = BULK[source](pack, labels)
    slow = ONE_AT_A_TIME[source](unpacked(pack, labels), labels)
    if bulk is not None:
        assert as_lists(bulk) == as_lists(slow)
        assert sorted(bulk.errors) == sorted(slow.errors)
    return bulk


@pytest.mark.parametrize("bundle", SAMPLES, ids=lambda p: p.name)
def test_bulk_path_takes_every_real_pack_and_agrees(bundle: Path) -> None:
    captured = read_input(str(bundle))
    labels = Labels([s.label for s in captured.snapshots])
    rows = 0
    for source in BULK:
        packs = captured.packs[source]
        assert packs, source
        for pack in packs:
            part = assert_same(source, pack, labels)
            assert part is not None, f"{bundle.name} {source}: the bulk path declined"
            assert disagreements(source, part, unpacked(pack, labels)) == []
            rows += len(part.snapshot)
    assert rows > 1000


@pytest.mark.parametrize("bundle", KERNEL_BUNDLES, ids=lambda p: p.parent.name)
def test_bulk_agrees_with_the_per_file_parsers_on_debian_kernels(bundle: Path) -> None:
    """Bundles of Debian 11, 12 and 13 guests (5.10, 6.1, 6.12): older stat and status lines."""
    captured = read_input(str(bundle))
    labels = Labels([s.label for s in captured.snapshots])
    for source in BULK:
        assert captured.packs[source], source
        for pack in captured.packs[source]:
            part = assert_same(source, pack, labels)
            assert part is not None and len(part.snapshot) > 10
            assert disagreements(source, part, unpacked(pack, labels)) == []


@pytest.mark.parametrize("source", BULK)
def test_bulk_agrees_with_the_per_file_parsers_on_the_fixtures(source: str) -> None:
    """The files cut from real captures and sosreports (tests/fixtures/*/proc/<pid>/)."""
    name = source.removeprefix("pid_")
    files = sorted(FIXTURES.glob(f"*/proc/[0-9]*/{name}"))
    assert len(files) >= 5
    for file in files:
        relative = "/".join(file.parts[-3:])
        assert check_file(source, relative, file.read_bytes()) == [], file


@pytest.fixture(scope="module")
def live_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-sample bundle of this machine's processes, collected by the real collector."""
    return collect(tmp_path_factory.mktemp("live"), "--interval", "200ms", "--count", "4")


def test_live_bundle_with_this_hosts_processes(live_bundle: Path) -> None:
    captured = read_input(str(live_bundle))
    labels = Labels([s.label for s in captured.snapshots])
    stat = [assert_same("pid_stat", pack, labels) for pack in captured.packs["pid_stat"]]
    assert all(part is not None for part in stat)
    pids = {pid for part in stat if part for pid in part.columns["pid"].to_pylist()}
    assert os.getpid() in pids or len(pids) > 20


def _stat_line(pid: int, comm: bytes, fields: int = 52) -> bytes:
    """A /proc/<pid>/stat line of this host with another command name (and field count)."""
    real = Path("/proc/self/stat").read_bytes()
    tail = real[real.rindex(b")") + 2 :].split()
    return b"%d (%s) %s\n" % (pid, comm, b" ".join(tail[: fields - 2]))


ODD_NAMES = [b"a) b) c", b"two words", b"(x)", b"new\nline", b"cr\rhere", b"@@ vmcollect 0 5"]


@pytest.mark.parametrize("comm", ODD_NAMES, ids=repr)
def test_odd_command_names(comm: bytes) -> None:
    pack = pack_of(
        {
            "proc/10/stat": stream(("start", _stat_line(10, b"ok")), ("0", _stat_line(10, b"ok"))),
            "proc/11/stat": stream(("0", _stat_line(11, comm)), ("1", _stat_line(11, comm))),
        }
    )
    part = assert_same("pid_stat", pack)
    assert part is not None  # framing is by length: a header-like name changes nothing
    assert part.columns["comm"].to_pylist() == ["ok", "ok", comm.decode(), comm.decode()]
    assert part.columns["state"].to_pylist()[2] == "R"


def test_header_line_inside_a_body_is_caught_by_the_chain_check() -> None:
    body = _stat_line(12, b"x") + b"@@ vmcollect 1 3\nabc\n"
    pack = pack_of({"proc/12/stat": stream(("0", body), ("1", _stat_line(12, b"y")))})
    assert frame_records(pack) is None
    slow = stat_from_records(unpacked(pack), LABELS)
    assert slow.columns["comm"].to_pylist() == ["x", "y"]


def test_old_kernel_lines_give_nulls_not_zeros() -> None:
    old = b"6 (old) S 1 6 6 0 -1 4202752 1 2 3 4 5 6 7 8 20 0 1 0 3 4096 7 1\n"
    pack = pack_of({"proc/6/stat": stream(("0", old), ("1", old))})
    part = assert_same("pid_stat", pack)
    assert part is not None
    cols = part.columns
    assert cols["starttime"].to_pylist() == [3, 3] and cols["rss"].to_pylist() == [7, 7]
    assert cols["processor"].to_pylist() == [None, None]


def test_fields_that_are_not_numbers_make_the_bulk_path_decline() -> None:
    good = _stat_line(20, b"a")
    head, tail = good.split(b") ", 1)
    state, ppid, rest = tail.split(b" ", 2)
    bad = b"%s) %s x%s %s" % (head, state, ppid, rest)
    pack = pack_of({"proc/20/stat": stream(("0", good), ("1", bad))})
    assert stat_from_pack(pack, LABELS) is None
    slow = stat_from_records(unpacked(pack), LABELS)
    assert slow.columns["pid"].to_pylist() == [20, 20]
    assert slow.columns["ppid"].to_pylist()[1] is None  # "x1": not a number, null


def test_records_of_unknown_snapshots_are_dropped_in_both_paths() -> None:
    line = _stat_line(30, b"a")
    labels = Labels(["0", "2"])
    pack = pack_of({"proc/30/stat": stream(("0", line), ("1", line), ("2", line), ("end", line))})
    part = assert_same("pid_stat", pack, labels)
    assert part is not None and part.snapshot.tolist() == [0, 1]


def test_a_truncated_member_sends_the_pack_to_the_slow_path(tmp_path: Path) -> None:
    line = _stat_line(40, b"a")
    whole = stream(("0", line), ("1", line))
    packs = Packs()
    packs.add("proc/40/stat", whole)
    packs.add("proc/41/stat", whole[:-9])
    (pack,) = packs.by_source["pid_stat"]
    assert frame_records(pack) is None
    warnings: list[str] = []
    kept = split_member("proc/41/stat", whole[:-9], {"0", "1"}, warnings)
    assert [label for label, _ in kept] == ["0"]
    assert warnings == ["proc/41/stat: record 1 truncated; kept 1 complete records"]


STATUS = (
    b"Name:\tpostgres: writer\nUmask:\t0077\nState:\tS (sleeping)\nTgid:\t50\nNgid:\t0\n"
    b"Pid:\t50\nPPid:\t1\nUid:\t26\t26\t26\t26\nThreads:\t1\nVmPeak:\t  221712 kB\n"
    b"VmSize:\t  221680 kB\nVmLck:\t       0 kB\nVmHWM:\t   10240 kB\nVmRSS:\t    9876 kB\n"
    b"RssAnon:\t    1234 kB\nRssFile:\t    5678 kB\nRssShmem:\t   2964 kB\nVmSwap:\t       8 kB\n"
    b"HugetlbPages:\t       0 kB\nTHP_enabled:\t1\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n"
    b"Mems_allowed_list:\t0\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"
)


def test_status_values_by_kind() -> None:
    kernel_thread = b"Name:\tkworker/0:1\nState:\tI (idle)\nTgid:\t9\nPPid:\t2\nThreads:\t1\n"
    pack = pack_of(
        {
            "proc/50/status": stream(("0", STATUS), ("1", STATUS)),
            "proc/9/status": stream(("0", kernel_thread)),
        }
    )
    part = assert_same("pid_status", pack)
    assert part is not None
    row = {name: values[0] for name, values in as_lists(part).items()}
    assert row["pid"] == 50 and row["name"] == "postgres: writer" and row["state"] == "S"
    assert row["uid"] == 26 and row["vm_peak_bytes"] == 221712 * 1024
    assert row["rss_shmem_bytes"] == 2964 * 1024 and row["vm_swap_bytes"] == 8192
    assert row["vm_pin_bytes"] is None  # absent key: null, never 0
    assert row["cpus_allowed_list"] == "0-1" and row["thp_enabled"] == 1
    assert row["nonvoluntary_ctxt_switches"] == 7
    thread = {name: values[2] for name, values in as_lists(part).items()}
    assert thread["pid"] == 9 and thread["state"] == "I" and thread["vm_rss_bytes"] is None


@pytest.mark.parametrize(
    ("line", "column", "value"),
    [
        (b"VmRSS:\t    9876 MB\n", "vm_rss_bytes", None),
        (b"VmRSS:\t    9876\n", "vm_rss_bytes", 9876),
        (b"VmRSS:\tlots kB\n", "vm_rss_bytes", None),
        (b"VmRSS:\t99999999999999999999 kB\n", "vm_rss_bytes", None),
        (b"Threads:\t\n", "threads", None),
        (b"Threads:\t4x\n", "threads", None),
        (b"State:\t\n", "state", None),
        (b"Name:\t\xff\xfe\n", "name", "\ufffd\ufffd"),
    ],
)
def test_odd_status_values_are_null_in_both_paths(line: bytes, column: str, value: object) -> None:
    body = STATUS.replace(b"VmRSS:\t    9876 kB\n", b"").replace(b"Threads:\t1\n", b"")
    body = body.replace(b"State:\tS (sleeping)\n", b"").replace(b"Name:\tpostgres: writer\n", b"")
    pack = pack_of({"proc/50/status": stream(("0", body + line))})
    part = assert_same("pid_status", pack)
    assert part is not None
    assert as_lists(part)[column] == [value]


def test_status_keys_match_whole_words_only() -> None:
    body = b"VmRSSX:\t5 kB\nXVmRSS:\t6 kB\nvmrss:\t7 kB\nTgid :\t3\nVmRSS:\t8 kB\n"
    pack = pack_of({"proc/60/status": stream(("0", body))})
    part = assert_same("pid_status", pack)
    assert part is not None
    assert as_lists(part)["vm_rss_bytes"] == [8192] and as_lists(part)["tgid"] == [None]


@pytest.mark.parametrize("source", BULK)
def test_bulk_agrees_with_the_per_file_parsers_on_every_live_process(source: str) -> None:
    """Every process of this host, two snapshots each, through both bulk paths."""
    name = source.removeprefix("pid_")
    members = {}
    for file in Path("/proc").glob(f"[0-9]*/{name}"):
        try:
            members[f"proc/{file.parent.name}/{name}"] = file.read_bytes()
        except OSError:
            continue
    pack = pack_of({path: stream(("0", data), ("1", data)) for path, data in members.items()})
    part = assert_same(source, pack)
    assert part is not None
    assert len(part.snapshot) == 2 * len(members) > 20
    assert disagreements(source, part, unpacked(pack)) == []
    if source == "pid_status":  # the lists stay text in the table
        table = as_lists(part)
        assert all(isinstance(v, str) for v in table["cpus_allowed_list"])


@pytest.mark.parametrize("source", BULK)
def test_an_empty_pack_gives_empty_typed_columns(source: str) -> None:
    part = BULK[source](Pack(), LABELS)
    assert part is not None and len(part.snapshot) == 0
    assert set(part.columns) == set(ONE_AT_A_TIME[source]([], LABELS).columns)


def test_a_pack_of_at_signs_is_declined() -> None:
    pack = pack_of({"proc/70/stat": stream(("0", b"@" * (4 << 20)))})
    assert frame_records(pack) is None


def test_big_members_are_not_packed() -> None:
    from vmanalyze.packs import MEMBER_BYTES

    packs = Packs()
    assert packs.add("proc/80/stat", b"x" * MEMBER_BYTES)
    assert not packs.add("proc/81/stat", b"x" * (MEMBER_BYTES + 1))
    assert not packs.add("proc/81/cmdline", b"")


def test_tables_are_the_same_with_nothing_packed(
    live_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from vmanalyze import packs
    from vmanalyze.tables import build_tables

    packed, _ = build_tables(read_input(str(live_bundle)))
    monkeypatch.setattr(packs, "MEMBER_BYTES", 0)
    captured = read_input(str(live_bundle))
    assert not captured.packs and any(p.endswith("/stat") for p in captured.files)
    unpacked_tables, _ = build_tables(captured)
    for name in ("pid_stat", "pid_status", "process_samples", "processes"):
        assert len(packed[name]) > 10
        pd.testing.assert_frame_equal(packed[name], unpacked_tables[name])


@pytest.mark.parametrize("source", BULK)
def test_mutated_packs_never_raise_and_never_disagree(source: str) -> None:
    """Hostile bytes: flip, drop, insert or duplicate bytes of a real pack, 300 times.

    The bulk path may decline (None) but must not raise, and whatever it returns must equal
    the one-at-a-time result of the same bytes.
    """
    import random

    name = "stat" if source == "pid_stat" else "status"
    members = {}
    for pid in sorted(p.name for p in Path("/proc").iterdir() if p.name.isdigit())[:12]:
        try:
            data = Path(f"/proc/{pid}/{name}").read_bytes()
        except OSError:
            continue
        members[f"proc/{pid}/{name}"] = stream(("0", data), ("1", data), ("end", data))
    rng = random.Random(20261126)
    interesting = [b" ", b")", b"(", b"\n", b"\r", b"@", b":", b"\t", b"9", b"x", b"\xff", b"\0"]
    declined = 0
    for _ in range(300):
        path = rng.choice(sorted(members))
        data = bytearray(members[path])
        for _edit in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            action = rng.choice(("flip", "drop", "insert", "repeat"))
            if action == "flip":
                data[at] = rng.choice(interesting)[0]
            elif action == "drop":
                del data[at : at + rng.randint(1, 8)]
            elif action == "insert":
                data[at:at] = rng.choice(interesting) * rng.randint(1, 3)
            else:
                data[at:at] = data[at : at + rng.randint(1, 40)]
        pack = pack_of({**members, path: bytes(data)})
        declined += assert_same(source, pack) is None
    assert 0 < declined < 300  # both paths were exercised
