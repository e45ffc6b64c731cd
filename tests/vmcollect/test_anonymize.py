"""--anonymize: addresses, domains, users and homes replaced consistently; the map stays local."""

import json
import os
import sys

from .bundle_reader import Bundle
from .conftest import COLLECTOR, copy_process, root_args, run_collector

sys.path.insert(0, COLLECTOR)
from vmcollect.anonymize import Anonymizer, anonymize_name, map_path_for  # noqa: E402


def _anonymizer():
    return Anonymizer(
        "db01.corp.example.com",
        domains=["corp.example.com", "svc.example.net"],
        users=[("alice", "/home/alice"), ("bob", "/srv/bob")],
    )


def test_the_same_original_gets_the_same_stand_in():
    a = _anonymizer()
    first = a.text("connect 10.1.2.3 and 10.1.2.4 then 10.1.2.3 again")
    assert first == "connect 198.18.0.1 and 198.18.0.2 then 198.18.0.1 again"
    assert a.text("10.1.2.4") == "198.18.0.2"
    assert a.counts()["ipv4"] == 2


def test_every_kind_is_replaced_and_mapped_back():
    a = _anonymizer()
    line = (
        "app --peer 192.168.7.20:5432 --v6 2a00:1450:4001:81b::200e --mac 52:54:00:12:34:56 "
        "--db pg.svc.example.net --self db01.corp.example.com --short db01 "
        "--conf /home/alice/.config/app.toml --data /srv/bob/data --owner bob"
    )
    out = a.text(line)
    for original in (
        "192.168.7.20",
        "2a00:1450:4001:81b::200e",
        "52:54:00:12:34:56",
        "svc.example.net",
        "corp.example.com",
        "db01",
        "alice",
        "bob",
    ):
        assert original not in out, original
    assert "--short %s" % anonymize_name("db01.corp.example.com") in out
    assert "/home/user1/.config/app.toml" in out and "/home/user2/data --owner user2" in out
    # The mapping leads from each stand-in back to its original.
    mapping = a.mapping()
    assert mapping["ipv4"] == {"198.18.0.1": "192.168.7.20"}
    assert mapping["ipv6"] == {"2001:db8::1": "2a00:1450:4001:81b::200e"}
    assert mapping["mac"] == {"02:00:00:00:00:01": "52:54:00:12:34:56"}
    assert mapping["domain_name"] == {"name1.domain1.example": "pg.svc.example.net"}
    assert mapping["user"] == {"user1": "alice", "user2": "bob"}
    assert mapping["home"] == {"/home/user1": "/home/alice", "/home/user2": "/srv/bob"}
    assert set(mapping["hostname"].values()) <= {"db01", "db01.corp.example.com"}


def test_what_identifies_nothing_stays():
    a = _anonymizer()
    text = "0.0.0.0:80 127.0.0.1 ::1 :: 255.255.255.0 ff:ff:ff:ff:ff:ff 12:30:45 v5.15.0.1 std::map"
    assert a.text(text) == text
    assert a.counts() == {}


def test_cgroup_paths_and_bytes():
    a = _anonymizer()
    data = b"0::/user.slice/user-1000.slice/session-3.scope/alice-10.0.0.9\n\xff"
    assert a.data(data) == b"0::/user.slice/user-1000.slice/session-3.scope/user1-198.18.0.1\n\xff"


def test_collector_anonymizes_cmdline_cgroup_and_keeps_the_map_beside(fixture_root, out_dir):
    with open(os.path.join(fixture_root, "proc/sys/kernel/hostname"), "w") as f:
        f.write("db01.corp.example.com\n")
    pid_dir = copy_process(fixture_root, os.getpid(), new_pid=777777)
    with open(os.path.join(pid_dir, "cmdline"), "wb") as f:
        f.write(b"app\0--peer=10.20.30.40\0--mac\0aa:bb:cc:11:22:33\0db01.corp.example.com\0")
    with open(os.path.join(pid_dir, "cgroup"), "wb") as f:
        f.write(b"0::/system.slice/app@10.20.30.40.service\n")
    args = root_args(fixture_root) + ["--anonymize", "-o", out_dir]
    _, out, err = run_collector(args)
    path = out.strip()
    b = Bundle(path)
    everything = b.everything()
    for secret in (b"10.20.30.40", b"aa:bb:cc:11:22:33", b"db01", b"corp.example.com"):
        assert secret not in everything, secret
    cmdline = b.records("proc/777777/cmdline")[0][1]
    assert cmdline.split(b"\0")[:4] == [
        b"app",
        b"--peer=198.18.0.1",
        b"--mac",
        b"02:00:00:00:00:01",
    ]
    assert b.records("proc/777777/cgroup")[0][1] == b"0::/system.slice/app@198.18.0.1.service\n"
    privacy = b.manifest["privacy"]
    assert privacy["anonymized"] is True
    assert privacy["anonymized_counts"]["ipv4"] == 1 and privacy["anonymized_counts"]["mac"] == 1
    assert b.manifest["options"]["anonymize"] is True
    # The map: next to the bundle, never inside it, mode 0600, translating back.
    map_path = map_path_for(path)
    assert os.path.dirname(map_path) == out_dir
    assert oct(os.stat(map_path).st_mode & 0o777) == "0o600"
    assert not [n for n in b.members if "anonymiz" in n]
    with open(map_path) as f:
        doc = json.load(f)
    assert doc["bundle"] == os.path.basename(path)
    assert doc["replacements"]["ipv4"] == {"198.18.0.1": "10.20.30.40"}
    assert doc["replacements"]["mac"] == {"02:00:00:00:00:01": "aa:bb:cc:11:22:33"}
    assert "anonymization map" in err and map_path in err
    # --show lists what was anonymized (counts by kind, never the originals).
    _, shown, _ = run_collector(["--show", path])
    line = [row for row in shown.splitlines() if row.startswith("anonymized")][0]
    assert "ipv4 1" in line and "mac 1" in line and "10.20.30.40" not in shown
