"""OVC rules of the built-in pack."""
