"""`vmanalyze export INPUT -o DIR`: every table as one Parquet file, plus source.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmanalyze.cli.common import input_limits, run_guarded
from vmanalyze.cli.options import (
    MaxBytesOption,
    MaxMemberBytesOption,
    MaxMembersOption,
    MaxReadBytesOption,
    NoCacheOption,
)


def export(
    input: Annotated[str, typer.Argument(help="A vmcollect bundle, sosreport or directory.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory to write the Parquet files to.")
    ],
    max_bytes: MaxBytesOption = "4G",
    max_members: MaxMembersOption = 250_000,
    max_member_bytes: MaxMemberBytesOption = "64M",
    max_read_bytes: MaxReadBytesOption = "512M",
    no_cache: NoCacheOption = False,
) -> None:
    """Write every table of INPUT as Parquet (one file per table) and a source.json.

    The files read back unchanged with pandas, pyarrow, DuckDB and Spark.

    Example:
        vmanalyze export db01.tar.gz -o db01-tables/
    """

    def work() -> None:
        from vmanalyze.dataset import load, write_parquet

        limits = input_limits(max_bytes, max_members, max_member_bytes, max_read_bytes)
        dataset = load(input, cache=not no_cache, limits=limits)
        written = write_parquet(dataset, output)
        for warning in dataset.warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"wrote {len(written)} tables to {output}", err=True)
        typer.echo(str(output))

    run_guarded(work)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
