"""vmanalyze.fleet_story on real analyses of the sample bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vmanalyze.analysis import analyze
from vmanalyze.fleet_story import drift, group_by_root_cause, root_cause

BUNDLES = Path(__file__).resolve().parents[2] / "sample-bundles"


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    names = ["oom-kill", "swap-thrash", "thp-always-postgres", "healthy-idle", "numa-remote"]
    return {n: analyze(BUNDLES / f"{n}.tar.gz", cache=False).to_json_dict() for n in names}


def test_root_cause_is_the_incident_root_else_the_worst_finding(docs: dict[str, Any]) -> None:
    oom = root_cause(docs["oom-kill"]["incidents"], docs["oom-kill"]["findings"])
    assert oom is not None and oom["from_incident"]
    assert oom["code"] == "CGR001"
    assert oom["label"] == "CGR001 cgroup-memory-limit: cgroup /vmtriage-sample-oom-kill"

    thp = docs["thp-always-postgres"]
    assert thp["incidents"] == []
    cause = root_cause(thp["incidents"], thp["findings"])
    assert cause is not None and not cause["from_incident"]
    assert cause["severity"] == "warning"

    idle = docs["healthy-idle"]
    assert root_cause(idle["incidents"], idle["findings"]) is None  # only info findings


def test_same_problem_in_the_same_program_groups_across_hosts(docs: dict[str, Any]) -> None:
    swap = docs["swap-thrash"]
    rows = []
    for host in ("web1", "web2", "web3"):  # three hosts with the same episode
        cause = root_cause(swap["incidents"], swap["findings"])
        assert cause is not None
        rows.append(
            {"host": host, "input": host, "root_key": cause["key"], "root_label": cause["label"]}
        )
    oom = root_cause(docs["oom-kill"]["incidents"], docs["oom-kill"]["findings"])
    assert oom is not None
    rows.append({"host": "db1", "input": "db1", "root_key": oom["key"], "root_label": oom["label"]})
    groups = group_by_root_cause(rows)
    assert [(g["hosts"], g["label"]) for g in groups] == [
        (3, "CGR001 cgroup-memory-limit: cgroup /vmtriage-sample-swap-thrash"),
        (1, "CGR001 cgroup-memory-limit: cgroup /vmtriage-sample-oom-kill"),
    ]


def test_process_causes_group_by_name_and_command_line() -> None:
    finding = {"code": "MEM002", "name": "process-memory-growth", "severity": "warning"}
    a = root_cause([], [{**finding, "subject": "process:10:java"}], {10: "java -jar app.jar"})
    b = root_cause([], [{**finding, "subject": "process:99:java"}], {99: "java  -jar app.jar"})
    c = root_cause([], [{**finding, "subject": "process:7:java"}], {7: "java -jar other.jar"})
    assert a is not None and b is not None and c is not None
    assert a["key"] == b["key"] != c["key"]
    assert a["label"] == "MEM002 process-memory-growth: java (java -jar app.jar)"


def test_drift_lists_hosts_off_their_role_majority(docs: dict[str, Any]) -> None:
    """The five bundles' real host facts as five database hosts: thp-always-postgres and the
    NUMA guest run THP always where the other three run madvise; one host's swappiness is
    then set apart by hand."""
    rows = [{**doc["host"], "host": name, "role": "database"} for name, doc in docs.items()]
    rows[0]["swappiness"] = 1
    found = [(r["host"], r["setting"], r["value"], r["majority"]) for r in drift(rows)]
    assert found == [
        ("numa-remote", "thp_enabled", "always", "madvise"),
        ("oom-kill", "swappiness", "1", "60"),
        ("thp-always-postgres", "thp_enabled", "always", "madvise"),
    ]
    assert drift([{**r, "role": None} for r in rows]) != []  # unknown role: compared together
    assert drift([{**r, "role": r["host"]} for r in rows]) == []  # every host its own role


def test_drift_needs_a_majority_and_ignores_unreported_settings() -> None:
    two = [
        {"host": "a", "role": "x", "swappiness": 1},
        {"host": "b", "role": "x", "swappiness": 60},
    ]
    assert drift(two) == []  # two hosts have no majority
    split = [
        {"host": h, "role": "x", "swappiness": v}
        for h, v in zip("abcd", [1, 1, 60, 60], strict=True)
    ]
    assert drift(split) == []  # 2 against 2: nobody drifts
    unknown = [
        {"host": h, "role": "x", "swappiness": v}
        for h, v in zip("abcd", [1, 1, 1, None], strict=True)
    ]
    assert drift(unknown) == []  # d did not report it: not a difference
