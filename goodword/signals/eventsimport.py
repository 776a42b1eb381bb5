"""Importing usage events in bulk from a .parquet, .csv or .jsonl file (.csv.gz and .jsonl.gz
too): all or nothing, into the event store.

Columns: message_id, account_external_id, user_id, event, timestamp (ISO 8601 with a time
zone, or a Parquet timestamp with one) and properties (a JSON object; may be empty).

The file is read in batches of BATCH rows; DuckDB checks each batch (in memory, against the
accounts by external id) and the checked rows go to a Parquet file of the import's own under
GOODWORD_HOME/tmp, while every problem goes to the report as FILE:ROW: column: reason. Rows
are counted as a person would: the CSV header is row 1, a JSONL file's lines and a Parquet
file's rows count from 1. Only when the whole file is good are its rows added to the store,
which reads that Parquet file in one transaction that skips message ids it holds (so
importing a file again adds nothing). Memory does not grow with the file: a batch in Python,
DuckDB's memory limits for the rest (the repeat check and the store's insert spill to disk).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import itertools
import json
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from goodword.crm.io.report import ImportFileError, ImportRefused, ImportReport
from goodword.crm.models import Account
from goodword.signals import store
from goodword.signals.moving import eventweek_add
from goodword.signals.services import ingest_log_write

BATCH = 100_000
REPEAT_PASS = 1_000_000  # rows whose message ids one pass of the repeat check groups
REQUIRED = ("message_id", "account_external_id", "user_id", "event", "timestamp")
COLUMNS = (*REQUIRED, "properties")
LONGEST = {"message_id": 200, "account_external_id": 200, "user_id": 210, "event": 200}
SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz")
STAGE_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    "memory_limit": "256MB",
    "threads": 2,
    "preserve_insertion_order": False,
}
WAIT = 120.0  # seconds to wait for the store while the worker moves a batch

Progress = Callable[[int], None]


def import_events(
    path: str | os.PathLike[str], *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Add the events of the file at `path` to the event store; `progress` is called with
    the bytes read since its last call. The report counts rows read, `created` (added),
    `unchanged` (their message_id was in the store already) and `refused` (bad rows).

    Raises ImportRefused (nothing written) when any row is bad, unless dry_run, which
    returns the report with its errors and writes nothing either way. Raises ImportFileError
    when the file cannot be read, store.StoreReadOnly when the store is read in place, and
    store.StoreBusy when another process keeps the store past a deadline."""
    if settings.EVENTS_STORE.read_only:
        raise store.StoreReadOnly(
            f"the event store ({settings.EVENTS_STORE.describe()}) is read in place: "
            "add the events to it there"
        )
    report = ImportReport(kind="events", path=str(path), dry_run=dry_run)
    received_at = timezone.now()
    with _open(Path(path)) as raw, _staging() as stage:
        for batch in _read(Path(path), raw, report, progress):
            stage.check(batch, report)
        stage.finish(report)
        if not report.ok:
            if dry_run:
                return report
            raise ImportRefused(report)
        return _commit(stage, report, received_at)


def _commit(stage: Stage, report: ImportReport, received_at: dt.datetime) -> ImportReport:
    if not report.rows:
        return report  # an empty file (a header, or nothing) adds nothing
    with store.connect(wait=WAIT) as opened:
        weeks = opened.append_file(stage.path, received_at=received_at, dry_run=report.dry_run)
    report.created = sum(weeks.values())
    report.unchanged = report.rows - report.created
    if not report.dry_run:
        with transaction.atomic():
            eventweek_add(weeks=weeks)
            ingest_log_write(
                at=received_at,
                received=report.rows,
                stored=report.created,
                duplicates=report.unchanged,
                source="import",
            )
    return report


# --- reading: each format as batches of text columns (plus the row number) ------------


@dataclass
class Batch:
    """Rows of the file: COLUMNS as Arrow arrays, and `row`, each row's number."""

    table: pa.Table
    timestamp_type: str = "text"  # or "zoned" (a Parquet timestamp with a time zone)
    properties_type: str = "text"  # or "nested" (a Parquet struct or map)


def _open(path: Path) -> IO[bytes]:
    if not path.name.lower().endswith(SUFFIXES):
        raise ImportFileError(f"{path}: events files end in {', '.join(SUFFIXES)}")
    try:
        return path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None


