"""The built-in pack's story: event sources and causal link types (``docs/story.md``).

Registered like a third-party pack's, through the ``vmanalyze.story`` entry-point group::

    [project.entry-points."vmanalyze.story"]
    vmrules = "vmrules.story:STORY"
"""

from __future__ import annotations

from vmanalyze import EventSource, LinkType

from vmrules.story.events import EVENT_SOURCES
from vmrules.story.links import LINK_TYPES

#: Every event source and link type of the built-in pack.
STORY: tuple[EventSource | LinkType, ...] = (*EVENT_SOURCES, *LINK_TYPES)
