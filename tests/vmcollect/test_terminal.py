"""The terminal shows text from a host or a bundle as text: control characters made visible."""

import gzip
import io
import json
import os
import resource
import tarfile

from .conftest import root_args, run_collector

TITLE = "\x1b]0;owned\x07"  # OSC 0: would retitle the engineer's terminal
CSI = "\x9b2J"  # C1 CSI: would clear the screen


def _no_raw_controls(text):
    return not [c for c in text if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F]


def test_collect_and_show_with_a_hostile_hostname_and_cmdline(fixture_root, out_dir):
    with open(os.path.join(fixture_root, "proc/sys/kernel/hostname"), "w") as f:
        f.write("db01" + TITLE + "\n")
    pid_dir = os.path.join(fixture_root, "proc", str(os.getpid()))
    with open(os.path.join(pid_dir, "cmdline"), "wb") as f:
        f.write(("app\0" + TITLE + "\0").encode("utf-8"))
    _, out, err = run_collector(root_args(fixture_root) + ["-o", out_dir])
    assert _no_raw_controls(err) and "db01\\x1b]0;owned\\x07" in err
    path = out.strip()
    assert _no_raw_controls(path) and "vmcollect-db01__0_owned_-" in os.path.basename(path)
    _, shown, err = run_collector(["--show", path])
    assert _no_raw_controls(shown) and _no_raw_controls(err)
    assert "host         db01\\x1b]0;owned\\x07, kernel" in shown


def _bundle(path, manifest_bytes, extra_names=()):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("manifest.json", manifest_bytes)] + [(n, b"x") for n in extra_names]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_show_a_crafted_manifest(tmp_path):
    manifest = {
        "format": "vmcollect-bundle" + CSI,
        "host": 5,
        "options": ["not", "an", "object"],
        "samples": TITLE,
        "privacy": {"cmdline": TITLE, "anonymized": True, "anonymized_counts": {TITLE: 3}},
        "files": {"proc/meminfo": "not an object", "proc/x" + TITLE: {"denied": TITLE}},
        "collector": None,
    }
    path = str(tmp_path / "crafted.tar.gz")
    _bundle(path, json.dumps(manifest).encode(), ["proc/1/" + TITLE, "sys/" + CSI + "/x/y"])
    code, shown, err = run_collector(["--show", path], check=False)
    assert code == 0, err
    assert "Traceback" not in err and _no_raw_controls(shown) and _no_raw_controls(err)
    assert "\\x1b]0;owned\\x07" in shown and "\\x9b2J" in shown
    assert "anonymized   \\x1b]0;owned\\x07 3" in shown


def test_show_refuses_a_manifest_nested_too_deep_in_one_line(tmp_path):
    path = str(tmp_path / "deep.tar.gz")
    _bundle(path, b"[" * 100000)
    code, shown, err = run_collector(["--show", path], check=False)
    assert code == 2 and shown == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    path = str(tmp_path / "list.tar.gz")
    _bundle(path, b"[1, 2]")
    code, shown, err = run_collector(["--show", path], check=False)
    assert code == 2 and "not an object" in err


def _tiny_members_bomb(path, members):
    """A gzip of a manifest and `members` empty members: a 128 MiB tar index in under 1 MiB."""
    manifest = json.dumps({"format": "vmcollect-bundle", "samples": 1}).encode()
    info = tarfile.TarInfo("manifest.json")
    info.size = len(manifest)
    head = info.tobuf(format=tarfile.GNU_FORMAT) + manifest + b"\0" * (512 - len(manifest))
    empty = tarfile.TarInfo("proc/1/x").tobuf(format=tarfile.GNU_FORMAT)
    with open(path, "wb") as f:
        f.write(gzip.compress(head + empty * members + b"\0" * 1024, 6))


#: The address space `--show` may use on a bomb: ample for the interpreter (about 40 MiB is
#: enough); the old reader, which kept a TarInfo per member, needed 130 MiB of RSS for this one.
SHOW_ADDRESS_SPACE = 96 << 20


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (SHOW_ADDRESS_SPACE, SHOW_ADDRESS_SPACE))


def test_show_stops_at_the_member_limit_in_bounded_memory(tmp_path):
    from vmcollect.cli import SHOW_MAX_MEMBERS

    path = str(tmp_path / "members.tar.gz")
    _tiny_members_bomb(path, SHOW_MAX_MEMBERS)  # the manifest makes one more than the limit
    code, shown, err = run_collector(["--show", path], check=False, preexec_fn=_limit_address_space)
    assert code == 2 and shown == "" and "Traceback" not in err
    assert err == "vmcollect: error: cannot read %s: more than 250000 members\n" % path


def test_show_refuses_a_declared_size_over_the_limit_before_reading_it(tmp_path):
    from vmcollect.cli import SHOW_MAX_BYTES

    info = tarfile.TarInfo("proc/meminfo")
    info.size = SHOW_MAX_BYTES  # with its header, one byte-block over; no data follows
    path = str(tmp_path / "big.tar.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
    code, shown, err = run_collector(["--show", path], check=False)
    assert code == 2 and shown == "" and len(err.splitlines()) == 1
    assert "members add up to more than 4294967296 bytes" in err


def test_show_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    path = str(tmp_path / "bundle.tar.gz")
    os.mkfifo(path)
    code, shown, err = run_collector(["--show", path], check=False)
    assert (code, shown) == (2, "") and err.endswith(": not a regular file\n"), err
