"""The story of each sample bundle: the incidents sample-bundles/README.md promises.

Each real episode must read as its README's "expected story" column says: the root cause,
what it explains, and the steps in between; a healthy host has no incident.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from vmanalyze.analysis import Analysis
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.registry import discover

README = Path(__file__).resolve().parents[2] / "sample-bundles" / "README.md"

#: bundle -> (root code, explained codes in order, step kinds that must appear) or None.
EXPECTED: dict[str, tuple[str, list[str], list[str]] | None] = {
    "healthy-idle": None,
    "oom-kill": ("CGR001", ["OOM001"], ["limit_hit", "oom_kill"]),
    "memory-leak": ("MEM002", [], ["available_decline"]),
    "swap-thrash": ("CGR001", ["SWP001", "PSI001", "FLT001"], ["swap_out", "psi"]),
    "pagecache-thrash": ("CGR001", ["FLT001", "PGC001"], ["limit_hit", "refault"]),
    "pagecache-read-thrash": ("CGR001", ["PGC001", "PSI001"], ["limit_hit", "psi"]),
    "zswap-thrash": ("CGR001", ["SWP001", "SWP004", "PSI001", "FLT001"], ["swap_out", "psi"]),
    "zram-thrash": ("CGR001", ["SWP001", "SWP004", "FLT001"], ["swap_out"]),
    "numa-remote": None,
    "thp-always-postgres": None,
    "overcommit": None,
    "hung-task": ("CGR001", ["SWP001", "HUNG001", "PSI001", "FLT001"], ["swap_out", "psi"]),
    "kernel-thread-leak": None,
    "shmem-growth": None,
    "mlock-growth": None,
}


def _story(sample_bundle: Any, name: str) -> Any:
    dataset = sample_bundle(name)
    return run(dataset.tables, discover(only=()), Config(), host=dataset.host)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_bundle_story(sample_bundle: Any, name: str) -> None:
    result = _story(sample_bundle, name)
    expected = EXPECTED[name]
    assert result.story.errors == ()
    if expected is None:
        assert result.story.incidents == (), [i.headline for i in result.story.incidents]
        return
    root, explains, kinds = expected
    incident = result.story.incidents[0]
    assert incident.root.code == root
    assert [n.code for n in incident.explains if n.finding is not None] == explains
    step_kinds = [e.kind for e in incident.steps]
    for kind in kinds:
        assert kind in step_kinds, (kind, step_kinds)
    # the cause first, then every step in time order (within a second: causes first)
    assert incident.steps[0] is incident.root.event
    floors = [e.ts.floor("s") for e in incident.steps[1:]]
    assert floors == sorted(floors)
    # every finding the incident names is one of the analysis' findings, at its index
    for node in (incident.root, *incident.explains):
        if node.index is not None:
            assert result.findings[node.index] is node.finding
    assert 0.5 <= incident.confidence <= 1


def test_oom_kill_story_reads_limit_then_kills(sample_bundle: Any) -> None:
    incident = _story(sample_bundle, "oom-kill").story.incidents[0]
    link = incident.links[0]
    assert link.type == "limit-hits-precede-oom-kills"
    assert link.numbers["cgroup"] == "/vmtriage-sample-oom-kill"
    kills = [e for e in incident.steps if e.kind == "oom_kill"]
    assert len(kills) == 1 and "(and 2 more until" in kills[0].text
    assert "oom-hog" in kills[0].text


def test_swap_thrash_links_cite_their_numbers(sample_bundle: Any) -> None:
    incident = _story(sample_bundle, "swap-thrash").story.incidents[0]
    by_type = {(k.type, k.effect.code): k for k in incident.links}
    swap = by_type[("cgroup-limit-drives-swap", "SWP001")]
    assert swap.numbers["anon_mib_last"] > 200  # the cycler's anonymous memory at the limit
    faults = by_type[("swap-in-is-major-faults", "FLT001")]
    assert faults.numbers["fault_cause"] == "swap-in"
    assert faults.confidence == 0.9


def test_numa_remote_is_not_called_a_spill(sample_bundle: Any) -> None:
    """Node 1 served remote allocations from the first sample (numa-remote is bound to it by
    policy), 20 s before node 0 reached its watermark: "remote follows a full node" fails."""
    result = _story(sample_bundle, "numa-remote")
    codes = [f.code for f in result.findings]
    assert "NUMA001" in codes and "NUMA002" in codes
    numa1 = result.findings[codes.index("NUMA001")]
    numa2 = result.findings[codes.index("NUMA002")]
    assert numa1.start < numa2.start
    assert result.story.incidents == ()


def test_readme_lists_the_expected_stories() -> None:
    text = README.read_text()
    section = text.split("## Expected stories", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \|", section, re.M))
    for name, expected in EXPECTED.items():
        assert name in rows, f"README has no expected story for {name}"
        if expected is None:
            assert rows[name].strip().startswith("no incident"), rows[name]
        else:
            root, explains, _ = expected
            assert rows[name].strip().startswith(root), rows[name]
            for code in explains:
                assert code in rows[name], (code, rows[name])


def test_story_adds_little_time(sample_bundle: Any) -> None:
    """Not a budget (benchmarks/report.py measures that): the story must not dominate."""
    result = _story(sample_bundle, "swap-thrash")
    assert isinstance(result.story.duration_s, float)
    assert result.story.duration_s < sum(r.duration_s for r in result.rules) + 1.0


def test_analysis_json_has_incidents(sample_bundle: Any) -> None:
    dataset = sample_bundle("oom-kill")
    result = run(dataset.tables, discover(only=()), Config(), host=dataset.host)
    doc = Analysis(dataset, result).to_json_dict()
    [incident] = doc["incidents"]
    assert incident["root"]["code"] == "CGR001"
    assert incident["explains"][0]["code"] == "OOM001"
    assert incident["steps"][0]["finding"] == incident["root"]["finding"]
    assert incident["links"][0]["type"] == "limit-hits-precede-oom-kills"
    assert incident["story"].startswith("15:17:26 CGR001")


def test_host_growth_drains_available_weighs_the_growth_against_the_decline(
    sample_bundle: Any,
) -> None:
    """MLK001's real finding as the cause; MemAvailable declines of two sizes over its window:
    linked when the locked memory accounts for at least half of the decline."""
    from vmanalyze.story import Event, Node, StoryContext
    from vmrules.mlk.mlocked_growth import mlocked_growth
    from vmrules.story.links import host_growth_drains_available as link_type

    dataset = sample_bundle("mlock-growth")
    result = run(dataset.tables, [mlocked_growth], Config(), host=dataset.host)
    (finding,) = result.findings
    cause = Node(Event(finding.start, "finding", "host", "", end=finding.end), finding, 0)
    ctx = StoryContext(dataset.tables, result.findings, dataset.host)
    check = link_type.check
    grown = finding.evidence["slope_mib_per_s"] * 2**20 * finding.evidence["seconds"]

    def decline(size: float, start: Any = finding.start, end: Any = finding.end) -> Node:
        evidence = {"decline_bytes": int(size)}
        return Node(Event(start, "available_decline", "host", "", end=end, evidence=evidence))

    because = check(ctx, cause, decline(1.25 * grown))
    assert because is not None and because.confidence == 0.8
    assert because.numbers["share"] == pytest.approx(0.8, abs=0.01)
    assert because.because.startswith("locked memory grew ")
    assert check(ctx, cause, decline(3 * grown)) is None
    later = finding.end + pd.Timedelta(seconds=60)
    after = decline(grown, later, later + pd.Timedelta(seconds=60))
    assert check(ctx, cause, after) is None
