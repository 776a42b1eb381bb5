"""Dated currency rates into the home currency: who may see them, their import (the one
write, all or nothing, audited), their CSV form, and the table that converts amounts.

A rate says what one unit of a currency is worth in the home currency (settings.
HOME_CURRENCY) on a day; an amount on a day is converted with the latest rate on or before
that day. The import is the service of this module (`rates_import`); the reads and the
access function sit here too, because rates are one small sub-domain.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from goodword.lib.csvsafe import csv_lines
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.lib.validators import CURRENCIES
from goodword.reports.models import Rate, RateImport, home_currency
from goodword.reports.money import cents

if TYPE_CHECKING:
    from goodword.users.models import User

COLUMNS = ("day", "currency", "rate")
PLACES = 10  # as Rate.rate keeps them
TOO_LARGE = Decimal("1e14")  # Rate.rate has 14 digits before the point
MAX_MESSAGES = 1000
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CODE = re.compile(r"^[A-Z]{3}$")


# --- access and reads -----------------------------------------------------------------


def rates_for(user: User) -> QuerySet[Rate]:
    """Every rate, by currency and day, for admins and managers; NotFound for anyone else
    (reps and CSMs see amounts, not the table behind their conversion)."""
    if not (user.is_admin_role or user.is_manager):
        raise NotFound("rates")
    return Rate.objects.order_by("currency", "day")


def rates_filtered(
    rates: QuerySet[Rate],
    *,
    currency: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[Rate]:
    """The rates of one currency and of the days from `since` to `until` (both included);
    a filter left out (None or empty) means any."""
    if currency:
        rates = rates.filter(currency=currency.strip().upper())
    if since is not None:
        rates = rates.filter(day__gte=since)
    if until is not None:
        rates = rates.filter(day__lte=until)
    return rates


def rate_currencies() -> list[str]:
    """The currencies that have rates, for a filter's choices."""
    codes = Rate.objects.order_by("currency").values_list("currency", flat=True).distinct()
    return list(codes)


def plain(rate: Decimal) -> str:
    """A rate as people and files write it: 1.085, not 1.0850000000 or 1.085E+0."""
    return format(rate.normalize(), "f")


def rate_rows(rates: QuerySet[Rate]) -> Iterator[tuple[dt.date, str, str]]:
    """The rates as rows of the import's own columns (day, currency, rate)."""
    rows = rates.values_list(*COLUMNS).iterator(chunk_size=2000)
    return ((day, code, plain(rate)) for day, code, rate in rows)


def rates_csv(rates: QuerySet[Rate]) -> Iterator[str]:
    """The rates as CSV lines in the import's columns, so that an export imports again."""
    return csv_lines(list(COLUMNS), rate_rows(rates))


# --- the import -----------------------------------------------------------------------


@dataclass(frozen=True)
class RateRow:
    """One row as given: `line` is its row in the file (the header is row 1), or its
    position in a list of rows."""

    line: int
    day: str
    currency: str
    rate: str


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass
class RatesReport:
    """What an import did, or would do (a dry run), and each refused cell."""

    source: str
    dry_run: bool = False
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, line: int, column: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_MESSAGES:  # a file of garbage must not flood the page
            self.errors.append(RowError(line, column, reason))

    @property
    def errors_not_shown(self) -> int:
        return self.error_count - len(self.errors)

    def messages(self) -> list[str]:
        """Each refused cell as FILE:ROW: field: reason."""
        return [f"{self.source}:{e.line}: {e.field}: {e.reason}" for e in self.errors]

    def summary(self) -> str:
        counts = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        if not self.ok:
            return f"rates: nothing written; {self.error_count} error(s) in {self.rows} row(s)"
        if self.dry_run:
            return f"rates (dry run, nothing written): {counts}"
        return f"rates: {counts}"


class RatesRefused(Invalid):
    """The rows had errors; nothing was written. `report` says where and why."""

    def __init__(self, report: RatesReport) -> None:
        self.report = report
        super().__init__({"rows": report.messages()})


class RatesFileError(Exception):
    """The file cannot be read at all (not UTF-8 text, not CSV)."""


@dataclass(frozen=True)
class _Clean:
    line: int
    currency: str
    day: dt.date
    rate: Decimal


