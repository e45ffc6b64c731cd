"""pressure_memory - file /proc/pressure/memory
============================================

Pressure Stall Information (PSI, 4.20+) for memory: the share of wall time in which ``some``
task (or, ``full``, every non-idle task) was stalled waiting for memory (reclaim, refaults,
swap-in), as running averages over 10 s, 60 s and 300 s (percent), and the total stall time in
microseconds. The ``full`` line is missing on kernels before 5.2 (for /proc/pressure/cpu
until 5.13). A cgroup v2 ``memory.pressure`` file has the same format. With PSI disabled
(``psi=0``) the file does not exist or reads as an error; a 0-byte capture raises
:class:`~vmanalyze.errors.SkipSource`. See
https://www.kernel.org/doc/html/latest/accounting/psi.html

Sample input::

    some avg10=70.24 avg60=61.01 avg300=35.52 total=3559632828
    full avg10=58.37 avg60=49.54 avg300=28.12 total=2906010538

Output: flat dict with :data:`PSI_KEYS`: ``some_avg10``, ``some_avg60``, ``some_avg300``
(float, percent), ``some_total_us`` (int, microseconds) and the same four ``full_*`` keys;
``None`` for a line the kernel did not print.

Examples:
    >>> p = parse_pressure_memory(SAMPLE)
    >>> p["some_avg10"], p["some_total_us"], p["full_avg300"]
    (70.24, 3559632828, 28.12)
    >>> parse_pressure_memory("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\\n")["full_avg10"]
"""

from __future__ import annotations

# The format of every PSI file; PSI_KEYS are this module's output keys too.
from vmanalyze.parsers._common import PSI_KEYS as PSI_KEYS
from vmanalyze.parsers._common import parse_psi

SOURCE = "pressure_memory"

SAMPLE = """\
some avg10=70.24 avg60=61.01 avg300=35.52 total=3559632828
full avg10=58.37 avg60=49.54 avg300=28.12 total=2906010538
"""


def parse_pressure_memory(text: str) -> dict[str, float | int | None]:
    """Parse /proc/pressure/memory (see the module docstring)."""
    return parse_psi(text, SOURCE)
