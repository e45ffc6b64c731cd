r"""uptime - the output of ``uptime`` in a sosreport or Insights archive
====================================================================

``sos_commands/host/uptime`` (also the root ``uptime`` link) and ``insights_commands/uptime``:
the local time of day, how long the host has been up, the logged-in users and the load
averages. The time up is rounded by procps: minutes below an hour (``up 6 min``), ``H:MM``
(``up  2:04``), and days before either (``up 3 days,  2:04``, ``up 1 day, 17 min``), so it
places the boot to the minute; ``/proc/stat``'s ``btime`` is exact and preferred when the
report has it. See https://man7.org/linux/man-pages/man1/uptime.1.html

Sample input::

     06:18:13 up 6 min,  0 user,  load average: 7.99, 3.46, 1.33

Output: dict with ``time_of_day`` (``HH:MM:SS``, local, str), ``up_s`` (int seconds, rounded
down to the minute), ``users`` (int or ``None``), ``load1``, ``load5``, ``load15`` (float).

Examples:
    >>> u = parse_uptime(SAMPLE)
    >>> u["time_of_day"], u["up_s"], u["users"], u["load1"], u["load15"]
    ('06:18:13', 360, 0, 7.99, 1.33)
    >>> parse_uptime(" 10:02:15 up 3 days,  2:04,  1 user,  load average: 0.00, 0.01, 0.05")["up_s"]
    266640
    >>> parse_uptime("10:02:15 up 1 day, 17 min,  2 users,  load average: 1,00, 0,50, 0,25")["up_s"]
    87420
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content

SOURCE = "uptime"

SAMPLE = " 06:18:13 up 6 min,  0 user,  load average: 7.99, 3.46, 1.33\n"

_UPTIME_RE = re.compile(
    r"^(?P<tod>\d\d:\d\d:\d\d) up +(?:(?P<days>\d+) days?,? +)?"
    r"(?:(?P<h>\d+):(?P<m>\d\d)|(?P<min>\d+) min|(?P<hr>\d+) hrs?)?,? +"
    r"(?:(?P<users>\d+) users?,? +)?load average: (?P<load>.*)$"
)


def parse_uptime(text: str) -> dict[str, str | int | float | None]:
    """Parse one line of ``uptime`` output (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0].strip()
    match = _UPTIME_RE.match(line)
    if not match:
        raise ParseError(SOURCE, 1, line, "expected 'HH:MM:SS up ..., load average: ...'")
    minutes = int(match["days"] or 0) * 1440
    if match["h"] is not None:
        minutes += int(match["h"]) * 60 + int(match["m"])
    minutes += int(match["min"] or 0) + int(match["hr"] or 0) * 60
    # Locales with a decimal comma print "1,00, 0,50, 0,25".
    loads = re.findall(r"\d+[.,]\d+", match["load"])
    if len(loads) != 3:
        raise ParseError(SOURCE, 1, line, "expected three load averages")
    load1, load5, load15 = (float(value.replace(",", ".")) for value in loads)
    return {
        "time_of_day": match["tod"],
        "up_s": minutes * 60,
        "users": int(match["users"]) if match["users"] is not None else None,
        "load1": load1,
        "load5": load5,
        "load15": load15,
    }
