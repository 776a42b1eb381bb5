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
    printed on the line that starts with `mark`."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *argv, "--child", kind],
        cwd=ROOT,
        env=child_env(home),
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
