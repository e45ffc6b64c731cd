"""The parsed-tables cache against hostile inputs and hostile cache contents (issue 11, req 4).

Inputs are real: a one-shot capture cut from the debian12 fixture, a real sample bundle,
a real FIFO, a /proc file that even root cannot read. Cache entries are damaged the way a
local attacker or a crash would leave them, then loaded through the public API.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze import cache
from vmanalyze.dataset import SCHEMA_VERSION, content_hash, expected_tables, load, parse
from vmanalyze.errors import InputError

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "debian12-kernel6.18" / "proc"
SAMPLES = REPO / "sample-bundles"
#: Readable by nobody, root included: sysctl files of mode 0200 ignore CAP_DAC_OVERRIDE.
UNREADABLE = Path("/proc/sys/vm/compact_memory")


def capture(root: Path, *names: str) -> Path:
    """A captured directory with these /proc files of the real debian12 capture."""
    (root / "proc").mkdir(parents=True)
    for name in names or ("meminfo", "vmstat"):
        shutil.copyfile(FIXTURE / name, root / "proc" / name)
    return root


def vmanalyze(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vmanalyze", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )


def _old_dir_hash(path: Path) -> str:
    """The key of the cache before issue 11: names and contents run together."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            digest.update(os.path.relpath(full, path).encode())
            digest.update(Path(full).read_bytes())
    return "dir-" + digest.hexdigest()


# -- the key -------------------------------------------------------------------------------


def test_two_directories_never_share_a_key(tmp_path: Path, cache_dir: Path) -> None:
    # A: meminfo followed by the bytes "proc/zz" and a line; B: meminfo, and that line in a
    # file named proc/zz. Names and contents run together give the same bytes to hash.
    meminfo = (FIXTURE / "meminfo").read_bytes()
    tail = b"\nHugePages_Total:     512\n"
    a = capture(tmp_path / "a", "meminfo")
    (a / "proc" / "meminfo").write_bytes(meminfo + b"proc/zz" + tail)
    b = capture(tmp_path / "b", "meminfo")
    (b / "proc" / "zz").write_bytes(tail)
    assert _old_dir_hash(a) == _old_dir_hash(b)  # the collision
    assert content_hash(str(a)) != content_hash(str(b))

    first = load(a)
    assert first.meminfo.empty  # A's meminfo has a line that is not `Key: value`
    second = load(b)
    assert second.source["cached"] is False  # not answered with A's tables
    assert (
        second.meminfo["mem_total_bytes"].iloc[0]
        == parse(str(b)).meminfo["mem_total_bytes"].iloc[0]
    )
    assert len(cache.entries(cache_dir)) == 2


def test_key_counts_file_types_and_names(tmp_path: Path) -> None:
    base = capture(tmp_path / "base")
    key = content_hash(str(base))
    # An empty file, an empty directory, a link and a FIFO of the same name: four keys.
    variants = []
    for kind in ("file", "dir", "link", "fifo"):
        d = capture(tmp_path / kind)
        target = d / "proc" / "extra"
        {"file": target.touch, "dir": target.mkdir}.get(kind, lambda: None)()
        if kind == "link":
            target.symlink_to("meminfo")
        if kind == "fifo":
            os.mkfifo(target)
        variants.append(content_hash(str(d)))
    assert len({key, *variants}) == 5
    # The same tree elsewhere has the same key; a file's key is its sha256.
    assert content_hash(str(shutil.copytree(base, tmp_path / "copy"))) == key
    bundle = SAMPLES / "oom-kill.tar.gz"
    assert content_hash(str(bundle)) == hashlib.sha256(bundle.read_bytes()).hexdigest()


def test_key_of_a_very_deep_tree(tmp_path: Path) -> None:
    """1,500 nested directories: deeper than Python's recursion limit, within PATH_MAX."""
    d = capture(tmp_path / "deep")
    path = str(d)
    try:
        for _ in range(1500):  # os.makedirs itself would recurse too deep
            path = os.path.join(path, "a")
            os.mkdir(path)
        key = content_hash(str(d))
        assert key.startswith("dir-") and key != content_hash(str(capture(tmp_path / "flat")))
    finally:  # pytest's own cleanup (shutil.rmtree) recurses: remove the tower bottom-up
        while path != str(d):
            os.rmdir(path)
            path = os.path.dirname(path)


def test_same_bytes_under_another_name(tmp_path: Path, cache_dir: Path) -> None:
    first = shutil.copyfile(SAMPLES / "oom-kill.tar.gz", tmp_path / "db01.tar.gz")
    second = shutil.copyfile(first, tmp_path / "db02.tar.gz")
    assert load(first).source["cached"] is False
    ds = load(second)
    assert ds.source["cached"] is True
    assert (ds.source["input"], ds.source["input_name"]) == (str(second), "db02.tar.gz")


