"""The story of an incident: dated events, causal links between findings, incidents.

After the rules run, :func:`build` turns their findings and the tables into:

- **events**: dated happenings, each with a time (or a window), a subject, one line of text
  and the evidence behind it. Every finding gives one (its onset); *event sources* derive
  the rest from the tables (MemAvailable crossing a threshold, reclaim or swap-out
  starting, a PSI episode, cgroup limit hits, OOM kills, a setting that changed...);
- **links**: "this caused that", only where a documented *link type* says so. A link type
  names the rule codes (or event kinds) it connects and checks its condition on the two
  sides; a link carries a confidence in [0, 1] and the numbers behind it;
- **incidents**: links compose into trees. Each incident has one root cause (a finding
  nothing else explains) and the findings and events it explains, in time order, the
  cause first. A finding is explained by at most one cause (the most confident link) and
  links that would close a cycle are dropped, so a finding is never both a cause and its
  own consequence.

Link types and event sources come from rule packs, through the same entry points as rules
(group ``vmanalyze.story``; see ``docs/writing-rules.md``). The built-in ones live in
``vmrules.story``. This module knows no rule code and renders nothing.

>>> ts = pd.Timestamp("2026-11-26T15:17:26Z")
>>> cause = Finding("limit hit", subject="cgroup:/db", start=ts, code="CGR001")
>>> effect = Finding("3 kills", subject="cgroup:/db", start=ts + pd.Timedelta(seconds=1),
...                  code="OOM001")
>>> @link(name="limit-then-kill", cause="CGR001", effect="OOM001")
... def limit_then_kill(ctx, c, e):
...     '''A cgroup's limit hits precede OOM kills in the same cgroup.'''
...     if c.finding.subject == e.finding.subject and c.start <= e.start:
...         return Because(0.9, "kills came 1 s after the limit hits", {"lead_s": 1.0})
...     return None
>>> story = build({}, (cause, effect), link_types=[limit_then_kill])
>>> [(i.root.code, [n.code for n in i.explains]) for i in story.incidents]
[('CGR001', ['OOM001'])]
>>> story.incidents[0].links[0].because
'kills came 1 s after the limit hits'
"""

from __future__ import annotations

import inspect
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vmanalyze.rule import Finding, Severity

__all__ = [
    "Because",
    "Episode",
    "Event",
    "EventSource",
    "Incident",
    "Link",
    "LinkType",
    "Node",
    "Story",
    "StoryContext",
    "StoryError",
    "build",
    "episodes",
    "event_source",
    "link",
]

#: Event kinds a link type may name as its effect (``event:<kind>``), and the kinds the
#: built-in sources emit. A third-party source may add its own kinds.
HARM_KINDS = frozenset(
    {
        "available_low",
        "available_decline",
        "reclaim",
        "direct_reclaim",
        "swap_out",
        "psi",
        "limit_hit",
        "oom_kill",
        "alloc_failure",
        "hung_task",
        "compaction_stall",
        "refault",
        "major_faults",
        "config_change",
    }
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_CODE_OR_EVENT_RE = re.compile(r"^([A-Z]{2,5}[0-9]{3}|event:[a-z_]+)$")


def _utc(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT or pd.isna(ts):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class Event:
    """Something that happened at ``ts`` (until ``end`` for a window) to ``subject``.

    ``kind`` is a short snake_case word (``oom_kill``, ``psi``, ``finding``...); ``text`` is
    one line for people; ``evidence`` holds the numbers. ``finding`` is the index of the
    finding the event stands for (``kind == "finding"``), else ``None``.
    """

    ts: pd.Timestamp
    kind: str
    subject: str
    text: str
    end: pd.Timestamp | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    finding: int | None = None
    source: str = ""
    #: The report chart that shows this event (``memory``, ``swap``, ``psi``...), if any.
    chart: str | None = None

    def __post_init__(self) -> None:
        ts = _utc(self.ts)
        if ts is None:
            raise ValueError(f"Event {self.kind!r} has no time")
        end = _utc(self.end)
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "end", end if end is not None and end >= ts else None)

    @property
    def last(self) -> pd.Timestamp:
        """The end of the window, or the time of a point event."""
        return self.end if self.end is not None else self.ts


@dataclass(frozen=True)
class Node:
    """One side of a link: a finding (with its event) or a table event."""

    event: Event
    finding: Finding | None = None
    index: int | None = None  # the finding's index in the analysis, when a finding

    @property
    def code(self) -> str:
        if self.finding is not None and self.finding.code:
            return self.finding.code
        return f"event:{self.event.kind}"

    @property
    def start(self) -> pd.Timestamp:
        return self.event.ts

    @property
    def end(self) -> pd.Timestamp:
        return self.event.last

    @property
    def subject(self) -> str:
        return self.event.subject

    @property
    def key(self) -> str:
        return f"F{self.index}" if self.finding is not None else f"E{id(self.event)}"


@dataclass(frozen=True)
class Because:
    """What a link type's check returns when its condition holds."""

    confidence: float
    because: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    #: Table events the check relied on (``ctx.events``); they become steps of the story.
    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.confidence, int | float) or not 0 < self.confidence <= 1:
            raise ValueError(f"link confidence must be in (0, 1], got {self.confidence!r}")
        if not isinstance(self.because, str) or not self.because.strip():
            raise ValueError("a link needs a non-empty 'because'")


