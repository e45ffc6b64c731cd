"""uname - command output ``uname -a`` (sosreport ``sos_commands/kernel/uname_-a``, ``uname``)
==========================================================================================

What ``uname -a`` prints: kernel name, node name (the hostname), kernel release, kernel
version (the build string, with spaces), machine, then optionally processor and hardware
platform (omitted by GNU coreutils when unknown) and the operating system. sos collects it in
its kernel plugin as ``sos_commands/kernel/uname_-a`` and links it from the report root as
``uname``. See https://man7.org/linux/man-pages/man1/uname.1.html

Sample input (one line, wrapped here)::

    Linux db01.example.com 3.10.0-1160.el7.x86_64 #1 SMP Tue Aug 18 14:50:17 EDT 2020
        x86_64 x86_64 x86_64 GNU/Linux

Output: dict with ``kernel_name``, ``hostname``, ``kernel_release``, ``kernel_version`` and
``machine``, each str or ``None`` (``machine`` is ``None`` when no known architecture follows
the version).

Examples:
    >>> u = parse_uname(SAMPLE)
    >>> u["hostname"], u["kernel_release"], u["machine"]
    ('db01.example.com', '3.10.0-1160.el7.x86_64', 'x86_64')
    >>> u["kernel_version"]
    '#1 SMP Tue Aug 18 14:50:17 EDT 2020'
    >>> parse_uname("Linux pi 6.1.21-v8+ #1642 SMP PREEMPT Mon Apr  3 17:24:16 BST 2023 "
    ...             "aarch64 GNU/Linux")["machine"]
    'aarch64'
    >>> parse_uname("Darwin mac 22.1.0")
    Traceback (most recent call last):
    ...
    vmanalyze.errors.ParseError: uname: line 1: 'Darwin mac 22.1.0': expected at least 4 fields
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content

SOURCE = "uname"

SAMPLE = (
    "Linux db01.example.com 3.10.0-1160.el7.x86_64 #1 SMP Tue Aug 18 14:50:17 EDT 2020 "
    "x86_64 x86_64 x86_64 GNU/Linux\n"
)

UNAME_KEYS = ("kernel_name", "hostname", "kernel_release", "kernel_version", "machine")
#: Architectures ``uname -m`` prints (arch/*/Makefile UTS_MACHINE and their common variants).
_MACHINE = re.compile(
    r"^(x86_64|i[3-6]86|aarch64|arm\w*|ppc64(le)?|ppc|s390x?|riscv(32|64)|mips\w*|"
    r"loongarch64|sparc64|ia64|alpha|unknown)$"
)


def parse_uname(text: str) -> dict[str, str | None]:
    """Parse the output of ``uname -a`` (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0]
    fields = line.split()
    if len(fields) < 4:
        raise ParseError(SOURCE, 1, line, "expected at least 4 fields")
    out: dict[str, str | None] = dict.fromkeys(UNAME_KEYS)
    out["kernel_name"], out["hostname"], out["kernel_release"] = fields[:3]
    rest = fields[3:]
    first_machine = next(
        (i for i, word in enumerate(rest) if i > 0 and _MACHINE.match(word)), len(rest)
    )
    out["kernel_version"] = " ".join(rest[:first_machine]) or None
    out["machine"] = rest[first_machine] if first_machine < len(rest) else None
    return out
