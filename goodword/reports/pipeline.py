"""Report 1, pipeline and forecast by source: the open deals now (count, amount, amount
weighted by their stage's win probability, and what is expected to close this quarter and next
by close date), per source; and the referred pipeline created per month of the period.

The open deals are those in an open stage today, whatever the period (a pipeline is a
snapshot); their amounts are converted at the latest rate on or before today. The monthly
series counts referral deals by the day they were created, converted at that day's rate.
Amounts are summed unrounded and rounded to cents once, per figure. The database answers a
few GROUP BY queries; the rows they return grow with sources, stages and days, not deals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Case, CharField, Count, Sum, Value, When

from goodword.crm.models import DealSource, Stage
from goodword.reports.dates import UTCDate, day_bounds
from goodword.reports.filters import Filters, deals_for, stage_ids
from goodword.reports.money import Money, cents, money_text
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table

if TYPE_CHECKING:
    from goodword.users.models import User

BUCKETS = ("this", "next", "later", "past", "none")


def quarters(today: dt.date) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """This quarter's and the next one's first and last days."""
    first = (today.month - 1) // 3 * 3 + 1
    this_start = dt.date(today.year, first, 1)
    next_start = _months_after(this_start, 3)
    after = _months_after(this_start, 6)
    one = dt.timedelta(days=1)
    return (this_start, next_start - one), (next_start, after - one)


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class _Open:
    deals: int = 0
    amount: Money = Decimal(0)
    weighted: Money = Decimal(0)
    this_deals: int = 0
    this_amount: Money = Decimal(0)
    this_weighted: Money = Decimal(0)
    next_deals: int = 0
    next_amount: Money = Decimal(0)
    next_weighted: Money = Decimal(0)
    past_due: int = 0
    no_close_date: int = 0
    unconverted: int = 0

    def add(self, bucket: str, deals: int, amount: Money | None, probability: int) -> None:
        self.deals += deals
        self.past_due += deals if bucket == "past" else 0
        self.no_close_date += deals if bucket == "none" else 0
        if bucket in ("this", "next"):
            setattr(self, f"{bucket}_deals", getattr(self, f"{bucket}_deals") + deals)
        if amount is None:
            self.unconverted += deals
            return
        weighted = amount * probability / 100
        self.amount += amount
        self.weighted += weighted
        if bucket in ("this", "next"):
            setattr(self, f"{bucket}_amount", getattr(self, f"{bucket}_amount") + amount)
            setattr(self, f"{bucket}_weighted", getattr(self, f"{bucket}_weighted") + weighted)

    def row(self, source: str, label: str) -> dict[str, Any]:
        row: dict[str, Any] = {"source": source, "label": label}
        for key, value in vars(self).items():
            row[key] = cents(value) if isinstance(value, Decimal) else value
        return row


OPEN_COLUMNS = [
    Column("source", "Source key"),
    Column("label", "Source"),
    Column("deals", "Open deals", "count"),
    Column("amount", "Open amount", "money"),
    Column("weighted", "Weighted amount", "money"),
    Column("this_deals", "Closing this quarter", "count"),
    Column("this_amount", "Amount this quarter", "money"),
    Column("this_weighted", "Weighted this quarter", "money"),
    Column("next_deals", "Closing next quarter", "count"),
    Column("next_amount", "Amount next quarter", "money"),
    Column("next_weighted", "Weighted next quarter", "money"),
    Column("past_due", "Close date passed", "count"),
    Column("no_close_date", "No close date", "count"),
    Column("unconverted", "Not converted (no rate)", "count"),
]
MONTH_COLUMNS = [
    Column("month", "Month"),
    Column("deals", "Referred deals created", "count"),
    Column("amount", "Referred amount created", "money"),
    Column("unconverted", "Not converted (no rate)", "count"),
]


def pipeline_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    by_source = _open_by_source(user, filters, today, rates)
    total = _Open()
    for row in by_source.values():
        for key, value in vars(row).items():
            setattr(total, key, getattr(total, key) + value)
    labels = dict(DealSource.choices)
    rows = [by_source[s].row(s, labels[s]) for s in DealSource.values if s in by_source]
    rows.append(total.row("", "All sources"))
    months = _referred_per_month(user, filters, period, rates)
    return Report(
        name="pipeline",
        title="Pipeline and forecast by source",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=_headline(by_source.get(DealSource.REFERRAL, _Open()), total, rates.home),
        tables=[
            Table("open", "Open pipeline by source", OPEN_COLUMNS, rows),
            Table(
                "referred_per_month", "Referred pipeline created per month", MONTH_COLUMNS, months
            ),
        ],
        notes=rates.missing_notes(),
    )


def _open_by_source(
    user: User | None, filters: Filters, today: dt.date, rates: RateTable
) -> dict[str, _Open]:
    (this_start, this_end), (_, next_end) = quarters(today)
    bucket = Case(
        When(close_date__isnull=True, then=Value("none")),
        When(close_date__lt=this_start, then=Value("past")),
        When(close_date__lte=this_end, then=Value("this")),
        When(close_date__lte=next_end, then=Value("next")),
        default=Value("later"),
        output_field=CharField(),
    )
    probability = dict(Stage.objects.values_list("pk", "probability"))
    groups = (
        deals_for(user, filters)
        .filter(stage_id__in=stage_ids())
        .annotate(bucket=bucket)
        .values("source", "currency", "stage_id", "bucket")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    )
    found: dict[str, _Open] = defaultdict(_Open)
    for g in groups:
        rate = rates.rate(g["currency"], today)
        amount = None if rate is None else g["total"] * rate
        found[g["source"]].add(g["bucket"], g["n"], amount, probability[g["stage_id"]])
    return found


def _referred_per_month(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date], rates: RateTable
) -> list[dict[str, Any]]:
    start, end = period
    first, after = day_bounds(start, end)
    months: dict[str, list[Any]] = {}
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        months[month.strftime("%Y-%m")] = [0, Decimal(0), 0]
        month = _months_after(month, 1)
    if not filters.source or filters.source == DealSource.REFERRAL:
        groups = (
            deals_for(user, filters)
            .filter(source=DealSource.REFERRAL)
            .filter(created_at__gte=first, created_at__lt=after)
            .annotate(day=UTCDate("created_at"))
            .values("day", "currency")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by()
        )
        for g in groups:
            figures = months[g["day"].strftime("%Y-%m")]
            figures[0] += g["n"]
            rate = rates.rate(g["currency"], g["day"])
            if rate is None:
                figures[2] += g["n"]
            else:
                figures[1] += g["total"] * rate
    return [
        {"month": m, "deals": n, "amount": cents(amount), "unconverted": lost}
        for m, (n, amount, lost) in months.items()
    ]


def _headline(referred: _Open, total: _Open, currency: str) -> str:
    if not total.deals:
        return "No open deals match these filters."
    share = referred.amount / total.amount * 100 if total.amount else Decimal(0)
    return (
        f"Referred deals are {referred.deals:,} of {total.deals:,} open deals and "
        f"{share:.0f} % of the open amount ({money_text(referred.amount, currency)} of "
        f"{money_text(total.amount, currency)}; {money_text(referred.weighted, currency)} "
        f"weighted); {money_text(referred.this_amount, currency)} referred is expected to close "
        "this quarter."
    )
