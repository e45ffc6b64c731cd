"""THP rules of the built-in pack."""
