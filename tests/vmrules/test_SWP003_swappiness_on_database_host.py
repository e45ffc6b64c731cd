"""SWP003 swappiness-on-database-host: the real sample bundle and sosreport, a live capture of
processes named like databases, and the vendor table on small tables."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import vmanalyze
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.swp.swappiness_on_database_host import ADVICE
from vmrules.swp.swappiness_on_database_host import swappiness_on_database_host as RULE

REPO = Path(__file__).resolve().parents[2]

TS = pd.Timestamp("2026-01-01T00:00:00Z")


def swappiness(t) -> int:
    s = t["sysctl_vm"]
    return int(s[s["name"] == "swappiness"].sort_values("ts")["value"].iloc[-1])


def test_postgres_is_not_judged(sample_bundle):
    """thp-always-postgres runs PostgreSQL at swappiness 60 (and Redis): neither publishes
    swappiness advice, so no finding; with `[host] role = "database"` the host is judged
    against max_swappiness_other and the message says neither has advice."""
    t = sample_bundle("thp-always-postgres").tables
    assert swappiness(t) == 60
    assert (t["process_samples"]["comm"] == "postgres").any()
    result = run(t, [RULE])
    assert result.status("SWP003").status == "ran"
    assert result.findings == ()

    result = run(t, [RULE], Config(host_role="database"))
    (finding,) = result.findings
    assert finding.subject == "host"
    assert "running: PostgreSQL, Redis/Valkey, without vendor swappiness advice" in finding.message
    assert finding.evidence["max_swappiness"] == 10
    # the bundle's host has no swap at all: the setting is dormant, so info
    assert t["meminfo"]["swap_total_bytes"].max() == 0
    assert finding.severity is Severity.INFO
    assert "no swap area is active" in finding.message


def test_sosreport_with_postgres_only_is_quiet():
    t = vmanalyze.load(REPO / "tests/fixtures/sosreport-debian12", cache=False).tables
    assert swappiness(t) == 60
    assert (t["process_samples"]["comm"] == "postgres").any()
    result = run(t, [RULE])
    assert result.status("SWP003").status == "ran"
    assert result.findings == ()


DB_LIKE = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
time.sleep(60)
"""


def test_live_processes_named_like_mongod_and_elasticsearch(live_capture):
    """Two real processes on this host: one whose comm is `mongod`, one `java` whose command
    line names Elasticsearch. Both vendors advise swappiness 1."""
    procs = [
        subprocess.Popen([sys.executable, "-c", DB_LIKE, "mongod"]),
        subprocess.Popen(
            [sys.executable, "-c", DB_LIKE, "java", "-Des.path.home=/usr/share/elasticsearch"]
        ),
    ]
    try:
        time.sleep(0.5)
        live_capture.start(interval="200ms", count=3)
        t = live_capture.finish().tables
    finally:
        for p in procs:
            p.kill()
            p.wait()
    value = swappiness(t)
    result = run(t, [RULE])
    assert result.status("SWP003").status == "ran"
    found = {f.evidence["database"]: f for f in result.findings}
    if value <= 1:
        assert found == {}
        return
    assert set(found) == {"MongoDB", "Elasticsearch/OpenSearch"}
    mongo = found["MongoDB"]
    assert mongo.subject == f"process:{procs[0].pid}:mongod"
    assert mongo.evidence["swappiness"] == value
    assert mongo.evidence["max_swappiness"] == 1
    assert f"vm.swappiness is {value} while MongoDB runs" in mongo.message
    assert found["Elasticsearch/OpenSearch"].subject == f"process:{procs[1].pid}:java"
    swap = int(t["meminfo"]["swap_total_bytes"].max())
    expected = Severity.INFO if swap == 0 else Severity.WARNING
    assert {f.severity for f in result.findings} == {expected}


# -- the vendor table, on small tables ------------------------------------------------------


def tables(comm: str, value: int, swap_total: int, vm_swap: int | None = None):
    sysctl = pd.DataFrame(
        {"snapshot": [0], "ts": [TS], "name": ["swappiness"], "value": [str(value)]}
    )
    sysctl["value_int"] = [value]
    ps = pd.DataFrame(
        {
            "snapshot": [0],
            "ts": [TS],
            "pid": [42],
            "starttime": [1000],
            "comm": [comm],
            "rss_bytes": [1 << 30],
            "vm_swap_bytes": [vm_swap],
        }
    )
    meminfo = pd.DataFrame({"snapshot": [0], "ts": [TS], "swap_total_bytes": [swap_total]})
    return {"sysctl_vm": sysctl, "process_samples": ps, "meminfo": meminfo}


@pytest.mark.parametrize(
    ("comm", "value", "fires"),
    [
        ("ora_pmon_orcl", 10, False),  # Red Hat's Oracle value is 10: accepted
        ("ora_pmon_orcl", 30, True),
        ("mariadbd", 1, False),
        ("mariadbd", 10, True),
        ("mysqld", 60, True),
        ("redis-server", 60, False),  # Redis publishes no swappiness advice
    ],
)
def test_vendor_ceilings(comm, value, fires):
    result = run(tables(comm, value, swap_total=2 << 30, vm_swap=300 << 20), [RULE])
    assert bool(result.findings) is fires
    if fires:
        (finding,) = result.findings
        assert finding.severity is Severity.WARNING
        assert finding.evidence["vm_swap_max_bytes"] == 300 << 20
        assert f"of which {comm} holds 300.0 MiB" in finding.message
        assert "swap: 2.0 GiB" in finding.message


def test_setting_raises_the_ceiling():
    config = Config(rule_settings={"SWP003": {"max_swappiness_mysql": 10}})
    assert run(tables("mysqld", 10, swap_total=1 << 30), [RULE], config).findings == ()


def test_every_vendor_has_a_setting_and_a_source():
    names = {s.name for s in RULE.settings}
    for advice in ADVICE.values():
        assert advice.setting in names
        assert advice.source.startswith("https://")
