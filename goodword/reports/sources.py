"""Report 2, referred versus other sources: for the new-business deals created in the period
(a cohort, each deal under the source it has now; renewals and expansions come from the
customer, not from a source, so they would only blur the comparison), per source: created,
won, lost and still open; the win rate (won out of closed) with a 95 % Wilson interval; the
median days from creation to won (UTC calendar days) with a 95 % bootstrap interval; the
average won amount (converted at the rate of the day each deal was won); and the sample
sizes. A reopened deal counts as open. Then referral against all the other sources together,
and a headline that says the difference and its uncertainty in words, or that the data cannot
tell yet.

One GROUP BY query, read from the deals' (source, created_at, ...) index alone: counts per
source and stage, and the won deals also per days to close and per currency and day (a day
only for other currencies than the home one), so its rows grow with those, not the deals.
The medians and their intervals come from those day counts (engine.stats.Counted), never
from one row per deal."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Case, Count, Q, QuerySet, Sum, When

from goodword.crm.models import Deal, DealKind, DealSource
from goodword.engine import stats
from goodword.reports.dates import DaysBetween, rate_day
from goodword.reports.filters import Filters, deals_for, stage_ids
from goodword.reports.money import cents
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table

if TYPE_CHECKING:
    from goodword.users.models import User

OTHERS = "others"  # the row of every source but referral, together
SEED = 0  # the bootstrap's seed: the same data always gives the same interval

COLUMNS = [
    Column("source", "Source key"),
    Column("label", "Source"),
    Column("created", "Deals created", "count"),
    Column("won", "Won", "count"),
    Column("lost", "Lost", "count"),
    Column("open", "Still open", "count"),
    Column("closed", "Sample (closed)", "count"),
    Column("win_rate", "Win rate", "percent"),
    Column("win_rate_low", "Win rate, 95 % CI low", "percent"),
    Column("win_rate_high", "Win rate, 95 % CI high", "percent"),
    Column("median_days", "Median days to win", "days"),
    Column("median_days_low", "Median days, 95 % CI low", "days"),
    Column("median_days_high", "Median days, 95 % CI high", "days"),
    Column("won_amount", "Won amount", "money"),
    Column("average_won", "Average won amount", "money"),
    Column("unconverted", "Won, not converted (no rate)", "count"),
]
COMPARISON = [
    Column("measure", "Measure"),
    Column("estimate", "Referred against the rest", "ratio"),
    Column("low", "95 % CI low", "ratio"),
    Column("high", "95 % CI high", "ratio"),
]


class _Source:
    def __init__(self) -> None:
        self.created = self.won = self.lost = self.unconverted = 0
        self.days: dict[int, int] = defaultdict(int)
        self.amount = Decimal(0)

    def add(self, other: _Source) -> None:
        self.created += other.created
        self.won += other.won
        self.lost += other.lost
        self.unconverted += other.unconverted
        self.amount += other.amount
        for days, n in other.days.items():
            self.days[days] += n

    def row(self, source: str, label: str) -> dict[str, Any]:
        closed = self.won + self.lost
        rate = stats.wilson(self.won, closed)
        median = stats.median_interval_counts(self.days, seed=SEED)
        converted = self.won - self.unconverted
        return {
            "source": source,
            "label": label,
            "created": self.created,
            "won": self.won,
            "lost": self.lost,
            "open": self.created - closed,
            "closed": closed,
            "win_rate": _percent(rate.estimate),
            "win_rate_low": _percent(rate.low),
            "win_rate_high": _percent(rate.high),
            "median_days": median.estimate,
            "median_days_low": median.low,
            "median_days_high": median.high,
            "won_amount": cents(self.amount),
            "average_won": cents(self.amount / converted) if converted else None,
            "unconverted": self.unconverted,
        }


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def sources_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    cohort = _cohort(deals_for(user, filters).filter(kind=DealKind.NEW), period)
    found = _per_source(cohort, rates)
    labels = dict(DealSource.choices)
    rows = [found[s].row(s, labels[s]) for s in DealSource.values if s in found]
    referred = found.get(DealSource.REFERRAL, _Source())
    others = _Source()
    for source, figures in found.items():
        if source != DealSource.REFERRAL:
            others.add(figures)
    rows.append(others.row(OTHERS, "All other sources"))
    ratio = stats.rate_ratio(
        referred.won, referred.won + referred.lost, others.won, others.won + others.lost
    )
    faster = stats.median_difference_counts(referred.days, others.days, seed=SEED)
    headline = stats.headline(
        win_ratio=ratio,
        cycle_difference=faster,
        referred_closed=referred.won + referred.lost,
        other_closed=others.won + others.lost,
    )
    comparison = [
        {"measure": "Win rate, referred over others", **_bounds(ratio)},
        {"measure": "Median days to win, referred minus others", **_bounds(faster)},
    ]
    return Report(
        name="sources",
        title="Referred versus other sources",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=headline,
        tables=[
            Table("sources", "New-business deals created in the period, by source", COLUMNS, rows),
            Table("comparison", "Referred against the other sources", COMPARISON, comparison),
        ],
        notes=rates.missing_notes(),
    )


def _bounds(interval: stats.Interval) -> dict[str, float | None]:
    return {"estimate": interval.estimate, "low": interval.low, "high": interval.high}


def _cohort(deals: QuerySet[Deal], period: tuple[dt.date, dt.date]) -> QuerySet[Deal]:
    start = dt.datetime.combine(period[0], dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return deals.filter(created_at__gte=start, created_at__lt=end)


def _per_source(cohort: QuerySet[Deal], rates: RateTable) -> dict[str, _Source]:
    """One GROUP BY over the cohort, read from the deals' (source, created_at, ...) index
    alone: per source and stage, and for won deals with a close time also per days to win
    and per currency and day of winning (the day only for other currencies than the home
    one, which need a rate)."""
    found: dict[str, _Source] = defaultdict(_Source)
    won_stages, lost_stages = set(stage_ids(won=True)), set(stage_ids(lost=True))
    closed_won = Q(stage_id__in=won_stages, closed_at__isnull=False)
    groups = (
        cohort.annotate(
            cycle=Case(When(closed_won, then=DaysBetween("closed_at", "created_at"))),
            won_on=Case(When(closed_won, then=rate_day("closed_at", rates.home))),
        )
        .values_list("source", "stage_id", "cycle", "currency", "won_on")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    )
    for source, stage_id, cycle, currency, won_on, n, total in groups:
        figures = found[source]
        figures.created += n
        if stage_id in lost_stages:
            figures.lost += n
        if stage_id not in won_stages:
            continue
        figures.won += n
        if cycle is None:  # won without a close time: no days to win, no amount
            continue
        figures.days[cycle] += n
        rate = rates.rate(currency, won_on)
        if rate is None:
            figures.unconverted += n
        else:
            figures.amount += total * rate
    return found