LinkCheck = Callable[["StoryContext", Node, Node], "Because | None"]
SourceFunction = Callable[["StoryContext"], Iterable[Event]]


@dataclass(frozen=True)
class LinkType:
    """A documented causal relation: ``cause`` codes -> ``effect`` codes or ``event:<kind>``.

    ``doc`` states the condition, the way a rule's docstring states what it checks.
    """

    name: str
    cause: tuple[str, ...]
    effect: tuple[str, ...]
    check: LinkCheck
    doc: str

    @property
    def condition(self) -> str:
        """The first paragraph of the doc: the condition, in one sentence or two."""
        return self.doc.split("\n\n", 1)[0].replace("\n", " ").strip()


@dataclass(frozen=True)
class EventSource:
    """A function ``f(ctx) -> events`` that derives dated events from the tables."""

    name: str
    function: SourceFunction
    doc: str


def _codes(value: str | Iterable[str], what: str, name: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or not all(isinstance(v, str) and _CODE_OR_EVENT_RE.match(v) for v in items):
        raise ValueError(
            f"link {name}: {what} must be rule codes (FLT001) or 'event:<kind>', got {items!r}"
        )
    return items


def _doc_of(function: Callable[..., Any], what: str) -> str:
    doc = inspect.cleandoc(function.__doc__ or "")
    if not doc:
        raise ValueError(f"{what} needs a docstring stating its condition")
    return doc


def link(
    *, name: str, cause: str | Iterable[str], effect: str | Iterable[str]
) -> Callable[[LinkCheck], LinkType]:
    """Make a :class:`LinkType` from ``check(ctx, cause, effect) -> Because | None``.

    ``name`` is kebab-case; ``cause`` and ``effect`` are rule codes or ``event:<kind>``; the
    docstring's first paragraph is the documented condition.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"link name {name!r} is not kebab-case")
    causes = _codes(cause, "cause", name)
    effects = _codes(effect, "effect", name)

    def decorate(function: LinkCheck) -> LinkType:
        return LinkType(name, causes, effects, function, _doc_of(function, f"link {name}"))

    return decorate


def event_source(*, name: str) -> Callable[[SourceFunction], EventSource]:
    """Make an :class:`EventSource` from ``f(ctx) -> Iterable[Event]`` (docstring required)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"event source name {name!r} is not kebab-case")

    def decorate(function: SourceFunction) -> EventSource:
        return EventSource(name, function, _doc_of(function, f"event source {name}"))

    return decorate


@dataclass(frozen=True)
class Link:
    """One cause -> effect relation that held, with its confidence and numbers."""

    type: str
    cause: Node
    effect: Node
    confidence: float
    because: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Incident:
    """One root cause and everything it explains, as ordered steps."""

    root: Node
    explains: tuple[Node, ...]
    links: tuple[Link, ...]
    steps: tuple[Event, ...]
    confidence: float

    @property
    def findings(self) -> tuple[int, ...]:
        """Indices of the root's and the explained findings."""
        nodes = (self.root, *self.explains)
        return tuple(n.index for n in nodes if n.index is not None)

    @property
    def headline(self) -> str:
        """``cause CGR001 cgroup:/db; consequences OOM001, PSI001``: the incident in a line."""
        text = f"cause {self.root.code} {self.root.subject}"
        codes = list(dict.fromkeys(n.code for n in self.explains if n.finding is not None))
        if codes:
            text += "; consequences " + ", ".join(codes)
        return text

    def story_line(self, sep: str = " \u2192 ") -> str:
        """Every step as ``HH:MM:SS text``, joined by arrows, then :attr:`headline`."""
        steps = sep.join(f"{e.ts.strftime('%H:%M:%S')} {e.text}" for e in self.steps)
        return f"{steps}: {self.headline}"

    @property
    def severity(self) -> Severity:
        levels = [
            n.finding.severity or Severity.INFO
            for n in (self.root, *self.explains)
            if n.finding is not None
        ]
        return max(levels, default=Severity.INFO)


