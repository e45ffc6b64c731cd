"""``vmanalyze cache``: where the parsed-tables cache is, how big, what it holds; clear it."""

from __future__ import annotations

import enum
import time
from typing import Annotated

import typer

from vmanalyze.cli.common import fail, run_guarded
from vmanalyze.units import fmt_bytes

__all__ = ["cache", "register"]


class Action(enum.StrEnum):
    show = "show"
    clear = "clear"


def _visible(text: str) -> str:
    """A name read from a cache entry, with control characters made visible.

    >>> _visible("db01\\x1b]0;x\\x07")
    'db01\\\\x1b]0;x\\\\x07'
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def cache(
    action: Annotated[
        Action, typer.Argument(help="show (the default) or clear.", show_default=False)
    ] = Action.show,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every cached entry.")] = False,
) -> None:
    """Show the parsed-tables cache (location, size, entries) or clear it.

    The cache keeps the tables of each input analyzed, as Parquet, so the next analysis of
    the same input skips parsing. The tables include the command lines of the host's
    processes. Location: $VMANALYZE_CACHE_DIR, else $XDG_CACHE_HOME/vmanalyze, else
    ~/.cache/vmanalyze. Size bound: $VMANALYZE_CACHE_MAX (default 1G; 0 turns the cache
    off); the least recently used entries go first.

    Example:
        vmanalyze cache
        vmanalyze cache --clear
    """

    def work() -> None:
        from vmanalyze import cache as store

        root = store.default_dir()
        limit = store.max_bytes()
        if action is Action.clear or clear:
            removed = store.clear(root)
            typer.echo(f"removed {removed} cached entries from {root}")
            return
        found = store.entries(root)
        total = sum(e.size for e in found)
        state = "off" if not limit else f"at most {fmt_bytes(limit)}"
        typer.echo(f"location: {root}")
        typer.echo(f"size: {fmt_bytes(total)} in {len(found)} entries ({state}, ${store.ENV_MAX})")
        for e in reversed(found):  # most recently used first
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.used))
            name = _visible(e.input_name) if e.input_name else "?"
            typer.echo(f"  {used}  {fmt_bytes(e.size):>10}  {name}  {e.key[:16]}")

    try:
        run_guarded(work)
    except OSError as exc:
        fail(f"cache: {exc.strerror or exc}")


def register(app: typer.Typer) -> None:
    app.command("cache")(cache)
