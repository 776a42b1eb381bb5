"""Report 6, programme ROI: the referred revenue won in the period against what the
referral programme cost (the rewards approved, and the time its asks took), with the ROI
multiple and the net return; and per source, the deals won and their revenue against the
spend entered for the period, with the cost per won deal and the revenue per unit of cost
(the referral source's spend is the programme's cost).

Which date the period applies to, and which day's rate converts: revenue won by the day
the deal was won (closed_at), at that day's rate, counting the whole amount of each won
referral deal (not its advocates' credit shares: the programme brought the whole deal);
rewards approved or fulfilled by the day they were approved (decided_at), at that day's
rate, at their value; asks made (referral ask tasks done) by the day they were done, each
costing minutes per ask / 60 × the hourly cost, converted at that day's rate when the cost
is in another currency; spend per source by the months the period touches (a month partly
in the period counts whole), at the rate of the month's first day.

Who sees what: managers and admins see everything. Anyone else (reps, CSMs) sees the
revenue of the deals deals_visible_to shows them, the rewards of the introductions they may
see and the asks they may see; the spend entered per source is for managers and admins
only (a rep's share of it is not known). The team, owner, industry and size filters narrow
the deals, rewards (through the introduction's owner and advocate account) and asks (owner
and account); they cannot narrow the spend entered, which a note then says.

Queries: four GROUP BY queries (deals won, rewards, asks made, spend) plus the programme
costs and the rates: rows grow with sources, currencies and days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet, Sum
from django.utils.safestring import SafeString

from goodword.crm.models import DealSource, Task, TaskKind, TaskStatus
from goodword.crm.selectors import tasks_visible_to
from goodword.lib import charts
from goodword.referrals.models import Reward, RewardStatus
from goodword.referrals.selectors import introductions_visible_to
from goodword.reports.dates import UTCDate, day_bounds, rate_day
from goodword.reports.filters import Filters, deals_for, sees_all, stage_ids
from goodword.reports.models import ProgrammeCosts, SourceSpend
from goodword.reports.money import Money, cents, money_text
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table
from goodword.reports.reps import narrowed, referral_deals_allowed
from goodword.reports.services import programme_costs

if TYPE_CHECKING:
    from goodword.users.models import User

COST_STATUSES = (RewardStatus.APPROVED, RewardStatus.FULFILLED)


@dataclass
class _Sum:
    """Items counted, and their amount in the home currency (unrounded), with those that
    could not be converted."""

    count: int = 0
    amount: Money = Decimal(0)
    unconverted: int = 0

    def add(
        self, count: int, amount: Decimal, currency: str, day: dt.date, rates: RateTable
    ) -> None:
        self.count += count
        rate = rates.rate(currency, day)
        if rate is None:
            self.unconverted += count
        else:
            self.amount += amount * rate


PROGRAMME_COLUMNS = [
    Column("won_deals", "Referred deals won", "count"),
    Column("revenue_won", "Referred revenue won", "money"),
    Column("rewards", "Rewards approved", "count"),
    Column("reward_cost", "Reward cost", "money"),
    Column("asks_made", "Asks made", "count"),
    Column("minutes_per_ask", "Minutes per ask", "count", given=True),
    Column("hourly_cost", "Hourly cost (home currency)", "money", given=True),
    Column("time_cost", "Time cost", "money"),
    Column("total_cost", "Total cost", "money"),
    Column("net_return", "Net return", "money"),
    Column("roi_multiple", "ROI multiple", "ratio"),
    Column("unconverted", "Not converted (no rate)", "count"),
]
SOURCE_COLUMNS = [
    Column("source", "Source key"),
    Column("label", "Source"),
    Column("won_deals", "Deals won", "count"),
    Column("revenue_won", "Revenue won", "money"),
    Column("spend", "Spend in the period", "money"),
    Column("cost_per_won_deal", "Cost per won deal", "money"),
    Column("revenue_per_cost", "Revenue per unit of cost", "ratio"),
    Column("unconverted", "Not converted (no rate)", "count"),
]


@dataclass
class _Programme:
    won: _Sum
    rewards: _Sum
    asks: int
    time: _Sum  # the asks' time, as an amount
    costs: ProgrammeCosts

    @property
    def cost(self) -> Money:
        return self.rewards.amount + self.time.amount

    def multiple(self) -> Decimal | None:
        return self.won.amount / self.cost if self.cost else None

    def row(self, rates: RateTable, today: dt.date) -> dict[str, Any]:
        rate = rates.rate(self.costs.currency, today)
        multiple = self.multiple()
        return {
            "won_deals": self.won.count,
            "revenue_won": cents(self.won.amount),
            "rewards": self.rewards.count,
            "reward_cost": cents(self.rewards.amount),
            "asks_made": self.asks,
            "minutes_per_ask": self.costs.minutes_per_ask,
            "hourly_cost": None if rate is None else cents(self.costs.hourly_cost * rate),
            "time_cost": cents(self.time.amount),
            "total_cost": cents(self.cost),
            "net_return": cents(self.won.amount - self.cost),
            "roi_multiple": None if multiple is None else float(multiple),
            "unconverted": self.won.unconverted + self.rewards.unconverted + self.time.unconverted,
        }


def roi_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    won = _won_by_source(user, filters, period, rates)
    programme = _programme(user, filters, period, rates, won)
    spend = _spend(period, rates) if sees_all(user) else None
    notes = _notes(user, filters, programme)
    rows = _source_rows(won, spend, programme)
    return Report(
        name="roi",
        title="Referral programme ROI",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=_headline(programme, rates.home),
        tables=[
            Table("programme", "Referral programme", PROGRAMME_COLUMNS,
                  [programme.row(rates, period[1])]),
            Table("sources", "Return per source", SOURCE_COLUMNS, rows),
        ],
        notes=[*rates.missing_notes(), *notes],
    )  # fmt: skip


def _won_by_source(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date], rates: RateTable
) -> dict[str, _Sum]:
    first, after = day_bounds(*period)
    groups = (
        deals_for(user, filters)
        .filter(stage_id__in=stage_ids(won=True), closed_at__gte=first, closed_at__lt=after)
        .annotate(day=rate_day("closed_at", rates.home))
        .values("source", "currency", "day")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    )
    found: dict[str, _Sum] = defaultdict(_Sum)
    for g in groups:
        found[g["source"]].add(g["n"], g["total"], g["currency"], g["day"], rates)
    return found


def _programme(
    user: User | None,
    filters: Filters,
    period: tuple[dt.date, dt.date],
    rates: RateTable,
    won: dict[str, _Sum],
) -> _Programme:
    costs = programme_costs()
    rewards, time, asks = _Sum(), _Sum(), 0
    if referral_deals_allowed(filters):
        rewards = _rewards(user, filters, period, rates)
        per_ask = Decimal(costs.minutes_per_ask) / 60 * costs.hourly_cost
        for day, n in _asks_per_day(user, filters, period):
            asks += n
            time.add(n, per_ask * n, costs.currency, day, rates)
    return _Programme(won.get(DealSource.REFERRAL, _Sum()), rewards, asks, time, costs)


def _rewards(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date], rates: RateTable
) -> _Sum:
    first, after = day_bounds(*period)
    rewards: QuerySet[Reward] = Reward.objects.filter(
        status__in=COST_STATUSES, decided_at__gte=first, decided_at__lt=after
    )
    if not sees_all(user):
        assert user is not None
        rewards = rewards.filter(introduction__in=introductions_visible_to(user).values("pk"))
    rewards = narrowed(rewards, filters, owner="introduction__owner", account="advocate_account")
    groups = (
        rewards.annotate(day=UTCDate("decided_at"))
        .values("currency", "day")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by()
    )
    found = _Sum()
    for g in groups:
        found.add(g["n"], g["total"], g["currency"], g["day"], rates)
    return found


def _asks_per_day(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> list[tuple[dt.date, int]]:
    first, after = day_bounds(*period)
    asks = Task.objects.all() if user is None else tasks_visible_to(user)
    asks = asks.filter(
        kind=TaskKind.REFERRAL_ASK,
        status=TaskStatus.DONE,
        completed_at__gte=first,
        completed_at__lt=after,
    )
    groups = (
        narrowed(asks, filters, owner="owner", account="account")
        .annotate(day=UTCDate("completed_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [(g["day"], g["n"]) for g in groups]


def _spend(period: tuple[dt.date, dt.date], rates: RateTable) -> dict[str, _Sum]:
    start, end = period
    groups = (
        SourceSpend.objects.filter(month__gte=start.replace(day=1), month__lte=end)
        .values("source", "currency", "month")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    )
    found: dict[str, _Sum] = defaultdict(_Sum)
    for g in groups:
        found[g["source"]].add(g["n"], g["total"], g["currency"], g["month"], rates)
    return found


def _source_rows(
    won: dict[str, _Sum], spend: dict[str, _Sum] | None, programme: _Programme
) -> list[dict[str, Any]]:
    rows = []
    for source, label in DealSource.choices:
        deals = won.get(source, _Sum())
        cost: Money | None
        if source == DealSource.REFERRAL:
            cost, unconverted = programme.cost, programme.rewards.unconverted
            unconverted += programme.time.unconverted
        elif spend is not None and source in spend:
            cost, unconverted = spend[source].amount, spend[source].unconverted
        else:
            cost, unconverted = None, 0
        rows.append({
            "source": source,
            "label": label,
            "won_deals": deals.count,
            "revenue_won": cents(deals.amount),
            "spend": None if cost is None else cents(cost),
            "cost_per_won_deal": _per(cost, deals.count),
            "revenue_per_cost": float(deals.amount / cost) if cost else None,
            "unconverted": deals.unconverted + unconverted,
        })  # fmt: skip
    return rows


def _per(cost: Money | None, deals: int) -> Money | None:
    return cents(cost / deals) if cost is not None and deals else None


def _notes(user: User | None, filters: Filters, programme: _Programme) -> list[str]:
    notes = []
    if not sees_all(user):
        notes.append("The spend entered per source is shown to managers and admins only.")
    elif filters.team or filters.owner or filters.industry or filters.size:
        notes.append(
            "The spend entered per source is the whole company's: the filters narrow the "
            "deals, rewards and asks, not the spend."
        )
    if not referral_deals_allowed(filters):
        notes.append("The source filter leaves out referrals: the programme's cost is not shown.")
    if programme.costs._state.adding:
        notes.append(
            f"The time cost uses the default {programme.costs.minutes_per_ask} minutes per "
            f"ask at {programme.costs.currency} {_plain(programme.costs.hourly_cost)} an hour: "
            "an admin may set them."
        )
    return notes


def _plain(amount: Decimal) -> str:
    """An hourly cost as people write it: 60, 62.50."""
    whole = amount == amount.to_integral_value()
    return f"{amount:,.0f}" if whole else f"{amount:,.2f}"


def _headline(programme: _Programme, currency: str) -> str:
    won, cost, costs = programme.won.amount, programme.cost, programme.costs
    if not won and not cost:
        return "No referred revenue won and no programme cost in this period."
    if not cost:
        return f"Referrals won {money_text(won, currency)}; the programme recorded no cost."
    multiple = won / cost
    rewards = money_text(programme.rewards.amount, currency).removeprefix(f"{currency} ")
    return (
        f"Referrals returned {multiple:.1f}× their cost: {money_text(won, currency)} won for "
        f"{money_text(cost, currency)} (rewards {rewards}, {programme.asks:,} asks × "
        f"{costs.minutes_per_ask} min at {costs.currency} {_plain(costs.hourly_cost)}/h)"
    )


def draw(report: Report) -> dict[str, SafeString]:
    """The programme's revenue against its costs, and each source's revenue against its
    spend."""
    programme = report.table("programme").rows[0]
    sources = report.table("sources").rows
    return {
        "programme": charts.bars(
            [
                ("Referred revenue won", programme["revenue_won"]),
                ("Reward cost", programme["reward_cost"]),
                ("Time cost", programme["time_cost"]),
            ],
            title=f"Referral programme: revenue and cost ({report.currency})",
            unit=report.currency,
        ),
        "sources": charts.grouped_bars(
            [s["label"] for s in sources],
            {
                "Revenue won": [s["revenue_won"] for s in sources],
                "Spend": [s["spend"] or 0 for s in sources],
            },
            title=f"Revenue won and spend per source ({report.currency})",
            unit=report.currency,
        ),
    }
