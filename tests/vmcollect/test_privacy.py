"""Redaction of command lines, no environment, anonymization."""

import doctest
import os
import subprocess
import sys
import time

import pytest

from .bundle_reader import Bundle
from .conftest import COLLECTOR, run_collector

sys.path.insert(0, COLLECTOR)
from vmcollect import redact  # noqa: E402
from vmcollect.redact import redact_args, redact_cmdline  # noqa: E402


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["mysql", "-uroot", "-phunter2", "shop"], ["mysql", "-uroot", "-p***", "shop"]),
        (["/usr/bin/mysqldump", "-p", "hunter2", "db"], ["/usr/bin/mysqldump", "-p", "***", "db"]),
        (["ssh", "-p", "2222", "host"], ["ssh", "-p", "2222", "host"]),
        (["redis-cli", "-a", "hunter2", "ping"], ["redis-cli", "-a", "***", "ping"]),
        (["app", "--password", "hunter2"], ["app", "--password", "***"]),
        (["app", "--password=hunter2"], ["app", "--password=***"]),
        (["app", "--db-passwd", "x"], ["app", "--db-passwd", "***"]),
        (["app", "PGPASSWORD=hunter2"], ["app", "PGPASSWORD=***"]),
        (["app", "--api-key", "AKIA123"], ["app", "--api-key", "***"]),
        (["app", "--client_secret=abc"], ["app", "--client_secret=***"]),
        (["app", "--auth-token", "abc"], ["app", "--auth-token", "***"]),
        (["app", "--credentials", "/etc/x"], ["app", "--credentials", "***"]),
        (
            ["curl", "-H", "Authorization:", "Bearer", "abc.def"],
            ["curl", "-H", "Authorization:", "Bearer", "***"],
        ),
        (
            ["psql", "postgresql://app:hunter2@db:5432/x"],
            ["psql", "postgresql://app:***@db:5432/x"],
        ),
        (["sqlplus", "scott/tiger@orcl"], ["sqlplus", "scott/***@orcl"]),
        (
            ["java", "-Dspring.datasource.password=hunter2", "-Xmx4g"],
            ["java", "-Dspring.datasource.password=***", "-Xmx4g"],
        ),
        (
            ["postgres", "-D", "/var/lib/pgsql", "-p", "5432"],
            ["postgres", "-D", "/var/lib/pgsql", "-p", "5432"],
        ),
        (["nginx:", "worker", "process"], ["nginx:", "worker", "process"]),
        (
            ["mongod", "--port=27017", "--bind_ip", "0.0.0.0"],
            ["mongod", "--port=27017", "--bind_ip", "0.0.0.0"],
        ),
    ],
)
def test_redact_args(argv, expected):
    assert redact_args(argv) == expected


def test_redact_cmdline_keeps_nul_layout():
    raw = b"mysql\x00--user=app\x00--password=hunter2\x00shop\x00"
    assert redact_cmdline(raw) == b"mysql\x00--user=app\x00--password=***\x00shop\x00"
    assert redact_cmdline(b"") == b""
    assert redact_cmdline(b"\xff\xfe\x00-phunter2\x00") == b"\xff\xfe\x00-phunter2\x00"


def test_doc_examples_of_collector_modules():
    from vmcollect import anonymize, bundle, safeio, spool, units

    for module in (redact, units, anonymize, safeio, spool, bundle):
        failures, tried = doctest.testmod(module)
        assert failures == 0 and tried > 0, module.__name__


@pytest.fixture
def secret_process():
    """A real process with a password on its command line and a secret in its environment."""
    env = dict(os.environ, VMTRIAGE_TEST_SECRET="env-s3cr3t-value")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "--password",
            "argv-s3cr3t-value",
            "db_token=tok-s3cr3t-value",
        ],
        env=env,
    )
    time.sleep(0.2)
    yield proc
    proc.kill()
    proc.wait()


def test_bundle_never_holds_secrets_or_environment(out_dir, secret_process):
    _, out, _ = run_collector(["--interval", "100ms", "--count", "2", "-o", out_dir, "-q"])
    b = Bundle(out.strip())
    everything = b.everything()
    assert b"argv-s3cr3t-value" not in everything
    assert b"tok-s3cr3t-value" not in everything
    assert b"env-s3cr3t-value" not in everything
    assert not [n for n in b.members if n.endswith("/environ")]
    cmdline = b.records("proc/%d/cmdline" % secret_process.pid)[0][1]
    assert cmdline.split(b"\x00")[-3:] == [b"***", b"db_token=***", b""]
    assert b"--password" in cmdline


def test_no_cmdline_keeps_only_comm(out_dir, secret_process):
    _, out, _ = run_collector(
        ["--interval", "100ms", "--count", "1", "--no-cmdline", "-o", out_dir, "-q"]
    )
    b = Bundle(out.strip())
    assert not [n for n in b.members if n.endswith("/cmdline") and n != "proc/cmdline"]
    assert "proc/%d/comm" % secret_process.pid in b.members
    assert b.manifest["privacy"]["cmdline"] == "not collected"


def test_anonymize_replaces_the_host_name(out_dir):
    with open("/proc/sys/kernel/hostname", "rb") as f:
        hostname = f.read().strip()
    _, out, _ = run_collector(
        ["--interval", "100ms", "--count", "1", "--anonymize", "-o", out_dir, "-q"]
    )
    path = out.strip()
    b = Bundle(path)
    alias = b.manifest["host"]["hostname"]
    assert alias.startswith("host-") and len(alias) == 17
    assert "-%s-" % hostname.decode() not in os.path.basename(path)
    assert alias in os.path.basename(path)
    assert b.manifest["privacy"]["anonymized"] is True
    version = b.records("proc/version")[0][1]
    assert b"@host-" in version or b"@" not in version
    # Stable: the same host always gets the same alias.
    _, out2, _ = run_collector(
        [
            "--interval",
            "100ms",
            "--count",
            "1",
            "--anonymize",
            "-o",
            os.path.join(out_dir, "second.tar.gz"),
            "-q",
        ]
    )
    assert Bundle(out2.strip()).manifest["host"]["hostname"] == alias
