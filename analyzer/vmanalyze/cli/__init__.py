"""The `vmanalyze` command line: a thin layer over the library.

`vmanalyze INPUT` analyzes one input (the default command); the other commands are
`vmanalyze export`, `vmanalyze rules` and `vmanalyze batch`. Typer cannot have a
positional default command next to sub-commands, so `main()` inserts `analyze` when the
first argument is not a known command.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="vmanalyze",
    help="Diagnose Linux memory problems from vmcollect bundles and sosreports.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    """Import the command modules; each adds its commands to `app`."""
    from importlib import import_module

    for name in ("analyze_cmd", "export_cmd", "rules_cmd", "batch_cmd", "cache_cmd"):
        try:
            module = import_module(f"vmanalyze.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"vmanalyze.cli.{name}":
                raise
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `vmanalyze` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    _register_commands()
    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    if args and not args[0].startswith("-") and args[0] not in commands:
        args.insert(0, "analyze")
    app(args=args, prog_name="vmanalyze")