@dataclass(frozen=True)
class StoryError:
    """A link type or event source that raised: shown, never fatal."""

    name: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True)
class Story:
    """Every event, the incidents, and what failed while building them."""

    events: tuple[Event, ...] = ()
    incidents: tuple[Incident, ...] = ()
    errors: tuple[StoryError, ...] = ()
    duration_s: float = 0.0


class StoryContext:
    """What link types and event sources see: the tables, the findings and the host facts."""

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        findings: Sequence[Finding],
        host: Mapping[str, Any] | None = None,
    ) -> None:
        self.tables = tables
        self.findings = tuple(findings)
        self.host = dict(host or {})
        #: The table events every source derived (filled before link types are checked).
        self.events: tuple[Event, ...] = ()
        self._cache: dict[str, Any] = {}

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name``, or ``None`` when absent or empty."""
        df = self.tables.get(name)
        return df if isinstance(df, pd.DataFrame) and not df.empty else None

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """Compute ``make()`` once per story (tables shared by several sources)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The capture's first and last sample time (``start``/``end`` snapshots excluded)."""

        def make() -> tuple[pd.Timestamp, pd.Timestamp] | None:
            samples = self.table("samples")
            if samples is None or "ts" not in samples.columns:
                return None
            rows = samples
            if "phase" in samples.columns and (samples["phase"] == "sample").any():
                rows = samples[samples["phase"] == "sample"]
            ts = pd.to_datetime(rows["ts"], utc=True).dropna()
            return (ts.min(), ts.max()) if not ts.empty else None

        return self.cached("window", make)


def overlap_s(a: Node | Event, b: Node | Event) -> float:
    """Seconds the two windows share (0 for disjoint ones; point events count as 0 s)."""
    a_start, a_end = (a.start, a.end) if isinstance(a, Node) else (a.ts, a.last)
    b_start, b_end = (b.start, b.end) if isinstance(b, Node) else (b.ts, b.last)
    return max(0.0, (min(a_end, b_end) - max(a_start, b_start)).total_seconds())


def _finding_event(index: int, finding: Finding, fallback: pd.Timestamp | None) -> Event | None:
    ts = finding.start if finding.start is not None else fallback
    if ts is None:
        return None
    text = shorten(finding.message)
    return Event(
        ts=ts,
        end=finding.end,
        kind="finding",
        subject=finding.subject,
        text=f"{finding.code} {text}",
        evidence={"code": finding.code, "severity": str(finding.severity or Severity.INFO)},
        finding=index,
        source=finding.code or "",
    )


def shorten(text: str, width: int = 110) -> str:
    """``text`` up to its first clause (``;`` or ``: ``) and at most ``width`` characters,
    cut at a word with an ellipsis.

    >>> shorten("swap-in 812/s and swap-out 640/s; 38 of 46 intervals")
    'swap-in 812/s and swap-out 640/s'
    >>> shorten("a " * 80, width=12)
    'a a a a a…'
    """
    for sep in ("; ", ": "):
        head = text.split(sep, 1)[0]
        if len(head) >= 20:
            text = head
            break
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


