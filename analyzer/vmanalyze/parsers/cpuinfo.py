"""cpuinfo - file /proc/cpuinfo (first processor block)
=====================================================

Description of the CPUs: vendor, model name, frequency, cache size, flags (``pse`` and
``pdpe1gb`` tell which huge page sizes the CPU supports), bogomips. vmcollect keeps only the
first processor block; the CPU count is in the bundle manifest. Keys differ per architecture
(ARM prints ``Processor``/``CPU implementer``...). See
https://www.kernel.org/doc/html/latest/filesystems/proc.html

Sample input::

    processor	: 0
    vendor_id	: GenuineIntel
    model name	: Intel(R) Xeon(R) CPU E5-2690 0 @ 2.90GHz
    cache size	: 20480 KB
    flags		: fpu vme pse pdpe1gb

Output: ``dict[str, str]`` of the first block, keys lower-case with ``_`` for spaces
(``model_name``, ``cache_size``, ``cpu_mhz``...), values as printed (stripped); blank values
are ``""``.

:func:`count_processors` counts the ``processor`` blocks of the whole file (the CPUs online
when it was read), ``None`` when the file has none (some ARM kernels print one header block).

Examples:
    >>> count_processors(SAMPLE)
    2
    >>> ci = parse_cpuinfo(SAMPLE)
    >>> ci["vendor_id"], ci["model_name"], ci["flags"].split()[-1]
    ('GenuineIntel', 'Intel(R) Xeon(R) CPU E5-2690 0 @ 2.90GHz', 'pdpe1gb')
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content

SOURCE = "cpuinfo"

SAMPLE = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU E5-2690 0 @ 2.90GHz
cache size\t: 20480 KB
flags\t\t: fpu vme pse pdpe1gb

processor\t: 1
"""


def parse_cpuinfo(text: str) -> dict[str, str]:
    """Parse the first block of /proc/cpuinfo (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.strip("\n").splitlines(), 1):
        if not line.strip():
            if out:
                break
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ParseError(SOURCE, lineno, line, "expected 'key : value'")
        out["_".join(key.lower().split())] = value.strip()
    return out


def count_processors(text: str) -> int | None:
    """How many ``processor : N`` lines /proc/cpuinfo has, ``None`` when it has none."""
    count = sum(
        1
        for line in text.splitlines()
        if line.partition(":")[0].strip().lower() == "processor"
        and line.partition(":")[2].strip().isdigit()
    )
    return count or None
