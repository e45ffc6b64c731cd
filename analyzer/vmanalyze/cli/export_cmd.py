"""`vmanalyze export INPUT -o DIR`: every table as one Parquet file, plus source.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmanalyze.cli.common import STDIN, input_limits, run_guarded, stdin_as_file
from vmanalyze.cli.helpfmt import Command
from vmanalyze.cli.options import (
    DebugOption,
    InputArgument,
    MaxBytesOption,
    MaxMemberBytesOption,
    MaxMembersOption,
    MaxReadBytesOption,
    NoCacheOption,
    VersionOption,
)


def export(
    input: InputArgument,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Directory to write the Parquet files to.",
            show_default=False,
        ),
    ],
    max_bytes: MaxBytesOption = "4G",
    max_members: MaxMembersOption = 250_000,
    max_member_bytes: MaxMemberBytesOption = "64M",
    max_read_bytes: MaxReadBytesOption = "512M",
    no_cache: NoCacheOption = False,
    version: VersionOption = False,
    debug: DebugOption = False,
) -> None:
    """Write every table of INPUT as Parquet (one file per table) and a source.json.

    The files read back unchanged with pandas, pyarrow, DuckDB and Spark.

    \b
    Example:
        vmanalyze export db01.tar.gz -o db01-tables/
    """

    def work() -> None:
        from vmanalyze.cli.textsafe import visible
        from vmanalyze.dataset import load, write_parquet

        limits = input_limits(max_bytes, max_members, max_member_bytes, max_read_bytes)
        with stdin_as_file(input, limits.max_bytes) as path:
            dataset = load(path, cache=not no_cache, limits=limits)
        if input == STDIN:
            dataset.source.update(input=STDIN, input_name="stdin")
        written = write_parquet(dataset, output)
        for warning in dataset.warnings:
            typer.echo(f"warning: {visible(warning)}", err=True)
        typer.echo(f"wrote {len(written)} tables to {output}", err=True)
        typer.echo(str(output))

    run_guarded(work)


def register(app: typer.Typer) -> None:
    app.command("export", cls=Command)(export)
