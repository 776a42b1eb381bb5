from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goodword.config import (
    ConfigError,
    EventsConfig,
    database_config,
    email_config,
    env_bool,
    env_int,
    events_config,
    secret_key,
)

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_postgres_is_parsed(tmp_path):
    config = database_config("postgres://gw:s%40cret@db.internal:6543/goodword", tmp_path)
    assert (config["ENGINE"], config["NAME"], config["USER"], config["PASSWORD"]) == (
        "django.db.backends.postgresql",
        "goodword",
        "gw",
        "s@cret",
    )
    assert (config["HOST"], config["PORT"]) == ("db.internal", "6543")
    assert config["OPTIONS"]["options"] == "-c jit=off"


def test_database_url_postgres_options_come_after_jit_off(tmp_path):
    url = "postgres://gw@db/goodword?options=-c%20jit%3Don&sslmode=require"
    config = database_config(url, tmp_path)
    assert config["OPTIONS"] == {"options": "-c jit=off -c jit=on", "sslmode": "require"}


def test_sqlite_default_uses_wal_immediate_and_busy_timeout(tmp_path):
    config = database_config(None, tmp_path)
    assert config["NAME"] == str(tmp_path / "goodword.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] == 20
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "mmap_size=1073741824" in config["OPTIONS"]["init_command"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "unsupported scheme 'mysql'"),
        ("postgres://x@y:notaport/z", "malformed port"),
        ("postgres://x@y", "names no database"),
    ],
)
def test_bad_database_url_names_the_variable(tmp_path, url, message):
    with pytest.raises(ConfigError, match="DATABASE_URL") as info:
        database_config(url, tmp_path)
    assert message in str(info.value)


def test_email_url_smtp_with_starttls():
    config = email_config({"EMAIL_URL": "smtp://me:pw@mail.example.com:587?tls=1"})
    assert (config.host, config.port, config.user, config.password, config.use_tls) == (
        "mail.example.com",
        587,
        "me",
        "pw",
        True,
    )


def test_email_host_and_port_variables():
    config = email_config({"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": "2525"})
    assert (config.host, config.port, config.use_tls) == ("127.0.0.1", 2525, False)


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"EMAIL_PORT": "twenty-five"}, "EMAIL_PORT"),
        ({"EMAIL_URL": "http://mail"}, "EMAIL_URL"),
        ({"EMAIL_USE_TLS": "maybe"}, "EMAIL_USE_TLS"),
    ],
)
def test_bad_email_settings_name_the_variable(environ, name):
    with pytest.raises(ConfigError, match=name):
        email_config(environ)


def test_booleans_and_ints():
    assert env_bool("DEBUG", True, {"DEBUG": "off"}) is False
    assert env_bool("DEBUG", False, {}) is False
    assert env_int("N", 3, {"N": " "}) == 3
    with pytest.raises(ConfigError, match="DEBUG='perhaps'"):
        env_bool("DEBUG", True, {"DEBUG": "perhaps"})


def test_secret_key_generated_once_under_home_in_debug(tmp_path):
    first = secret_key(tmp_path, debug=True, environ={})
    assert secret_key(tmp_path, debug=True, environ={}) == first
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_missing_secret_key_fails_without_debug(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        secret_key(tmp_path, debug=False, environ={})
    assert not (tmp_path / "secret_key").exists()


def _manage(
    args: list[str], env_extra: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update({"GOODWORD_HOME": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_malformed_variable_fails_at_start_with_its_name(tmp_path):
    result = _manage(["check"], {"DEBUG": "sometimes"}, tmp_path)
    assert result.returncode == 2
    assert "configuration error: DEBUG='sometimes'" in result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        ["check", "--deploy", "--fail-level", "DEBUG"],
        {
            "DEBUG": "0",
            "SECRET_KEY": "k" * 20 + "-Zq9!x7#Lm2@Pv5$Rt8^Wy3&Bn6*Cs4(Df1)Gh0_Jk",
            "ALLOWED_HOSTS": "goodword.example.com",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# --- GOODWORD_EVENTS_URL ------------------------------------------------------------------


def test_the_event_store_is_a_duckdb_file_under_home_by_default(tmp_path):
    assert events_config(None, tmp_path) == EventsConfig(
        "duckdb", path=str(tmp_path / "events.duckdb")
    )
    assert events_config("", tmp_path).path == str(tmp_path / "events.duckdb")


def test_events_url_duckdb_names_a_file_and_its_settings(tmp_path):
    config = events_config("duckdb:///srv/gw/events.duckdb?memory_limit=2GB&threads=4", tmp_path)
    assert (config.backend, config.path, config.read_only) == (
        "duckdb",
        "/srv/gw/events.duckdb",
        False,
    )
    assert config.options == (("memory_limit", "2GB"), ("threads", "4"))


def test_events_url_postgres_keeps_connection_options_and_takes_goodwords(tmp_path):
    config = events_config(
        "postgres://gw:s%40cret@db:6543/lake?sslmode=require&schema=analytics&table=tracks",
        tmp_path,
    )
    assert (config.backend, config.schema, config.table, config.read_only) == (
        "postgres",
        "analytics",
        "tracks",
        False,
    )
    assert config.dsn == "postgresql://gw:s%40cret@db:6543/lake?sslmode=require"
    assert config.describe() == "PostgreSQL table analytics.tracks on db"
    assert "cret" not in repr(config)
    plain = events_config("postgresql://db/lake?readonly=1", tmp_path)
    assert (plain.schema, plain.table, plain.read_only) == ("public", "events", True)


def test_events_url_spark_reads_a_table_or_files_in_place(tmp_path):
    table = events_config("spark://local[4]?table=lake.events&spark.executor.memory=2g", tmp_path)
    assert (table.backend, table.master, table.table, table.source, table.read_only) == (
        "pyspark",
        "local[4]",
        "lake.events",
        "",
        True,
    )
    assert table.options == (("spark.executor.memory", "2g"),)
    files = events_config("spark://spark-master:7077?path=/data/events&format=orc", tmp_path)
    assert (files.master, files.source, files.source_format) == (
        "spark://spark-master:7077",
        "/data/events",
        "orc",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "unsupported scheme 'mysql'"),
        ("events.duckdb", "is not a URL"),
        ("duckdb://events.duckdb", "names no DuckDB file by absolute path"),
        ("duckdb:///srv/e.duckdb?cache=1", "unknown option(s) cache"),
        ("postgres://db", "names no database"),
        ("postgres://db:port/x", "malformed port"),
        ("postgres://db/x?schema=a;drop", "option schema='a;drop' is not a plain SQL name"),
        ("postgres://db/x?readonly=maybe", "option readonly='maybe' is not a boolean"),
        ("spark://local[2]", "exactly one of table=NAME or path=FILES"),
        ("spark://local[2]?table=a&path=/b", "exactly one of table=NAME or path=FILES"),
        ("spark://local[x]?table=a", "names no Spark master"),
        ("spark://local?path=/b&format=xls", "option format='xls'"),
        ("spark://local?table=a&colour=red", "unknown option(s) colour"),
    ],
)
def test_a_bad_events_url_names_the_variable(tmp_path, url, message):
    with pytest.raises(ConfigError, match="GOODWORD_EVENTS_URL") as info:
        events_config(url, tmp_path)
    assert message in str(info.value)


def test_a_bad_events_url_stops_goodword_at_start(tmp_path):
    result = _manage(["check"], {"GOODWORD_EVENTS_URL": "mysql://x"}, tmp_path)
    assert result.returncode == 2
    assert "configuration error: GOODWORD_EVENTS_URL has unsupported scheme" in result.stderr
