"""What every report is made of, whatever shows it (page, CSV, JSON, command line): a headline,
tables of figures with typed columns, and notes on what the figures leave out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from goodword.reports.filters import Filters

Kind = Literal["text", "count", "money", "percent", "days", "ratio", "date"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"
    given: bool = False  # a figure the report is given (a setting), not one it found


@dataclass
class Table:
    name: str  # a slug: the CSV's name and the JSON key
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def csv_rows(self) -> Iterator[list[Any]]:
        """The header, then each row's values in column order (None as "")."""
        yield [c.key for c in self.columns]
        for row in self.rows:
            yield ["" if row.get(c.key) is None else _plain(row[c.key]) for c in self.columns]


@dataclass
class Report:
    name: str  # pipeline, sources, funnel, advocates, reps, roi
    title: str
    filters: Filters
    currency: str  # the home currency every amount is in
    period: tuple[dt.date, dt.date]
    headline: str
    tables: list[Table]
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "title": self.title,
            "currency": self.currency,
            "period": {"from": self.period[0].isoformat(), "to": self.period[1].isoformat()},
            "filters": self.filters.as_dict(),
            "headline": self.headline,
            "notes": self.notes,
            "tables": [
                {
                    "name": t.name,
                    "title": t.title,
                    "columns": [
                        {"key": c.key, "label": c.label, "kind": c.kind} for c in t.columns
                    ],
                    "rows": _json_rows(t),
                }
                for t in self.tables
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def _json(value: Any) -> Any:
    """Amounts as strings with their cents (exact), dates in ISO form, floats rounded."""
    if isinstance(value, Decimal):
        return str(value)
    return _plain(value)


def _json_rows(table: Table) -> list[dict[str, Any]]:
    """The rows with amounts, dates and floats made plain (_json); the other cells, most of
    a table of thousands of rows (counts, names), are taken as they are without a call."""
    return [{k: v if type(v) in _AS_IS else _json(v) for k, v in row.items()} for row in table.rows]


_AS_IS = frozenset({str, int, bool, type(None)})
