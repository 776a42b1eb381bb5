"""Moving accepted events to the event store: each once, marked and counted per week once,
whether the mover runs again after being cut off, races another, or meets an event the store
already has from an import."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from django.db import connection

from goodword.config import events_config
from goodword.crm.models import Account
from goodword.signals import store
from goodword.signals.models import Event, EventState, EventWeek
from goodword.signals.moving import (
    _mark_stored,
    events_move,
    eventweek_add,
    monday,
    store_rows,
)
from goodword.signals.segment import Parsed
from goodword.signals.services import events_ingest
from goodword.signals.tests import eventdata
from goodword.signals.tests.eventdata import held_elsewhere, scratch_database

UTC = dt.UTC
WED = dt.datetime(2025, 1, 1, 9, tzinfo=UTC)  # week of Monday 2024-12-30
NEXT_MON = dt.datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
RECEIVED = dt.datetime(2025, 1, 10, tzinfo=UTC)


def call(message_id: str, kind: str = "track", at: dt.datetime = WED, **more: Any) -> Parsed:
    return Parsed(
        message_id=message_id,
        type=kind,
        user_key=more.get("user_key", "user:u1"),
        event=more.get("event", "report_created" if kind == "track" else ""),
        group_id="ACC-1",
        properties=more.get("properties", {}),
        timestamp=at,
    )


def stored(config: Any) -> list[dict[str, Any]]:
    with store.connect(config) as opened:
        rows: list[dict[str, Any]] = opened.events().order_by("message_id").to_pyarrow().to_pylist()
    return rows


def weeks() -> dict[tuple[int, dt.date], int]:
    return {(w.account_id, w.week): w.events for w in EventWeek.objects.all()}


def states() -> dict[str, str]:
    return dict(Event.objects.values_list("message_id", "state"))


def test_placed_events_move_once_and_are_counted_per_week(events_store, account):
    # given a track call this week, a page view next week and an identify call, all placed
    events_ingest(
        events=[
            call("t1", properties={"n": 2}),
            call("p1", "page", NEXT_MON, event="Pricing", user_key="anon:a1"),
            call("i1", "identify"),
        ],
        received_at=RECEIVED,
    )
    # when the mover runs, twice
    moved, again = events_move(), events_move()
    # then all three leave the queue; the two activity events are in the store once
    assert (moved, again) == (3, 0)
    assert set(states().values()) == {EventState.STORED}
    rows = stored(events_store)
    assert [
        (r["message_id"], r["account_id"], r["user_id"], r["event"], r["properties"]) for r in rows
    ] == [
        ("p1", account.pk, "anon:a1", "page", '{"name":"Pricing"}'),
        ("t1", account.pk, "u1", "report_created", '{"n":2}'),
    ]
    assert {r["timestamp"] for r in rows} == {WED, NEXT_MON}
    assert {r["received_at"] for r in rows} == {RECEIVED}
    assert weeks() == {
        (account.pk, dt.date(2024, 12, 30)): 1,
        (account.pk, dt.date(2025, 1, 6)): 1,
    }


def test_a_batch_stored_before_the_mover_was_cut_off_is_marked_and_counted_once(
    events_store, account
):
    # given two placed events the store took before their mover died (nothing marked)
    events_ingest(events=[call("a"), call("b")], received_at=RECEIVED)
    placed = list(Event.objects.order_by("id").values())
    with store.connect() as opened:
        assert opened.append(store_rows(placed)) == 2
    # when the mover runs again, with a third event placed meanwhile
    events_ingest(events=[call("c")], received_at=RECEIVED)
    assert events_move() == 3
    # then each is in the store once, and counted once
    assert [r["message_id"] for r in stored(events_store)] == ["a", "b", "c"]
    assert weeks() == {(account.pk, dt.date(2024, 12, 30)): 3}


def test_an_event_the_store_has_from_an_import_is_not_counted_again(events_store, account):
    # given x imported (and counted) earlier
    imported = eventdata.table(
        [
            {
                "message_id": "x",
                "account_id": account.pk,
                "user_id": "u1",
                "event": "report_created",
                "timestamp": WED,
                "properties": "{}",
                "received_at": WED,
            }
        ]
    )
    with store.connect() as opened:
        opened.append(imported)
    eventweek_add(weeks={(account.pk, monday(WED)): 1})
    # when the same event arrives through the intake and is moved
    events_ingest(events=[call("x")], received_at=RECEIVED)
    assert events_move() == 1
    # then it is marked stored, and neither stored nor counted twice
    assert states() == {"x": EventState.STORED}
    assert [(r["message_id"], r["received_at"]) for r in stored(events_store)] == [("x", WED)]
    assert weeks() == {(account.pk, dt.date(2024, 12, 30)): 1}


def test_a_row_another_mover_marked_meanwhile_is_not_marked_or_counted_again(events_store, account):
    events_ingest(events=[call("a"), call("b")], received_at=RECEIVED)
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))
    # given another mover marked a first
    assert _mark_stored(ids[:1]) == {ids[0]}
    # when this one marks both
    # then it gets only b
    assert _mark_stored(ids) == {ids[1]}


def test_eventweek_adds_to_the_week_and_drops_deleted_accounts(db, account, other_account):
    eventweek_add(weeks={(account.pk, dt.date(2024, 12, 30)): 2})
    gone = other_account.pk
    Account.objects.filter(pk=gone).delete()
    eventweek_add(weeks={(account.pk, dt.date(2024, 12, 30)): 3, (gone, dt.date(2024, 12, 30)): 5})
    assert weeks() == {(account.pk, dt.date(2024, 12, 30)): 5}


def test_events_stay_placed_while_another_process_has_the_store(
    duckdb_events, settings, account, caplog
):
    settings.EVENTS_STORE = duckdb_events
    with store.connect(duckdb_events):
        pass
    events_ingest(events=[call("a")], received_at=RECEIVED)
    with held_elsewhere(duckdb_events.path), caplog.at_level(logging.INFO):
        assert events_move() == 0
    assert states() == {"a": EventState.PLACED}
    assert "events not moved this turn: the event store" in caplog.text
    # and the next turn moves them
    assert events_move() == 1


def test_with_a_store_read_in_place_events_stay_in_the_database(
    settings, account, tmp_path, caplog, monkeypatch
):
    settings.EVENTS_STORE = events_config(f"spark://local[2]?path={tmp_path}", tmp_path)
    monkeypatch.setattr("goodword.signals.moving._told_read_only", False)
    events_ingest(events=[call("a")], received_at=RECEIVED)
    with caplog.at_level(logging.WARNING):
        assert events_move() == 0
        assert events_move() == 0
    assert states() == {"a": EventState.PLACED}
    assert caplog.text.count("is read in place: accepted events stay in the database") == 1


@pytest.mark.parametrize("limit", [1, 2])
def test_the_mover_works_through_full_batches(events_store, account, limit):
    events_ingest(events=[call(f"m{i}") for i in range(5)], received_at=RECEIVED)
    assert events_move(limit=limit, rounds=2) == 2 * limit
    assert events_move(limit=limit, rounds=10) == 5 - 2 * limit
    assert len(stored(events_store)) == 5
    assert weeks() == {(account.pk, dt.date(2024, 12, 30)): 5}


# --- a real worker, killed mid-move -------------------------------------------------------

KILL_EVENTS = 40_000  # 8 batches: each kill costs one or two, a run to the end the rest
KILL_ATTEMPTS = 4
POPULATE = """
import datetime as dt, sys
from goodword.cli import setup_django
setup_django()
from django.utils import timezone
from goodword.crm.models import Account
from goodword.signals.models import Event
now = timezone.now()
account = Account.objects.create(external_id="ACC-K", name="Kill", created_at=now, updated_at=now)
start = dt.datetime(2024, 12, 20, tzinfo=dt.UTC)
Event.objects.bulk_create(
    (
        Event(message_id=f"k{i}", type="track", event="e", user_key=f"user:u{i % 50}",
              group_id="ACC-K", account=account, properties={"i": i},
              timestamp=start + dt.timedelta(minutes=i), received_at=now, state="placed")
        for i in range(int(sys.argv[1]))
    ),
    batch_size=2000,
)
"""


@dataclass
class Install:
    """A Goodword install of its own (home, database) whose worker the test starts and kills."""

    home: Path
    env: dict[str, str]
    database: str  # the SQLite file, or the PostgreSQL URL

    def run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, done.stderr

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.database.startswith("postgresql://"):
            with psycopg.connect(self.database) as db:
                return db.execute(sql).fetchall()
        lite = sqlite3.connect(self.database)
        try:
            return lite.execute(sql).fetchall()
        finally:
            lite.close()

    def stored(self) -> int:
        return int(self.query("SELECT count(*) FROM signals_event WHERE state = 'stored'")[0][0])

    def store_rows(self) -> list[tuple[Any, ...]]:
        """(message_id, week) of every row in the install's event store."""
        path = self.home / "events.duckdb"
        if not path.exists():
            return []
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(
                "SELECT message_id, CAST(date_trunc('week', timestamp) AS DATE) FROM events"
            ).fetchall()
        finally:
            con.close()


