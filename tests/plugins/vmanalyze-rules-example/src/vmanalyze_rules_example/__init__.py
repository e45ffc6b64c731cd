"""An example vmanalyze rule pack (prefix EXA).

Registered in pyproject.toml as ``EXA = "vmanalyze_rules_example:RULES"``: the entry-point
name is the code prefix, and every rule in ``RULES`` has a code starting with it.
"""

from vmanalyze_rules_example.high_swappiness import high_swappiness
from vmanalyze_rules_example.major_fault_storm import major_fault_storm

RULES = (high_swappiness, major_fault_storm)