# -- inputs that are not files -------------------------------------------------------------


def test_fifo_input_is_refused_without_hanging(tmp_path: Path, cache_dir: Path) -> None:
    fifo = tmp_path / "db01.tar.gz"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO, not a bundle"):
        content_hash(str(fifo))
    for extra in ([], ["--no-cache"]):
        started = time.monotonic()
        done = vmanalyze(str(fifo), *extra, env={cache.ENV_DIR: str(cache_dir)}, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"vmanalyze: error: {fifo}: a FIFO, not a bundle, archive or directory"
        ]
        assert time.monotonic() - started < 30


def test_device_and_socket_inputs_are_never_opened(tmp_path: Path) -> None:
    import socket

    with pytest.raises(InputError, match="a character device"):
        content_hash("/dev/zero")  # opened, it would hash forever
    path = tmp_path / "db01.tar.gz"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(InputError, match="a socket, not a bundle"):
            content_hash(str(path))


def test_fifo_inside_a_directory_input_is_never_opened(tmp_path: Path, cache_dir: Path) -> None:
    d = capture(tmp_path / "in", "vmstat")
    os.mkfifo(d / "proc" / "meminfo")  # a wanted name: opening it would wait for a writer
    started = time.monotonic()
    for use_cache in (True, True, False):
        ds = load(d, cache=use_cache)
        assert ds.meminfo.empty and not ds.vmstat.empty
    assert load(d).source["cached"] is True
    assert time.monotonic() - started < 60


@pytest.mark.skipif(not UNREADABLE.exists(), reason="no write-only sysctl file")
def test_unreadable_input_is_one_line_exit_2(cache_dir: Path) -> None:
    done = vmanalyze(str(UNREADABLE), env={cache.ENV_DIR: str(cache_dir)})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"vmanalyze: error: {UNREADABLE}: Permission denied"]


# -- entries are checked before they are trusted -------------------------------------------


def _entry(cache_dir: Path) -> Path:
    (entry,) = cache.entries(cache_dir)
    return entry.path


def _tamper_source(entry: Path, **changes: object) -> None:
    source = json.loads((entry / "source.json").read_text())
    source.update(changes)
    (entry / "source.json").write_text(json.dumps(source))


def _link_a_table(entry: Path, other: Path) -> None:
    (entry / "meminfo.parquet").unlink()
    (entry / "meminfo.parquet").symlink_to(other)


def _fifo_source(entry: Path) -> None:
    (entry / "source.json").unlink()
    os.mkfifo(entry / "source.json")


TAMPERINGS = {
    "samples is text": lambda e, o: _tamper_source(e, samples="4"),
    "warnings not text": lambda e, o: _tamper_source(e, warnings=[{"x": 1}]),
    "source not an object": lambda e, o: (e / "source.json").write_text("[1, 2]"),
    "other schema": lambda e, o: _tamper_source(e, schema_version=SCHEMA_VERSION + 1),
    "source not JSON": lambda e, o: (e / "source.json").write_bytes(b"\xff{"),
    "source is a FIFO": lambda e, o: _fifo_source(e),
    "table missing": lambda e, o: (e / "vmstat.parquet").unlink(),
    "table extra": lambda e, o: (e / "evil.parquet").write_bytes(b"PAR1"),
    "table is a link": _link_a_table,
    "table garbage": lambda e, o: (e / "meminfo.parquet").write_bytes(b"PAR1" + b"\0" * 64),
    "table is a directory": lambda e, o: (
        (e / "meminfo.parquet").unlink(),
        (e / "meminfo.parquet").mkdir(),
    ),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_damaged_entry_is_parsed_again(how: str, tmp_path: Path, cache_dir: Path) -> None:
    d = capture(tmp_path / "in")
    fresh = load(d)
    assert fresh.source["cached"] is False and load(d).source["cached"] is True
    entry = _entry(cache_dir)
    other = tmp_path / "other.parquet"
    (entry / "meminfo.parquet").rename(other)
    shutil.copyfile(other, entry / "meminfo.parquet")
    TAMPERINGS[how](entry, other)

    again = load(d)
    assert again.source["cached"] is False
    assert set(again.tables) == expected_tables()
    pd.testing.assert_frame_equal(again.meminfo, fresh.meminfo)
    # The bad entry was replaced by a good one, used next time.
    assert load(d).source["cached"] is True
    assert sorted(p.name for p in entry.iterdir()) == sorted(
        ["source.json", *(f"{t}.parquet" for t in expected_tables())]
    )


def test_entry_that_is_a_link_is_not_followed(tmp_path: Path, cache_dir: Path) -> None:
    d = capture(tmp_path / "in")
    load(d)
    entry = _entry(cache_dir)
    elsewhere = tmp_path / "elsewhere"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    assert load(d).source["cached"] is False
    assert not entry.is_symlink() and entry.is_dir()
    assert (elsewhere / "source.json").exists()  # the link was removed, not its target


# -- the cache directory itself --------------------------------------------------------------


def _world_writable(path: Path) -> None:
    path.mkdir()
    path.chmod(0o777)


def _other_owner(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)


def _a_file(path: Path) -> None:
    path.write_text("not a directory")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_world_writable, "writable by other users (mode 777)"),
        (_other_owner, "owned by uid 65534, not by this user"),
        (_a_file, "a regular file, not a directory"),
    ],
)
def test_unusable_cache_dir_means_one_warning(make: object, reason: str, tmp_path: Path) -> None:
    if reason.startswith("owned") and os.geteuid() != 0:
        pytest.skip("needs root to give a directory away")
    root = tmp_path / "cache"
    make(root)  # type: ignore[operator]
    d = capture(tmp_path / "in")
    out = tmp_path / "r.json"
    done = vmanalyze(str(d), "-f", "json", "-o", str(out), env={cache.ENV_DIR: str(root)})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "cache not used" in line]
    assert warnings == [f"warning: cache not used: {root}: {reason}"]
    assert json.loads(out.read_text())["input"]["samples"] == 1
    if root.is_dir():
        assert not [p for p in root.iterdir()]  # nothing written into it


