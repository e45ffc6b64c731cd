"""THP001 thp-always-on-database-host: real bundles, plus the vendor exceptions on small tables."""

from __future__ import annotations

import pandas as pd
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.thp.thp_always_on_database_host import thp_always_on_database_host as RULE

TS = pd.Timestamp("2026-01-01T00:00:00Z")


def test_fires_on_postgres_and_redis_under_thp_always(sample_bundle):
    ds = sample_bundle("thp-always-postgres")
    t = ds.tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    enabled = t["thp"][t["thp"]["setting"] == "enabled"]["value"]
    assert (enabled == "always").any()

    ps = t["process_samples"]
    by_comm = {}
    for comm in ("postgres", "redis-server"):
        procs = ps[ps["comm"] == comm][["pid", "starttime"]].drop_duplicates()
        oldest = procs.sort_values(["starttime", "pid"]).iloc[0]
        by_comm[comm] = (f"process:{int(oldest['pid'])}:{comm}", len(procs))
    found = {f.subject: f for f in result.findings}
    assert set(found) == {subject for subject, _ in by_comm.values()}
    assert all(f.code == "THP001" for f in result.findings)

    pg_subject, pg_count = by_comm["postgres"]
    pg = found[pg_subject]
    assert pg.severity is Severity.WARNING
    assert pg.evidence["processes"] == pg_count
    assert pg.evidence["database"] == "PostgreSQL"
    assert pg.evidence["anon_hugepages_max_bytes"] == int(
        t["meminfo"]["anon_hugepages_bytes"].max()
    )
    vm = t["vmstat"].sort_values("ts")["thp_fault_alloc"]
    assert pg.evidence["thp_fault_alloc_delta"] == float(vm.iloc[-1] - vm.iloc[0])
    assert f"{pg_count} postgres processes" in pg.message
    assert "sysctl.d" in pg.remediation and "restart" in pg.remediation
    assert "transparent_hugepage=" in pg.remediation

    # redis-server ran with disable-thp no: its status says THP_enabled 1, so a warning.
    redis_subject, _ = by_comm["redis-server"]
    redis_thp = ps[ps["comm"] == "redis-server"]["thp_enabled"].dropna()
    assert set(redis_thp) == {1}
    assert found[redis_subject].severity is Severity.WARNING


def test_quiet_on_madvise_hosts(sample_bundle):
    for name in ("healthy-idle", "swap-thrash", "overcommit"):
        t = sample_bundle(name).tables
        assert set(t["thp"][t["thp"]["setting"] == "enabled"]["value"]) == {"madvise"}
        result = run(t, [RULE])
        assert result.status("THP001").status == "ran"
        assert result.findings == ()


# -- edge cases the kernel and vendors define, on small tables ---------------------------


def tables(comm: str, thp_enabled: int | None, defrag: str = "madvise", enabled: str = "always"):
    thp = pd.DataFrame(
        {
            "snapshot": ["start"] * 3,
            "ts": [TS] * 3,
            "setting": ["enabled", "defrag", "khugepaged/max_ptes_none"],
            "value": [enabled, defrag, "0" if defrag == "defer+madvise" else "511"],
        }
    )
    ps = pd.DataFrame(
        {
            "snapshot": ["start"],
            "ts": [TS],
            "pid": [42],
            "starttime": [1000],
            "comm": [comm],
            "rss_bytes": [512 << 20],
            "thp_enabled": pd.array([thp_enabled], dtype="Int64"),
        }
    )
    return {"thp": thp, "process_samples": ps}


def test_redis_that_disabled_thp_for_itself_is_informational():
    result = run(tables("redis-server", 0), [RULE])
    (finding,) = result.findings
    assert finding.subject == "process:42:redis-server"
    assert finding.severity is Severity.INFO
    assert "THP_enabled: 0" in finding.message


def test_mongodb_8_setup_is_not_a_problem():
    result = run(tables("mongod", 1, defrag="defer+madvise"), [RULE])
    (finding,) = result.findings
    assert finding.severity is Severity.INFO
    assert "MongoDB 8.0+ recommends" in finding.message


def test_mongodb_7_is_flagged_when_the_version_is_configured():
    config = Config(rule_settings={"THP001": {"mongodb_major_version": 7}})
    result = run(tables("mongod", 1, defrag="defer+madvise"), [RULE], config)
    (finding,) = result.findings
    assert finding.severity is Severity.WARNING


def test_madvise_is_not_always():
    assert run(tables("postgres", 1, enabled="madvise"), [RULE]).findings == ()


def test_host_role_database_counts_without_a_known_process():
    config = Config(host_role="database")
    result = run(tables("myengine", None), [RULE], config)
    (finding,) = result.findings
    assert finding.subject == "host"
    assert finding.evidence["host_role"] == "database"
    assert run(tables("myengine", None), [RULE]).findings == ()
