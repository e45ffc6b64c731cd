"""vmreports."""
