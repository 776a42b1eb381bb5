"""The event store: every usage event an account's rules and charts read, through Ibis.

One table, `events`, with these columns:

    message_id   string     the idempotency key: the store holds each once
    account_id   int64      Goodword's Account pk
    user_id      string     Segment's userId, or "anon:" + anonymousId
    event        string     a track call's name; "page" or "screen" for those calls
    timestamp    timestamp  when it happened (UTC)
    properties   string     a JSON object as text ("{}" when there were none)
    received_at  timestamp  when Goodword took it in (UTC); an import's rows share one
    batch        int64      the append that added it (stores Goodword writes; see below)

Where it lives comes from GOODWORD_EVENTS_URL (config.events_config): a DuckDB file under
GOODWORD_HOME by default, a PostgreSQL table, or a Spark table or files read in place
(read-only: the worker keeps events in the database then, see moving.py).

DuckDB lets one process open a file, so it is opened for a unit of work and closed again
(`connect`), waiting with a growing backoff while another process has it, then raising
StoreBusy. Web pages never open the store; they read EventWeek.

Repeats are skipped by message_id. PostgreSQL has a primary key (INSERT … ON CONFLICT DO
NOTHING). DuckDB has none: its index would quadruple the file and slow a 10M-row load
five-fold (measured), so an append anti-joins the batch against the stored message ids,
in the one transaction the single writer the lock allows runs.

Each append is numbered (the `batches` table, its number in each row's `batch`), one at a
time: DuckDB's file lock, or PostgreSQL's advisory lock, lets one append run. So a batch
number at or below `horizon()` is committed and none can join it later, and a scan reads
exactly what arrived since the last one by batch number. (received_at cannot serve: the mover
writes the intake time, which may be older than a scan that already ran.) Rows stored before
batches existed have batch 0. A store read in place has no batches: its scans are full.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.conf import settings

from goodword.config import EventsConfig

UTC_MICROS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("account_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("timestamp", UTC_MICROS, nullable=False),
        pa.field("properties", pa.string(), nullable=False),
        pa.field("received_at", UTC_MICROS, nullable=False),
    ]
)
COLUMNS = tuple(SCHEMA.names)
# What a table read in place needs for the queries (received_at is Goodword's own).
READ_COLUMNS = {
    "message_id": "string",
    "account_id": "integer",
    "user_id": "string",
    "event": "string",
    "timestamp": "timestamp",
    "properties": "string",
}
# DuckDB spills to disk beyond this (GOODWORD_EVENTS_URL=duckdb:///…?memory_limit=2GB);
# with it, a 10M-row import into a store of 10M peaks at 0.7 GB of memory, not 1 GB.
DUCKDB_DEFAULTS = {"memory_limit": "256MB", "preserve_insertion_order": "false"}
LOCKED = "Could not set lock"
WEEK = "CAST(date_trunc('week', timestamp) AS DATE)"
INCOMING = "goodword_incoming"
NEW = f"NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = {INCOMING}.message_id)"  # noqa: S608
FILE_BATCH = 50_000

Weeks = dict[tuple[int, Any], int]  # (account_id, the week's Monday) → events


class StoreError(Exception):
    """The store cannot be used as configured (a table read in place lacks a column…)."""


class StoreBusy(StoreError):
    """Another process kept the DuckDB file past the deadline."""


class StoreReadOnly(StoreError):
    """The store is read in place (Spark, or PostgreSQL with readonly=1): nothing is written."""


@dataclass(frozen=True)
class Appended:
    """What an append did: how many rows it added, and which of the batch's message ids the
    store now holds as these very rows (same received_at), added now or by an earlier
    attempt cut off before its caller recorded it."""

    added: int
    present: frozenset[str]


class Store:
    """An open event store. Read through `events()`; written through `append`."""

    read_only = False
    tracks_arrival = True

    def __init__(self, config: EventsConfig, backend: Any) -> None:
        self.config = config
        self.backend = backend

    def events(self) -> ir.Table:
        """The events table as an Ibis expression."""
        return self.backend.table(self.config.table)

    def append(self, rows: pa.Table) -> int:
        """Add rows (SCHEMA's columns) whose message_id the store does not hold; returns how
        many were added. Raises StoreReadOnly for a store read in place."""
        return self.append_tracked(rows).added

    def append_tracked(self, rows: pa.Table) -> Appended:
        """`append`, also saying which rows are in the store as given (see Appended)."""
        raise StoreReadOnly(f"the event store ({self.config.describe()}) is read-only")

    def append_file(self, path: Path, *, received_at: dt.datetime, dry_run: bool = False) -> Weeks:
        """Add the rows of a Parquet file (SCHEMA's columns but received_at, which each row
        gets; its message ids distinct) whose message_id the store lacks, in one
        transaction: all or none are visible.
        Returns the rows added per account and week (with dry_run, those that would be,
        and nothing is written). Raises StoreReadOnly for a store read in place."""
        raise StoreReadOnly(f"the event store ({self.config.describe()}) is read-only")

    def clear(self) -> None:
        """Delete every event (the demo rebuilds its company from scratch). Raises
        StoreReadOnly for a store read in place: Goodword never deletes a team's data."""
        raise StoreReadOnly(f"the event store ({self.config.describe()}) is read-only")

    def close(self) -> None:
        """Let go of the store (for DuckDB: of the file, so another process may open it)."""

    def horizon(self) -> int:
        """The latest committed batch: every batch up to it is complete, and later appends
        get higher numbers. Raises StoreReadOnly for a store read in place."""
        raise StoreReadOnly(f"the event store ({self.config.describe()}) is read-only")


# --- DuckDB ---------------------------------------------------------------------------


class DuckDBStore(Store):
    def __init__(self, config: EventsConfig, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(config, ibis.duckdb.from_connection(con))
        self.con = con
        con.execute(
            "CREATE TABLE IF NOT EXISTS events (message_id VARCHAR NOT NULL, "
            "account_id BIGINT NOT NULL, user_id VARCHAR NOT NULL, event VARCHAR NOT NULL, "
            "timestamp TIMESTAMPTZ NOT NULL, properties VARCHAR NOT NULL, "
            "received_at TIMESTAMPTZ NOT NULL, batch BIGINT NOT NULL DEFAULT 0)"
        )
        # Stores created before batches get the column (rows so far: batch 0).
        con.execute("ALTER TABLE events ADD COLUMN IF NOT EXISTS batch BIGINT DEFAULT 0")
        con.execute(
            "CREATE TABLE IF NOT EXISTS batches (id BIGINT PRIMARY KEY, "
            "added_at TIMESTAMPTZ NOT NULL, rows BIGINT NOT NULL)"
        )

    def append_tracked(self, rows: pa.Table) -> Appended:
        batch = conform(rows)
        with self._transaction():
            self.con.register(INCOMING, batch)
            try:
                number = self._next_batch()
                added = self._insert_new(INCOMING, returning="message_id", batch=number)
                self._batch_done(number, len(added))
                present = {row[0] for row in added}
                if len(present) < batch.num_rows:
                    present |= self._same_rows(INCOMING)
            finally:
                self.con.unregister(INCOMING)
        return Appended(len(added), frozenset(present))

    def append_file(self, path: Path, *, received_at: dt.datetime, dry_run: bool = False) -> Weeks:
        # DuckDB reads the file itself: an Arrow stream handed over from Python took three
        # times the memory, and RETURNING the rows of a 10M-row insert twice that again.
        source = f"(SELECT *, $stamp AS received_at FROM read_parquet($path)) AS {INCOMING}"  # noqa: S608
        with self._transaction(commit=not dry_run):
            if dry_run:
                new = f"SELECT * FROM {source} WHERE {NEW}"  # noqa: S608
                return self._weeks(new, {"path": str(path), "stamp": received_at})
            stamp = self._free_stamp(received_at)
            number = self._next_batch()
            params = {"path": str(path), "stamp": stamp}
            found = self.con.execute(self._insert_sql(source, "", number), params).fetchone()
            self._batch_done(number, found[0] if found else 0)
            # The rows with this stamp are the ones just added: it was used by none before.
            return self._weeks("SELECT * FROM events WHERE received_at = $stamp", {"stamp": stamp})

    def clear(self) -> None:
        # The batch numbers carry on: a scan's horizon never moves backwards.
        self.con.execute("DELETE FROM events")

    def close(self) -> None:
        self.con.close()

    def horizon(self) -> int:
        # The file lock keeps every other writer out while this process has the store open.
        found = self.con.execute("SELECT coalesce(max(id), 0) FROM batches").fetchone()
        return int(found[0]) if found else 0

    def _next_batch(self) -> int:
        return self.horizon() + 1

    def _batch_done(self, number: int, rows: int) -> None:
        self.con.execute("INSERT INTO batches VALUES ($1, current_timestamp, $2)", [number, rows])

    @contextlib.contextmanager
    def _transaction(self, commit: bool = True) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT" if commit else "ROLLBACK")

    def _insert_sql(self, source: str, returning: str, batch: int) -> str:
        cols = ", ".join(COLUMNS)
        return (
            f"INSERT INTO events ({cols}, batch) SELECT {cols}, {int(batch)} FROM {source} "  # noqa: S608
            f"WHERE {NEW}" + (f" RETURNING {returning}" if returning else "")
        )

    def _insert_new(self, source: str, returning: str, batch: int) -> list[tuple[Any, ...]]:
        return self.con.execute(self._insert_sql(source, returning, batch)).fetchall()

    def _free_stamp(self, at: dt.datetime) -> dt.datetime:
        """`at`, or the next microsecond no stored row was received at (a mover's batch may
        share it); the lock keeps anyone else from taking it before the insert."""
        while self.con.execute(
            "SELECT count(*) FROM events WHERE received_at = $1", [at]
        ).fetchone() != (0,):
            at += dt.timedelta(microseconds=1)
        return at

    def _weeks(self, rows: str, params: dict[str, Any] | None = None) -> Weeks:
        found = self.con.execute(
            f"SELECT account_id, {WEEK}, count(*) FROM ({rows}) GROUP BY ALL",  # noqa: S608
            params,
        ).fetchall()
        return {(account_id, week): n for account_id, week, n in found}

    def _same_rows(self, source: str) -> set[str]:
        found = self.con.execute(
            f"SELECT b.message_id FROM {source} b JOIN events e "  # noqa: S608
            "ON e.message_id = b.message_id AND e.received_at = b.received_at"
        ).fetchall()
        return {row[0] for row in found}


def _duckdb_open(config: EventsConfig, wait: float) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying while another process holds it. Raises StoreBusy."""
    Path(config.path).parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, str | bool | int | float | list[str]] = {
        **DUCKDB_DEFAULTS,
        **dict(config.options),
    }
    deadline = time.monotonic() + wait
    pause = 0.02
    while True:
        try:
            return duckdb.connect(config.path, config=options)
        except duckdb.IOException as exc:
            if LOCKED not in str(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreBusy(
                    f"the event store {config.path} is in use by another process "
                    f"(waited {wait:g} s): {str(exc).split(': ', 1)[-1]}"
                ) from None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 1.0)


# --- PostgreSQL -----------------------------------------------------------------------


class PostgresStore(Store):
    def __init__(self, config: EventsConfig, con: psycopg.Connection[Any]) -> None:
        super().__init__(config, ibis.postgres.from_connection(con))
        self.con = con
        self.read_only = config.read_only
        self.tracks_arrival = not config.read_only
        self.name = f'"{config.schema}"."{config.table}"'
        self.batches = f'"{config.schema}"."{config.table}_batches"'
        # Appends and horizon() take this lock, so batches commit one at a time, in order.
        key = f"goodword:{config.schema}.{config.table}"
        self.lock = f"SELECT pg_advisory_xact_lock(hashtext('{key}'))"
        if not self.read_only:
            self._create()

    def events(self) -> ir.Table:
        return self.backend.table(self.config.table, database=self.config.schema)

    def _create(self) -> None:
        with self.con.transaction():
            self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.config.schema}"')
            # Byte order for message_id, as DuckDB and Spark sort it: rules break ties in
            # time by it, and a locale's collation would pick another event.
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {self.name} "
                '(message_id text COLLATE "C" PRIMARY KEY, '
                "account_id bigint NOT NULL, user_id text NOT NULL, event text NOT NULL, "
                '"timestamp" timestamptz NOT NULL, properties text NOT NULL, '
                "received_at timestamptz NOT NULL, batch bigint NOT NULL DEFAULT 0)"
            )
            self.con.execute(
                f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS batch bigint NOT NULL DEFAULT 0"
            )
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {self.batches} (id bigint PRIMARY KEY, "
                "added_at timestamptz NOT NULL, rows bigint NOT NULL)"
            )
            # Rules read one account's events of one name in time order.
            self.con.execute(
                f'CREATE INDEX IF NOT EXISTS "{self.config.table}_account_event_time" '
                f'ON {self.name} (account_id, event, "timestamp")'
            )

    def append_tracked(self, rows: pa.Table) -> Appended:
        if self.read_only:
            return super().append_tracked(rows)
        batch = conform(rows)
        with self.con.transaction():
            self._stage([batch])
            number = self._next_batch()
            found = self.con.execute(self._insert_sql("message_id", number)).fetchall()
            added = {r[0] for r in found}
            self._batch_done(number, len(added))
            present = set(added)
            if len(added) < batch.num_rows:
                present |= self._same_rows()
        return Appended(len(added), frozenset(present))

    def append_file(self, path: Path, *, received_at: dt.datetime, dry_run: bool = False) -> Weeks:
        if self.read_only:
            return super().append_file(path, received_at=received_at)
        stamp = pa.scalar(received_at, UTC_MICROS)
        batches = (
            part.append_column("received_at", pa.repeat(stamp, part.num_rows))
            for part in pq.ParquetFile(path, pre_buffer=False).iter_batches(
                batch_size=FILE_BATCH, columns=list(COLUMNS[:-1])
            )
        )
        with self.con.transaction(force_rollback=dry_run):
            self._stage(batches)
            number = self._next_batch()
            # The grouping runs on the rows the INSERT returned, so it counts what it added.
            found = self.con.execute(
                f"WITH added AS ({self._insert_sql('account_id, timestamp', number)}) "  # noqa: S608
                "SELECT account_id, CAST(date_trunc('week', timestamp) AS date), count(*) "
                "FROM added GROUP BY 1, 2"
            ).fetchall()
            self._batch_done(number, sum(n for _, _, n in found))
        return {(account_id, week): n for account_id, week, n in found}

    def clear(self) -> None:
        if self.read_only:
            super().clear()
        self.con.execute(f"TRUNCATE {self.name}")

    def close(self) -> None:
        self.con.close()

    def horizon(self) -> int:
        if self.read_only:
            return super().horizon()
        with self.con.transaction():
            # Waits for an append in flight: its batch is then committed or gone.
            self.con.execute(self.lock)
            row = self.con.execute(f"SELECT coalesce(max(id), 0) FROM {self.batches}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def _next_batch(self) -> int:
        """The next batch number, taking the append lock until the transaction ends."""
        self.con.execute(self.lock)
        row = self.con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {self.batches}").fetchone()  # noqa: S608
        return int(row[0]) if row else 1

    def _batch_done(self, number: int, rows: int) -> None:
        self.con.execute(
            f"INSERT INTO {self.batches} VALUES (%s, now(), %s)",  # noqa: S608
            (number, rows),
        )

    def _stage(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> None:
        self.con.execute(
            f"CREATE TEMP TABLE {INCOMING} (message_id text, account_id bigint, "
            "user_id text, event text, timestamp timestamptz, properties text, "
            "received_at timestamptz) ON COMMIT DROP"
        )
        options = pacsv.WriteOptions(include_header=False)
        with self.con.cursor().copy(f"COPY {INCOMING} FROM STDIN (FORMAT csv)") as copy:
            for batch in batches:
                buffer = io.BytesIO()
                pacsv.write_csv(conform(batch), buffer, options)
                copy.write(buffer.getbuffer())

    def _insert_sql(self, returning: str, batch: int) -> str:
        cols = ", ".join(f'"{c}"' for c in COLUMNS)
        return (
            f"INSERT INTO {self.name} ({cols}, batch) "  # noqa: S608
            f"SELECT {cols}, {int(batch)} FROM {INCOMING} "
            f"ON CONFLICT (message_id) DO NOTHING RETURNING {returning}"
        )

    def _same_rows(self) -> set[str]:
        found = self.con.execute(
            f"SELECT i.message_id FROM {INCOMING} i JOIN {self.name} e "  # noqa: S608
            "ON e.message_id = i.message_id AND e.received_at = i.received_at"
        ).fetchall()
        return {row[0] for row in found}


# --- Spark ----------------------------------------------------------------------------


class SparkStore(Store):
    """A table or files of the team's, read in place; never written."""

    read_only = True
    tracks_arrival = False
    VIEW = "goodword_events"

    def events(self) -> ir.Table:
        if not self.config.source:
            *database, table = self.config.table.split(".")
            return self.backend.table(table, database=".".join(database) or None)
        return self.backend.table(self.VIEW)


def _spark_session(config: EventsConfig) -> Any:
    # Imported here: PySpark is the spark extra, needed only with a Spark store.
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(config.master)
        .appName("goodword")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if config.master.startswith("local"):
        # Python workers (should a query need one) run this interpreter, not the system's.
        builder = builder.config("spark.pyspark.python", sys.executable)
    for key, value in config.options:
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _spark_open(config: EventsConfig) -> SparkStore:
    session = _spark_session(config)
    if config.source:
        frame = session.read.format(config.source_format).load(config.source)
        frame.createOrReplaceTempView(SparkStore.VIEW)
    return SparkStore(config, ibis.pyspark.connect(session))


# --- opening --------------------------------------------------------------------------


@contextlib.contextmanager
def connect(config: EventsConfig | None = None, *, wait: float = 30.0) -> Iterator[Store]:
    """The store settings.EVENTS_STORE names (or `config`), open for one unit of work.
    Creates the table in a store Goodword writes; checks the columns of one read in place.
    Raises StoreBusy when a DuckDB file stays locked `wait` seconds, StoreError when a table
    read in place lacks a column the queries need."""
    config = config or settings.EVENTS_STORE
    store = _open(config, wait)
    try:
        if store.read_only:
            check_columns(store.events(), config)
        yield store
    finally:
        store.close()


def append(rows: pa.Table, *, wait: float = 30.0) -> int:
    """Open the configured store, add the rows it does not hold, close it; returns how many
    were added. Raises StoreBusy, StoreReadOnly (see Store.append)."""
    with connect(wait=wait) as store:
        return store.append(rows)


def _open(config: EventsConfig, wait: float) -> Store:
    if config.backend == "duckdb":
        return DuckDBStore(config, _duckdb_open(config, wait))
    if config.backend == "postgres":
        return PostgresStore(config, psycopg.connect(config.dsn, autocommit=True))
    return _spark_open(config)


def check_columns(table: ir.Table, config: EventsConfig) -> None:
    """Raises StoreError naming each column a table read in place lacks or has of a type the
    queries cannot use."""
    schema = table.schema()
    problems = []
    for name, kind in READ_COLUMNS.items():
        dtype = schema.get(name)
        if dtype is None:
            problems.append(f"{name} is missing")
        elif not getattr(dtype, f"is_{kind}")():
            problems.append(f"{name} is {dtype}, not {kind}")
    if problems:
        raise StoreError(
            f"the events in {config.describe()} cannot be read: {'; '.join(problems)}. "
            "Point GOODWORD_EVENTS_URL at a view that renames and casts your columns "
            "(see the README's Event store section)."
        )


def conform(rows: pa.Table | pa.RecordBatch) -> pa.Table:
    """The rows with SCHEMA's columns and types ("{}" for missing properties), each
    message_id once (its first row)."""
    table = pa.Table.from_batches([rows]) if isinstance(rows, pa.RecordBatch) else rows
    table = table.select(list(COLUMNS))
    properties = pc.fill_null(table["properties"].cast(pa.string()), "{}")
    table = table.set_column(COLUMNS.index("properties"), "properties", properties).cast(SCHEMA)
    if pc.count_distinct(table["message_id"]).as_py() < table.num_rows:
        numbered = pa.table({"message_id": table["message_id"], "i": range(table.num_rows)})
        first = numbered.group_by("message_id").aggregate([("i", "min")])["i_min"]
        table = table.take(pc.sort_indices(first))
    return table
