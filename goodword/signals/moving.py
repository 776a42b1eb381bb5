"""Moving accepted events from the database into the event store, and the weekly counts
(EventWeek) pages chart instead of opening the store.

`events_move` appends a batch of placed events to the store, which commits, and then, in
one database transaction, marks exactly those rows stored with a conditional UPDATE and adds
them to EventWeek. A worker killed between the two commits leaves the rows placed; the next
move appends them again, the store skips them by message_id and says they are there as these
very rows (same received_at), so they are marked and counted once. Several workers may run
it: the store's lock (DuckDB) or primary key (PostgreSQL) keeps the store right, and the
conditional UPDATE gives each row to one of them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction

from goodword.crm.models import Account
from goodword.signals.models import Event, EventState, EventType, EventWeek

if TYPE_CHECKING:
    import pyarrow as pa

    from goodword.signals.store import Store

log = logging.getLogger(__name__)

BATCH = 5000
ROUNDS = 20  # batches one call moves at most, so an upkeep turn ends even under load
WAIT = 2.0  # seconds to wait for a DuckDB file another process has (an import, a CLI)
ACTIVITY = (EventType.TRACK, EventType.PAGE, EventType.SCREEN)
FIELDS = ("id", "message_id", "type", "event", "user_key", "account_id", "properties")
TIMES = ("timestamp", "received_at")
CHUNK = 300  # rows per statement: 900 parameters

_told_read_only = False


def events_move(*, limit: int = BATCH, rounds: int = ROUNDS) -> int:
    """Move placed events to the event store, `limit` at a time, until none are left or
    `rounds` batches moved; returns how many rows were marked stored. Track, page and screen
    calls go to the store and into EventWeek; identify and group calls (who belongs where,
    not activity) are only marked. With a store read in place nothing moves (logged once).
    A store another process holds is left for the next turn (logged)."""
    if settings.EVENTS_STORE.read_only:
        _tell_read_only()
        return 0
    if not Event.objects.filter(state=EventState.PLACED).exists():
        return 0  # the store is not opened (nor its file locked) for nothing
    # Imported here: Ibis, DuckDB and Arrow take a second to load, which web processes
    # (they load this module with the app) should not pay.
    from goodword.signals import store

    moved = 0
    try:
        with store.connect(wait=WAIT) as opened:
            for _ in range(rounds):
                marked, full = _move_batch(opened, limit)
                moved += marked
                if not full:
                    break
    except store.StoreBusy as exc:
        log.info("events not moved this turn: %s", exc)
    return moved


def _move_batch(opened: Store, limit: int) -> tuple[int, bool]:
    rows = list(
        Event.objects.filter(state=EventState.PLACED).order_by("id").values(*FIELDS, *TIMES)[:limit]
    )
    if not rows:
        return 0, False
    activity = [r for r in rows if r["type"] in ACTIVITY]
    present = opened.append_tracked(store_rows(activity)).present if activity else frozenset()
    with transaction.atomic():
        marked = _mark_stored([r["id"] for r in rows])
        counted = [r for r in activity if r["id"] in marked and r["message_id"] in present]
        eventweek_add(weeks=count_weeks((r["account_id"], r["timestamp"]) for r in counted))
    return len(marked), len(rows) == limit


def store_rows(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Event rows (as values() gives them) as the store's columns. A page or screen call's
    name goes into its properties as Segment's spec has it ("name"), unless they name one."""
    import pyarrow as pa

    from goodword.signals.store import SCHEMA

    return pa.table(
        {
            "message_id": [r["message_id"] for r in rows],
            "account_id": [r["account_id"] for r in rows],
            "user_id": [r["user_key"].removeprefix("user:") for r in rows],
            "event": [r["event"] if r["type"] == EventType.TRACK else r["type"] for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            "properties": [_properties(r) for r in rows],
            "received_at": [r["received_at"] for r in rows],
        },
        schema=SCHEMA,
    )


def _properties(row: Mapping[str, Any]) -> str:
    properties = row["properties"]
    if row["type"] != EventType.TRACK and row["event"] and "name" not in properties:
        properties = {**properties, "name": row["event"]}
    return json.dumps(properties, separators=(",", ":"), default=str)


def _mark_stored(ids: list[int]) -> set[int]:
    """placed → stored for these rows; returns the ids this call changed (a row another
    worker marked meanwhile is not among them)."""
    table = Event._meta.db_table
    marked: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            cursor.execute(
                f"UPDATE {table} SET state = %s "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(part))}) AND state = %s RETURNING id",
                [EventState.STORED, *part, EventState.PLACED],
            )
            marked.update(row[0] for row in cursor.fetchall())
    return marked


def _tell_read_only() -> None:
    global _told_read_only
    if not _told_read_only:
        _told_read_only = True
        log.warning(
            "the event store (%s) is read in place: accepted events stay in the database",
            settings.EVENTS_STORE.describe(),
        )


# --- EventWeek ------------------------------------------------------------------------


def monday(at: dt.datetime) -> dt.date:
    """The Monday (UTC) of the ISO week `at` falls in."""
    day = at.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def count_weeks(events: Iterable[tuple[int, dt.datetime]]) -> Counter[tuple[int, dt.date]]:
    """(account_id, timestamp) pairs counted per account and week."""
    return Counter((account_id, monday(at)) for account_id, at in events)


def eventweek_add(*, weeks: Mapping[tuple[int, dt.date], int]) -> None:
    """Add events to EventWeek: INSERT … ON CONFLICT DO UPDATE SET events = events + n, so
    concurrent adders never lose a count. Weeks of an account deleted meanwhile are dropped.
    Call it inside the transaction that records why the events count."""
    items = [(a, w, n) for (a, w), n in weeks.items() if n]
    adapt = connection.ops.adapt_datefield_value
    week_table, account_table = EventWeek._meta.db_table, Account._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(items), CHUNK):
            part = items[start : start + CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(part))
            # WHERE true: SQLite needs it to tell the upsert's ON from a join's.
            cursor.execute(
                f"INSERT INTO {week_table} (account_id, week, events) "  # noqa: S608
                f"SELECT v.column1, v.column2, v.column3 FROM (VALUES {values}) AS v "
                f"JOIN {account_table} a ON a.id = v.column1 WHERE true "
                "ON CONFLICT (account_id, week) "
                f"DO UPDATE SET events = {week_table}.events + excluded.events",
                [x for a, w, n in part for x in (a, adapt(w), n)],
            )
