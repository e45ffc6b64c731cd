"""The example pack's story: one event source and one link type (docs/writing-rules.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Because, Event, Node, StoryContext, event_source, link


@event_source(name="example-swappiness")
def swappiness_setting(ctx: StoryContext) -> Iterator[Event]:
    """vm.swappiness as captured at the start, as one dated event."""
    sysctl = ctx.table("sysctl_vm")
    if sysctl is None or "ts" not in sysctl.columns:
        return
    rows = sysctl[sysctl["name"].astype(str).str.removeprefix("vm.") == "swappiness"]
    if rows.empty:
        return
    first = rows.sort_values("ts").iloc[0]
    value = pd.to_numeric(first["value"], errors="coerce")
    yield Event(
        ts=first["ts"],
        kind="swappiness",
        subject="host",
        text=f"vm.swappiness was {value:g}",
        evidence={"swappiness": float(value)},
    )


@link(name="example-swappiness-then-swap-out", cause="EXA001", effect="event:swap_out")
def swappiness_then_swap_out(ctx: StoryContext, cause: Node, effect: Node) -> Because | None:
    """A high vm.swappiness (EXA001) comes before swap-out: reclaim prefers anonymous pages."""
    if effect.start < cause.start:
        return None
    lead = (effect.start - cause.start).total_seconds()
    return Because(
        0.6, f"swap-out began {lead:.0f} s into a capture with high swappiness", {"lead_s": lead}
    )


STORY = (swappiness_setting, swappiness_then_swap_out)
