"""`vmanalyze batch INPUT... -o DIR`: analyze a fleet on local cores or a Dask cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vmanalyze.cli.common import fail, input_limits, run_guarded
from vmanalyze.cli.helpfmt import Command
from vmanalyze.cli.options import (
    ConfigOption,
    DebugOption,
    FailOnOption,
    IgnoreOption,
    MaxBytesOption,
    MaxMemberBytesOption,
    MaxMembersOption,
    MaxReadBytesOption,
    PluginsOption,
    SelectOption,
    VersionOption,
    prepare_rules,
)

if TYPE_CHECKING:
    from vmanalyze.fleet import TaskResult

#: Default of --timeout. A 10-minute bundle takes about 2 s, the worst crafted inputs of
#: benchmarks/ at most 30 s: ten minutes only stops an input that hangs. Our choice.
DEFAULT_TIMEOUT_S = 600.0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Bundles, sosreports, directories to search (for *.tar.gz, *.tgz, *.tar.xz, "
            "*.tar.bz2 and extracted inputs) or globs.",
            metavar="INPUT",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Directory to write the fleet results to.",
            show_default=False,
        ),
    ],
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Inputs analyzed in parallel, one process each. Default: the number of cores.",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run on this existing Dask cluster instead (e.g. tcp://10.0.0.5:8786; needs "
            "vmtriage[dask]). Input paths must be readable by the workers.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Analyze again the inputs already done in DIR."),
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
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Also use and fill the parsed-tables cache of the single-host command (DIR "
            "already keeps what is done).",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0,
            metavar="SECONDS",
            help="Time limit per input: an input not analyzed within it fails alone, with "
            "that reason. 0: no limit.",
        ),
    ] = DEFAULT_TIMEOUT_S,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    version: VersionOption = False,
    debug: DebugOption = False,
) -> None:
    """Analyze many inputs: one report per input plus fleet-level files in DIR.

    DIR gets reports/<host>-<start>-<hash8>.html, fleet.html (hosts x rules), findings.parquet,
    inputs.parquet and tables/<table>/host=<host>/<hash>.parquet (see docs/fleet.md). A bad
    input fails alone; re-running skips the inputs already done (--force redoes them).

    Exit status: 0; 1 with --fail-on when a finding at or above it exists; 2 for bad options;
    3 when any input failed.

    \b
    Example:
        vmanalyze batch /srv/bundles/ -o fleet/ --jobs 8
    """
    registry, cfg = prepare_rules(
        select=select, ignore=ignore, config=config, plugins=plugins, fail_on=fail_on
    )
    del registry  # the workers load the rules themselves, from the same options

    def work() -> int:
        from vmanalyze.cli.textsafe import visible
        from vmanalyze.fleet import RuleSpec, discover_inputs, run_batch

        paths, unmatched, refused = discover_inputs(inputs)
        for arg in unmatched:
            typer.echo(f"warning: {visible(arg)}: no input found", err=True)
        for path, reason in refused:
            typer.echo(f"warning: {visible(path)}: {visible(reason)}", err=True)
        if not paths:
            fail("no inputs found (give bundles, sosreports, directories or globs)")
        limits = input_limits(max_bytes, max_members, max_member_bytes, max_read_bytes)
        spec = RuleSpec.resolve(cfg, plugins)
        if output.exists() and not output.is_dir():
            fail(f"{output}: not a directory")
        with _Progress(len(paths), quiet=quiet) as progress:
            result = run_batch(
                paths,
                output,
                spec,
                jobs=jobs or _cores(),
                scheduler=scheduler,
                force=force,
                cache=cache,
                limits=limits,
                timeout=timeout or None,
                on_result=progress.advance,
            )
        files = result.files
        if result.replaced:
            typer.echo(
                f"--force: replaced {result.replaced} earlier result(s) in {output} made with "
                "another rule selection",
                err=True,
            )
        duplicates = f", {len(result.duplicates)} duplicates" if result.duplicates else ""
        typer.echo(
            f"{result.ok} analyzed, {result.skipped} already done, {result.failed} failed "
            f"of {result.total} inputs{duplicates} in {result.wall_s:.1f}s; fleet: {files.ok} "
            f"inputs from {files.hosts} hosts, {files.findings} findings",
            err=True,
        )
        for path, first in result.duplicates:
            line = f"duplicate: {path}: same content as {first}, analyzed once"
            typer.echo(visible(line), err=True)
        if files.stale:
            typer.echo(
                f"warning: {files.stale} earlier results in {output} were made with other rule "
                "options or another vmanalyze version and are left out of the fleet files",
                err=True,
            )
        for row in result.results:
            if row.status == "failed":
                typer.echo(f"failed: {visible(failure_line(row.input, row.error))}", err=True)
        typer.echo(str(files.fleet_html))
        return result.exit_status(cfg.fail_on)

    raise typer.Exit(run_guarded(work))


def failure_line(path: str | None, error: str | None) -> str:
    """``path: why``, naming the path once (errors about an input often start with it).

    >>> failure_line("/b/x.tar.gz", "/b/x.tar.gz: not a tar archive")
    '/b/x.tar.gz: not a tar archive'
    """
    from vmanalyze.fleet import error_without_path

    return f"{path}: {error_without_path(path, error)}"


class _Progress:
    """A rich progress bar on standard error: done, failed, skipped, remaining and rate."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total = total
        self.counts = {"ok": 0, "failed": 0, "skipped": 0}
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[ok]} done[/] [red]{task.fields[failed]} failed[/] "
                "[dim]{task.fields[skipped]} skipped[/] {task.fields[remaining]} remaining "
                "{task.fields[rate]}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=quiet,
            transient=False,
        )
        self.task = self.progress.add_task(
            "batch", total=total, ok=0, failed=0, skipped=0, remaining=total, rate=""
        )

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, result: TaskResult) -> None:
        status = str(result.status)
        self.counts[status] = self.counts.get(status, 0) + 1
        finished = sum(self.counts.values())
        analyzed = self.counts["ok"] + self.counts["failed"]
        minutes = max(time.monotonic() - self.started, 1e-6) / 60
        self.progress.update(
            self.task,
            advance=1,
            ok=self.counts["ok"],
            failed=self.counts["failed"],
            skipped=self.counts["skipped"],
            remaining=self.total - finished,
            rate=f"{analyzed / minutes:.1f}/min" if analyzed else "",
        )


def register(app: typer.Typer) -> None:
    app.command("batch", cls=Command)(batch)
