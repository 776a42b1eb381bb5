"""`goodword report NAME` and `goodword rates {import,list}`: parse, call goodword.reports,
write. The command line acts as an operator who holds the database: a report covers every
deal unless `--as EMAIL` limits it to what that user may see."""

from __future__ import annotations

import json
import os
import sys

import click

from goodword.cli import Group, output_to, setup_django


@click.group(cls=Group)
def rates() -> None:
    """Import and list the dated currency rates that reports convert amounts with."""


@rates.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def rates_import_cmd(file: str, dry_run: bool, quiet: bool) -> None:
    """Import rates from the CSV FILE with the columns day,currency,rate: one unit of the
    currency is worth `rate` of the home currency on that day. All or nothing: every bad
    row is listed as FILE:ROW: field: reason. A rate already there is replaced."""
    setup_django()
    from django.utils import timezone

    from goodword.crm.commands import _progress
    from goodword.reports.rates import RatesFileError, RatesRefused, rates_import

    try:
        size = os.path.getsize(file)
        stream = open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc.strerror or exc}") from None
    try:
        with stream, _progress(size, "B", quiet) as update:
            report = rates_import(
                actor=None,
                file=stream,
                source=file,
                dry_run=dry_run,
                now=timezone.now(),
                progress=update,
            )
    except RatesFileError as exc:
        raise click.ClickException(str(exc)) from None
    except RatesRefused as exc:
        report = exc.report
    for message in report.messages():
        click.echo(message, err=True)
    if report.errors_not_shown:
        click.echo(f"... and {report.errors_not_shown} more error(s)", err=True)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@rates.command("list")
@click.option("--currency", default="", help="Only this currency's rates.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout)."
)
def rates_list_cmd(currency: str, output: str | None) -> None:
    """Write the rates as CSV in the import's columns (day,currency,rate)."""
    setup_django()
    from goodword.reports.models import Rate
    from goodword.reports.rates import rates_csv, rates_filtered

    shown = rates_filtered(Rate.objects.order_by("currency", "day"), currency=currency)
    written = -1  # the header is not a rate
    with output_to(output) as out:
        for line in rates_csv(shown):
            out.write(line)
            written += 1
    if output:
        click.echo(f"rates: {written} written to {output}", err=True)


@click.command()
@click.argument("name", metavar="NAME")
@click.option("--from", "date_from", metavar="DATE", help="First day covered (YYYY-MM-DD).")
@click.option("--to", "date_to", metavar="DATE", help="Last day covered (default: today).")
@click.option("--team", metavar="ID", help="Only deals owned by this team's members.")
@click.option("--owner", metavar="ID", help="Only deals owned by this user.")
@click.option("--industry", help="Only deals of accounts in this industry.")
@click.option("--size", metavar="BAND", help="Only deals of accounts of this size, e.g. 51-200.")
@click.option("--source", help="Only deals of this source, e.g. referral.")
@click.option("--as", "as_email", metavar="EMAIL", help="Only what this user may see.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--table", metavar="TABLE", help="The table to write as CSV (default: the first).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout)."
)
def report(
    name: str,
    date_from: str | None,
    date_to: str | None,
    team: str | None,
    owner: str | None,
    industry: str | None,
    size: str | None,
    source: str | None,
    as_email: str | None,
    fmt: str,
    table: str | None,
    output: str | None,
) -> None:
    """Write the report NAME (pipeline, sources, funnel, advocates, reps, roi) with the
    figures its page and the API show: JSON with the headline and every table, or one table
    as CSV."""
    setup_django()
    from django.utils import timezone

    from goodword.reports.catalogue import report_build
    from goodword.reports.filters import filters_parse
    from goodword.users.models import User

    user = None
    if as_email:
        user = User.objects.filter(email__iexact=as_email, is_active=True).first()
        if user is None:
            raise click.ClickException(f"--as: no active user has the e-mail address {as_email}")
    given = {"date_from": date_from, "date_to": date_to, "team": team, "owner": owner}
    given |= {"industry": industry, "size": size, "source": source}
    filters = filters_parse(given)
    built = report_build(name, user=user, filters=filters, today=timezone.now().date())
    with output_to(output) as out:
        if fmt == "json":
            json.dump(built.as_json(), out, indent=2, ensure_ascii=False)
            out.write("\n")
            return
        try:
            chosen = built.table(table) if table else built.tables[0]
        except KeyError:
            names = ", ".join(t.name for t in built.tables)
            raise click.ClickException(f"--table: {name} has the tables {names}") from None
        import csv

        writer = csv.writer(out)
        writer.writerows(chosen.csv_rows())
    click.echo(built.headline, err=True)
