"""Byte counts for messages: the one ``KiB``/``MiB``/``GiB`` formatter of the analyzer's text.

The rules' titles and evidence text (through the public API, ``from vmanalyze import
fmt_bytes``) and the ``cache`` command use it. The HTML report has its own, richer display
formatter (``vmreports.units.human_bytes``: thousands separators, significant digits).
"""

from __future__ import annotations

__all__ = ["GIB", "KIB", "MIB", "fmt_bytes"]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def fmt_bytes(value: float) -> str:
    """``512.0 MiB``, ``3.2 GiB``: a byte count for messages (one decimal, at most GiB).

    >>> fmt_bytes(0), fmt_bytes(1023), fmt_bytes(1536), fmt_bytes(5 << 30), fmt_bytes(-(3 << 20))
    ('0 B', '1023 B', '1.5 KiB', '5.0 GiB', '-3.0 MiB')
    """
    v = float(value)
    if abs(v) >= GIB:
        return f"{v / GIB:.1f} GiB"
    if abs(v) >= MIB:
        return f"{v / MIB:.1f} MiB"
    if abs(v) >= KIB:
        return f"{v / KIB:.1f} KiB"
    return f"{v:.0f} B"
