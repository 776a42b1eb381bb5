"""Event stores for the tests: a DuckDB file per test, a PostgreSQL schema per test in a
database of this session's own, and one local Spark session for the whole run.

The PostgreSQL server is the one DATABASE_URL (or TEST_DATABASE_URL) names, else the local
default; without one the PostgreSQL stores are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from goodword.config import EventsConfig, events_config
from goodword.signals.tests.eventdata import scratch_database, server_url, with_database


@pytest.fixture(scope="session")
def pg_events_server() -> Iterator[str]:
    """The URL of a database this session creates for event stores, dropped at the end."""
    try:
        psycopg.connect(with_database(server_url(), "postgres"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server for the event store tests: {exc}")
    with scratch_database("goodword_store_tests") as url:
        yield url


@pytest.fixture
def duckdb_events(tmp_path: Path) -> EventsConfig:
    return events_config(f"duckdb://{tmp_path / 'events.duckdb'}", tmp_path)


@pytest.fixture
def pg_events(pg_events_server: str, tmp_path: Path) -> EventsConfig:
    """A store in a schema of this test's own."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return events_config(f"{pg_events_server}?schema={schema}", tmp_path)


@pytest.fixture(params=["duckdb_events", "pg_events"], ids=["duckdb", "postgres"])
def events_store(request: pytest.FixtureRequest, settings: Any) -> EventsConfig:
    """Each store Goodword writes, in turn, as the configured one."""
    config: EventsConfig = request.getfixturevalue(request.param)
    settings.EVENTS_STORE = config
    return config


@pytest.fixture(scope="session")
def spark_session() -> Any:
    """One local Spark (UTC, few partitions: the data is small) for the whole run."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: PySpark needs it (CI installs it)")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("goodword-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
