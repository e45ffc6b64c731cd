"""DRT rules of the built-in pack."""
