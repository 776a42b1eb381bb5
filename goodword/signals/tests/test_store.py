"""The event store: repeats are skipped by message_id on each store Goodword writes, bulk
appends are all or nothing, a DuckDB file held by another process is waited for, and stores
read in place (Spark, PostgreSQL with readonly=1) refuse writes."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goodword.config import events_config
from goodword.signals import store
from goodword.signals.tests import eventdata
from goodword.signals.tests.eventdata import held_elsewhere

UTC = dt.UTC
AT = dt.datetime(2025, 1, 1, 9, tzinfo=UTC)  # a Wednesday: its week starts 2024-12-30
LATER = dt.datetime(2025, 1, 8, 9, tzinfo=UTC)


def event(
    message_id: str, *, account_id: int | None = 1, received_at: dt.datetime = AT, **more: Any
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "account_id": account_id,
        "user_id": "u1",
        "event": "report_created",
        "timestamp": more.get("timestamp", AT),
        "properties": more.get("properties", '{"n":1}'),
        "received_at": received_at,
    }


def ids_in(opened: store.Store) -> list[str]:
    return sorted(opened.events().message_id.to_pyarrow().to_pylist())


def test_an_append_adds_each_message_id_once(events_store):
    # given a batch that names m1 twice
    batch = eventdata.table([event("m1"), event("m2"), event("m1", account_id=2)])
    with store.connect() as opened:
        # when it is appended, and appended again
        first = opened.append(batch)
        again = opened.append(batch)
        # then m1 is stored once (its first row), and the repeat adds nothing
        assert (first, again) == (2, 0)
        assert ids_in(opened) == ["m1", "m2"]
        rows = opened.events().order_by("message_id").to_pyarrow().to_pylist()
        assert [r["account_id"] for r in rows] == [1, 1]
        assert rows[0]["properties"] == '{"n":1}'


def test_present_names_the_rows_stored_as_given_and_not_another_event_with_the_id(
    events_store,
):
    with store.connect() as opened:
        # given x imported earlier (received then), and y stored by an attempt cut short
        opened.append(eventdata.table([event("x", received_at=LATER), event("y")]))
        # when x and y arrive again as received at AT, with z
        appended = opened.append_tracked(eventdata.table([event("x"), event("y"), event("z")]))
        # then only z is added; y is there as given, x is another event's row
        assert appended == store.Appended(added=1, present=frozenset({"y", "z"}))
        assert ids_in(opened) == ["x", "y", "z"]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    table = eventdata.table(rows).drop_columns(["received_at"])
    pq.write_table(table, path)
    return path


def test_a_file_is_appended_all_at_once_counting_weeks_and_a_dry_run_writes_nothing(
    events_store, tmp_path
):
    # given m1 stored, and a file with m1, m2 (this week) and m3 (next week, account 2)
    path = write_parquet(
        tmp_path / "rows.parquet",
        [event("m1"), event("m2"), event("m3", account_id=2, timestamp=LATER)],
    )
    with store.connect() as opened:
        opened.append(eventdata.table([event("m1")]))
        # when it is tried, then appended, then appended again
        tried = opened.append_file(path, received_at=LATER, dry_run=True)
        assert ids_in(opened) == ["m1"]
        done = opened.append_file(path, received_at=LATER)
        again = opened.append_file(path, received_at=LATER)
        # then the try and the append count the same new rows per account and week
        weeks = {(1, dt.date(2024, 12, 30)): 1, (2, dt.date(2025, 1, 6)): 1}
        assert tried == done == weeks
        assert again == {}
        assert ids_in(opened) == ["m1", "m2", "m3"]
        received = opened.events().order_by("message_id").received_at.to_pyarrow().to_pylist()
        assert received == [AT, LATER, LATER]


def test_a_file_that_fails_midway_adds_nothing(events_store, tmp_path, monkeypatch):
    # given a file whose last row lacks its account, read two rows at a time (PostgreSQL)
    monkeypatch.setattr(store, "FILE_BATCH", 2)
    rows = [event(f"m{i}") for i in range(5)] + [event("bad", account_id=None)]
    path = write_parquet(tmp_path / "rows.parquet", rows)
    with store.connect() as opened:
        # when it is appended, it fails on that row, after the rows before it went in
        refusals = (duckdb.ConstraintException, ValueError)
        with pytest.raises(refusals, match="account_id"):
            opened.append_file(path, received_at=AT)
    # then none of its rows is there
    with store.connect() as opened:
        assert ids_in(opened) == []


# --- DuckDB: one process at a time ----------------------------------------------------


def test_a_duckdb_file_another_process_holds_is_refused_after_the_wait(duckdb_events):
    with store.connect(duckdb_events):
        pass  # the file exists, with its table
    with held_elsewhere(duckdb_events.path):
        started = time.monotonic()
        with pytest.raises(store.StoreBusy) as busy, store.connect(duckdb_events, wait=0.5):
            pass
        waited = time.monotonic() - started
    assert 0.4 < waited < 5
    assert str(busy.value).startswith(f"the event store {duckdb_events.path} is in use")


def test_a_duckdb_file_is_opened_once_the_other_process_lets_go(duckdb_events):
    with store.connect(duckdb_events) as opened:
        opened.append(eventdata.table([event("m1")]))
    with held_elsewhere(duckdb_events.path) as holder:
        assert holder.stdin is not None
        threading.Timer(1.0, holder.stdin.close).start()
        started = time.monotonic()
        with store.connect(duckdb_events, wait=20) as opened:
            waited = time.monotonic() - started
            assert ids_in(opened) == ["m1"]
    assert waited >= 0.9


# --- stores read in place -------------------------------------------------------------


def test_a_spark_store_reads_files_in_place_and_refuses_writes(spark_session, tmp_path):
    # given events as Parquet files the team has
    path = tmp_path / "lake" / "events.parquet"
    path.parent.mkdir()
    pq.write_table(eventdata.table([event("m1"), event("m2", account_id=2)]), path)
    config = events_config(f"spark://local[2]?path={path.parent}", tmp_path)
    with store.connect(config) as opened:
        # then Goodword reads them, and writes nothing there
        assert opened.read_only
        assert ids_in(opened) == ["m1", "m2"]
        with pytest.raises(store.StoreReadOnly, match="read-only"):
            opened.append(eventdata.table([event("m3")]))


def test_a_spark_table_without_the_columns_is_refused_naming_them(spark_session, tmp_path):
    path = tmp_path / "theirs.parquet"
    pq.write_table(pa.table({"id": ["a"], "account_id": ["ACC-1"], "ts": [AT]}), path)
    config = events_config(f"spark://local[2]?path={path}", tmp_path)
    with pytest.raises(store.StoreError) as refused, store.connect(config):
        pass
    message = str(refused.value)
    assert "message_id is missing" in message
    assert "account_id is string, not integer" in message
    assert "timestamp is missing" in message


def test_a_postgres_view_is_read_in_place_with_readonly(pg_events_server, tmp_path):
    # given the team's table with its own names, and a view giving the canonical ones
    with psycopg.connect(pg_events_server, autocommit=True) as db:
        db.execute("CREATE SCHEMA team")
        db.execute(
            "CREATE TABLE team.tracks (id text, account bigint, who text, name text, "
            "at timestamptz, props jsonb)"
        )
        db.execute(
            "INSERT INTO team.tracks VALUES ('t1', 7, 'u1', 'login', %s, '{\"n\": 2}')", [AT]
        )
        db.execute(
            "CREATE VIEW team.events AS SELECT id AS message_id, account AS account_id, "
            "who AS user_id, name AS event, at AS timestamp, props::text AS properties "
            "FROM team.tracks"
        )
    config = events_config(f"{pg_events_server}?schema=team&readonly=1", tmp_path)
    with store.connect(config) as opened:
        rows = opened.events().to_pyarrow().to_pylist()
        assert [(r["message_id"], r["account_id"], r["event"]) for r in rows] == [
            ("t1", 7, "login")
        ]
        with pytest.raises(store.StoreReadOnly):
            opened.append(eventdata.table([event("m1")]))