def test_failed_cache_write_leaves_nothing(tmp_path: Path, cache_dir: Path) -> None:
    """A real failed write: the process may not create files over 64 KiB (RLIMIT_FSIZE)."""
    cache_dir.mkdir(mode=0o700)
    bundle = SAMPLES / "oom-kill.tar.gz"

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "vmanalyze", str(bundle), "-f", "json", "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, cache.ENV_DIR: str(cache_dir)},
        preexec_fn=small_files,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["input"]["name"] == "oom-kill.tar.gz"
    assert list(cache_dir.iterdir()) == []  # no entry, no temporary directory


# -- size bound and the `vmanalyze cache` command ------------------------------------------------


def test_lru_eviction_keeps_the_cache_under_its_bound(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = {name: capture(tmp_path / name, "meminfo", "vmstat") for name in "abc"}
    for name, d in inputs.items():
        (d / "proc" / "hostname").write_text(name)  # three different keys
    load(inputs["a"])
    one = cache.entries(cache_dir)[0].size
    monkeypatch.setenv(cache.ENV_MAX, str(int(one * 2.5)))  # room for two entries
    load(inputs["b"])
    time.sleep(0.05)
    assert load(inputs["a"]).source["cached"] is True  # a is now the most recently used
    time.sleep(0.05)
    load(inputs["c"])  # b goes
    kept = {e.input_name for e in cache.entries(cache_dir)}
    assert kept == {"a", "c"}
    assert sum(e.size for e in cache.entries(cache_dir)) <= one * 2.5
    assert load(inputs["b"]).source["cached"] is False

    monkeypatch.setenv(cache.ENV_MAX, "0")  # off: nothing read or written
    before = sorted(p.name for p in cache_dir.iterdir())
    assert "cached" not in load(inputs["a"]).source  # as with cache=False
    assert sorted(p.name for p in cache_dir.iterdir()) == before


def test_cache_command_shows_and_clears(tmp_path: Path, cache_dir: Path) -> None:
    env = {cache.ENV_DIR: str(cache_dir), cache.ENV_MAX: "200M"}
    d = capture(tmp_path / "db01\x1b]0;owned\x07")
    load(d)
    shown = vmanalyze("cache", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"location: {cache_dir}"
    (entry,) = cache.entries(cache_dir)
    assert lines[1].startswith("size: ") and "in 1 entries (at most 200.0 MiB" in lines[1]
    assert entry.key[:16] in lines[2] and "db01\\x1b]0;owned\\x07" in lines[2]
    assert "\x1b" not in shown.stdout

    for args in (["cache", "--clear"], ["cache", "clear"]):
        load(d)
        cleared = vmanalyze(*args, env=env)
        assert cleared.returncode == 0, cleared.stderr
        assert cleared.stdout.strip() == f"removed 1 cached entries from {cache_dir}"
        assert cache.entries(cache_dir) == [] and list(cache_dir.iterdir()) == []