def _run_sources(
    ctx: StoryContext, sources: Iterable[EventSource], errors: list[StoryError]
) -> list[Event]:
    events: list[Event] = []
    for source in sources:
        try:
            produced = list(source.function(ctx))
            for event in produced:
                if not isinstance(event, Event):
                    raise TypeError(f"yielded {type(event).__name__}; yield Event objects")
            events.extend(
                e if e.source else Event(**{**e.__dict__, "source": source.name}) for e in produced
            )
        except Exception as exc:  # a source's bug costs its events, not the analysis
            errors.append(
                StoryError(source.name, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            )
    return events


def _matches(codes: tuple[str, ...], node: Node) -> bool:
    return node.code in codes


def _candidate_links(
    ctx: StoryContext,
    nodes: Sequence[Node],
    link_types: Iterable[LinkType],
    errors: list[StoryError],
) -> list[Link]:
    links: list[Link] = []
    for lt in link_types:
        causes = [n for n in nodes if n.finding is not None and _matches(lt.cause, n)]
        if not causes:
            continue
        effects = [n for n in nodes if _matches(lt.effect, n)]
        for cause in causes:
            for effect in effects:
                if effect is cause:
                    continue
                try:
                    result = lt.check(ctx, cause, effect)
                    if result is None:
                        continue
                    if not isinstance(result, Because):
                        raise TypeError(f"returned {type(result).__name__}; return Because")
                except Exception as exc:  # a link type's bug costs its links
                    errors.append(
                        StoryError(lt.name, f"{type(exc).__name__}: {exc}", traceback.format_exc())
                    )
                    break
                links.append(
                    Link(
                        lt.name,
                        cause,
                        effect,
                        float(result.confidence),
                        result.because,
                        dict(result.numbers),
                        tuple(result.events),
                    )
                )
    return links


def _reaches(children: Mapping[str, list[Link]], start: str, target: str) -> bool:
    stack, seen = [start], set()
    while stack:
        key = stack.pop()
        if key == target:
            return True
        if key in seen:
            continue
        seen.add(key)
        stack.extend(link.effect.key for link in children.get(key, ()))
    return False


def _forest(links: list[Link]) -> dict[str, list[Link]]:
    """Keep each effect's most confident cause, never closing a cycle."""
    ordered = sorted(
        links,
        key=lambda k: (-k.confidence, k.cause.start, k.cause.code, k.effect.code, k.type),
    )
    children: dict[str, list[Link]] = {}
    has_parent: set[str] = set()
    for candidate in ordered:
        effect, cause = candidate.effect.key, candidate.cause.key
        if effect in has_parent or _reaches(children, effect, cause):
            continue
        children.setdefault(cause, []).append(candidate)
        has_parent.add(effect)
    return children


def _subtree(children: Mapping[str, list[Link]], root: str) -> list[Link]:
    out: list[Link] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            out.append(child)
            stack.append(child.effect.key)
    return out


def _confidence(links: Sequence[Link]) -> float:
    """An incident is as sure as its weakest link."""
    return round(min((k.confidence for k in links), default=0.0), 2)


def _depths(links: Sequence[Link], root: Node) -> dict[int, int]:
    """How many links from the root each event stands (ties in time follow the causes)."""
    depth = {id(root.event): 0}
    by_cause: dict[str, list[Link]] = {}
    for k in links:
        by_cause.setdefault(k.cause.key, []).append(k)
    stack = [(root.key, 0)]
    while stack:
        key, level = stack.pop()
        for k in by_cause.get(key, ()):
            depth[id(k.effect.event)] = level + 1
            for event in k.events:
                depth.setdefault(id(event), level + 1)
            stack.append((k.effect.key, level + 1))
    return depth


def _subject_events(events: Sequence[Event], members: Sequence[Node]) -> list[Event]:
    """Events about one of the incident's own cgroups or processes (never about the whole
    host: a host-wide event is a step only when a link relied on it), within its window."""
    start = min(n.start for n in members)
    end = max(n.end for n in members)
    subjects = {n.subject for n in members} - {"host"}
    return [
        e
        for e in events
        if e.subject in subjects and e.kind in HARM_KINDS and e.last >= start and e.ts <= end
    ]


def _first_of_each(events: Sequence[Event]) -> list[Event]:
    """One step per (kind, subject): the first, saying how many more there were."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in sorted(events, key=lambda e: e.ts):
        groups.setdefault((event.kind, event.subject), []).append(event)
    out = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            more = f" (and {len(group) - 1} more until {group[-1].last.strftime('%H:%M:%S')})"
            first = Event(**{**first.__dict__, "text": first.text + more, "end": group[-1].last})
        out.append(first)
    return out


def _rank(incident: Incident) -> tuple[int, int, float, pd.Timestamp]:
    return (
        -incident.severity.rank,
        -len(incident.explains),
        -incident.confidence,
        incident.root.start,
    )


def build(
    tables: Mapping[str, pd.DataFrame],
    findings: Sequence[Finding],
    *,
    link_types: Iterable[LinkType] = (),
    event_sources: Iterable[EventSource] = (),
    host: Mapping[str, Any] | None = None,
) -> Story:
    """Derive events, check every link type, and compose incidents (most severe first)."""
    started = time.perf_counter()
    ctx = StoryContext(tables, findings, host)
    errors: list[StoryError] = []
    window = ctx.window
    fallback = window[0] if window else None

    table_events = _run_sources(ctx, event_sources, errors)
    ctx.events = tuple(table_events)
    nodes: list[Node] = []
    finding_events: list[Event] = []
    for index, finding in enumerate(findings):
        event = _finding_event(index, finding, fallback)
        if event is not None:
            finding_events.append(event)
            nodes.append(Node(event, finding, index))
    nodes.extend(Node(event) for event in table_events)

    children = _forest(_candidate_links(ctx, nodes, link_types, errors))
    has_parent = {link.effect.key for links in children.values() for link in links}
    incidents: list[Incident] = []
    for root in nodes:
        if root.finding is None or root.key in has_parent or root.key not in children:
            continue
        links = _subtree(children, root.key)
        explained = [k.effect for k in links]
        members = [root, *explained]
        found = [n.event for n in explained if n.finding is not None]
        cited = [e for k in links for e in k.events]
        own = _subject_events(table_events, members)
        unique = {
            id(e): e for e in [*(n.event for n in explained if n.finding is None), *cited, *own]
        }
        events = _first_of_each(list(unique.values()))
        depth = _depths(links, root)
        later = sorted(
            [*found, *events],
            key=lambda e: (e.ts.floor("s"), depth.get(id(e), 1), e.ts, e.kind),
        )
        incidents.append(
            Incident(
                root=root,
                explains=tuple(
                    sorted(explained, key=lambda n: (depth.get(id(n.event), 1), n.start, n.code))
                ),
                links=tuple(links),
                steps=(root.event, *later),
                confidence=_confidence(links),
            )
        )
    incidents.sort(key=_rank)
    events = sorted([*finding_events, *table_events], key=lambda e: (e.ts, e.kind, e.subject))
    return Story(
        events=tuple(events),
        incidents=tuple(incidents),
        errors=tuple(errors),
        duration_s=round(time.perf_counter() - started, 4),
    )


@dataclass(frozen=True)
class Episode:
    """A run of consecutive intervals in which a rate stayed at or above a threshold."""

    start: pd.Timestamp
    end: pd.Timestamp
    peak: float
    peak_at: pd.Timestamp
    mean: float
    total: float
    intervals: int


def episodes(
    rates: pd.DataFrame, column: str, threshold: float, *, gap_s: float = 0.0
) -> list[Episode]:
    """Runs of intervals of ``rates`` (from :func:`~vmanalyze.rates.counter_rates`) whose
    ``column`` is at or above ``threshold``; runs closer than ``gap_s`` seconds merge.

    >>> from vmanalyze.rates import counter_rates
    >>> df = pd.DataFrame({"ts": pd.to_datetime([0, 1, 2, 3, 4, 5], unit="s", utc=True),
    ...                    "pswpout": [0, 0, 50, 120, 120, 400]})
    >>> [(e.start.second, e.end.second, e.peak, e.intervals)
    ...  for e in episodes(counter_rates(df, ["pswpout"]), "pswpout_per_s", 10)]
    [(1, 3, 70.0, 2), (4, 5, 280.0, 1)]
    >>> len(episodes(counter_rates(df, ["pswpout"]), "pswpout_per_s", 10, gap_s=1))
    1
    """
    if rates.empty or column not in rates.columns:
        return []
    values = pd.to_numeric(rates[column], errors="coerce").to_numpy(dtype="float64")
    starts = pd.to_datetime(rates["ts_start"], utc=True)
    ends = pd.to_datetime(rates["ts"], utc=True)
    delta_col = column[: -len("_per_s")] + "_delta" if column.endswith("_per_s") else None
    deltas = (
        pd.to_numeric(rates[delta_col], errors="coerce").to_numpy(dtype="float64")
        if delta_col and delta_col in rates.columns
        else values
    )
    runs: list[list[int]] = []
    for i, value in enumerate(values):
        if not value >= threshold:  # NaN counts as below
            continue
        if runs:
            last = runs[-1][-1]
            if last == i - 1 or (starts.iloc[i] - ends.iloc[last]).total_seconds() <= gap_s:
                runs[-1].append(i)
                continue
        runs.append([i])
    out = []
    for run in runs:
        vals = values[run]
        top = run[int(vals.argmax())]
        out.append(
            Episode(
                start=starts.iloc[run[0]],
                end=ends.iloc[run[-1]],
                peak=float(values[top]),
                peak_at=ends.iloc[top],
                mean=float(vals.mean()),
                total=float(pd.Series(deltas[run]).sum()),
                intervals=len(run),
            )
        )
    return out
