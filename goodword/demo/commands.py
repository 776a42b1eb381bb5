"""`goodword demo`: build the demo company into the configured database and serve it."""

from __future__ import annotations

import datetime as dt
import time

import click


@click.command()
@click.option(
    "--accounts",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="How many accounts (companies) to generate.",
)
@click.option("--seed", default=42, show_default=True, help="Same seed, same company.")
@click.option("--no-serve", is_flag=True, help="Build the data, print the login, and exit.")
@click.option(
    "--force",
    is_flag=True,
    help="Wipe the database even if it holds data the demo did not make.",
)
@click.pass_context
def demo(ctx: click.Context, accounts: int, seed: int, no_serve: bool, force: bool) -> None:
    """Wipe the database, build the demo company, print the login, and serve the UI.

    Every demo user's e-mail ends in @demo.goodword.example and the password is
    "goodword-demo". A database with any other user is left alone unless --force is given.
    """
    from goodword.cli import serve, setup_django

    setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from goodword.demo.generator import NotDemoData, generate
    from goodword.demo.names import DEMO_EMAIL_DOMAIN

    call_command("migrate", interactive=False, verbosity=0)
    try:
        summary = generate(
            accounts=accounts, seed=seed, today=timezone.now().date(), progress=True, force=force
        )
    except NotDemoData:
        raise click.ClickException(
            f"the {_database_name()} holds data the demo did not make (users outside "
            f"@{DEMO_EMAIL_DOMAIN}); pass --force to wipe it, or point GOODWORD_HOME or "
            "DATABASE_URL at another database"
        ) from None
    counts = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in summary.counts().items())
    click.echo(f"Built the demo company in {summary.seconds:.1f}s: {counts}.")
    now = timezone.now()
    _scan(now)
    _story(seed, now)
    click.echo(f"Log in with password {summary.password!r} as any of:")
    for role, email in summary.logins.items():
        click.echo(f"  {role:<8} {email}")
    if not no_serve:
        ctx.invoke(serve)


def _scan(now: dt.datetime) -> None:
    """The first scan, so owners find their asks waiting (and accounts say why not)."""
    from goodword.moments.scan import scan_run

    started = time.perf_counter()
    scan = scan_run(
        full=True,
        now=now,
        trigger="demo",
        say=lambda line: click.echo(f"  scan: {line}", err=True),
    )
    found = sum(t["found"] for t in scan.moments.values())
    held = ", ".join(f"{gate} {n:,}" for gate, n in sorted(scan.blocked.items()))
    click.echo(
        f"Scanned {scan.events_read:,} events in {time.perf_counter() - started:.1f}s: "
        f"{found:,} success moments, {scan.asks_created:,} referral asks queued"
        + (f"; accounts held back by gate: {held}" if held else "")
        + "."
    )
    for error in scan.errors:
        click.echo(f"  scan error: {error}", err=True)


def _story(seed: int, now: dt.datetime) -> None:
    """The asks worked as owners would have worked them, the targets and the spend."""
    from goodword.demo.funnel import funnel_write

    started = time.perf_counter()
    summary = funnel_write(seed=seed, now=now)
    click.echo(f"{summary.line()} ({time.perf_counter() - started:.1f}s)")


def _database_name() -> str:
    from django.db import connection

    return f"{connection.vendor} database {connection.settings_dict['NAME']}"
