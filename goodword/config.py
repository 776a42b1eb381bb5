"""Reading settings from the environment, failing early with the variable's name.

Kept apart from settings.py so the parsing can be tested without reloading Django.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(Exception):
    """A setting read from the environment is missing or malformed."""


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    raw = env.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{name} is set but lists nothing (comma-separated values expected)")
    return items


def database_config(url: str | None, home: Path) -> dict[str, Any]:
    """Return Django's DATABASES['default'] for a DATABASE_URL, or SQLite under home."""
    if not url:
        return sqlite_config(home / "goodword.sqlite3")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql", "pgsql"}:
        if not parts.path.strip("/"):
            raise ConfigError("DATABASE_URL names no database (postgres://user@host:port/NAME)")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"DATABASE_URL has a malformed port: {url!r}") from None
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            "TEST": {"NAME": f"test_{unquote(parts.path.lstrip('/'))}"},
        }
    if scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ConfigError("DATABASE_URL names no SQLite file (sqlite:///path/to/file.sqlite3)")
        return sqlite_config(Path(path[1:] if path.startswith("//") else path))
    raise ConfigError(
        f"DATABASE_URL has unsupported scheme {parts.scheme!r} (use postgres:// or sqlite:///)"
    )


def sqlite_config(path: Path) -> dict[str, Any]:
    # IMMEDIATE transactions take the write lock at BEGIN, so two writers queue on the busy
    # timeout instead of failing with "database is locked" when one upgrades a read lock.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
    }


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str
    port: int
    user: str
    password: str
    use_tls: bool
    use_ssl: bool


def email_config(environ: Mapping[str, str] | None = None) -> EmailConfig:
    """EMAIL_URL (smtp://user:pass@host:port, smtps:// for SSL, ?tls=1 for STARTTLS) or
    EMAIL_HOST / EMAIL_PORT / EMAIL_HOST_USER / EMAIL_HOST_PASSWORD / EMAIL_USE_TLS."""
    env = os.environ if environ is None else environ
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    url = env.get("EMAIL_URL")
    if url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "console":
            return EmailConfig(
                "django.core.mail.backends.console.EmailBackend", "", 0, "", "", False, False
            )
        if scheme not in {"smtp", "smtps"}:
            raise ConfigError(f"EMAIL_URL has unsupported scheme {parts.scheme!r} (smtp, smtps)")
        if not parts.hostname:
            raise ConfigError("EMAIL_URL names no host (smtp://user:password@host:port)")
        try:
            port = parts.port or (465 if scheme == "smtps" else 25)
        except ValueError:
            raise ConfigError(f"EMAIL_URL has a malformed port: {url!r}") from None
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        return EmailConfig(
            smtp,
            parts.hostname,
            port,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            query.get("tls", "0") in TRUE,
            scheme == "smtps",
        )
    return EmailConfig(
        smtp,
        env.get("EMAIL_HOST", "127.0.0.1"),
        env_int("EMAIL_PORT", 25, env),
        env.get("EMAIL_HOST_USER", ""),
        env.get("EMAIL_HOST_PASSWORD", ""),
        env_bool("EMAIL_USE_TLS", False, env),
        env_bool("EMAIL_USE_SSL", False, env),
    )


def secret_key(home: Path, debug: bool, environ: Mapping[str, str] | None = None) -> str:
    """SECRET_KEY from the environment; in DEBUG, a key generated once under GOODWORD_HOME."""
    env = os.environ if environ is None else environ
    key = env.get("SECRET_KEY", "")
    if key:
        if len(key) < 50:
            raise ConfigError("SECRET_KEY is shorter than 50 characters")
        return key
    if not debug:
        raise ConfigError(
            "SECRET_KEY is not set; it is required when DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    path = home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once keep whichever key was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(generated)
    return generated
