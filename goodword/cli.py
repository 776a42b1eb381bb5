"""The `goodword` command. Each subcommand is a thin interface: parse, access, call a service."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import click


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goodword.settings")
    import django

    django.setup()


@contextlib.contextmanager
def output_to(path: str | None) -> Iterator[TextIO]:
    """An export's stream: the file at `path` (a clear error when it cannot be written), or
    stdout without one."""
    if path is None:
        yield sys.stdout
        return
    try:
        stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


class Group(click.Group):
    """Turns the errors our services raise into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from django.db import Error as DatabaseError

        from goodword.lib.errors import Forbidden, Invalid, NotFound
        from goodword.signals.store import StoreError

        try:
            return super().invoke(ctx)
        except Invalid as exc:
            raise click.ClickException(exc.message) from None
        except (NotFound, Forbidden, StoreError) as exc:
            raise click.ClickException(str(exc)) from None
        except DatabaseError as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise click.ClickException(f"database error: {first_line}") from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="goodword")
def main() -> None:
    """Goodword: turn customers' success moments into referred pipeline."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database tables (the first run adds the default pipeline)."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web UI and API (gunicorn)."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0, check_unapplied=False)
    click.echo(f"Goodword is serving on http://{host}:{port}/ (Ctrl+C to stop)")
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "goodword.wsgi:application",
        "--config",
        "python:goodword.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter and fixed arguments


@main.command()
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@click.option(
    "--lease-seconds",
    default=300,
    show_default=True,
    type=click.IntRange(1, 86_400),
    help="How long a claimed job is this worker's before another may take it over.",
)
def worker(once: bool, interval: float, lease_seconds: int) -> None:
    """Run background jobs (e-mail outbox and scheduled work) until stopped."""
    setup_django()
    import datetime as dt

    from goodword.jobs.services import upkeep_once, work_once

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not once:
        click.echo("Goodword worker started (Ctrl+C to stop).")
    while True:
        ran = work_once(lease=dt.timedelta(seconds=lease_seconds))
        upkeep_once()
        if ran:
            click.echo(f"ran {ran} job(s)")
        if once or stopping:
            return
        time.sleep(interval)


@main.command()
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["rep", "csm", "manager", "admin"]))
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--team", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def createuser(
    email: str, role: str, first_name: str, last_name: str, team: str, password_stdin: bool
) -> None:
    """Create a user who can log in."""
    setup_django()
    from goodword.users.services import user_create

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    user = user_create(
        email=email,
        role=role,
        password=password,
        first_name=first_name,
        last_name=last_name,
        team=team,
    )
    click.echo(f"Created {user.role} {user.email}" + ("" if password else " (no password set)"))


@main.group(cls=Group)
def apikey() -> None:
    """Create and revoke API keys."""


@apikey.command("create")
@click.option("--user", "user_email", required=True, help="E-mail of the user the key acts as.")
@click.option("--scopes", required=True, help="Comma-separated: ingest,read,write")
@click.option("--name", default="", help="A label to recognise the key by.")
def apikey_create_cmd(user_email: str, scopes: str, name: str) -> None:
    """Create a key and print it once; only its hash is stored."""
    setup_django()
    from goodword.users.models import User
    from goodword.users.services import apikey_create

    user = User.objects.filter(email=user_email.strip().lower()).first()
    if user is None:
        raise click.ClickException(f"no user with e-mail {user_email}")
    row, key = apikey_create(user=user, scopes=scopes.split(","), name=name)
    click.echo(key)
    click.echo(
        f"API key {row.prefix} for {user.email} with scopes {','.join(row.scopes)}. "
        "Store it now: it cannot be shown again.",
        err=True,
    )


@apikey.command("revoke")
@click.argument("prefix")
def apikey_revoke_cmd(prefix: str) -> None:
    """Revoke the key whose prefix (shown at creation) is PREFIX."""
    setup_django()
    from goodword.users.services import apikey_revoke

    row = apikey_revoke(prefix=prefix)
    click.echo(f"Revoked API key {row.prefix} of {row.user.email}")


def _register_app_commands() -> None:
    from goodword.crm.commands import export_cmd, import_cmd
    from goodword.demo.commands import demo
    from goodword.moments.commands import asks, backtest, moments, rules, scan
    from goodword.reports.commands import rates, report
    from goodword.signals.commands import events, praise, writekey

    main.add_command(writekey, "writekey")
    main.add_command(events, "events")
    main.add_command(praise, "praise")
    main.add_command(import_cmd, "import")
    main.add_command(export_cmd, "export")
    main.add_command(demo, "demo")
    main.add_command(rules, "rules")
    main.add_command(scan, "scan")
    main.add_command(backtest, "backtest")
    main.add_command(moments, "moments")
    main.add_command(asks, "asks")
    main.add_command(rates, "rates")
    main.add_command(report, "report")


_register_app_commands()

if __name__ == "__main__":
    main()
