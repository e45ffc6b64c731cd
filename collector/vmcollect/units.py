"""Parse the human durations and sizes that vmcollect's options accept."""

import re

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|h|d)?\s*$")
_DURATION_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text):
    """Return seconds for '500ms', '5s', '10m', '2h', '1d' or a plain number of seconds.

    >>> parse_duration("500ms"), parse_duration("10m"), parse_duration("2")
    (0.5, 600.0, 2.0)
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError("not a duration: %r (examples: 500ms, 5s, 10m, 2h)" % (text,))
    return float(match.group(1)) * _DURATION_FACTOR[match.group(2)]


def parse_size(text):
    """Return bytes for '100M', '64GiB', '200mb' (binary multiples) or a plain byte count.

    >>> parse_size("100M"), parse_size("64GiB"), parse_size("4096")
    (104857600, 68719476736, 4096)
    """
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError("not a size: %r (examples: 100M, 2G, 64GiB)" % (text,))
    return int(float(match.group(1)) * _SIZE_FACTOR[match.group(2).lower()])


def format_size(n):
    """Human size with binary units.

    >>> format_size(0), format_size(1536), format_size(5 * 1024 ** 3)
    ('0 B', '1.5 KiB', '5.0 GiB')
    """
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "%d B" % n


def format_duration(seconds):
    """Short human duration.

    >>> format_duration(0.5), format_duration(75), format_duration(7260)
    ('500ms', '1m15s', '2h01m')
    """
    if seconds < 1:
        return "%dms" % round(seconds * 1000)
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%dh%02dm" % (seconds // 3600, (seconds % 3600) // 60)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_control(match):
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return "\\x%02x" % (code - 0xDC00)
    return ("\\x%02x" if code <= 0xFF else "\\u%04x") % code


def visible(text):
    """`text` safe for a terminal: C0/C1 controls (but tab and newline) shown as ``\\xNN``.

    Text from a bundle or from /proc (a host name, a command line) must never move the
    cursor, retitle the window or change colours on the engineer's terminal.

    >>> print(visible("db01\\x1b]0;owned\\x07 \\x9b2J\\nok"))
    db01\\x1b]0;owned\\x07 \\x9b2J
    ok
    >>> visible("caf\\udce9")
    'caf\\\\xe9'
    """
    return _CONTROL.sub(_escape_control, str(text))
