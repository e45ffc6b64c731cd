"""`vmanalyze INPUT`: analyze one bundle, sosreport or captured directory."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from vmanalyze.cli.common import STDIN, input_limits, run_guarded, stdin_as_file
from vmanalyze.cli.helpfmt import Command
from vmanalyze.cli.options import (
    ConfigOption,
    DebugOption,
    FailOnOption,
    IgnoreOption,
    InputArgument,
    MaxBytesOption,
    MaxMemberBytesOption,
    MaxMembersOption,
    MaxReadBytesOption,
    NoCacheOption,
    PluginsOption,
    SelectOption,
    VersionOption,
    prepare_rules,
)


class OutputFormat(enum.StrEnum):
    html = "html"
    json = "json"
    text = "text"


def default_report_path(input_path: str, fmt: OutputFormat) -> Path:
    """``<input name>.report.html`` beside the input (``.report.json`` for JSON).

    Standard input (``-``) gives ``stdin.report.html`` in the current directory.
    """
    if input_path == STDIN:
        return Path(f"stdin.report.{fmt.value}")
    p = Path(input_path)
    name = p.name
    for suffix in (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parent = p.parent if not p.is_dir() else p.parent
    return parent / f"{name}.report.{fmt.value}"


def analyze(
    input: InputArgument,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write the report (- for standard output). Default: "
            "<input name>.report.html (or .json) beside the input; text goes to standard output.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", metavar="FORMAT", help="Report format: html, json or text."),
    ] = OutputFormat.html,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also show each finding's remediation and evidence."),
    ] = False,
    show_skipped: Annotated[
        bool,
        typer.Option("--show-skipped", help="List the rules that could not run, with the reason."),
    ] = False,
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
    version: VersionOption = False,
    debug: DebugOption = False,
) -> None:
    """Diagnose the memory of one host: findings on the terminal and a report file.

    Exit status: 0 clean; 1 with --fail-on when a finding at or above that severity exists;
    2 for bad input or options (all statuses: README.md, "Exit status").

    \b
    Example:
        vmanalyze db01.tar.gz --verbose      # writes db01.report.html beside it
    """
    registry, cfg = prepare_rules(
        select=select, ignore=ignore, config=config, plugins=plugins, fail_on=fail_on
    )

    def work() -> int:
        from vmanalyze.analysis import analyze as run_analysis
        from vmanalyze.cli.summary import print_summary
        from vmanalyze.cli.textsafe import visible
        from vmanalyze.results import exit_status, to_json

        limits = input_limits(max_bytes, max_members, max_member_bytes, max_read_bytes)
        with stdin_as_file(input, limits.max_bytes) as path:
            analysis = run_analysis(
                path, registry=registry, config=cfg, cache=not no_cache, limits=limits
            )
        if input == STDIN:
            analysis.dataset.source.update(input=STDIN, input_name="stdin")
        for warning in analysis.dataset.warnings:
            typer.echo(f"warning: {visible(warning)}", err=True)
        to_stdout = output == "-" or (output is None and fmt is OutputFormat.text)
        if fmt is OutputFormat.json:
            text = to_json(analysis.result, analysis.input_info, analysis.result.host.as_dict())
        elif fmt is OutputFormat.text:
            from vmanalyze.cli.summary import render_text

            text = render_text(analysis, verbose=verbose, show_skipped=show_skipped)
        else:
            from vmreports import render_html

            text = render_html(analysis)
        if not (to_stdout and fmt is OutputFormat.text):
            print_summary(
                analysis,
                stream=sys.stderr if to_stdout else sys.stdout,
                verbose=verbose,
                show_skipped=show_skipped,
            )
        if to_stdout:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            from vmanalyze.safeio import atomic_write

            target = Path(output) if output else default_report_path(input, fmt)
            try:
                atomic_write(target, text.encode("utf-8", "replace"))
            except OSError as exc:
                from vmanalyze.cli.common import fail

                fail(f"cannot write {target}: {exc.strerror or exc}")
            typer.echo(str(target))
        return exit_status(analysis.result, cfg.fail_on)

    raise typer.Exit(run_guarded(work))


def register(app: typer.Typer) -> None:
    app.command("analyze", cls=Command)(analyze)
