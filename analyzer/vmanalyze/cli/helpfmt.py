"""Help texts as written: the command class every `vmanalyze` command uses.

Typer shows an argument as ``{input}`` in the usage line and adds its Python type
(``INPUT <str>``, ``INPUT <list[str]>``) in the list of arguments. Here an argument reads as
its metavar alone: ``INPUT`` when required, ``[RULE]`` when optional, ``INPUT...`` when it
takes several.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand

__all__ = ["Command"]


def _usage_name(argument: TyperArgument) -> str:
    name = argument.metavar or (argument.name or "ARG").upper()
    if not argument.required:
        name = f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


def _no_type(ctx: object) -> None:
    return None


class Command(TyperCommand):
    """A Typer command whose arguments are named by their metavar, without a type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                usage = _usage_name(param)
                setattr(param, "_usage_display_name", lambda usage=usage: usage)  # noqa: B010
                setattr(param, "display_type_rich", _no_type)  # noqa: B010