def _read(
    path: Path, raw: IO[bytes], report: ImportReport, progress: Progress | None
) -> Iterator[Batch]:
    name = path.name.lower()
    with _progress_of(raw, progress) as tell:
        if name.endswith(".parquet"):
            yield from _parquet(path, raw, report, tell)
            return
        # utf-8-sig: exports from spreadsheets often start with a byte-order mark.
        text: IO[str] = (
            gzip.open(raw, "rt", encoding="utf-8-sig", newline="")  # noqa: SIM115 - raw is closed
            if name.endswith(".gz")
            else io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        )
        records = _csv(text, report) if ".csv" in name else _jsonl(text, report)
        try:
            yield from _batches(records, report, tell)
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path}: is not UTF-8 text (byte {exc.start})") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise ImportFileError(f"{path}: cannot be read: {exc}") from None


@contextlib.contextmanager
def _progress_of(raw: IO[bytes], progress: Progress | None) -> Iterator[Callable[[], None]]:
    """A function that reports how far into the file (on disk) reading has got."""
    done = 0

    def tell() -> None:
        nonlocal done
        if progress is not None:
            at = raw.tell()
            if at > done:
                progress(at - done)
                done = at

    yield tell
    if progress is not None:
        size = os.fstat(raw.fileno()).st_size
        if size > done:
            progress(size - done)


Record = tuple[int, list[str | None]]  # a row's number, and its COLUMNS' values as text


def _batches(
    records: Iterator[Record], report: ImportReport, tell: Callable[[], None]
) -> Iterator[Batch]:
    """Text records gathered into batches of BATCH rows."""
    while chunk := list(itertools.islice(records, BATCH)):
        tell()
        report.rows += len(chunk)
        columns = {
            name: pa.array([values[i] for _, values in chunk], pa.string())
            for i, name in enumerate(COLUMNS)
        }
        yield Batch(pa.table({**columns, "row": pa.array([n for n, _ in chunk], pa.int64())}))


def _csv(text: IO[str], report: ImportReport) -> Iterator[Record]:
    reader = csv.reader(text)
    positions = _csv_header(next(reader, None), report)
    if positions is None:
        return
    line = reader.line_num
    for values in reader:
        start, line = line + 1, reader.line_num
        if not values or values == [""]:
            continue  # a blank line carries no record
        width = len(values)
        yield start, [values[at] if at is not None and at < width else None for at in positions]


def _csv_header(header: list[str] | None, report: ImportReport) -> list[int | None] | None:
    """Where each of COLUMNS is in a row, or None (the problems reported at row 1)."""
    if header is None:
        report.error(1, "header", "the file is empty; the first line must name the columns")
        return None
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    for column in missing:
        report.error(1, column, "column is missing")
    ignored = [n for n in names if n not in COLUMNS]
    if ignored:
        report.warnings.append(f"ignored column(s): {', '.join(ignored)}")
    return None if missing else [names.index(c) if c in names else None for c in COLUMNS]


def _jsonl(text: IO[str], report: ImportReport) -> Iterator[Record]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        values = _json_line(line, number, report)
        if values is None:
            report.rows += 1  # refused here already; not checked again
            continue
        yield number, values


