"""NUMA rules of the built-in pack."""
