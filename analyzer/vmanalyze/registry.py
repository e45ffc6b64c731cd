"""Find rule packs through the ``vmanalyze.rules`` entry-point group.

A pack registers one entry point per code prefix; the value is a sequence of rules::

    [project.entry-points."vmanalyze.rules"]
    ACME = "vmanalyze_rules_acme:ACME_RULES"

The built-in pack (``vmrules``, distribution ``vmtriage``) registers the same way. Discovery
is deterministic (built-in first, then by distribution and entry-point name) and defensive:
a pack that fails to import, exports something that is not a sequence of rules, uses a code
outside its prefix, or redefines a code already loaded is recorded as a :class:`PluginError`
whose message names the distribution and its version, and loading goes on with the rest.
The first definition of a code wins, so a third-party pack can never replace a built-in rule.

``VMANALYZE_PLUGINS`` (or ``--plugins``): comma-separated distribution names limiting which
third-party packs load; the built-in pack always loads; an empty value loads only it.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import importlib_metadata

from vmanalyze.config import ConfigError, split_list
from vmanalyze.results import PluginError, RegisteredRule
from vmanalyze.rule import PREFIX_RE, Rule
from vmanalyze.story import EventSource, LinkType

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENV_VAR",
    "GROUP",
    "PluginError",
    "RegisteredRule",
    "Registry",
    "discover",
]

#: The entry-point group rule packs register under.
GROUP = "vmanalyze.rules"
#: The group a pack registers its story under: event sources and link types
#: (:mod:`vmanalyze.story`). Entry-point names are free; the value is a sequence.
STORY_GROUP = "vmanalyze.story"
#: Comma-separated distribution names: the third-party packs to load.
ENV_VAR = "VMANALYZE_PLUGINS"
#: The distribution that ships vmanalyze and the built-in pack; always loaded.
BUILTIN_DISTRIBUTION = "vmtriage"


class DistributionLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


class EntryPointLike(Protocol):
    """What discovery needs of an entry point (``importlib_metadata.EntryPoint`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def dist(self) -> DistributionLike | None: ...

    def load(self) -> Any: ...


def normalize(name: str) -> str:
    """PEP 503 normal form: ``Vmanalyze_Rules.X`` -> ``vmanalyze-rules-x``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Registry:
    """The loaded rules (sorted by code), the packs' prefixes and the load errors."""

    entries: tuple[RegisteredRule, ...] = ()
    errors: tuple[PluginError, ...] = ()
    prefixes: tuple[str, ...] = ()
    link_types: tuple[LinkType, ...] = ()
    event_sources: tuple[EventSource, ...] = ()

    @classmethod
    def from_rules(
        cls, rules: Iterable[Rule], package: str = "<local>", version: str = "0"
    ) -> Registry:
        """A registry of rules given directly (tests, embedding); duplicate codes raise."""
        entries: dict[str, RegisteredRule] = {}
        for rule in rules:
            if rule.code in entries:
                raise ValueError(f"duplicate rule code {rule.code}")
            entries[rule.code] = RegisteredRule(rule, package, version, rule.prefix)
        return cls(
            entries=tuple(entries[c] for c in sorted(entries)),
            prefixes=tuple(sorted({r.rule.prefix for r in entries.values()})),
        )

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(entry.rule for entry in self.entries)

    def get(self, code: str) -> RegisteredRule | None:
        """The rule ``code`` (case-insensitive), or ``None``."""
        code = code.strip().upper()
        for entry in self.entries:
            if entry.code == code:
                return entry
        return None

    def failed_prefixes(self) -> dict[str, str]:
        """Entry-point name -> ``package version`` of packs with a load error."""
        return {e.entry_point: f"{e.package} {e.version}" for e in self.errors}

    def __iter__(self) -> Iterator[RegisteredRule]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _dist_of(ep: EntryPointLike) -> tuple[str, str]:
    dist = ep.dist
    if dist is None:
        return "<unknown package>", "(unknown version)"
    return dist.name, dist.version


def _entry_points(
    entry_points: Iterable[EntryPointLike] | None, group: str = GROUP
) -> list[EntryPointLike]:
    if entry_points is not None:
        return list(entry_points) if group == GROUP else []
    return list(importlib_metadata.entry_points(group=group))


def discover(
    entry_points: Iterable[EntryPointLike] | None = None,
    only: Iterable[str] | None = None,
    *,
    only_source: str = "--plugins",
    story_entry_points: Iterable[EntryPointLike] | None = None,
) -> Registry:
    """Load every rule pack; return the rules, each with its package and version.

    ``entry_points``: defaults to the installed ones of group ``vmanalyze.rules`` (tests pass
    fakes). ``only``: distribution names of the third-party packs to load; ``None`` reads
    ``VMANALYZE_PLUGINS`` and, when it is unset, loads every pack. A name in ``only`` that no
    installed pack has raises :class:`~vmanalyze.config.ConfigError` (a typo must not pass
    silently). Everything else that goes wrong is recorded in ``Registry.errors``.

    The same packs' ``vmanalyze.story`` entry points (``story_entry_points`` in tests) give
    the event sources and link types, filtered by ``only`` alike.
    """
    eps = _entry_points(entry_points)
    if only is None and ENV_VAR in os.environ:
        only = split_list(os.environ[ENV_VAR]) or ()
        only_source = ENV_VAR
    builtin = normalize(BUILTIN_DISTRIBUTION)

    # Deduplicate (a distribution found twice on sys.path), then order deterministically.
    unique: dict[tuple[str, str, str], EntryPointLike] = {}
    for ep in eps:
        package, _ = _dist_of(ep)
        unique.setdefault((normalize(package), ep.name, ep.value), ep)
    ordered = [unique[key] for key in sorted(unique, key=lambda k: (k[0] != builtin, k))]

    wanted: set[str] | None = None
    if only is not None:
        wanted = {normalize(name) for name in only}
        available = {normalize(_dist_of(ep)[0]) for ep in ordered}
        missing = sorted(wanted - available - {builtin})
        if missing:
            installed = ", ".join(sorted({_dist_of(ep)[0] for ep in ordered})) or "none"
            raise ConfigError(
                f"{only_source}: no installed rule pack named {missing[0]!r} "
                f"(installed: {installed})"
            )
        ordered = [ep for ep in ordered if normalize(_dist_of(ep)[0]) in wanted | {builtin}]

    loaded: dict[str, RegisteredRule] = {}
    errors: list[PluginError] = []
    prefixes: set[str] = set()
    for ep in ordered:
        package, version = _dist_of(ep)
        for message, tb in _load(ep, loaded, prefixes, package, version):
            errors.append(
                PluginError(package, version, ep.name, f"{package} {version}: {message}", tb)
            )

    story_eps = (
        list(story_entry_points)
        if story_entry_points is not None
        else _entry_points(None if entry_points is None else (), STORY_GROUP)
    )
    if wanted is not None:
        story_eps = [ep for ep in story_eps if normalize(_dist_of(ep)[0]) in wanted | {builtin}]
    story_eps.sort(key=lambda ep: (normalize(_dist_of(ep)[0]) != builtin, _dist_of(ep)[0], ep.name))
    links: dict[str, LinkType] = {}
    sources: dict[str, EventSource] = {}
    for ep in story_eps:
        package, version = _dist_of(ep)
        for message in _load_story(ep, links, sources):
            errors.append(
                PluginError(package, version, ep.name, f"{package} {version}: {message}", None)
            )

    return Registry(
        entries=tuple(loaded[code] for code in sorted(loaded)),
        errors=tuple(errors),
        prefixes=tuple(sorted(prefixes)),
        link_types=tuple(links.values()),
        event_sources=tuple(sources.values()),
    )


def _load_story(
    ep: EntryPointLike, links: dict[str, LinkType], sources: dict[str, EventSource]
) -> Iterator[str]:
    """Load one ``vmanalyze.story`` entry point; yield a message for each problem."""
    try:
        obj = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        yield (
            f"story entry point {ep.name} = {ep.value!r} failed to load: "
            f"{type(exc).__name__}: {exc}"
        )
        return
    if not isinstance(obj, list | tuple):
        yield (
            f"story entry point {ep.name} = {ep.value!r} must be a list or tuple of link types "
            f"(@vmanalyze.story.link) and event sources (@vmanalyze.story.event_source), got "
            f"{type(obj).__name__}"
        )
        return
    for index, item in enumerate(obj):
        if isinstance(item, LinkType):
            target: dict[str, Any] = links
        elif isinstance(item, EventSource):
            target = sources
        else:
            yield (
                f"story entry point {ep.name}: item {index} ({type(item).__name__}) is neither "
                "a link type nor an event source"
            )
            continue
        if item.name in target and target[item.name] is not item:
            yield f"{ep.name}: {item.name} is already defined by another pack; not loaded"
            continue
        target[item.name] = item


def _load(
    ep: EntryPointLike,
    loaded: dict[str, RegisteredRule],
    prefixes: set[str],
    package: str,
    version: str,
) -> Iterator[tuple[str, str | None]]:
    """Load one entry point into ``loaded``; yield (message, traceback) for each problem."""
    if not PREFIX_RE.match(ep.name):
        yield (
            f"entry point name {ep.name!r} in group {GROUP} is not a rule code prefix "
            "(2 to 5 capital letters, e.g. ACME)",
            None,
        )
        return
    try:
        obj = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        yield (
            f"entry point {ep.name} = {ep.value!r} failed to load: {type(exc).__name__}: {exc}",
            traceback.format_exc(),
        )
        return
    if not isinstance(obj, list | tuple):
        yield (
            f"entry point {ep.name} = {ep.value!r} must be a list or tuple of rules made "
            f"with @vmanalyze.rule, got {type(obj).__name__}",
            None,
        )
        return
    prefixes.add(ep.name)
    for index, item in enumerate(obj):
        if not isinstance(item, Rule):
            what = getattr(item, "__qualname__", type(item).__name__)
            yield (
                f"entry point {ep.name} = {ep.value!r}: item {index} ({what}) is not a rule; "
                "decorate it with @vmanalyze.rule(...)",
                None,
            )
            continue
        if item.prefix != ep.name:
            yield (
                f"rule {item.code} ({item.name}) does not start with the prefix of its entry "
                f"point {ep.name}; it is not loaded",
                None,
            )
            continue
        previous = loaded.get(item.code)
        if previous is not None:
            if previous.rule is item:
                continue  # the same rule object listed twice: harmless
            yield (
                f"rule code {item.code} ({item.name}) is already defined by "
                f"{previous.package} {previous.version} ({previous.rule.name}); codes are "
                "unique, so this definition is not loaded",
                None,
            )
            continue
        loaded[item.code] = RegisteredRule(item, package, version, ep.name)
