"""`vmanalyze INPUT`: analyze one bundle, sosreport or captured directory."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from vmanalyze.cli.common import input_limits, run_guarded
from vmanalyze.cli.options import (
    ConfigOption,
    FailOnOption,
    IgnoreOption,
    MaxBytesOption,
    MaxMemberBytesOption,
    MaxMembersOption,
    MaxReadBytesOption,
    NoCacheOption,
    PluginsOption,
    SelectOption,
    prepare_rules,
)


class OutputFormat(enum.StrEnum):
    html = "html"
    json = "json"
    text = "text"


def default_report_path(input_path: str, fmt: OutputFormat) -> Path:
    """``<input name>.report.html`` beside the input (``.report.json`` for JSON)."""
    p = Path(input_path)
    name = p.name
    for suffix in (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parent = p.parent if not p.is_dir() else p.parent
    return parent / f"{name}.report.{fmt.value}"


def analyze(
    input: Annotated[str, typer.Argument(help="A vmcollect bundle, sosreport or directory.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the report ('-' for standard output). Default: "
            "<input name>.report.html (or .json) beside the input; text goes to standard output.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutputFormat.html,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    config: ConfigOption = None,
    plugins: PluginsOption = None,
    fail_on: FailOnOption = None,
    max_bytes: MaxBytesOption = "4G",
    max_members: MaxMembersOption = 250_000,
    max_member_bytes: MaxMemberBytesOption = "64M",
    max_read_bytes: MaxReadBytesOption = "512M",
    no_cache: NoCacheOption = False,
) -> None:
    """Diagnose the memory of one host: findings on the terminal and a report file.

    Exit status: 0, or 1 with --fail-on when a finding at or above that severity exists;
    2 for bad input or options.

    Example:
        vmanalyze db01.tar.gz                      # writes db01.report.html beside it
        vmanalyze db01.tar.gz --format json -o -   # JSON on standard output
    """
    registry, cfg = prepare_rules(
        select=select, ignore=ignore, config=config, plugins=plugins, fail_on=fail_on
    )

    def work() -> int:
        from vmanalyze.analysis import analyze as run_analysis
        from vmanalyze.cli.summary import print_summary
        from vmanalyze.results import exit_status, to_json

        analysis = run_analysis(
            input,
            registry=registry,
            config=cfg,
            cache=not no_cache,
            limits=input_limits(max_bytes, max_members, max_member_bytes, max_read_bytes),
        )
        for warning in analysis.dataset.warnings:
            typer.echo(f"warning: {warning}", err=True)
        to_stdout = output == "-" or (output is None and fmt is OutputFormat.text)
        if fmt is OutputFormat.json:
            text = to_json(analysis.result, analysis.input_info, analysis.dataset.host)
        elif fmt is OutputFormat.text:
            from vmanalyze.cli.summary import render_text

            text = render_text(analysis)
        else:
            from vmreports import render_html

            text = render_html(analysis)
        if not (to_stdout and fmt is OutputFormat.text):
            print_summary(analysis, stream=sys.stderr if to_stdout else sys.stdout)
        if to_stdout:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            target = Path(output) if output else default_report_path(input, fmt)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                from vmanalyze.cli.common import fail

                fail(f"cannot write {target}: {exc.strerror or exc}")
            typer.echo(str(target))
        return exit_status(analysis.result, cfg.fail_on)

    raise typer.Exit(run_guarded(work))


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