def rates_import(
    *,
    actor: User | None,
    now: dt.datetime,
    rows: Iterable[RateRow] | None = None,
    file: IO[str] | None = None,
    source: str = "rows",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RatesReport:
    """Add or update the rates in `rows`, or in the CSV `file` (columns day,currency,rate;
    `progress` is then called with the bytes read since its last call), in one transaction.
    An existing (currency, day) takes the new rate; the report counts rates added, updated
    and unchanged, and a RateImport row keeps who, when and each change when anything was
    written. `actor` None is the command line.

    Raises Forbidden unless the actor is an admin; RatesRefused (an Invalid; nothing
    written) when any row is bad: a date that is not YYYY-MM-DD, a currency that is not an
    ISO 4217 code or is the home currency, a rate that is not a number above 0 with at most
    10 decimal places, a (currency, day) given twice. A dry run checks and counts the same,
    writes nothing, and returns its errors in the report instead of raising. Raises
    RatesFileError when `file` is not UTF-8 CSV, and Invalid when another import added one
    of the same rates meanwhile (nothing written)."""
    if actor is not None and not actor.is_admin_role:
        raise Forbidden("only admins import rates")
    report = RatesReport(source=source, dry_run=dry_run)
    if rows is not None and file is None:
        given = rows
    elif file is not None and rows is None:
        given = read_csv(file, report, progress)
    else:
        raise ValueError("give rows or a file, not both")
    cleaned = _checked(given, report)
    if not report.ok:
        if dry_run:
            return report
        raise RatesRefused(report)
    with transaction.atomic():
        added, updated = _plan(cleaned, report)
        if not dry_run and (added or updated):
            _save(added, updated, actor=actor, now=now)
            _audit(report, added, updated, actor=actor, now=now)
    return report


def read_csv(
    stream: IO[str], report: RatesReport, progress: Callable[[int], None] | None = None
) -> Iterator[RateRow]:
    """The rows of a CSV file whose first line names the columns day, currency and rate
    (in any order, nothing else); a bad header is reported on row 1 and yields no rows.
    Open the file with encoding utf-8-sig: spreadsheets often start it with a BOM."""
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
        positions = _header(header, report)
        if positions is None:
            return
        read = _Bytes(stream, progress)
        line = reader.line_num
        for values in reader:
            start, line = line + 1, reader.line_num
            read.tick()
            if not values or values == [""]:
                continue  # a blank line carries no rate
            if len(values) != len(positions):
                report.rows += 1
                report.error(start, "row", f"has {len(values)} cells; expected {len(COLUMNS)}")
                continue
            yield RateRow(start, *(values[positions[c]].strip() for c in COLUMNS))
        read.flush()
    except UnicodeDecodeError as exc:
        raise RatesFileError(f"{report.source}: is not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise RatesFileError(f"{report.source}:{reader.line_num}: {exc}") from None


def _header(names: list[str] | None, report: RatesReport) -> dict[str, int] | None:
    expected = ",".join(COLUMNS)
    if names is None:
        report.error(1, "header", f"the file is empty; the first line must be {expected}")
        return None
    cleaned = [n.strip().lstrip("\ufeff").lower() for n in names]
    unknown = [n for n in cleaned if n not in COLUMNS]
    missing = [c for c in COLUMNS if c not in cleaned]
    repeated = sorted({n for n in cleaned if cleaned.count(n) > 1 and n in COLUMNS})
    for name in unknown:
        report.error(1, "header", f"unknown column {name!r}; the columns are {expected}")
    for name in missing:
        report.error(1, "header", f"the column {name} is missing; the columns are {expected}")
    for name in repeated:
        report.error(1, "header", f"the column {name} appears more than once")
    if unknown or missing or repeated:
        return None
    return {name: cleaned.index(name) for name in COLUMNS}


class _Bytes:
    """Reports how far into the file the reader is, in bytes, for a progress bar."""

    def __init__(self, stream: IO[str], progress: Callable[[int], None] | None) -> None:
        self._buffer = getattr(stream, "buffer", None) if progress else None
        self._progress = progress
        self._done = 0
        self._rows = 0

    def tick(self) -> None:
        self._rows += 1
        if self._rows % 1000 == 0:
            self.flush()

    def flush(self) -> None:
        if self._buffer is None or self._progress is None:
            return
        position = int(self._buffer.tell())
        if position > self._done:
            self._progress(position - self._done)
            self._done = position


def _checked(rows: Iterable[RateRow], report: RatesReport) -> list[_Clean]:
    """The rows that pass every check; each refused cell is in the report."""
    cleaned: list[_Clean] = []
    first_seen: dict[tuple[str, dt.date], int] = {}
    home = home_currency()

    def currency_of(value: str) -> str:
        return _currency(value, home)

    for row in rows:
        report.rows += 1
        day = _cell(report, row.line, "day", _day, row.day)
        currency = _cell(report, row.line, "currency", currency_of, row.currency)
        rate = _cell(report, row.line, "rate", _rate, row.rate)
        if day is None or currency is None or rate is None:
            continue
        earlier = first_seen.setdefault((currency, day), row.line)
        if earlier != row.line:
            report.error(row.line, "day", f"{currency} on {day} is already on row {earlier}")
            continue
        cleaned.append(_Clean(row.line, currency, day, rate))
    return cleaned


def _cell[T](
    report: RatesReport, line: int, column: str, parse: Callable[[str], T], value: str
) -> T | None:
    try:
        return parse(value)
    except ValueError as exc:
        report.error(line, column, str(exc))
        return None


def _day(value: str) -> dt.date:
    text = value.strip()
    if not _DAY.match(text):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _currency(value: str, home: str) -> str:
    code = value.strip().upper()
    if not _CODE.match(code):
        raise ValueError(f"{value!r} is not a currency code (three letters, e.g. EUR)")
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    if code == home:
        raise ValueError(f"{code} is the home currency: its rate is always 1")
    return code


def _rate(value: str) -> Decimal:
    text = value.strip()
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not rate.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if rate <= 0:
        raise ValueError(f"{value!r} is not above 0")
    if rate >= TOO_LARGE:
        raise ValueError(f"{value!r} is too large")
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PLACES:
        raise ValueError(f"{value!r} has more than {PLACES} decimal places")
    return rate


def _plan(cleaned: list[_Clean], report: RatesReport) -> tuple[list[Rate], list[_Change]]:
    """The rates to add and those to change (with their rate before), counted in the
    report; a rate given as it is stored is unchanged."""
    existing = _existing(cleaned)
    added: list[Rate] = []
    updated: list[_Change] = []
    for row in cleaned:
        current = existing.get((row.currency, row.day))
        if current is None:
            added.append(Rate(currency=row.currency, day=row.day, rate=row.rate))
        elif current.rate != row.rate:
            updated.append(_Change(current, current.rate))
            current.rate = row.rate
    report.added, report.updated = len(added), len(updated)
    report.unchanged = len(cleaned) - len(added) - len(updated)
    return added, updated


class _Change(NamedTuple):
    rate: Rate
    before: Decimal


def _existing(cleaned: list[_Clean]) -> dict[tuple[str, dt.date], Rate]:
    """The stored rates of the given currencies and days, read per currency in one range."""
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    for row in cleaned:
        low, high = spans.get(row.currency, (row.day, row.day))
        spans[row.currency] = (min(low, row.day), max(high, row.day))
    found: dict[tuple[str, dt.date], Rate] = {}
    for currency, (low, high) in spans.items():
        for rate in Rate.objects.filter(currency=currency, day__range=(low, high)):
            found[(rate.currency, rate.day)] = rate
    return found


def _save(
    added: list[Rate], updated: list[_Change], *, actor: User | None, now: dt.datetime
) -> None:
    changed = [c.rate for c in updated]
    for rate in [*added, *changed]:
        rate.imported_by, rate.imported_at = actor, now
    try:
        with transaction.atomic():
            Rate.objects.bulk_create(added, batch_size=2000)
    except IntegrityError:
        # Another import added one of these days since we read: the caller imports again.
        raise Invalid({"rows": ["rates were imported meanwhile; import them again"]}) from None
    Rate.objects.bulk_update(changed, ["rate", "imported_by", "imported_at"], batch_size=2000)


def _added_spans(added: list[Rate]) -> dict[str, dict[str, Any]]:
    """Per currency, the first and last day added and how many: a year of daily rates is
    one line of the audit, not 365."""
    days: dict[str, list[dt.date]] = {}
    for rate in added:
        days.setdefault(rate.currency, []).append(rate.day)
    return {
        code: {"first": min(d).isoformat(), "last": max(d).isoformat(), "count": len(d)}
        for code, d in sorted(days.items())
    }


def _audit(
    report: RatesReport,
    added: list[Rate],
    updated: list[_Change],
    *,
    actor: User | None,
    now: dt.datetime,
) -> None:
    changes = {
        "added": _added_spans(added),
        "updated": [
            {
                "currency": rate.currency,
                "day": rate.day.isoformat(),
                "before": plain(before),
                "after": plain(rate.rate),
            }
            for rate, before in updated
        ],
    }
    RateImport.objects.create(
        actor=actor,
        source=report.source[:255],
        rows=report.rows,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        changes=changes,
        at=now,
    )


# --- conversion -----------------------------------------------------------------------


class UsedRate(NamedTuple):
    """The rate a conversion used: one `currency` was worth `rate` `home` from `day` on."""

    currency: str
    day: dt.date
    rate: Decimal
    home: str

    def __str__(self) -> str:
        return f"1 {self.currency} = {plain(self.rate)} {self.home} (rate of {self.day})"


@dataclass
class RateTable:
    """The rates, read once, to convert many amounts into the home currency.

    `missing` collects, per currency, the earliest day asked for which there was no rate
    on or before it, so a report can say which amounts it left out."""

    home: str
    days: dict[str, list[dt.date]]
    rates: dict[str, list[Decimal]]
    missing: dict[str, dt.date] = field(default_factory=dict)

    @classmethod
    def load(cls, currencies: Iterable[str] | None = None) -> RateTable:
        """Every rate, or only those of `currencies`, in one query."""
        qs = Rate.objects.order_by("currency", "day")
        if currencies is not None:
            qs = qs.filter(currency__in=sorted({c.upper() for c in currencies}))
        days: dict[str, list[dt.date]] = {}
        rates: dict[str, list[Decimal]] = {}
        for currency, day, rate in qs.values_list("currency", "day", "rate").iterator(2000):
            days.setdefault(currency, []).append(day)
            rates.setdefault(currency, []).append(rate)
        return cls(home=home_currency(), days=days, rates=rates)

    def rate_used(self, currency: str, day: dt.date) -> UsedRate | None:
        """The latest rate of `currency` on or before `day`; None when there is none (and
        for the home currency, which needs none)."""
        days = self.days.get(currency, [])
        at = bisect.bisect_right(days, day) - 1
        if currency == self.home or at < 0:
            return None
        return UsedRate(currency, days[at], self.rates[currency][at], self.home)

    def rate(self, currency: str, day: dt.date | None) -> Decimal | None:
        """What one unit of `currency` is worth in the home currency on `day`: 1 for the
        home currency (whatever the day, which may be None: see dates.rate_day); None,
        noted in `missing`, when there is no rate on or before the day. For sums converted
        before rounding (round the result with `cents`)."""
        if currency == self.home:
            return Decimal(1)
        if day is None:
            raise ValueError(f"converting {currency} needs a day")
        used = self.rate_used(currency, day)
        if used is None:
            earliest = self.missing.get(currency)
            self.missing[currency] = day if earliest is None else min(earliest, day)
            return None
        return used.rate

    def convert(self, amount: Decimal, currency: str, day: dt.date) -> Decimal | None:
        """`amount` of `currency` on `day` in the home currency, rounded to cents (half to
        even); the amount itself for the home currency; None, noted in `missing`, when the
        currency has no rate on or before the day."""
        if currency == self.home:
            return amount
        rate = self.rate(currency, day)
        return None if rate is None else cents(amount * rate)

    def describe(self, currency: str, day: dt.date) -> str:
        """The rate a conversion on `day` uses, in words, for a tooltip or a table."""
        if currency == self.home:
            return f"{currency} is the home currency"
        used = self.rate_used(currency, day)
        return str(used) if used else f"no {currency} rate on or before {day}"

    def missing_notes(self) -> list[str]:
        """What `missing` means for a report, one sentence per currency."""
        notes = []
        for currency, earliest in sorted(self.missing.items()):
            days = self.days.get(currency)
            if days:
                notes.append(f"{currency} amounts before {days[0]} are not converted: no rate")
            else:
                notes.append(f"{currency} amounts are not converted: no rate (from {earliest})")
        return notes