@pytest.fixture
def install(tmp_path) -> Iterator[Install]:
    """Its own home and database: a SQLite file, or on PostgreSQL a database of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GOODWORD_EVENTS_URL")}
    env |= {"GOODWORD_HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "goodword.settings"}
    env |= {"DEBUG": "1"}
    if connection.vendor != "postgresql":
        yield _migrated(Install(tmp_path, env, str(tmp_path / "goodword.sqlite3")))
        return
    with scratch_database("goodword_move_kill") as url:
        yield _migrated(Install(tmp_path, env | {"DATABASE_URL": url}, url))


def _migrated(install: Install) -> Install:
    install.run(GOODWORD, "migrate")
    install.run(sys.executable, "-c", POPULATE, str(KILL_EVENTS))
    return install


GOODWORD = str(Path(sys.executable).with_name("goodword"))


def kill_mid_move(install: Install) -> tuple[int, int]:
    """Start a worker and SIGKILL it as soon as its store commits a batch after the first
    it marked: the store's write-ahead log growing, then holding still, is that commit.
    Returns (events marked stored, rows in the store)."""
    before = install.stored()
    wal = install.home / "events.duckdb.wal"
    worker = subprocess.Popen(
        [GOODWORD, "worker", "--interval", "0.2"],
        env=install.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while install.stored() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        # Growth only: closing the store at the end of a turn checkpoints the log away.
        logged = _size(wal)
        while _size(wal) <= logged and time.monotonic() < deadline:
            time.sleep(0.001)
        # The commit is whole once the log stops growing; marking then takes ~30 ms more.
        while (size := _size(wal)) != logged:
            logged = size
            time.sleep(0.004)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    return install.stored(), len(install.store_rows())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_a_worker_killed_mid_move_loses_and_doubles_nothing(install):
    # given 40,000 placed events; when a real worker is killed with SIGKILL right after its
    # store took a batch, before the database marked it (twice, or up to four tries: on a
    # loaded machine a kill may land elsewhere in the batch)
    between = []
    for _ in range(KILL_ATTEMPTS):
        marked, in_store = kill_mid_move(install)
        assert in_store >= marked  # the store commits first: it never lags
        between.append(in_store > marked)
        if between.count(True) == 2:
            break
    assert any(between), "no kill fell between the store's commit and the database's"
    # when a worker then runs to the end
    while install.query("SELECT count(*) FROM signals_event WHERE state = 'placed'")[0][0]:
        install.run(GOODWORD, "worker", "--once")
    # then the store holds every event once, and the weekly counts are the store's
    rows = install.store_rows()
    assert len(rows) == len({m for m, _ in rows}) == KILL_EVENTS
    assert install.stored() == KILL_EVENTS
    per_week = Counter(week for _, week in rows)
    counted = install.query("SELECT week, events FROM signals_eventweek")
    assert {_date(w): n for w, n in counted} == dict(per_week)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
