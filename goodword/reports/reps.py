"""Report 5, rep KPIs: per user and per team, the referral asks assigned, made on time, made
late and overdue, the introductions, the referred pipeline created and the referred revenue
won, against the quarterly targets managers set, with the attainment.

Which date the period applies to, per figure: asks assigned by the day the ask task was
created; made on time and made late by the day it was done (on time: done by its due time);
overdue is a snapshot, open asks due before `today`, whatever the period; introductions by
the day they were created; referred pipeline created by the day the referral deal was
created, converted at that day's rate; referred revenue won by the day the deal was won
(closed_at), converted at that day's rate. An ask is a referral ask task; it is counted for
its owner, an introduction for its owner (the ask's owner, or whom a referral logged by
hand was introduced to), a deal for its owner (deals without an owner are in no row).

Targets: a quarter's target counts for the share of the quarter's days the period covers
(a period of one whole quarter has its targets; half a quarter, half of them); attainment is
the figure over that target.

Who sees what: managers and admins see every user and the team totals. Anyone else (reps,
CSMs) sees their own row only: deals_visible_to also shows a rep the deals of other owners on
the rep's accounts, which would make other people's rows partial; the team totals would
show colleagues' figures. The team, owner, industry and size filters apply to every figure
(industry and size to the ask's, introduction's or deal's account); the source filter to the
deal figures only.

Queries: five GROUP BY queries (asks, introductions, pipeline created, revenue won, targets)
plus the users and their teams and the rates: rows grow with users, currencies and days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils.safestring import SafeString

from goodword.crm.models import DealSource, Task, TaskKind, TaskStatus
from goodword.lib import charts
from goodword.referrals.models import Introduction
from goodword.reports.dates import day_bounds
from goodword.reports.filters import SIZE_BAND_CHOICES, Filters, deals_for, sees_all, stage_ids
from goodword.reports.models import MONEY_METRICS, RepTarget, TargetMetric
from goodword.reports.money import Money, cents, converted_sums, money_text
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table
from goodword.reports.services import quarter_end, quarter_of

if TYPE_CHECKING:
    from goodword.users.models import User

METRICS = tuple(TargetMetric.values)


def narrowed(qs: QuerySet[Any], filters: Filters, *, owner: str, account: str) -> QuerySet[Any]:
    """`qs` narrowed by the filters that are not about deals: team and owner through the
    `owner` path, industry and size through the `account` path."""
    rule = Q()
    if filters.team is not None:
        rule &= Q(**{f"{owner}__team_id": filters.team})
    if filters.owner is not None:
        rule &= Q(**{f"{owner}_id": filters.owner})
    if filters.industry:
        rule &= Q(**{f"{account}__industry__iexact": filters.industry})
    if filters.size:
        lower, upper = SIZE_BAND_CHOICES[filters.size]
        rule &= Q(**{f"{account}__employees__gte": lower})
        if upper is not None:
            rule &= Q(**{f"{account}__employees__lte": upper})
    return qs.filter(rule) if rule else qs


def referral_deals_allowed(filters: Filters) -> bool:
    return not filters.source or filters.source == DealSource.REFERRAL


@dataclass
class _Rep:
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    introductions: int = 0
    pipeline_deals: int = 0
    pipeline: Money = Decimal(0)
    won_deals: int = 0
    won: Money = Decimal(0)
    unconverted: int = 0
    targets: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: _Rep) -> None:
        for key, value in vars(other).items():
            if key == "targets":
                for metric, target in value.items():
                    self.targets[metric] = self.targets.get(metric, Decimal(0)) + target
            else:
                setattr(self, key, getattr(self, key) + value)

    def actual(self, metric: str) -> Decimal:
        return {
            TargetMetric.ASKS_MADE: Decimal(self.on_time + self.late),
            TargetMetric.INTRODUCTIONS: Decimal(self.introductions),
            TargetMetric.PIPELINE_CREATED: self.pipeline,
            TargetMetric.REVENUE_WON: self.won,
        }[TargetMetric(metric)]

    def figures(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "assigned": self.assigned,
            "made_on_time": self.on_time,
            "made_late": self.late,
            "overdue": self.overdue,
            "introductions": self.introductions,
            "pipeline_deals": self.pipeline_deals,
            "pipeline_created": cents(self.pipeline),
            "won_deals": self.won_deals,
            "revenue_won": cents(self.won),
            "unconverted": self.unconverted,
        }
        for metric in METRICS:
            target = self.targets.get(metric)
            row[f"target_{metric}"] = None if target is None else cents(target)
            row[f"attainment_{metric}"] = (
                float(self.actual(metric) / target * 100) if target else None
            )
        return row


FIGURE_COLUMNS = [
    Column("assigned", "Asks assigned", "count"),
    Column("made_on_time", "Made on time", "count"),
    Column("made_late", "Made late", "count"),
    Column("overdue", "Overdue today", "count"),
    Column("introductions", "Introductions", "count"),
    Column("pipeline_deals", "Referred deals created", "count"),
    Column("pipeline_created", "Referred pipeline created", "money"),
    Column("won_deals", "Referred deals won", "count"),
    Column("revenue_won", "Referred revenue won", "money"),
    Column("unconverted", "Deals not converted (no rate)", "count"),
]
TARGET_COLUMNS = [
    column
    for metric, label in TargetMetric.choices
    for column in (
        Column(f"target_{metric}", f"Target: {label.lower()}",
               "money" if metric in MONEY_METRICS else "ratio"),
        Column(f"attainment_{metric}", f"Attainment: {label.lower()}", "percent"),
    )
]  # fmt: skip
REP_COLUMNS = [
    Column("user_id", "User id", "count"),
    Column("rep", "Rep"),
    Column("email", "E-mail"),
    Column("team", "Team"),
    *FIGURE_COLUMNS,
    *TARGET_COLUMNS,
]
TEAM_COLUMNS = [
    Column("team", "Team"),
    Column("reps", "Reps", "count"),
    *FIGURE_COLUMNS,
    *TARGET_COLUMNS,
]


def reps_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    only = None if sees_all(user) else user
    reps: dict[int, _Rep] = defaultdict(_Rep)
    _asks(reps, only, filters, period, today)
    _introductions(reps, only, filters, period)
    if referral_deals_allowed(filters):
        _pipeline(reps, user, only, filters, period, rates)
        _won(reps, user, only, filters, period, rates)
    _targets(reps, only, filters, period)
    rows, teams = _rows(reps)
    notes = rates.missing_notes()
    if only is not None:
        notes.append("You see your own figures only; team totals are for managers and admins.")
        teams = []
    return Report(
        name="reps",
        title="Rep KPIs and targets",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=_headline(reps, rates.home),
        tables=[
            Table("reps", "Per rep", REP_COLUMNS, rows),
            Table("teams", "Per team", TEAM_COLUMNS, teams),
        ],
        notes=notes,
    )


def _asks(
    reps: dict[int, _Rep],
    only: User | None,
    filters: Filters,
    period: tuple[dt.date, dt.date],
    today: dt.date,
) -> None:
    first, after = day_bounds(*period)
    today_starts = day_bounds(today, today)[0]
    created = Q(created_at__gte=first, created_at__lt=after)
    done = Q(status=TaskStatus.DONE, completed_at__gte=first, completed_at__lt=after)
    overdue = Q(status=TaskStatus.OPEN, due_at__lt=today_starts)
    asks = Task.objects.filter(kind=TaskKind.REFERRAL_ASK).filter(created | done | overdue)
    if only is not None:
        asks = asks.filter(owner=only)
    groups = (
        narrowed(asks, filters, owner="owner", account="account")
        .values("owner_id")
        .annotate(
            assigned=Count("pk", filter=created),
            on_time=Count("pk", filter=done & Q(completed_at__lte=F("due_at"))),
            late=Count("pk", filter=done & Q(completed_at__gt=F("due_at"))),
            overdue=Count("pk", filter=overdue),
        )
        .order_by()
    )
    for g in groups:
        rep = reps[g["owner_id"]]
        rep.assigned, rep.on_time, rep.late = g["assigned"], g["on_time"], g["late"]
        rep.overdue = g["overdue"]


def _introductions(
    reps: dict[int, _Rep], only: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> None:
    first, after = day_bounds(*period)
    intros = Introduction.objects.filter(
        owner__isnull=False, created_at__gte=first, created_at__lt=after
    )
    if only is not None:
        intros = intros.filter(owner=only)
    intros = narrowed(intros, filters, owner="owner", account="advocate_account")
    for g in intros.values("owner_id").annotate(n=Count("pk")).order_by():
        reps[g["owner_id"]].introductions = g["n"]


def _referral_deals(user: User | None, only: User | None, filters: Filters) -> QuerySet[Any]:
    deals = deals_for(user, filters).filter(source=DealSource.REFERRAL, owner__isnull=False)
    return deals if only is None else deals.filter(owner=only)


def _pipeline(
    reps: dict[int, _Rep],
    user: User | None,
    only: User | None,
    filters: Filters,
    period: tuple[dt.date, dt.date],
    rates: RateTable,
) -> None:
    first, after = day_bounds(*period)
    created = _referral_deals(user, only, filters).filter(
        created_at__gte=first, created_at__lt=after
    )
    for owner, sums in converted_sums(
        created, day="created_at", by="owner_id", rates=rates
    ).items():
        rep = reps[owner]
        rep.pipeline_deals += sums.deals
        rep.unconverted += sums.unconverted
        rep.pipeline += sums.amount


def _won(
    reps: dict[int, _Rep],
    user: User | None,
    only: User | None,
    filters: Filters,
    period: tuple[dt.date, dt.date],
    rates: RateTable,
) -> None:
    first, after = day_bounds(*period)
    won = _referral_deals(user, only, filters).filter(
        stage_id__in=stage_ids(won=True), closed_at__gte=first, closed_at__lt=after
    )
    for owner, sums in converted_sums(won, day="closed_at", by="owner_id", rates=rates).items():
        rep = reps[owner]
        rep.won_deals += sums.deals
        rep.unconverted += sums.unconverted
        rep.won += sums.amount


def quarter_shares(start: dt.date, end: dt.date) -> dict[dt.date, Decimal]:
    """Each quarter the period touches, by its first day, with the share of its days the
    period covers (1 for a whole quarter)."""
    shares: dict[dt.date, Decimal] = {}
    first = quarter_of(start)
    while first <= end:
        last = quarter_end(first)
        covered = (min(end, last) - max(start, first)).days + 1
        shares[first] = Decimal(covered) / Decimal((last - first).days + 1)
        first = last + dt.timedelta(days=1)
    return shares


def _targets(
    reps: dict[int, _Rep], only: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> None:
    shares = quarter_shares(*period)
    targets = RepTarget.objects.filter(quarter__in=list(shares))
    if only is not None:
        targets = targets.filter(user=only)
    if filters.team is not None:
        targets = targets.filter(user__team_id=filters.team)
    if filters.owner is not None:
        targets = targets.filter(user_id=filters.owner)
    groups = targets.values("user_id", "quarter", "metric").annotate(total=Sum("value")).order_by()
    for g in groups:
        part = reps[g["user_id"]].targets
        part[g["metric"]] = part.get(g["metric"], Decimal(0)) + g["total"] * shares[g["quarter"]]


def _rows(reps: dict[int, _Rep]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows per rep (by team, then name) and per team, with a total of all teams."""
    from goodword.users.models import User as UserModel

    people = UserModel.objects.filter(pk__in=list(reps)).select_related("team")
    rows: list[tuple[tuple[str, str], dict[str, Any]]] = []
    teams: dict[str, tuple[int, _Rep]] = {}
    for person in people:
        team = person.team.name if person.team else ""
        rep = reps[person.pk]
        key = (team, str(person).lower())
        about = {"user_id": person.pk, "rep": str(person), "email": person.email, "team": team}
        rows.append((key, {**about, **rep.figures()}))
        count, total = teams.get(team, (0, _Rep()))
        total.add(rep)
        teams[team] = (count + 1, total)
    everyone = _Rep()
    for _, total in teams.values():
        everyone.add(total)
    team_rows = [
        {"team": name or "No team", "reps": count, **total.figures()}
        for name, (count, total) in sorted(teams.items(), key=lambda t: (not t[0], t[0]))
    ]
    team_rows.append({"team": "All teams", "reps": len(rows), **everyone.figures()})
    return [row for _, row in sorted(rows, key=lambda r: (not r[0][0], r[0]))], team_rows


