"""The rates import (the service, from CSV files and from rows) and the conversion table."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

from goodword.lib.errors import Forbidden
from goodword.reports.models import Rate, RateImport
from goodword.reports.rates import (
    RateRow,
    RatesFileError,
    RatesRefused,
    RatesReport,
    RateTable,
    rates_import,
)
from goodword.users.models import User

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)


def csv_file(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def run(actor: User | None, text: str, *, dry_run: bool = False, now: dt.datetime = NOW) -> Any:
    return rates_import(
        actor=actor, file=csv_file(text), source="rates.csv", dry_run=dry_run, now=now
    )


def refused(actor: User | None, text: str) -> RatesReport:
    with pytest.raises(RatesRefused) as caught:
        run(actor, text)
    return caught.value.report


def stored() -> list[tuple[str, str, str]]:
    return [
        (r.currency, r.day.isoformat(), str(r.rate.normalize()))
        for r in Rate.objects.order_by("currency", "day")
    ]


def add(currency: str, day: str, rate: str) -> Rate:
    return Rate.objects.create(
        currency=currency, day=dt.date.fromisoformat(day), rate=Decimal(rate), imported_at=NOW
    )


# --- a good file ------------------------------------------------------------------------


def test_a_file_with_a_bom_adds_its_rates_and_the_audit_says_who_and_what(admin_user):
    # given a spreadsheet's export: a byte-order mark, columns in another order, a blank line
    text = "\ufeffcurrency,day,rate\nEUR,2026-01-05,1.0850\n\ngbp,2026-01-05,1.27\n"

    report = run(admin_user, text)

    assert (report.rows, report.added, report.updated, report.unchanged) == (2, 2, 0, 0)
    assert report.summary() == "rates: 2 added, 0 updated, 0 unchanged"
    assert stored() == [("EUR", "2026-01-05", "1.085"), ("GBP", "2026-01-05", "1.27")]
    assert {(r.imported_by, r.imported_at) for r in Rate.objects.all()} == {(admin_user, NOW)}
    audit = RateImport.objects.get()
    assert (audit.actor, audit.source, audit.at) == (admin_user, "rates.csv", NOW)
    assert (audit.rows, audit.added, audit.updated, audit.unchanged) == (2, 2, 0, 0)
    assert audit.changes == {
        "added": {
            "EUR": {"first": "2026-01-05", "last": "2026-01-05", "count": 1},
            "GBP": {"first": "2026-01-05", "last": "2026-01-05", "count": 1},
        },
        "updated": [],
    }


def test_an_existing_rate_is_updated_or_left_unchanged(admin_user):
    # given two EUR rates imported before
    add("EUR", "2026-01-05", "1.08")
    add("EUR", "2026-01-06", "1.09")

    # when a file gives one of them again and changes the other
    text = "day,currency,rate\n2026-01-05,EUR,1.0800\n2026-01-06,EUR,1.095\n2026-01-07,EUR,1.1\n"
    report = run(admin_user, text, now=LATER)

    # then one is added, one updated, one unchanged, and only those two are stamped
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
    assert stored() == [
        ("EUR", "2026-01-05", "1.08"),
        ("EUR", "2026-01-06", "1.095"),
        ("EUR", "2026-01-07", "1.1"),
    ]
    stamps = dict(Rate.objects.values_list("day", "imported_at"))
    assert stamps == {
        dt.date(2026, 1, 5): NOW,
        dt.date(2026, 1, 6): LATER,
        dt.date(2026, 1, 7): LATER,
    }
    assert RateImport.objects.get().changes["updated"] == [
        {"currency": "EUR", "day": "2026-01-06", "before": "1.09", "after": "1.095"}
    ]


def test_importing_the_same_file_again_changes_nothing_and_writes_no_audit(admin_user):
    text = "day,currency,rate\n2026-01-05,EUR,1.085\n"
    run(admin_user, text)

    again = run(admin_user, text, now=LATER)

    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    assert Rate.objects.get().imported_at == NOW
    assert RateImport.objects.count() == 1


def test_the_command_line_imports_without_a_user(db):
    run(None, "day,currency,rate\n2026-01-05,EUR,1.085\n")

    assert Rate.objects.get().imported_by is None
    assert RateImport.objects.get().actor is None


def test_rows_import_like_a_file(admin_user):
    rows = [RateRow(0, "2026-01-05", "EUR", "1.085"), RateRow(1, "2026-01-05", "JPY", "0.0064")]

    report = rates_import(actor=admin_user, rows=rows, source="api", now=NOW)

    assert (report.added, report.source) == (2, "api")
    assert stored() == [("EUR", "2026-01-05", "1.085"), ("JPY", "2026-01-05", "0.0064")]


# --- dry runs ---------------------------------------------------------------------------


def test_a_dry_run_counts_the_same_and_writes_nothing(admin_user):
    add("EUR", "2026-01-05", "1.08")
    before = stored()

    report = run(
        admin_user, "day,currency,rate\n2026-01-05,EUR,1.09\n2026-01-06,EUR,1.1\n", dry_run=True
    )

    assert (report.added, report.updated, report.unchanged) == (1, 1, 0)
    assert report.summary() == "rates (dry run, nothing written): 1 added, 1 updated, 0 unchanged"
    assert stored() == before
    assert not RateImport.objects.exists()


def test_a_dry_run_returns_its_errors_instead_of_raising(admin_user):
    report = run(admin_user, "day,currency,rate\n2026-01-05,EUR,x\n", dry_run=True)

    assert report.messages() == ["rates.csv:2: rate: 'x' is not a number"]
    assert report.summary() == "rates: nothing written; 1 error(s) in 1 row(s)"
    assert not Rate.objects.exists()


# --- refusals -----------------------------------------------------------------------------


def test_every_bad_cell_is_named_by_file_row_and_field_and_nothing_is_written(admin_user):
    # given a file with good rows among bad ones
    text = (
        "day,currency,rate\n"
        "2026-01-05,EUR,1.085\n"  # good
        "2026-13-01,EUR,1.1\n"
        "05/01/2026,EUR,1.1\n"
        "2026-01-05,EURO,1.1\n"
        "2026-01-05,XYZ,1.1\n"
        "2026-01-05,USD,1\n"
        "2026-01-05,GBP,abc\n"
        "2026-01-06,GBP,0\n"
        "2026-01-07,GBP,-1.2\n"
        "2026-01-08,GBP,0.00000000001\n"
        "2026-01-09,GBP,NaN\n"
        "2026-01-10,GBP,100000000000000\n"
        "2026-01-05,eur,1.09\n"
        "2026-01-11,GBP\n"
        "2026-01-12,JPY,0.0064\n"  # good
    )

    report = refused(admin_user, text)

    assert report.messages() == [
        "rates.csv:3: day: '2026-13-01' is not a date (YYYY-MM-DD)",
        "rates.csv:4: day: '05/01/2026' is not a date (YYYY-MM-DD)",
        "rates.csv:5: currency: 'EURO' is not a currency code (three letters, e.g. EUR)",
        "rates.csv:6: currency: 'XYZ' is not an ISO 4217 currency code",
        "rates.csv:7: currency: USD is the home currency: its rate is always 1",
        "rates.csv:8: rate: 'abc' is not a number",
        "rates.csv:9: rate: '0' is not above 0",
        "rates.csv:10: rate: '-1.2' is not above 0",
        "rates.csv:11: rate: '0.00000000001' has more than 10 decimal places",
        "rates.csv:12: rate: 'NaN' is not a number",
        "rates.csv:13: rate: '100000000000000' is too large",
        "rates.csv:14: day: EUR on 2026-01-05 is already on row 2",
        "rates.csv:15: row: has 2 cells; expected 3",
    ]
    assert report.rows == 15
    assert not Rate.objects.exists()
    assert not RateImport.objects.exists()


def test_a_bad_row_leaves_the_existing_rates_as_they_were(admin_user):
    add("EUR", "2026-01-05", "1.08")

    refused(admin_user, "day,currency,rate\n2026-01-05,EUR,1.5\n2026-01-06,EUR,\n")

    assert stored() == [("EUR", "2026-01-05", "1.08")]
    assert Rate.objects.get().imported_at == NOW


def test_the_home_currency_follows_the_setting(admin_user, settings):
    settings.HOME_CURRENCY = "EUR"

    report = refused(admin_user, "day,currency,rate\n2026-01-05,EUR,1\n2026-01-05,USD,0.92\n")

    assert report.messages() == [
        "rates.csv:2: currency: EUR is the home currency: its rate is always 1"
    ]


@pytest.mark.parametrize(
    ("header", "messages"),
    [
        (
            "date,currency,per_home",
            [
                "rates.csv:1: header: unknown column 'date'; the columns are day,currency,rate",
                "rates.csv:1: header: unknown column 'per_home'; the columns are day,currency,rate",
                "rates.csv:1: header: the column day is missing; the columns are day,currency,rate",
                "rates.csv:1: header: the column rate is missing; the columns are "
                "day,currency,rate",
            ],
        ),
        (
            "day,currency,rate,rate",
            ["rates.csv:1: header: the column rate appears more than once"],
        ),
    ],
)
def test_a_header_other_than_day_currency_rate_is_refused(admin_user, header, messages):
    report = refused(admin_user, f"{header}\n2026-01-05,EUR,1.085\n")

    assert report.messages() == messages
    assert not Rate.objects.exists()


def test_an_empty_file_is_refused_on_row_1(admin_user):
    assert refused(admin_user, "").messages() == [
        "rates.csv:1: header: the file is empty; the first line must be day,currency,rate"
    ]


def test_a_file_that_is_not_utf8_is_refused(admin_user, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes(b"day,currency,rate\n2026-01-05,EUR,1\xff\n")

    with path.open(encoding="utf-8-sig", newline="") as stream, pytest.raises(RatesFileError) as e:
        rates_import(actor=admin_user, file=stream, source="rates.csv", now=NOW)

    assert str(e.value) == "rates.csv: is not UTF-8 text (byte 34)"
    assert not Rate.objects.exists()


@pytest.mark.parametrize("role", ["manager", "rep"])
def test_only_admins_import(make_user, role):
    user = make_user(f"{role}.x@example.com", role)

    with pytest.raises(Forbidden):
        run(user, "day,currency,rate\n2026-01-05,EUR,1.085\n")

    assert not Rate.objects.exists()


def test_rows_and_a_file_together_are_a_programming_error(admin_user):
    with pytest.raises(ValueError, match="give rows or a file"):
        rates_import(actor=admin_user, rows=[], file=csv_file(""), now=NOW)


# --- conversion ---------------------------------------------------------------------------

JAN_5, JAN_6, JAN_9 = dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 9)


@pytest.fixture
def table(db) -> RateTable:
    add("EUR", "2026-01-05", "1.085")
    add("EUR", "2026-01-09", "1.1")
    add("GBP", "2026-01-01", "1.005")
    return RateTable.load()


def test_an_amount_on_a_rate_day_uses_that_days_rate(table):
    assert table.convert(Decimal("100.00"), "EUR", JAN_5) == Decimal("108.50")
    assert table.convert(Decimal("100.00"), "EUR", JAN_9) == Decimal("110.00")
    assert table.missing == {}


def test_an_amount_between_rate_days_uses_the_latest_rate_before(table):
    assert table.convert(Decimal("100.00"), "EUR", JAN_6) == Decimal("108.50")
    assert table.convert(Decimal("100.00"), "EUR", dt.date(2027, 1, 1)) == Decimal("110.00")
    assert table.describe("EUR", JAN_6) == "1 EUR = 1.085 USD (rate of 2026-01-05)"


def test_an_amount_before_the_first_rate_is_not_converted_and_is_noted(table):
    assert table.convert(Decimal("100.00"), "EUR", dt.date(2026, 1, 4)) is None
    assert table.convert(Decimal("100.00"), "EUR", dt.date(2025, 12, 1)) is None
    assert table.convert(Decimal("5.00"), "CHF", JAN_6) is None

    assert table.missing == {"EUR": dt.date(2025, 12, 1), "CHF": JAN_6}
    assert table.missing_notes() == [
        "CHF amounts are not converted: no rate (from 2026-01-06)",
        "EUR amounts before 2026-01-05 are not converted: no rate",
    ]
    assert table.describe("EUR", dt.date(2026, 1, 4)) == "no EUR rate on or before 2026-01-04"


def test_the_home_currency_is_unchanged(table):
    assert table.convert(Decimal("12.34"), "USD", dt.date(1999, 1, 1)) == Decimal("12.34")
    assert table.rate("USD", JAN_5) == Decimal(1)
    assert table.describe("USD", JAN_5) == "USD is the home currency"
    assert table.rate_used("USD", JAN_5) is None
    assert table.missing == {}


def test_conversion_rounds_half_to_even_cents(table):
    # 1.005 and 3.015 are exactly half a cent: half to even goes down, then up
    assert table.convert(Decimal("1.00"), "GBP", JAN_5) == Decimal("1.00")
    assert table.convert(Decimal("3.00"), "GBP", JAN_5) == Decimal("3.02")  # 3.015
    assert table.convert(Decimal("0.01"), "EUR", JAN_5) == Decimal("0.01")  # 0.01085


def test_the_rate_for_sums_is_the_unrounded_rate(table):
    assert table.rate("EUR", JAN_6) == Decimal("1.085")
    assert table.rate("EUR", dt.date(2026, 1, 1)) is None
    assert table.missing == {"EUR": dt.date(2026, 1, 1)}


def test_a_table_of_some_currencies_reads_only_those(table):
    only_eur = RateTable.load(currencies=["eur"])

    assert only_eur.convert(Decimal("100.00"), "EUR", JAN_5) == Decimal("108.50")
    assert only_eur.convert(Decimal("100.00"), "GBP", JAN_5) is None
    assert list(only_eur.days) == ["EUR"]


def test_a_large_file_reports_its_progress_in_bytes(admin_user, tmp_path):
    # given 2,500 daily rates, more than one progress step
    first = dt.date(2020, 1, 1)
    lines = [f"{first + dt.timedelta(days=n)},EUR,1.{n:04d}" for n in range(2500)]
    path = tmp_path / "rates.csv"
    path.write_text("day,currency,rate\n" + "\n".join(lines) + "\n", encoding="utf-8")
    steps: list[int] = []

    with path.open(encoding="utf-8-sig", newline="") as stream:
        report = rates_import(
            actor=admin_user, file=stream, source="rates.csv", now=NOW, progress=steps.append
        )

    assert report.added == 2500
    assert sum(steps) == path.stat().st_size
    assert len(steps) >= 2
