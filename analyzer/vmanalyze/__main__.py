"""`python -m vmanalyze` runs the command line."""

from vmanalyze.cli import main

main()
