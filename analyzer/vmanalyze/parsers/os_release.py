"""os_release - file /etc/os-release
=================================

The distribution: ``NAME``, ``VERSION_ID``, ``ID``, ``PRETTY_NAME``... as shell-style
``KEY=value`` assignments (values may be quoted; ``#`` starts a comment). Decides defaults
(THP, swap, cgroup version) and which advice applies. See
https://www.freedesktop.org/software/systemd/man/latest/os-release.html

Sample input::

    PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
    NAME="Debian GNU/Linux"
    VERSION_ID="12"
    ID=debian

Output: ``dict[str, str]`` with lower-case keys (``pretty_name``, ``name``, ``version_id``,
``id``...) and unquoted values.

Examples:
    >>> parse_os_release(SAMPLE)["pretty_name"], parse_os_release(SAMPLE)["id"]
    ('Debian GNU/Linux 12 (bookworm)', 'debian')
"""

from __future__ import annotations

import shlex

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content

SOURCE = "os_release"

SAMPLE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
"""


def parse_os_release(text: str) -> dict[str, str]:
    """Parse /etc/os-release (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, str] = {}
    for lineno, line in numbered_lines(text):
        if line.lstrip().startswith("#"):
            continue
        key, eq, raw = line.partition("=")
        if not eq or not key.strip().replace("_", "").isalnum():
            raise ParseError(SOURCE, lineno, line, "expected KEY=value")
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            raise ParseError(SOURCE, lineno, line, "unbalanced quotes") from None
        out[key.strip().lower()] = " ".join(words)
    return out
