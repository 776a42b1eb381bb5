"""Days in the reports' queries, in the database's own date arithmetic and always in UTC.

Django's TruncDate and the difference of two dates run, on SQLite, as Python functions called
once per row: at a million deals that is seconds. These expressions are plain SQL on both
databases. SQLite keeps aware times as UTC text ("2026-11-23 09:30:00"), which date() reads;
PostgreSQL is told the zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, DateField, Expression, Func, IntegerField, Value, When
from django.db.models.sql.compiler import SQLCompiler


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A period of days as times: from `start`'s midnight to the midnight after `end`, UTC
    (as UTCDate reads days), for range filters an index can serve."""
    first = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    return first, after


class _VendorFunc(Func):
    SQL: dict[str, str] = {}

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        compiled = [compiler.compile(e) for e in self.get_source_expressions()]
        names = ("value", "earlier")[: len(compiled)]
        sql = self.SQL[connection.vendor].format(
            **{n: c[0] for n, c in zip(names, compiled, strict=True)}
        )
        return sql, tuple(p for _, params in compiled for p in params)


class UTCDate(_VendorFunc):
    """The UTC calendar day of a time (NULL stays NULL)."""

    output_field = DateField()
    SQL = {
        "sqlite": "date({value})",
        "postgresql": "((({value}) AT TIME ZONE 'UTC')::date)",
    }


class DaysBetween(_VendorFunc):
    """UTC calendar days from the second time to the first, as an integer."""

    output_field = IntegerField()
    SQL = {
        "sqlite": "CAST(julianday(date({value})) - julianday(date({earlier})) AS INTEGER)",
        "postgresql": (
            "((({value}) AT TIME ZONE 'UTC')::date - (({earlier}) AT TIME ZONE 'UTC')::date)"
        ),
    }


def rate_day(day: str | Expression, home: str, currency: str = "currency") -> Case:
    """The day whose rate converts an amount: the UTC day of the time `day`, or NULL
    for amounts in the home currency, which need no rate. Grouping on it keeps one group per
    home-currency key, not one per day."""
    return Case(
        When(**{currency: home}, then=Value(None, output_field=DateField())),
        default=UTCDate(day),
        output_field=DateField(),
    )
