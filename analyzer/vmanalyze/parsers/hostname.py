"""hostname - file /etc/hostname, /proc/sys/kernel/hostname, sosreport ``hostname`` output
========================================================================================

The host's name: ``/proc/sys/kernel/hostname`` is the kernel's (``uname -n``),
``/etc/hostname`` the configured static name (comments with ``#`` allowed, see
https://man7.org/linux/man-pages/man5/hostname.5.html), and sosreports hold the output of the
``hostname`` command as ``sos_commands/host/hostname`` (sos >= 3.6),
``sos_commands/general/hostname`` (older sos 3) and the root link ``hostname``.

Sample input::

    # written by the installer
    db01.example.com

Output: the first non-comment word as str, or ``None`` when the file holds none (an empty
``/etc/hostname`` means "no static name").

Examples:
    >>> parse_hostname(SAMPLE)
    'db01.example.com'
    >>> parse_hostname("web-3\\n"), parse_hostname("\\n") is None
    ('web-3', True)
    >>> parse_hostname("(none)\\n") is None
    True
"""

from __future__ import annotations

SOURCE = "hostname"

SAMPLE = "# written by the installer\ndb01.example.com\n"

#: What the kernel prints before a name is set (init/version.c UTS_NODENAME default).
_UNSET = ("(none)", "localhost", "localhost.localdomain")


def parse_hostname(text: str) -> str | None:
    """The host name in ``text`` (see the module docstring)."""
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            return None if word in _UNSET else word.split()[0]
    return None
