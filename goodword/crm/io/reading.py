"""Reading an import file as a stream of rows keyed by our column names.

Rows are yielded in chunks so the importer can look up a chunk's references in one query;
nothing but the current chunk is held in memory.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from goodword.crm.io.presets import KINDS, REQUIRED, aliases, value_maps
from goodword.lib.csvsafe import restore

# Numbers and dates are never neutralised on export; everything else is text and restored.
NOT_TEXT = frozenset(
    {"employees", "arr", "amount", "customer_since", "created_at", "close_date", "closed_at"}
    | {"score", "responded_at", "opened_at", "csat", "received_at", "target", "starts_at"}
    | {"due_at"}
)

# Cells may be long (notes, past employers); the csv module's default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Row:
    line: int
    cells: dict[str, str]


@dataclass
class Header:
    """Where each of our columns sits in the file, and how the file names it."""

    positions: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def label(self, column: str) -> str:
        return self.labels.get(column, column)


def map_header(kind: str, preset: str, names: list[str]) -> Header:
    table = aliases(preset, kind)
    header = Header()
    for position, raw in enumerate(names):
        name = raw.strip()
        column = table.get(name.casefold())
        if column is None or column in header.positions:
            header.ignored.append(name)
            continue
        header.positions[column] = position
        header.labels[column] = name
    header.missing = [c for c in REQUIRED[kind] if c not in header.positions]
    return header


class RowReader:
    """Streams a CSV file's rows (after the header) in chunks, reporting bytes read."""

    def __init__(
        self,
        stream: IO[str],
        kind: str,
        preset: str,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._stream = stream
        self._reader = csv.reader(stream)
        self._progress = progress
        self._consumed = 0
        first = next(self._reader, None)
        self.header = map_header(kind, preset, first or [])
        self.empty = first is None
        self._maps = value_maps(preset, kind)
        self._columns = [c for c in KINDS[kind] if c in self.header.positions]

    def chunks(self, size: int) -> Iterator[list[Row]]:
        chunk: list[Row] = []
        for row in self._rows():
            chunk.append(row)
            if len(chunk) >= size:
                self._report()
                yield chunk
                chunk = []
        self._report()
        if chunk:
            yield chunk

    def _rows(self) -> Iterator[Row]:
        positions = [(c, self.header.positions[c], self._maps.get(c)) for c in self._columns]
        line = self._reader.line_num
        for values in self._reader:
            start, line = line + 1, self._reader.line_num
            if not values or values == [""]:
                continue  # blank lines carry no record
            cells: dict[str, str] = {}
            width = len(values)
            for column, position, translate in positions:
                value = values[position] if position < width else ""
                if column not in NOT_TEXT:
                    value = restore(value)
                if translate is not None and value:
                    value = translate(value)
                cells[column] = value
            yield Row(start, cells)

    def _report(self) -> None:
        if self._progress is None:
            return
        buffer = getattr(self._stream, "buffer", None)
        if buffer is None:
            return
        position = int(buffer.tell())
        if position > self._consumed:
            self._progress(position - self._consumed)
            self._consumed = position
