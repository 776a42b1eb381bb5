"""The plumbing of benchmarks that run one child process per database (Django binds one
database per process): start the child, echo its output, read back its figures; the child's
environment; the commit the figures were taken at."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_child(module: str, mark: str, kind: str, argv: list[str], home: str) -> dict[str, Any]:
    """Run `python -m module argv --child kind`, echoing its output; returns the figures it
    printed on the line that starts with `mark`. Each kind has its own GOODWORD_HOME
    (`home`-`kind`), so runs for two databases may go side by side."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *argv, "--child", kind],
        cwd=ROOT,
        env=child_env(f"{home}-{kind}"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    result: dict[str, Any] | None = None
    for line in process.stdout:
        if line.startswith(mark):
            result = json.loads(line[len(mark) :])
        else:
            print(line, end="", flush=True)
    if process.wait() or result is None:
        raise SystemExit(f"{module}: the {kind} run failed (exit {process.returncode})")
    return result


def child_env(home: str) -> dict[str, str]:
    """Production-like settings for a child, with its own GOODWORD_HOME under the temp
    folder."""
    return {
        **os.environ,
        "GOODWORD_HOME": str(Path(tempfile.gettempdir()) / home),
        "DEBUG": "0",
        "SECURE_SSL": "0",
        "ALLOWED_HOSTS": "testserver",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "goodword.settings",
    }


def commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


def open_database(kind: str, database_url: str, sqlite_path: Path) -> str:
    """In a child: point Django at the PostgreSQL database (created if missing) or the SQLite
    file, set it up and migrate; returns the server's name and version."""
    from bench.crm import ensure_database

    if kind == "postgres":
        ensure_database(database_url)
        os.environ["DATABASE_URL"] = database_url
    else:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{sqlite_path.resolve()}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return server_version()


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"
