"""vmanalyze.story: composing links into incidents (edge cases the sample bundles lack).

The stories of real episodes are tested on the sample bundles in tests/vmrules/test_story.py;
here the findings are made by hand to reach the cases no capture shows: cycles, two causes
for one effect, a link type or event source that raises.
"""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.rule import Finding, Severity
from vmanalyze.story import Because, Event, build, event_source, link, shorten

T0 = pd.Timestamp("2026-11-26T15:00:00Z")


def _finding(code: str, at: int, subject: str = "host", severity: str = "warning") -> Finding:
    return Finding(
        f"{code} message",
        subject=subject,
        start=T0 + pd.Timedelta(seconds=at),
        end=T0 + pd.Timedelta(seconds=at + 30),
        code=code,
        severity=Severity.parse(severity),
    )


def _always(name: str, cause: str, effect: str, confidence: float):  # type: ignore[no-untyped-def]
    def check(ctx, c, e):  # type: ignore[no-untyped-def]
        return Because(confidence, f"{c.code} then {e.code}", {"n": 1})

    check.__doc__ = f"{cause} explains {effect} (test)."
    return link(name=name, cause=cause, effect=effect)(check)


def test_a_chain_is_one_incident_in_time_order_with_the_cause_first() -> None:
    findings = [_finding("PSI001", 20), _finding("CGR001", 0, "cgroup:/db"), _finding("SWP001", 5)]
    story = build(
        {},
        findings,
        link_types=[
            _always("limit-swaps", "CGR001", "SWP001", 0.8),
            _always("swap-stalls", "SWP001", "PSI001", 0.8),
        ],
    )
    assert len(story.incidents) == 1
    incident = story.incidents[0]
    assert incident.root.code == "CGR001"
    assert [n.code for n in incident.explains] == ["SWP001", "PSI001"]
    assert [e.text.split()[0] for e in incident.steps] == ["CGR001", "SWP001", "PSI001"]
    assert incident.confidence == 0.8
    assert incident.headline == "cause CGR001 cgroup:/db; consequences SWP001, PSI001"
    assert sorted(incident.findings) == [0, 1, 2]


def test_an_effect_keeps_only_its_most_confident_cause() -> None:
    findings = [_finding("MEM001", 0), _finding("CGR001", 2, "cgroup:/x"), _finding("SWP001", 5)]
    story = build(
        {},
        findings,
        link_types=[
            _always("low-swaps", "MEM001", "SWP001", 0.6),
            _always("limit-swaps", "CGR001", "SWP001", 0.9),
        ],
    )
    assert [(i.root.code, [n.code for n in i.explains]) for i in story.incidents] == [
        ("CGR001", ["SWP001"])
    ]
    assert story.incidents[0].links[0].type == "limit-swaps"


def test_a_link_that_would_close_a_cycle_is_dropped() -> None:
    findings = [_finding("AAA001", 0), _finding("BBB001", 0)]
    story = build(
        {},
        findings,
        link_types=[
            _always("a-b", "AAA001", "BBB001", 0.9),
            _always("b-a", "BBB001", "AAA001", 0.8),
        ],
    )
    assert len(story.incidents) == 1
    incident = story.incidents[0]
    assert incident.root.code == "AAA001"
    # the root is not among what it explains: never a cause and its own consequence
    assert [n.code for n in incident.explains] == ["BBB001"]


def test_findings_without_links_make_no_incident() -> None:
    story = build({}, [_finding("OOM001", 0, severity="info")], link_types=[])
    assert story.incidents == ()
    assert [e.kind for e in story.events] == ["finding"]


def test_a_raising_link_type_or_source_is_an_error_not_a_failure() -> None:
    @link(name="broken", cause="CGR001", effect="OOM001")
    def broken(ctx, c, e):  # type: ignore[no-untyped-def]
        """Always raises (test)."""
        raise ZeroDivisionError("boom")

    @event_source(name="broken-source")
    def broken_source(ctx):  # type: ignore[no-untyped-def]
        """Always raises (test)."""
        yield Event(ts=T0, kind="psi", subject="host", text="fine")
        raise KeyError("nope")

    findings = [_finding("CGR001", 0, "cgroup:/x"), _finding("OOM001", 3, "cgroup:/x")]
    story = build({}, findings, link_types=[broken], event_sources=[broken_source])
    assert story.incidents == ()
    assert [(e.name, e.message) for e in story.errors] == [
        ("broken-source", "KeyError: 'nope'"),
        ("broken", "ZeroDivisionError: boom"),
    ]


def test_link_and_source_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="kebab-case"):
        link(name="Not Kebab", cause="CGR001", effect="OOM001")
    with pytest.raises(ValueError, match="rule codes"):
        link(name="x", cause="cgroup", effect="OOM001")
    with pytest.raises(ValueError, match="docstring"):
        link(name="x", cause="CGR001", effect="OOM001")(lambda ctx, c, e: None)
    with pytest.raises(ValueError, match="confidence"):
        Because(1.5, "too sure")


def test_event_steps_of_one_kind_collapse_into_one_line() -> None:
    @event_source(name="kills")
    def kills(ctx):  # type: ignore[no-untyped-def]
        """Three kills in one cgroup (test)."""
        for at in (3, 12, 21):
            yield Event(
                ts=T0 + pd.Timedelta(seconds=at),
                kind="oom_kill",
                subject="cgroup:/x",
                text=f"kill at {at}",
            )

    findings = [_finding("CGR001", 0, "cgroup:/x"), _finding("OOM001", 3, "cgroup:/x")]
    story = build(
        {},
        findings,
        link_types=[_always("limit-kills", "CGR001", "OOM001", 0.9)],
        event_sources=[kills],
    )
    texts = [e.text for e in story.incidents[0].steps]
    assert texts[-1] == "kill at 3 (and 2 more until 15:00:21)"
    assert len(texts) == 3


def test_shorten_cuts_at_a_clause_or_a_word() -> None:
    assert shorten("x" * 30 + "; rest") == "x" * 30
    assert shorten("one two three four", width=10) == "one two…"
