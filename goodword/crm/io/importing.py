"""Importing a CSV file of users, accounts, contacts, deals, or signals (NPS answers, tickets,
messages, goals): all or nothing.

The file is streamed in chunks inside one transaction. Every row is checked; if any is bad,
the transaction is rolled back and ImportRefused lists each problem as FILE:ROW: column:
reason (the header is row 1). A dry run does the same work and always rolls back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TextIO

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from goodword.crm.io.base import Batch, Importer
from goodword.crm.io.kinds import IMPORTERS
from goodword.crm.io.presets import KINDS, PRESETS
from goodword.crm.io.reading import RowReader
from goodword.crm.io.report import ImportFileError, ImportRefused, ImportReport
from goodword.crm.services import deal_totals_compact
from goodword.signals.importers import SIGNAL_IMPORTERS

CHUNK_SIZE = 2000


def import_file(
    kind: str,
    path: str | os.PathLike[str],
    *,
    preset: str = "native",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    """Create or update the records of `kind` from the CSV file at `path` (upsert by
    external_id; users by e-mail). `progress` is called with the number of bytes read since
    the last call.

    Raises ImportRefused (nothing written) when any row is bad, unless dry_run, which returns
    the report with its errors. Raises ImportFileError when the file cannot be read, and
    ValueError for an unknown kind or preset.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    report = ImportReport(kind=kind, path=str(path), preset=preset, dry_run=dry_run)
    with _open(path) as stream:
        reader = _guard(lambda: RowReader(stream, kind, preset, progress), path)
        if not _header_ok(reader, report):
            return _finish(report)
        _run(reader, report, path, chunk_size)
    if kind == "deals" and report.ok and not dry_run:
        deal_totals_compact()  # fold the board-total deltas the import's statements appended
    return _finish(report)


def _finish(report: ImportReport) -> ImportReport:
    if not report.ok and not report.dry_run:
        raise ImportRefused(report)
    return report


def _open(path: str | os.PathLike[str]) -> TextIO:
    try:
        # utf-8-sig: spreadsheet and CRM exports often start with a byte-order mark.
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None


def _guard[T](fn: Callable[[], T], path: str | os.PathLike[str]) -> T:
    try:
        return fn()
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: is not UTF-8 text (byte {exc.start})") from None


def _header_ok(reader: RowReader, report: ImportReport) -> bool:
    if reader.empty:
        report.error(1, "header", "the file is empty; the first line must name the columns")
        return False
    header = reader.header
    if header.ignored:
        report.warnings.append(f"ignored column(s): {', '.join(header.ignored)}")
    for column in header.missing:
        report.error(1, column, "column is missing")
    return not header.missing


def _run(reader: RowReader, report: ImportReport, path: str | os.PathLike[str], size: int) -> None:
    with transaction.atomic():
        importer = (IMPORTERS | SIGNAL_IMPORTERS)[report.kind](
            report, reader.header, timezone.now()
        )
        _guard(lambda: _process(importer, reader, size), path)
        if importer.duplicates.candidates:
            _report_repeats(importer, path, report)
        if not report.ok or report.dry_run:
            transaction.set_rollback(True)


def _process(importer: Importer, reader: RowReader, size: int) -> None:
    if importer.pipelined and connection.vendor == "postgresql":
        _process_pipelined(importer, reader, size)
        return
    for chunk in reader.chunks(size):
        importer.process(chunk)


def _process_pipelined(importer: Importer, reader: RowReader, size: int) -> None:
    """Write each chunk in a second thread while this one reads and plans the next. The
    threads share this thread's connection and transaction (the writer borrows it), but
    never use it at once: a chunk's lookups run only once the previous write has returned.
    Foreign keys are checked as each statement ends rather than all at commit, so that work
    too overlaps the planning. On PostgreSQL the writer mostly waits on the server, which
    leaves the interpreter to the planner."""
    owner = connections[DEFAULT_DB_ALIAS]
    in_flight: tuple[Batch, Future[str | None]] | None = None
    planned: Batch | None = None

    def write(batch: Batch) -> str | None:
        connections[DEFAULT_DB_ALIAS] = owner  # this thread's alias → the importing connection
        return importer.write_batch(batch)

    def land() -> None:
        nonlocal in_flight
        if in_flight is not None:
            batch, future = in_flight
            in_flight = None
            importer.finish(batch, future.result())

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    owner.inc_thread_sharing()
    try:
        # Leaving the block waits for a write still in flight, even on an error.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as pool:
            for chunk in reader.chunks(size):
                keyed = importer.key_rows(chunk)
                land()
                importer.load([k for _, k in keyed], [r for r, _ in keyed])
                if planned is not None:
                    in_flight = (planned, pool.submit(write, planned))
                planned = importer.plan_rows(chunk, keyed)
            land()
    finally:
        owner.dec_thread_sharing()
    if planned is not None:
        importer.finish(planned, importer.write_batch(planned))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django declares them, again


def _report_repeats(importer: Importer, path: str | os.PathLike[str], report: ImportReport) -> None:
    """Second pass, only for keys the first pass could not rule out as repeats."""
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = RowReader(stream, report.kind, report.preset)
        keyed = _keys(reader, importer)
        repeats = importer.duplicates.repeats(keyed, importer.duplicates.candidates)
    label = importer.header.label(importer.key)
    for line, key in repeats:
        report.refused += 1
        report.error(line, label, f"{key!r} appears more than once in the file")


def _keys(reader: RowReader, importer: Importer) -> Iterator[tuple[int, str]]:
    for chunk in reader.chunks(CHUNK_SIZE):
        for row in chunk:
            key = importer.key_of(row.cells)
            if key is not None:
                yield row.line, key


__all__ = ["ImportFileError", "ImportRefused", "ImportReport", "import_file"]
