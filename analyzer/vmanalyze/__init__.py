"""vmanalyze."""
