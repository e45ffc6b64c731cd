"""The analyzer's version, in a module of its own so that any layer can read it
(``vmanalyze.__version__`` re-exports it)."""

__version__ = "0.1.0"
