"""vmrules."""
