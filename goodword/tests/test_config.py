from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goodword.config import (
    ConfigError,
    database_config,
    email_config,
    env_bool,
    env_int,
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


def test_sqlite_default_uses_wal_immediate_and_busy_timeout(tmp_path):
    config = database_config(None, tmp_path)
    assert config["NAME"] == str(tmp_path / "goodword.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] == 20
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


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
