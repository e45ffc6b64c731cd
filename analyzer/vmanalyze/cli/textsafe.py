"""Text from the input shown on the terminal as text: no rich markup, no control characters.

Hostnames, subjects, messages and warnings come from customers' bundles. Before they reach
the terminal, C0/C1 control characters other than tab and newline become visible escapes
(``ESC ]0;x`` would retitle the terminal otherwise), and rich markup is escaped (``db01[/]``
would end a style that was never opened).
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["safe", "visible"]

# C0 (except tab and newline), DEL, C1; plus lone surrogates, which no terminal can print.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with control characters (not tab, newline) shown as ``\\xNN`` escapes.

    >>> visible("db01\\x1b]0;pwned\\x07")
    'db01\\\\x1b]0;pwned\\\\x07'
    >>> visible("a\\tb\\nc\\x85")
    'a\\tb\\nc\\\\x85'
    """
    return _CONTROL.sub(_escape_char, str(text))


def safe(text: object) -> str:
    """``text`` ready for rich markup: control characters visible, markup escaped.

    >>> safe("db01[/]")
    'db01\\\\[/]'
    """
    return escape(visible(text))
