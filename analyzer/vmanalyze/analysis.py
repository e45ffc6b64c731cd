"""One analysis, as a library call: load an input, run the rules, describe the result.

The command line (`vmanalyze INPUT`) and the fleet batch both call :func:`analyze`, so a
host analyzed alone and in a batch gives the same findings.
"""

from __future__ import annotations

import os
import time

from vmanalyze import engine
from vmanalyze.cache import Hashed
from vmanalyze.config import Config
from vmanalyze.dataset import load
from vmanalyze.inputs import Limits
from vmanalyze.registry import Registry, discover
from vmanalyze.results import Analysis

__all__ = ["Analysis", "analyze"]


def analyze(
    path: str | os.PathLike[str],
    *,
    registry: Registry | None = None,
    config: Config | None = None,
    cache: bool = True,
    limits: Limits | None = None,
    input_hash: str | None = None,
    hashed: Hashed | None = None,
) -> Analysis:
    """Load `path` (bundle, sosreport or directory) and run the selected rules over it.

    ``input_hash``: the input's :func:`vmanalyze.dataset.content_hash`, when the caller has
    it already; ``hashed``: the same with the bytes read to make it
    (:func:`vmanalyze.inputs.hash_input`). Either way the input is not hashed again, and
    read at most once (see :func:`vmanalyze.dataset.load`)."""
    started = time.perf_counter()
    dataset = load(path, cache=cache, limits=limits, input_hash=input_hash, hashed=hashed)
    loaded = time.perf_counter()
    result = engine.run(
        dataset.tables, registry if registry is not None else discover(), config or Config()
    )
    done = time.perf_counter()
    return Analysis(
        dataset,
        result,
        {
            "load_s": round(loaded - started, 3),
            "rules_s": round(done - loaded - result.story.duration_s, 3),
            "story_s": round(result.story.duration_s, 3),
        },
    )
