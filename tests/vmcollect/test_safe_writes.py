"""Safe writes: planted links in a shared directory, concurrent runs, crafted spools for --recover.

vmcollect runs as root and is often pointed at /tmp. Here another local user ('nobody') plants
symbolic links at every name the collector might predict, in a 1777 directory like /tmp.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib

import pytest

from .bundle_reader import Bundle
from .conftest import COLLECTOR, collector_command, run_collector

sys.path.insert(0, COLLECTOR)
from vmcollect import cli  # noqa: E402
from vmcollect.anonymize import anonymize_name, map_path_for  # noqa: E402

VICTIM = b"root-owned file that must never change\n"


def _as_nobody(action):
    """Run `action()` in a child process as the user 'nobody'; fail if it fails."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert status == 0, "the planting child failed"


@pytest.fixture
def shared_dir():
    """A world-writable sticky directory under /tmp (like /tmp itself), and a victim file."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    shared = tempfile.mkdtemp(prefix="vmtriage-shared-", dir="/tmp")
    os.chmod(shared, 0o1777)
    private = tempfile.mkdtemp(prefix="vmtriage-victim-")
    victim = os.path.join(private, "victim")
    with open(victim, "wb") as f:
        f.write(VICTIM)
    yield shared, victim
    shutil.rmtree(shared, ignore_errors=True)
    shutil.rmtree(private, ignore_errors=True)


def _hostname():
    with open("/proc/sys/kernel/hostname") as f:
        return f.read().strip() or socket.gethostname()


def _predictable_names(shared, host, start):
    """Every name an attacker can predict for a run starting around `start`."""
    names = []
    for second in range(int(start) - 2, int(start) + 40):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        final = "vmcollect-%s-%s.tar.gz" % (host, stamp)
        names.append(final)
        names.append(final.replace(".tar.gz", "-2.tar.gz"))
        names.append(".%s.partial-%d" % (final, os.getpid()))  # the old temporary name
        names.append(map_path_for(final))
    return [os.path.join(shared, n) for n in names]


@pytest.mark.parametrize("anonymize", [False, True])
def test_links_planted_by_another_user_are_never_followed(shared_dir, capsys, anonymize):
    shared, victim = shared_dir
    host = _hostname()
    if anonymize:
        host = anonymize_name(host)
    planted = _predictable_names(shared, host, time.time())

    def plant():
        for name in planted:
            os.symlink(victim, name)

    _as_nobody(plant)
    args = ["--interval", "100ms", "--count", "1", "--deep", "0", "-o", shared, "-q"]
    assert cli.main(args + (["--anonymize"] if anonymize else [])) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]

    with open(victim, "rb") as f:
        assert f.read() == VICTIM
    for name in planted:
        assert os.path.islink(name) and os.readlink(name) == victim
    assert path not in planted and path.endswith("-3.tar.gz")
    st = os.lstat(path)
    assert st.st_uid == 0 and st.st_nlink == 1
    assert Bundle(path).manifest["samples"] == 1
    written = [path]
    if anonymize:
        map_path = map_path_for(path)
        assert not os.path.islink(map_path)
        assert oct(os.lstat(map_path).st_mode & 0o777) == "0o600"
        written.append(map_path)
    # Nothing else: no temporary file, no spool left behind.
    assert sorted(os.listdir(shared)) == sorted(os.path.basename(n) for n in planted + written)


def test_an_existing_bundle_is_never_replaced(out_dir, capsys):
    target = os.path.join(out_dir, "db01.tar.gz")
    with open(target, "wb") as f:
        f.write(VICTIM)
    assert cli.main(["--interval", "100ms", "--count", "1", "--deep", "0", "-o", target]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    assert path == os.path.join(out_dir, "db01-2.tar.gz")
    with open(target, "rb") as f:
        assert f.read() == VICTIM
    Bundle(path)


def test_collectors_started_in_the_same_second_write_distinct_bundles(out_dir):
    env = dict(os.environ, PYTHONPATH=COLLECTOR)
    args = ["--interval", "100ms", "--count", "1", "--deep", "0", "-o", out_dir, "-q"]
    procs = [
        subprocess.Popen(
            collector_command() + args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            universal_newlines=True,
        )
        for _ in range(3)
    ]
    paths = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        paths.append(out.strip().splitlines()[-1])
    assert len(set(paths)) == 3
    bundles = sorted(n for n in os.listdir(out_dir) if n.endswith(".tar.gz"))
    assert bundles == sorted(os.path.basename(p) for p in paths)
    for path in paths:
        assert Bundle(path).manifest["samples"] == 1


# -- --recover on a crafted spool ----------------------------------------------------------
@pytest.fixture(scope="module")
def killed_spool(tmp_path_factory):
    """A real spool left by a collector that was killed hard after a few samples."""
    out_dir = str(tmp_path_factory.mktemp("killed"))
    env = dict(os.environ, PYTHONPATH=COLLECTOR)
    proc = subprocess.Popen(
        collector_command()
        + ["--interval", "100ms", "--duration", "1h", "--deep", "0", "-o", out_dir, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.time() + 60
    spool = None
    while time.time() < deadline and spool is None:
        for name in os.listdir(out_dir):
            samples = os.path.join(out_dir, name, "samples.jsonl")
            if name.startswith(".vmcollect-spool-") and os.path.exists(samples):
                with open(samples) as f:
                    if len(f.readlines()) >= 3:
                        spool = os.path.join(out_dir, name)
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    assert spool is not None
    return spool


@pytest.fixture
def spool(killed_spool, tmp_path):
    copy = str(tmp_path / "spool")
    shutil.copytree(killed_spool, copy, symlinks=True)
    return copy


def _edit_json(path, change):
    with open(path) as f:
        doc = json.load(f)
    change(doc)
    with open(path, "w") as f:
        json.dump(doc, f)


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda d: d["host"].__setitem__("hostname", 5), "host.hostname"),
        (lambda d: d["host"].__setitem__("hostname", "../../etc/x"), "host.hostname"),
        (lambda d: d["host"].__setitem__("page_size", 10**20), "host.page_size"),
        (lambda d: d.__setitem__("start_wall_ns", 10**30), "start_wall_ns"),
        (lambda d: d.__setitem__("options", [1, 2]), "options"),
        (lambda d: d["options"].__setitem__("count", -4), "options.count"),
    ],
)
def test_recover_refuses_crafted_spool_metadata(spool, tmp_path, change, why):
    _edit_json(os.path.join(spool, "spool.json"), change)
    out = str(tmp_path / "out")
    os.mkdir(out)
    code, stdout, err = run_collector(["--recover", spool, "-o", out], check=False)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and why in err and "Traceback" not in err
    assert os.listdir(out) == []


def test_recover_refuses_deeply_nested_or_linked_spool_json(spool, tmp_path):
    path = os.path.join(spool, "spool.json")
    with open(path, "w") as f:
        f.write("[" * 100000)
    code, _, err = run_collector(["--recover", spool, "-o", str(tmp_path)], check=False)
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1
    os.unlink(path)
    os.symlink("/etc/hostname", path)
    code, _, err = run_collector(["--recover", spool, "-o", str(tmp_path)], check=False)
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1


def test_recover_never_emits_a_name_outside_the_bundle_tree(spool, tmp_path):
    records = [
        ("/etc/shadow", b"root:x"),
        ("proc/../../../tmp/evil", b"x"),
        ("../evil", b"x"),
        ("proc//1/stat", b"x"),
        ("sys/./x", b"x"),
        ("proc/4242424/cmdline", b"crafted\0but\0harmless\0"),
    ]
    raw = b"".join(
        ("0 captured %d %s\n" % (len(data), name)).encode() + data for name, data in records
    )
    with open(os.path.join(spool, "segments", "000099.seg"), "wb") as f:
        f.write(zlib.compress(raw))
    # A segment that is a link to a file elsewhere is not read.
    outside = str(tmp_path / "outside.seg")
    with open(outside, "wb") as f:
        f.write(zlib.compress(b"0 captured 6 proc/4343434/cmdline\nlinked"))
    os.symlink(outside, os.path.join(spool, "segments", "000100.seg"))
    # A samples.jsonl entry with a crafted label ends the list of complete snapshots.
    with open(os.path.join(spool, "samples.jsonl"), "a") as f:
        f.write(json.dumps({"label": "../x", "wall_ns": 1, "mono_ns": 1, "duration_ns": 1}))
        f.write("\n")
    out = str(tmp_path / "out")
    os.mkdir(out)
    _, stdout, err = run_collector(["--recover", spool, "-o", out])
    b = Bundle(stdout.strip().splitlines()[-1])  # the reader asserts relative, regular members
    assert b.records("proc/4242424/cmdline") == [(0, b"crafted\0but\0harmless\0")]
    assert "proc/4343434/cmdline" not in b.members
    for name in b.members:
        parts = name.split("/")
        assert parts[0] in (
            "proc",
            "sys",
            "dev",
            "etc",
            "vmcollect",
            "manifest.json",
            "samples.jsonl",
        )
        assert "" not in parts and "." not in parts and ".." not in parts
    assert all(s["label"] != "../x" for s in b.samples)
    assert os.listdir(out) == [os.path.basename(b.path)]


def test_a_crafted_segment_cannot_inflate_without_bound(tmp_path):
    """1 GiB of zeros in a 1 MiB segment: reading stops at the cap, as if truncated there."""
    from vmcollect import spool

    path = str(tmp_path / "000000.seg")
    deflate = zlib.compressobj(9)
    with open(path, "wb") as f:
        for _ in range(64):
            f.write(deflate.compress(b"\0" * (16 << 20)))
        f.write(deflate.flush())
    assert os.path.getsize(path) < 2 << 20
    assert spool._decompress(path, max_bytes=4 << 20) == b"\0" * (4 << 20)


def test_recover_stops_at_a_record_with_a_negative_length(spool, tmp_path):
    """A length of -N stepped the reader back N bytes, onto the same record: --recover hung.

    Now the record ends the segment, like a truncated one; what came before it is kept.
    """
    from vmcollect.spool import read_segment

    raw = (
        b"0 captured 7 proc/4242424/comm\ncrafted"
        b"0 captured -38 proc/4242424/stat\n"
        b"0 captured 5 proc/4242425/comm\nafter"
    )
    seg = os.path.join(spool, "segments", "000099.seg")
    with open(seg, "wb") as f:
        f.write(zlib.compress(raw))
    assert list(read_segment(seg)) == [("0", "captured", "proc/4242424/comm", b"crafted")]
    out = str(tmp_path / "out")
    os.mkdir(out)
    _, stdout, err = run_collector(["--recover", spool, "-o", out])
    b = Bundle(stdout.strip().splitlines()[-1])
    assert b.records("proc/4242424/comm") == [(0, b"crafted")]
    assert "proc/4242424/stat" not in b.members and "proc/4242425/comm" not in b.members
