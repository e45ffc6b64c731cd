"""The exit statuses of ``vmanalyze``, documented in README.md ("Exit status"): one place.

>>> OK, FINDINGS, BAD_INPUT, INPUT_FAILED, INTERNAL, INTERRUPTED, BROKEN_PIPE
(0, 1, 2, 3, 4, 130, 141)
"""

from __future__ import annotations

__all__ = [
    "BAD_INPUT",
    "BROKEN_PIPE",
    "FINDINGS",
    "INPUT_FAILED",
    "INTERNAL",
    "INTERRUPTED",
    "OK",
]

#: Done, and no finding reached ``--fail-on`` (or it was not given).
OK = 0
#: A finding at or above ``--fail-on``.
FINDINGS = 1
#: Bad input, options or usage.
BAD_INPUT = 2
#: ``batch``: at least one input failed (the others were analyzed).
INPUT_FAILED = 3
#: An unexpected exception (a bug): one line, ``--debug`` shows the traceback.
INTERNAL = 4
#: Ctrl-C, as shells report SIGINT.
INTERRUPTED = 130
#: Standard output closed early (``| head``), as shells report SIGPIPE.
BROKEN_PIPE = 141
