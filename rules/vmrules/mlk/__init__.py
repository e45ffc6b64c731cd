"""MLK rules of the built-in pack (one module per rule)."""
