r"""date - the output of ``date`` and ``date --utc`` in a sosreport or Insights archive
===================================================================================

The wall clock of the host when the report ran: ``sos_commands/date/date`` (also the root
``date`` link), ``sos_commands/date/date_--utc``, ``insights_commands/date`` and
``insights_commands/date_--utc``. ``date`` prints the local time with the zone's abbreviation
(``CET``, ``EDT``: ambiguous, so only ``UTC``, ``GMT``, ``Z`` and numeric offsets give an offset
here); ``date --utc`` prints UTC. The two together give the host's UTC offset, which the
report's other local times (``ps`` start times, syslog lines, sos's manifest) need.
See https://man7.org/linux/man-pages/man1/date.1.html

Sample input (Debian 12, C locale)::

    Sun Dec  6 06:18:13 UTC 2026

Output: dict with ``local`` (ISO 8601 time as printed, no offset, str), ``zone`` (the
abbreviation or offset as printed, str or ``None``) and ``utc_offset_s`` (int seconds east of
UTC when the zone says it, else ``None``). Text that is not a ``date`` line (a locale with
translated names, an error) raises :class:`~vmanalyze.errors.ParseError`.

Examples:
    >>> parse_date(SAMPLE)
    {'local': '2026-12-06T06:18:13', 'zone': 'UTC', 'utc_offset_s': 0}
    >>> parse_date("Wed Oct  2 04:19:25 CEST 2019\n")["utc_offset_s"] is None
    True
    >>> parse_date("Tue Mar  4 10:00:00 -0500 2025\n")["utc_offset_s"]
    -18000
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content

SOURCE = "date"

SAMPLE = "Sun Dec  6 06:18:13 UTC 2026\n"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_RE = re.compile(
    r"^[A-Z][a-z]{2},? +(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)"
    r"(?: (?P<zone>[A-Za-z0-9+:-]+))? (?P<year>\d{4})$"
)
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?(?P<sign>[+-])(?P<h>\d\d):?(?P<m>\d\d)$")


def utc_offset(zone: str | None) -> int | None:
    """Seconds east of UTC of a zone as ``date`` prints it, when it says so unambiguously."""
    if zone in ("UTC", "GMT", "Z", "UCT"):
        return 0
    match = _OFFSET_RE.match(zone or "")
    if not match:
        return None
    seconds = int(match["h"]) * 3600 + int(match["m"]) * 60
    return -seconds if match["sign"] == "-" else seconds


def parse_date(text: str) -> dict[str, str | int | None]:
    """Parse one line of ``date`` output (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0].strip()
    match = _DATE_RE.match(line)
    if not match or match["mon"] not in MONTHS:
        raise ParseError(SOURCE, 1, line, "expected 'Www Mmm dd HH:MM:SS ZONE YYYY'")
    month = MONTHS.index(match["mon"]) + 1
    local = f"{match['year']}-{month:02d}-{int(match['day']):02d}T{match['hms']}"
    return {"local": local, "zone": match["zone"], "utc_offset_s": utc_offset(match["zone"])}
