"""FLT rules of the built-in pack."""
