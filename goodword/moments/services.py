"""Writing moments: each scan hands over what its rules found, and for which accounts (or
keys) the finding is complete; what is new is inserted, what moved is updated, and what a
complete finding no longer holds is retracted. The unique key (account, rule_id, key)
decides what is the same moment, so a repeated or concurrent write adds nothing twice.

What a rule found travels as an Arrow table (FINDINGS), built column by column: a full
scan finds some 740,000 moments, and one Python object each, with its evidence formatted
and its data turned into JSON row by row, cost 9 of the scan's 63 seconds. Only the
findings that meet a stored moment become Python values, to be compared."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection
from django.db.models import Q

from goodword.moments.models import Moment

_quoted = json.encoder.encode_basestring_ascii  # json.dumps's own quoting (C)

BATCH = 1000
SQLITE_CACHE_MB = 256
READ_BY_ACCOUNT = 20 * BATCH
EVIDENCE_MAX = 500
UTC_US = pa.timestamp("us", tz="UTC")
# What a rule found, one row per moment; data is its JSON text (as json_text writes it).
FINDINGS = pa.schema(
    [
        ("account_id", pa.int64()),
        ("key", pa.string()),
        ("occurred_at", UTC_US),
        ("contact_id", pa.int64()),
        ("evidence", pa.string()),
        ("data", pa.string()),
    ]
)
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


def findings(items: Iterable[Found]) -> pa.Table:
    """Found tuples as a FINDINGS table: for the rules that find a few moments per record."""
    items = list(items)
    return pa.table(
        {
            "account_id": [f.account_id for f in items],
            "key": [f.key for f in items],
            "occurred_at": [f.occurred_at for f in items],
            "contact_id": [f.contact_id for f in items],
            "evidence": [f.evidence for f in items],
            "data": [json_text(f.data) for f in items],
        },
        schema=FINDINGS,
    )


NO_FINDINGS = FINDINGS.empty_table()


def found_in(table: pa.Table) -> list[Found]:
    """A FINDINGS table as Found tuples (for the backtest, which reads them one by one)."""
    return [
        Found(account_id, key, at, evidence, json.loads(data), contact_id)
        for account_id, key, at, contact_id, evidence, data in zip(
            *(table[name].to_pylist() for name in FINDINGS.names), strict=True
        )
    ]


def moments_write(
    *,
    rule_id: str,
    kind: str,
    found: pa.Table,
    scope: Scope,
    accounts: set[int] | None,
    now: dt.datetime,
    where: Q | None = None,
) -> Tally:
    """Insert new moments, update moved ones, and retract stored ones inside `scope` that
    `found` (FINDINGS) lacks. `accounts` narrows which stored moments are read (None: all
    of the rule's), and so does `where` (a filter on Moment): together they must take in
    every stored moment `found` or `scope` may hold. Call inside the scan's transaction.

    The rows go to the database as plain tuples through executemany: building model
    instances for bulk_create took four times as long (64 s against 16 s for 738k moments)."""
    found = found.select(FINDINGS.names).cast(FINDINGS)
    found = found.set_column(
        4, "evidence", pc.utf8_slice_codeunits(found["evidence"], 0, EVIDENCE_MAX)
    )
    if scope is None and accounts is None:
        # Adding only: the stored moments that matter are those of the accounts found.
        accounts = set(pc.unique(found["account_id"]).to_pylist())
    stored = _stored(rule_id, accounts, where)
    tally = Tally()
    changed: list[tuple[Any, ...]] = []
    fresh = found
    if stored:  # else all is new, and there is nothing to retract
        pairs = list(zip(found["account_id"].to_pylist(), found["key"].to_pylist(), strict=True))
        known = pa.array([pair in stored for pair in pairs], pa.bool_())
        fresh = found.filter(pc.invert(known))
        met = found.filter(known)
        for account_id, key, at, contact_id, evidence, data in zip(
            *(met[name].to_pylist() for name in FINDINGS.names), strict=True
        ):
            old = stored[(account_id, key)]
            values = json.loads(data)
            if (
                old[1] != at
                or old[2] != contact_id
                or old[3] != evidence
                or old[5] is not None
                or old[4] != values
            ):
                changed.append((at, contact_id, evidence, values, None, old[0]))
        if scope is not None:
            seen = set(pairs)
            for pair, old in stored.items():
                if pair not in seen and old[5] is None and scope(*pair):
                    changed.append((old[1], old[2], old[3], old[4], now, old[0]))
                    tally.retracted += 1
    # In index order: fewer pages touched.
    fresh = fresh.sort_by([("account_id", "ascending"), ("key", "ascending")])
    _insert(rule_id, kind, fresh, now)
    _update(changed, now)
    tally.found = fresh.num_rows
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
    table, quote = moments_table()
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


def moments_table() -> tuple[str, Callable[[str], str]]:
    """The moments table's name, and the database's quoting of names."""
    return Moment._meta.db_table, connection.ops.quote_name


def _insert(rule_id: str, kind: str, rows: pa.Table, now: dt.datetime) -> None:
    """New moments (FINDINGS); one the unique key already holds (a concurrent scan wrote
    it) is left."""
    if not rows.num_rows:
        return
    table, qn = moments_table()
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
    when, _ = _adapters()
    # What is the same on every row is written into the statement, quoted as Django quotes
    # a column's default, not bound to each row: 0.9 s less for 740,000 moments on SQLite.
    editor = connection.schema_editor()
    same = [editor.quote_value(v).replace("%", "%%") for v in (rule_id, kind, when(now))]
    values = ["%s", same[0], same[1], "%s", "%s", "%s", "%s", "%s", same[2], same[2]]
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608 - quoted
        f"VALUES ({', '.join(values)}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        for start in range(0, rows.num_rows, BATCH * 10):  # Python values a chunk at a time
            chunk = rows.slice(start, BATCH * 10)
            if connection.vendor == "sqlite":
                times: list[Any] = sqlite_datetimes(chunk["occurred_at"]).to_pylist()
            else:
                times = [when(value) for value in chunk["occurred_at"].to_pylist()]
            cursor.executemany(
                sql,
                list(
                    zip(
                        chunk["account_id"].to_pylist(),
                        chunk["key"].to_pylist(),
                        times,
                        chunk["contact_id"].to_pylist(),
                        chunk["evidence"].to_pylist(),
                        chunk["data"].to_pylist(),  # JSON text: either database takes it
                        strict=True,
                    )
                ),
            )


def _update(rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """(occurred_at, contact_id, evidence, data, retracted_at, id) for each changed moment."""
    if not rows:
        return
    table, qn = moments_table()
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


def sqlite_datetimes(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """sqlite_datetime of each time (UTC_US), computed by Arrow: its cast of a time to text
    is ISO with the microseconds always (twenty times as fast as its strftime)."""
    text = pc.replace_substring(_utc_text(values), pattern=".000000", replacement="")
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def utc_minutes(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Each time (UTC_US) as "YYYY-MM-DD HH:MM", as f"{value:%Y-%m-%d %H:%M}" writes it."""
    return pc.utf8_slice_codeunits(_utc_text(values), 0, 16)


def _utc_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Each time (UTC_US) as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC."""
    return values.cast(pa.timestamp("us")).cast(pa.string())


# JSON's own characters that json.dumps writes as they are: printable ASCII but " and \.
_PLAIN = r"\A[ !#-\[\]-~]*\z"


def json_strings(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each string as JSON text, quoted as json.dumps quotes it (null: null). Arrow joins
    the quotes around plain strings; Python quotes the few others."""
    values = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    values = values.combine_chunks()
    plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN), False)
    out = pc.binary_join_element_wise('"', values, '"', "")
    if pc.all(plain).as_py():
        return out
    other = pc.invert(plain)
    quoted = [json.dumps(v) for v in values.filter(other).to_pylist()]
    return pc.replace_with_mask(out, other, pa.array(quoted, pa.string()))


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
