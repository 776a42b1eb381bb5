"""`goodword import` and `goodword export`: parse, call goodword.crm.io, report."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import click

from goodword.crm.io.presets import KINDS, PRESETS

EXPORT_KINDS = (*KINDS, "tasks")
IMPORT_KINDS = (*KINDS, "events")


def _setup() -> None:
    from goodword.cli import setup_django

    setup_django()


@contextlib.contextmanager
def _progress(total: int | None, unit: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on stderr when a person is watching; a no-op otherwise."""
    from tqdm import tqdm

    disable = quiet or not sys.stderr.isatty()
    with tqdm(
        total=total, unit=unit, unit_scale=True, file=sys.stderr, disable=disable, leave=False
    ) as bar:
        yield bar.update


@click.command()
@click.argument("kind", type=click.Choice(list(IMPORT_KINDS)))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="native",
    show_default=True,
    help="Whose column names the file uses.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def import_cmd(kind: str, file: str, dry_run: bool, preset: str, quiet: bool) -> None:
    """Import records from FILE: users, accounts, contacts, deals, and the signals nps,
    tickets, messages and goals from CSV; usage events from .parquet, .csv or .jsonl.

    All or nothing: if any row is bad, every problem is listed as FILE:ROW: column: reason
    and nothing is written. Records are matched by external_id (users by email; events by
    message_id), so importing the same file again changes nothing.
    """
    _setup()
    from goodword.crm.io.importing import ImportFileError, ImportRefused, import_file

    try:
        size = os.path.getsize(file)
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror or exc}") from None
    try:
        with _progress(size, "B", quiet) as update:
            if kind == "events":
                from goodword.signals.eventsimport import import_events

                report = import_events(file, dry_run=dry_run, progress=update)
            else:
                report = import_file(kind, file, preset=preset, dry_run=dry_run, progress=update)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportRefused as exc:
        report = exc.report
    for warning in report.warnings:
        click.echo(f"warning: {file}: {warning}", err=True)
    for error in report.errors:
        click.echo(error, err=True)
    if report.errors_not_shown:
        click.echo(f"... and {report.errors_not_shown} more error(s)", err=True)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("kind", type=click.Choice(list(EXPORT_KINDS)))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: the import's columns; json: one array, one object per line.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def export_cmd(kind: str, fmt: str, output: str | None, quiet: bool) -> None:
    """Export users, accounts, contacts, deals or tasks as CSV or JSON.

    CSV uses the same columns as `goodword import`; cells a spreadsheet would run as a
    formula get a leading apostrophe, which import removes again.
    """
    _setup()
    from goodword.cli import output_to
    from goodword.crm.io.exporting import export_count, export_file

    total = None if quiet or not sys.stderr.isatty() else export_count(kind)
    with output_to(output) as out, _progress(total, " rows", quiet) as update:
        written = export_file(kind, out, fmt=fmt, progress=update)
    if output:
        click.echo(f"{kind}: {written} exported to {output}", err=True)