def _headline(reps: dict[int, _Rep], currency: str) -> str:
    total = _Rep()
    for rep in reps.values():
        total.add(rep)
    made = total.on_time + total.late
    if not (total.assigned or made or total.overdue or total.introductions or total.won_deals):
        return "No referral asks, introductions or referred deals in this period."
    on_time = f"{total.on_time / made * 100:.0f} %" if made else "none"
    text = (
        f"{made:,} referral asks made ({on_time} on time), {total.overdue:,} overdue; "
        f"{total.introductions:,} introductions and {money_text(total.won, currency)} "
        "referred revenue won"
    )
    target = total.targets.get(TargetMetric.REVENUE_WON)
    if target:
        text += f", {total.won / target * 100:.0f} % of target"
    return text + "."


def draw(report: Report) -> dict[str, SafeString]:
    """The asks per rep (on time, late, overdue) and each team's revenue won against its
    target."""
    reps = report.table("reps").rows
    teams = [t for t in report.table("teams").rows if t["team"] != "All teams"]
    drawn = {
        "reps": charts.grouped_bars(
            [r["rep"] for r in reps],
            {
                "Made on time": [r["made_on_time"] for r in reps],
                "Made late": [r["made_late"] for r in reps],
                "Overdue today": [r["overdue"] for r in reps],
            },
            title="Referral asks per rep",
        )
    }
    if teams:
        drawn["teams"] = charts.grouped_bars(
            [t["team"] for t in teams],
            {
                "Referred revenue won": [t["revenue_won"] for t in teams],
                "Target": [t["target_revenue_won"] or 0 for t in teams],
            },
            title=f"Referred revenue won per team, against target ({report.currency})",
            unit=report.currency,
        )
    return drawn