def _json_line(line: str, number: int, report: ImportReport) -> list[str | None] | None:
    """A line's values as text, or None (its problems reported) when it has the wrong shape.
    The text is then checked like a CSV file's."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        report.error(number, "line", f"is not JSON ({exc.msg} at character {exc.pos + 1})")
        report.refused += 1
        return None
    if not isinstance(record, dict):
        report.error(number, "line", "must be a JSON object")
        report.refused += 1
        return None
    values: dict[str, str | None] = {}
    bad = False
    for column in COLUMNS:
        value = record.get(column)
        if column == "properties" and isinstance(value, dict):
            values[column] = json.dumps(value, separators=(",", ":"))
        elif value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
            values[column] = None if value is None else str(value)
        else:
            kind = "a JSON object" if column == "properties" else "a string"
            report.error(number, column, f"must be {kind}")
            bad = True
    report.refused += bad
    return None if bad else [values[c] for c in COLUMNS]


def _parquet(
    path: Path, raw: IO[bytes], report: ImportReport, tell: Callable[[], None]
) -> Iterator[Batch]:
    try:
        # pre_buffer would keep every row group read so far: memory would grow with the file.
        parquet = pq.ParquetFile(raw, pre_buffer=False, buffer_size=1 << 20)
    except (pa.ArrowException, OSError) as exc:
        raise ImportFileError(f"{path}: is not a Parquet file ({exc})") from None
    schema = parquet.schema_arrow
    missing = [c for c in REQUIRED if c not in schema.names]
    if missing:
        raise ImportFileError(f"{path}: has no column(s) {', '.join(missing)}")
    kinds = _parquet_kinds(path, schema)
    names = [c for c in COLUMNS if c in schema.names]
    done = 0
    try:
        for part in parquet.iter_batches(batch_size=BATCH, columns=names):
            table = pa.Table.from_batches([part])
            if "properties" not in names:
                table = table.append_column("properties", pa.nulls(len(table), pa.string()))
            rows = pa.array(range(done + 1, done + len(table) + 1), pa.int64())
            done += len(table)
            report.rows += len(table)
            tell()
            yield Batch(table.append_column("row", rows), *kinds)
    except (pa.ArrowException, OSError) as exc:
        raise ImportFileError(f"{path}: cannot be read: {exc}") from None


def _parquet_kinds(path: Path, schema: pa.Schema) -> tuple[str, str]:
    """How the timestamp and properties columns are typed; raises ImportFileError for
    types an events file cannot have."""
    for name in ("message_id", "account_external_id", "user_id", "event"):
        kind = schema.field(name).type
        if not (_is_text(kind) or pa.types.is_integer(kind)):
            raise ImportFileError(f"{path}: column {name} is {kind}, not text")
    stamp = schema.field("timestamp").type
    if pa.types.is_timestamp(stamp):
        if stamp.tz is None:
            raise ImportFileError(
                f"{path}: column timestamp has no time zone; write it as a timestamp "
                "with time zone (UTC), or as ISO 8601 text ending in Z or +hh:mm"
            )
        timestamp_type = "zoned"
    elif _is_text(stamp):
        timestamp_type = "text"
    else:
        raise ImportFileError(f"{path}: column timestamp is {stamp}, not a timestamp")
    properties_type = "text"
    if "properties" in schema.names:
        kind = schema.field("properties").type
        if pa.types.is_struct(kind) or pa.types.is_map(kind):
            properties_type = "nested"
        elif not _is_text(kind):
            raise ImportFileError(f"{path}: column properties is {kind}, not JSON text")
    return timestamp_type, properties_type


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


# --- checking, in the staging file -------------------------------------------------------

ZONE = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
ISO_DATE = r"^\d{4}-\d\d-\d\d([T ]|$)"


def _checked_sql(batch: Batch) -> str:
    """The batch's rows as the `rows` table has them: cleaned values, NULL where a value is
    bad, `ok`, and for a bad row the raw text its messages quote."""
    stamp = "trim(CAST(timestamp AS VARCHAR))"
    if batch.timestamp_type == "zoned":
        parsed = "CAST(timestamp AS TIMESTAMPTZ)"
    else:
        parsed = (
            f"CASE WHEN regexp_matches({stamp}, '{ISO_DATE}') "
            f"AND regexp_matches({stamp}, '{ZONE}') THEN TRY_CAST({stamp} AS TIMESTAMPTZ) END"
        )
    if batch.properties_type == "nested":
        props, props_text = "coalesce(CAST(to_json(properties) AS VARCHAR), '{}')", "NULL"
    else:
        props_text = "trim(properties)"
        props = (
            f"CASE WHEN coalesce({props_text}, '') = '' THEN '{{}}' "
            f"WHEN json_valid({props_text}) AND json_type({props_text}) = 'OBJECT' "
            f"THEN CAST(json({props_text}) AS VARCHAR) END"
        )
    texts = ", ".join(
        f"NULLIF(trim(CAST({c} AS VARCHAR)), '') AS {c}"
        for c in ("message_id", "account_external_id", "user_id", "event")
    )
    good = " AND ".join(
        [f"length(c.{c}) <= {n}" for c, n in LONGEST.items()]
        + ["a.id IS NOT NULL", "c.timestamp IS NOT NULL", "c.properties IS NOT NULL"]
    )
    raw = ("account_external_id", "timestamp_text", "properties_text")
    kept = ", ".join(f"CASE WHEN NOT ok THEN c.{c} END AS {c}" for c in raw)
    return (
        "SELECT row, message_id, a.id AS account_id, user_id, event, c.timestamp, "  # noqa: S608
        f"c.properties, coalesce({good}, false) AS ok, {kept} FROM (SELECT row, {texts}, "
        f"{stamp} AS timestamp_text, {parsed} AS timestamp, {props_text} AS properties_text, "
        f"{props} AS properties FROM batch) c "
        "LEFT JOIN accounts a ON a.external_id = c.account_external_id"
    )


class Stage:
    """Where checked rows wait: every row read, good or bad, in a Parquet file of this
    import's own (a file with one bad row is never added to the store; keeping the bad rows
    finds a repeated message_id whatever else is wrong with its row). The checks run in an
    in-memory DuckDB that also holds the accounts by external id."""

    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path) -> None:
        self.con = con
        self.path = folder / "rows.parquet"
        self.writer: pq.ParquetWriter | None = None

    def check(self, batch: Batch, report: ImportReport) -> None:
        """Keep the batch's rows; report each bad cell."""
        self.con.register("batch", batch.table)
        try:
            checked = self.con.execute(_checked_sql(batch)).to_arrow_table()
        finally:
            self.con.unregister("batch")
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, checked.schema, compression="snappy")
        self.writer.write_table(checked)
        bad = checked.filter(pc.invert(checked["ok"]))
        for row in sorted(bad.to_pylist(), key=lambda r: r["row"]):
            _report_row(row, report)
        report.refused += bad.num_rows

    def finish(self, report: ImportReport) -> None:
        """Close the file, report each row whose message_id an earlier row has (naming that
        row), and let go of the checking DuckDB's memory before the store is written."""
        if self.writer is not None:
            self.writer.close()
            self._report_repeats(report)
        self.con.close()

    def _report_repeats(self, report: ImportReport) -> None:
        # The ids are grouped by their 64-bit hash (a third of the memory the ids take), in
        # as many passes over the file as keep each pass's groups under REPEAT_PASS rows:
        # memory stays the same whatever the file's size. Ids sharing a hash are then
        # compared in full.
        passes = max(1, -(-report.rows // REPEAT_PASS))
        found: list[tuple[int, str, int, bool]] = []
        for part in range(passes):
            found += self.con.execute(
                "WITH staged AS (SELECT row, message_id, ok, hash(message_id) AS h "
                "FROM read_parquet($path) WHERE message_id IS NOT NULL "
                # typed, or the modulo runs on 128-bit integers, twenty times slower
                "AND hash(message_id) % $passes::UBIGINT = $part::UBIGINT), "
                "shared AS (SELECT h FROM staged GROUP BY h HAVING count(*) > 1), "
                "suspects AS (SELECT * FROM staged SEMI JOIN shared USING (h)), "
                "firsts AS (SELECT message_id, min(row) AS first FROM suspects "
                "GROUP BY message_id HAVING count(*) > 1) "
                "SELECT s.row, s.message_id, f.first, s.ok FROM suspects s "
                "JOIN firsts f USING (message_id) WHERE s.row <> f.first",
                {"path": str(self.path), "passes": passes, "part": part},
            ).fetchall()
        for row, message_id, first, ok in sorted(found):
            report.error(
                row, "message_id", f"{message_id!r} appears more than once (first in row {first})"
            )
            report.refused += ok  # a bad row was counted already


def _report_row(row: dict[str, Any], report: ImportReport) -> None:
    line = row["row"]
    for column in ("message_id", "account_external_id", "user_id", "event"):
        value = row[column]
        if value is None:
            report.error(line, column, "is required")
        elif len(value) > LONGEST[column]:
            report.error(line, column, f"is longer than {LONGEST[column]} characters")
    if row["account_external_id"] is not None and row["account_id"] is None:
        report.error(
            line,
            "account_external_id",
            f"no account has external id {row['account_external_id']!r}",
        )
    if row["timestamp"] is None:
        report.error(line, "timestamp", _timestamp_problem(row["timestamp_text"]))
    if row["properties"] is None:
        report.error(line, "properties", _properties_problem(row["properties_text"]))


def _timestamp_problem(text: str | None) -> str:
    if not text:
        return "is required"
    if re.search(ISO_DATE, text) and not re.search(ZONE, text):
        return f"{text!r} has no time zone (end it with Z or +hh:mm)"
    return f"{text!r} is not an ISO 8601 date and time (2025-01-31T09:30:00Z)"


def _properties_problem(text: str | None) -> str:
    try:
        json.loads(text or "")
    except json.JSONDecodeError:
        return "is not JSON"
    return "must be a JSON object"


@contextlib.contextmanager
def _staging() -> Iterator[Stage]:
    """A folder of this import's own under GOODWORD_HOME/tmp, removed afterwards."""
    parent = Path(settings.GOODWORD_HOME) / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix="events-import-") as name:
        folder = Path(name)
        con = duckdb.connect(config={**STAGE_SETTINGS, "temp_directory": str(folder / "spill")})
        stage = Stage(con, folder)
        try:
            con.execute("SET TimeZone = 'UTC'")
            _load_accounts(con)
            yield stage
        finally:
            if stage.writer is not None:
                stage.writer.close()
            con.close()


def _load_accounts(con: duckdb.DuckDBPyConnection) -> None:
    pairs = Account.objects.exclude(external_id=None).values_list("external_id", "pk")
    external_ids, ids = [], []
    for external_id, pk in pairs.iterator(chunk_size=10_000):
        external_ids.append(external_id)
        ids.append(pk)
    accounts = pa.table(
        {"external_id": pa.array(external_ids, pa.string()), "id": pa.array(ids, pa.int64())}
    )
    con.register("accounts_given", accounts)
    con.execute("CREATE TABLE accounts AS SELECT * FROM accounts_given")
    con.unregister("accounts_given")
