"""Writing moments: each scan hands over what its rules found, and for which accounts (or
keys) the finding is complete; what is new is inserted, what moved is updated, and what a
complete finding no longer holds is retracted. The unique key (account, rule_id, key)
decides what is the same moment, so a repeated or concurrent write adds nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Q

from goodword.moments.models import Moment

_quoted = json.encoder.encode_basestring_ascii  # json.dumps's own quoting (C)

BATCH = 1000
SQLITE_CACHE_MB = 256
READ_BY_ACCOUNT = 20 * BATCH
EVIDENCE_MAX = 500
# A stored moment as read for comparing: id, occurred_at, contact_id, evidence, data,
# retracted_at (see _stored).
Stored = tuple[int, dt.datetime, int | None, str, dict[str, Any], dt.datetime | None]


class Found(NamedTuple):
    """A moment as a rule finds it. A tuple, not a dataclass: a full scan makes hundreds of
    thousands."""

    account_id: int
    key: str
    occurred_at: dt.datetime
    evidence: str
    data: dict[str, Any] = {}  # never changed: a finding is built once
    contact_id: int | None = None


@dataclass
class Tally:
    found: int = 0  # new moments
    moved: int = 0  # moments whose time or evidence changed (late events, edited records)
    retracted: int = 0

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.moved += other.moved
        self.retracted += other.retracted

    def as_json(self) -> dict[str, int]:
        return {"found": self.found, "moved": self.moved, "retracted": self.retracted}


# What a finding covers: for each stored moment of the rule, whether it lies inside (so a
# complete finding that lacks it retracts it). None: the finding only adds.
Scope = Callable[[int, str], bool] | None


def moments_write(
    *,
    rule_id: str,
    kind: str,
    found: Iterable[Found],
    scope: Scope,
    accounts: set[int] | None,
    now: dt.datetime,
    where: Q | None = None,
) -> Tally:
    """Insert new moments, update moved ones, and retract stored ones inside `scope` that
    `found` lacks. `accounts` narrows which stored moments are read (None: all of the
    rule's), and so does `where` (a filter on Moment): together they must take in every
    stored moment `found` or `scope` may hold. Call inside the scan's transaction.

    The rows go to the database as plain tuples through executemany: building model
    instances for bulk_create took four times as long (64 s against 16 s for 738k moments)."""
    if scope is None and accounts is None:
        # Adding only: the stored moments that matter are those of the accounts found.
        found = list(found)
        accounts = {item.account_id for item in found}
    stored = _stored(rule_id, accounts, where)
    tally = Tally()
    fresh: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    seen: set[tuple[int, str]] = set()
    for item in found:
        pair = (item.account_id, item.key)
        seen.add(pair)
        evidence = item.evidence[:EVIDENCE_MAX]
        old = stored.get(pair)
        if old is None:
            fresh.append((*pair, item.occurred_at, item.contact_id, evidence, item.data))
        elif (
            old[1] != item.occurred_at
            or old[2] != item.contact_id
            or old[3] != evidence
            or old[4] != item.data
            or old[5] is not None
        ):
            changed.append((item.occurred_at, item.contact_id, evidence, item.data, None, old[0]))
    if scope is not None:
        for pair, old in stored.items():
            if pair not in seen and old[5] is None and scope(*pair):
                changed.append((old[1], old[2], old[3], old[4], now, old[0]))
                tally.retracted += 1
    fresh.sort(key=lambda row: (row[0], row[1]))  # in index order: fewer pages touched
    _insert(rule_id, kind, fresh, now)
    _update(changed, now)
    tally.found = len(fresh)
    tally.moved = len(changed) - tally.retracted
    return tally


def _stored(
    rule_id: str, accounts: set[int] | None, where: Q | None
) -> dict[tuple[int, str], Stored]:
    """The rule's stored moments (of `accounts`, within `where`): by account in chunks for
    up to READ_BY_ACCOUNT accounts, else all of the rule's, filtered here."""
    qs = Moment.objects.filter(rule_id=rule_id).order_by()
    if where is not None:
        qs = qs.filter(where)
    parts = [qs]
    if accounts is not None and len(accounts) <= READ_BY_ACCOUNT:
        ids = sorted(accounts)
        parts = [qs.filter(account_id__in=ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)]
    out = {}
    for part in parts:
        for pk, account_id, key, *rest in part.values_list(
            "id", "account_id", "key", "occurred_at", "contact_id", "evidence", "data",
            "retracted_at",
        ):  # fmt: skip
            if accounts is None or account_id in accounts:
                out[(account_id, key)] = (pk, *rest)
    return out


@contextmanager
def write_cache() -> Iterator[None]:
    """On SQLite, a page cache of SQLITE_CACHE_MB for a scan's writes, back to the default
    after: with the default 2 MB, inserting 735,000 moments into 100,000 accounts' worth of
    indexes took 48 s, with 256 MB (and the rows in key order) 16 s."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_MB * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def statistics_refresh(added: int) -> bool:
    """Refresh the query planner's statistics of the moments table after a write that added
    a tenth of its rows or more (a full scan, a new rule), or on SQLite while it has none.
    Without them SQLite once read a few accounts' moments through an index by rule and time
    (since dropped), every moment in the readiness horizon (0.34 s a chunk of 500 accounts
    among 738,000 moments), instead of by account (8 ms): the planner guesses without them.
    ANALYZE of those 738,000 took 0.4 s. PostgreSQL's autovacuum would analyze too, but
    only later. True when it ran."""
    table, quote = _table()
    due = added > 0 and added * 10 >= Moment.objects.count()
    if not due and connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            due = cursor.fetchone() is None
            if not due:
                cursor.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = %s LIMIT 1", [table])
                due = cursor.fetchone() is None
    if due:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(table)}")
    return due


def _table() -> tuple[str, Callable[[str], str]]:
    return Moment._meta.db_table, connection.ops.quote_name


def _insert(rule_id: str, kind: str, rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """New moments; one the unique key already holds (a concurrent scan wrote it) is left."""
    if not rows:
        return
    table, qn = _table()
    columns = (
        "account_id",
        "rule_id",
        "kind",
        "key",
        "occurred_at",
        "contact_id",
        "evidence",
        "data",
        "found_at",
        "updated_at",
    )
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608 - ours
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING"
    )
    when, as_json = _adapters()
    at = when(now)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH * 10):
            cursor.executemany(
                sql,
                [
                    (
                        account_id,
                        rule_id,
                        kind,
                        key,
                        when(occurred_at),
                        contact_id,
                        evidence,
                        as_json(data),
                        at,
                        at,
                    )
                    for account_id, key, occurred_at, contact_id, evidence, data in rows[
                        start : start + BATCH * 10
                    ]
                ],
            )


def _update(rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """(occurred_at, contact_id, evidence, data, retracted_at, id) for each changed moment."""
    if not rows:
        return
    table, qn = _table()
    sets = ("occurred_at", "contact_id", "evidence", "data", "retracted_at", "updated_at")
    assignments = ", ".join(f"{qn(c)} = %s" for c in sets)
    sql = f"UPDATE {qn(table)} SET {assignments} WHERE {qn('id')} = %s"  # noqa: S608 - ours
    when, as_json = _adapters()
    at = when(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    when(occurred_at),
                    contact_id,
                    evidence,
                    as_json(data),
                    None if retracted is None else when(retracted),
                    at,
                    pk,
                )
                for occurred_at, contact_id, evidence, data, retracted, pk in rows
            ],
        )


def _adapters() -> tuple[Callable[[dt.datetime], Any], Callable[[Any], Any]]:
    """The database's own conversions, as Django's fields apply them on save. On SQLite
    the same text, made faster: a full scan writes 740,000 moments, and Django's two
    conversions took 4 of its 20 seconds of writing."""
    if connection.vendor == "sqlite":
        return sqlite_datetime, json_text
    ops = connection.ops
    return ops.adapt_datetimefield_value, lambda value: ops.adapt_json_value(value, None)


def sqlite_datetime(value: dt.datetime) -> str:
    """An aware datetime as Django stores it in SQLite with USE_TZ: naive UTC, str()."""
    if value.tzinfo is None:
        raise ValueError(f"a moment's time must have a time zone: {value.isoformat()}")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


def json_text(value: Any) -> str:
    """json.dumps(value), taking a short cut for a dict whose values are strings, whole
    numbers or finite floats (every moment's data): three times as fast."""
    if type(value) is not dict:
        return json.dumps(value)
    parts = []
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str:
            return json.dumps(value)
        if kind is str:
            parts.append(f"{_quoted(key)}: {_quoted(item)}")
        elif kind is int or (kind is float and math.isfinite(item)):
            parts.append(f"{_quoted(key)}: {item!r}")
        else:
            return json.dumps(value)
    return "{" + ", ".join(parts) + "}"


def live_moments() -> Q:
    return Q(retracted_at__isnull=True)
