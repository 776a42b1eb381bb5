"""Reading settings from the environment, failing early with the variable's name.

Kept apart from settings.py so the parsing can be tested without reloading Django.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit


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
        # No JIT compilation: the reports' aggregates over a million deals cost past its
        # threshold, and compiling took 211 ms of the pipeline's 780 ms query (PostgreSQL 15,
        # ./dev bench reports). Options given in the URL come after, so they win.
        options["options"] = f"-c jit=off {options.get('options', '')}".strip()
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
            # A 64 MB page cache and reads through mmap (up to 1 GB): the reports read
            # hundreds of thousands of rows, and SQLite's default 2 MB cache re-reads them
            # through system calls (the pipeline report at a million deals: 1.4 s to 0.7 s).
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824;"
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


# --- the event store (GOODWORD_EVENTS_URL) ----------------------------------------------

EVENTS_VAR = "GOODWORD_EVENTS_URL"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|[A-Za-z0-9.-]+:\d+)$")


@dataclass(frozen=True)
class EventsConfig:
    """Where the event store is. `backend` is "duckdb" (a file Goodword owns), "postgres" (a
    table Goodword creates, or reads in place with readonly=1) or "pyspark" (a table or files
    of the team's, always read in place)."""

    backend: str
    path: str = ""  # duckdb: the file
    # postgres: the connection URL without Goodword's own options; kept out of repr (and so
    # out of DEBUG error pages), as it may hold a password
    dsn: str = field(default="", repr=False)
    schema: str = ""  # postgres
    table: str = "events"  # postgres, pyspark (db.table allowed)
    master: str = ""  # pyspark: local[N] or spark://host:port
    source: str = ""  # pyspark: files read in place instead of a table
    source_format: str = "parquet"
    options: tuple[tuple[str, str], ...] = ()  # duckdb settings, or spark.* session settings
    read_only: bool = False

    def describe(self) -> str:
        """Where the store is, for messages (never with a password)."""
        if self.backend == "duckdb":
            return f"DuckDB file {self.path}"
        if self.backend == "postgres":
            host = urlsplit(self.dsn).hostname or "localhost"
            return f"PostgreSQL table {self.schema}.{self.table} on {host}"
        return f"Spark ({self.master}) {self.source or self.table}"


def events_config(url: str | None, home: Path) -> EventsConfig:
    """Parse GOODWORD_EVENTS_URL; unset means a DuckDB file under GOODWORD_HOME."""
    if not url:
        return EventsConfig("duckdb", path=str(home / "events.duckdb"))
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if not rest:
        raise ConfigError(
            f"{EVENTS_VAR}={url!r} is not a URL (duckdb:///path, postgres://…, spark://…)"
        )
    if scheme == "duckdb":
        return _duckdb_events(url)
    if scheme in {"postgres", "postgresql"}:
        return _postgres_events(url)
    if scheme == "spark":
        return _spark_events(rest)
    raise ConfigError(
        f"{EVENTS_VAR} has unsupported scheme {scheme!r} (use duckdb:///, postgres:// or spark://)"
    )


def _options(query: str, allowed: set[str], prefix: str = "") -> dict[str, str]:
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = [k for k in options if k not in allowed and not (prefix and k.startswith(prefix))]
    if unknown:
        known = ", ".join(sorted(allowed) + ([f"{prefix}*"] if prefix else []))
        raise ConfigError(f"{EVENTS_VAR} has unknown option(s) {', '.join(unknown)} ({known})")
    return options


def _identifier(options: dict[str, str], name: str, default: str, dotted: bool = False) -> str:
    value = options.get(name, default)
    parts = value.split(".") if dotted else [value]
    if not all(IDENTIFIER.match(part) for part in parts):
        raise ConfigError(f"{EVENTS_VAR} option {name}={value!r} is not a plain SQL name")
    return value


def _duckdb_events(url: str) -> EventsConfig:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc or not path.startswith("/") or path == "/":
        raise ConfigError(
            f"{EVENTS_VAR} names no DuckDB file by absolute path (duckdb:///srv/goodword/events.duckdb)"
        )
    options = _options(parts.query, {"memory_limit", "threads"})
    return EventsConfig("duckdb", path=path, options=tuple(sorted(options.items())))


def _postgres_events(url: str) -> EventsConfig:
    parts = urlsplit(url)
    if not parts.path.strip("/"):
        raise ConfigError(f"{EVENTS_VAR} names no database (postgres://user@host:port/NAME)")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigError(f"{EVENTS_VAR} has a malformed port") from None
    ours = {"schema", "table", "readonly"}
    given = parse_qs(parts.query, keep_blank_values=True)
    options = {k: v[-1] for k, v in given.items() if k in ours}
    passed = [(k, v) for k, values in given.items() if k not in ours for v in values]
    dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passed)))
    return EventsConfig(
        "postgres",
        dsn=dsn,
        schema=_identifier(options, "schema", "public"),
        table=_identifier(options, "table", "events"),
        read_only=_flag(options, "readonly"),
    )


def _flag(options: dict[str, str], name: str) -> bool:
    value = options.get(name, "0").strip().lower()
    if value not in TRUE | FALSE:
        raise ConfigError(f"{EVENTS_VAR} option {name}={value!r} is not a boolean (1 or 0)")
    return value in TRUE


def _spark_events(rest: str) -> EventsConfig:
    master, _, query = rest.partition("?")
    if not SPARK_MASTER.match(master):
        raise ConfigError(
            f"{EVENTS_VAR} names no Spark master (spark://local[2]?table=… or spark://host:7077?…)"
        )
    options = _options(query, {"table", "path", "format"}, prefix="spark.")
    if ("table" in options) == ("path" in options):
        raise ConfigError(
            f"{EVENTS_VAR} must give exactly one of table=NAME or path=FILES for Spark "
            "(Goodword reads the events there in place)"
        )
    source_format = options.pop("format", "parquet")
    if source_format not in {"parquet", "orc", "json", "delta"}:
        raise ConfigError(
            f"{EVENTS_VAR} option format={source_format!r} (parquet, orc, json, delta)"
        )
    return EventsConfig(
        "pyspark",
        master=master if master.startswith("local") else f"spark://{master}",
        table=_identifier(options, "table", "events", dotted=True),
        source=options.pop("path", ""),
        source_format=source_format,
        options=tuple(sorted((k, v) for k, v in options.items() if k.startswith("spark."))),
        read_only=True,
    )
