r"""sos_manifest - file sos_reports/manifest.json of a sosreport (sos 4.x)
======================================================================

sos 4.0 and later write a JSON manifest of the run: the sos version, the command line, and
the start and end time of the report and of every plugin, as the host's *local* time without
zone (``datetime.now()``: ``2026-12-06 06:18:12.160579``). sos 3.x has no manifest. The times
become UTC with the offset ``date`` and ``date --utc`` give (see :mod:`~vmanalyze.parsers.date`).
See https://github.com/sosreport/sos/blob/main/sos/report/__init__.py (``report_md``).

Sample input (abridged)::

    {"version": "4.0", "start_time": "2026-12-06 06:18:12.160579",
     "end_time": "2026-12-06 06:18:19.956700", "policy": "Debian", "components": {...}}

Output: dict with ``sos_version``, ``start_time``, ``end_time`` (ISO 8601 local time, str) and
``policy`` (str), each ``None`` when absent. Text that is not a JSON object raises
:class:`~vmanalyze.errors.ParseError`.

Examples:
    >>> m = parse_sos_manifest(SAMPLE)
    >>> m["sos_version"], m["start_time"], m["policy"]
    ('4.0', '2026-12-06T06:18:12.160579', 'Debian')
"""

from __future__ import annotations

import json
import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content

SOURCE = "sos_manifest"

SAMPLE = (
    '{"version": "4.0", "start_time": "2026-12-06 06:18:12.160579",'
    ' "end_time": "2026-12-06 06:18:19.956700", "policy": "Debian", "components": {}}'
)

_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?$")


def _time(value: object) -> str | None:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        return None
    return value.replace(" ", "T", 1)


def parse_sos_manifest(text: str) -> dict[str, str | None]:
    """Parse sos's manifest.json (see the module docstring)."""
    require_content(text, SOURCE)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(SOURCE, 1, text[:80], f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError(SOURCE, 1, text[:80], "not a JSON object")
    version = data.get("version")
    policy = data.get("policy")
    return {
        "sos_version": version if isinstance(version, str) else None,
        "start_time": _time(data.get("start_time")),
        "end_time": _time(data.get("end_time")),
        "policy": policy if isinstance(policy, str) else None,
    }
