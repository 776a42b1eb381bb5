"""Report 3, the referral funnel: how the success moments of the period turned into asks,
introductions and won referred deals, with the conversion and the median days of each step,
overall and per rule (which kinds of moments lead to referrals that win).

The cohort is the live success moments (not retracted) that occurred in the period, by the
day of `Moment.occurred_at` (UTC); each is followed through every later step, whenever that
happened, so a conversion is the share of the same moments that got one step further. The
steps, as the code records them:

- moments: a live moment of the cohort.
- ask queued: the moment is behind a referral ask (`Moment.ask`, set by the scan when it
  queued the ask for the owner); from `Task.created_at`.
- ask made: the ask was recorded as made, with any outcome (agreed, declined, no answer,
  sent by email from Goodword): its status is done; from `Task.completed_at`. An ask closed as
  not appropriate or still open was not made.
- advocate agreed: an introduction exists for the ask (the owner recorded that the advocate
  agreed; from its creation). An ask sent by email from Goodword starts its introduction at
  once, waiting for the advocate: it counts only once the advocate named someone (then from
  the naming).
- consent requested: the advocate named the person, which sends the consent request or gives
  the advocate its link (the introduction's `name` step).
- contact accepted: the person accepted (the `accept` step).
- opportunity: the introduction has its referred deal (from the `open_opportunity` step, else
  the deal's creation). An introduction flagged instead (the company is a customer or in an
  open deal already) stops here.
- won: that deal is in a won stage now (from `closed_at`; a reopened deal is not won).

Days are UTC calendar days from the previous step; medians count each moment once, so an
ask behind three moments weighs three times. A won deal's amount is converted at the rate of
the day it was won and shared equally among the cohort's moments behind its ask, so the
rules' won amounts add up to the total; amounts are summed unrounded and rounded once.
Referrals logged by hand come from no moment and are not in this funnel.

Filters: team and owner apply to the ask's owner (the account's owner for a moment without an
ask), industry and size to the moment's account; the source filter does not apply (every deal
here is a referral). A rep or a CSM sees the moments of the accounts they may see or behind
their asks, and only the deals they may see count as opportunities and wins.

Two queries answer it: the cohort's moments per rule (a GROUP BY on the moments alone), and
the cohort's asked moments with their ask, introduction, steps and deal (through the partial
index of the moments' asks), followed step by step in Python; with the programme and the
rates, and for a rep their visible accounts and deals inside those queries: five in all. The
moments without an ask, nearly all of them, are counted and never read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    Max,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils.safestring import SafeString

from goodword.crm.models import DealSource, TaskStatus
from goodword.crm.selectors import accounts_visible_to, tasks_visible_to
from goodword.engine.intros import IntroEvent
from goodword.engine.stats import Counted
from goodword.lib import charts
from goodword.moments.models import Moment
from goodword.reports.filters import SIZE_BAND_CHOICES, Filters, deals_for, sees_all
from goodword.reports.money import cents, money_text
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table

if TYPE_CHECKING:
    from goodword.users.models import User

# The outcome referrals.asks.ask_email_send records: its introduction waits for the advocate.
EMAILED = "asked by email"
INTRO = "ask__introductions"
DEAL = "ask__introductions__deal"
STEPS = (
    ("moments", "Success moments"),
    ("asks", "Ask queued"),
    ("made", "Ask made"),
    ("agreed", "Advocate agreed"),
    ("consent", "Consent requested"),
    ("accepted", "Contact accepted"),
    ("opportunity", "Opportunity"),
    ("won", "Won"),
)
KEYS = tuple(key for key, _ in STEPS)
LABELS = dict(STEPS)

FUNNEL_COLUMNS = [
    Column("step", "Step key"),
    Column("label", "Step"),
    Column("count", "Moments reaching the step", "count"),
    Column("records", "Distinct moments, asks, introductions or deals", "count"),
    Column("conversion_previous", "Conversion from the previous step", "percent"),
    Column("conversion_first", "Conversion from the moments", "percent"),
    Column("median_days", "Median days from the previous step", "days"),
]
RULE_STEP_COLUMNS = [
    Column("rule", "Rule key"),
    Column("label", "Rule"),
    Column("step", "Step key"),
    Column("step_label", "Step"),
    Column("count", "Moments reaching the step", "count"),
    Column("conversion_previous", "Conversion from the previous step", "percent"),
    Column("conversion_first", "Conversion from the moments", "percent"),
    Column("median_days", "Median days from the previous step", "days"),
]
RULE_COLUMNS = [
    Column("rule", "Rule key"),
    Column("label", "Rule"),
    Column("kind", "Kind"),
    *[Column(key, label, "count") for key, label in STEPS],
    Column("won_deals", "Won deals", "count"),
    Column("won_amount", "Won referred amount", "money"),
    Column("amount_per_moment", "Won amount per moment", "money"),
    Column("win_conversion", "Moments that led to a win", "percent"),
    Column("unconverted", "Won deals not converted (no rate)", "count"),
]


@dataclass
class _Rule:
    kind: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYS, 0))
    days: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    won_deals: int = 0
    amount: Decimal = Decimal(0)
    unconverted: int = 0

    def add_days(self, step: str, days: int, n: int) -> None:
        found = self.days[step]
        found[days] = found.get(days, 0) + n


def funnel_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    cohort = _cohort(user, filters, period)
    rules = _per_rule(cohort)
    records = _follow(rules, _asked(cohort, user), rates)
    total = _total(rules)
    names = _rule_names()
    return Report(
        name="funnel",
        title="Referral funnel",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=_headline(rules, total, names, period, rates.home),
        tables=[
            Table("funnel", "The referral funnel", FUNNEL_COLUMNS, _steps(total, records)),
            Table(
                "rule_steps", "The funnel per rule", RULE_STEP_COLUMNS, _rule_steps(rules, names)
            ),
            Table(
                "rules",
                "Moments and won referrals per rule",
                RULE_COLUMNS,
                _rule_rows(rules, total, names),
            ),
        ],
        notes=_notes(user, filters, period) + rates.missing_notes(),
    )


# --- the cohort and how far each moment got ---------------------------------------------


def _cohort(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> QuerySet[Moment]:
    moments = Moment.objects.filter(retracted_at__isnull=True, **_occurred_in(period))
    if not sees_all(user):
        assert user is not None
        moments = moments.filter(
            Q(account__in=accounts_visible_to(user).values("pk"))
            | Q(ask__in=tasks_visible_to(user).values("pk"))
        )
    for name, value in (("team_id", filters.team), ("id", filters.owner)):
        if value is not None:
            moments = moments.filter(
                Q(ask__isnull=False, **{f"ask__owner__{name}": value})
                | Q(ask__isnull=True, **{f"account__owner__{name}": value})
            )
    if filters.industry:
        moments = moments.filter(account__industry__iexact=filters.industry)
    if filters.size:
        lower, upper = SIZE_BAND_CHOICES[filters.size]
        moments = moments.filter(account__employees__gte=lower)
        if upper is not None:
            moments = moments.filter(account__employees__lte=upper)
    return moments


def _occurred_in(period: tuple[dt.date, dt.date]) -> dict[str, dt.datetime]:
    start = dt.datetime.combine(period[0], dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return {"occurred_at__gte": start, "occurred_at__lt": end}


def _per_rule(cohort: QuerySet[Moment]) -> dict[str, _Rule]:
    """The cohort's moments per rule (one GROUP BY on the moments alone)."""
    rules: dict[str, _Rule] = {}
    for row in cohort.values("rule_id").annotate(kind_=Max("kind"), n=Count("pk")).order_by():
        rule = rules[row["rule_id"]] = _Rule(kind=row["kind_"])
        rule.counts["moments"] = row["n"]
    return rules


# The asked moment's fields read, with the names the steps use. An ask has one introduction
# at most (the services complete the ask as they start it) and an introduction takes each of
# its steps once, so the joins keep one row per moment.
STEP_AT = {"named": IntroEvent.NAME, "accepted": IntroEvent.ACCEPT,
           "opened": IntroEvent.OPEN_OPPORTUNITY}  # fmt: skip
FIELDS = {
    "rule": "rule_id",
    "occurred": "occurred_at",
    "ask": "ask_id",
    "ask_at": "ask__created_at",
    "status": "ask__status",
    "done_at": "ask__completed_at",
    "outcome": "ask__outcome",
    "intro": INTRO,
    "intro_at": f"{INTRO}__created_at",
    "deal": DEAL,
    "deal_at": f"{DEAL}__created_at",
    "closed_at": f"{DEAL}__closed_at",
    "updated_at": f"{DEAL}__updated_at",
    "is_won": f"{DEAL}__stage__is_won",
    "currency": f"{DEAL}__currency",
    "amount": f"{DEAL}__amount",
}


def _asked(cohort: QuerySet[Moment], user: User | None) -> list[dict[str, Any]]:
    """The cohort's moments behind a referral ask, each with its ask, introduction (and the
    times of its name, accept and open-opportunity steps) and deal: one query, through the
    partial index of the moments' asks, whose rows grow with the asked moments only."""
    steps = f"{INTRO}__steps"
    asked = cohort.filter(ask__isnull=False).annotate(
        **{
            f"step_{name}": FilteredRelation(steps, condition=Q(**{f"{steps}__event": event}))
            for name, event in STEP_AT.items()
        }
    )
    extra: dict[str, Any] = {f"{name}_at": F(f"step_{name}__at") for name in STEP_AT}
    if not sees_all(user):
        assert user is not None
        extra["visible"] = Exists(deals_for(user, Filters()).filter(pk=OuterRef(DEAL)))
    keys = [*FIELDS, *extra]
    rows = asked.annotate(**extra).values_list(*FIELDS.values(), *extra).order_by()
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _utc_day(at: dt.datetime) -> dt.date:
    return at.astimezone(dt.UTC).date()


class _Moment:
    """How far one asked moment got: the steps it reached (each through every step before
    it) and when it reached each."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        emailed = row["outcome"] == EMAILED
        won_at = row["closed_at"] or row["updated_at"]
        conditions = {
            "asks": True,
            "made": row["status"] == TaskStatus.DONE,
            "agreed": row["intro"] is not None and (not emailed or row["named_at"] is not None),
            "consent": row["named_at"] is not None,
            "accepted": row["accepted_at"] is not None,
            "opportunity": row["deal"] is not None and row.get("visible", True),
            "won": bool(row["is_won"]),
        }
        self.times: dict[str, dt.datetime | None] = {
            "moments": row["occurred"],
            "asks": row["ask_at"],
            "made": row["done_at"],
            "agreed": row["named_at"] if emailed else row["intro_at"],
            "consent": row["named_at"],
            "accepted": row["accepted_at"],
            "opportunity": row["opened_at"] or row["deal_at"],
            "won": won_at,
        }
        self.reached: list[str] = []
        for key in KEYS[1:]:
            if not conditions[key]:
                break
            self.reached.append(key)

    def gap(self, step: str) -> int | None:
        """UTC calendar days from the step before to `step`."""
        later, earlier = self.times[step], self.times[KEYS[KEYS.index(step) - 1]]
        if later is None or earlier is None:
            return None
        return (_utc_day(later) - _utc_day(earlier)).days


# Which record each step counts once: the ask, its introduction or its deal.
RECORD = {"asks": "ask", "made": "ask", "agreed": "intro", "consent": "intro",
          "accepted": "intro", "opportunity": "deal", "won": "deal"}  # fmt: skip


def _follow(
    rules: dict[str, _Rule], rows: list[dict[str, Any]], rates: RateTable
) -> dict[str, int]:
    """Each asked moment's steps into its rule: the moments reaching each step, the days each
    step took, the distinct won deals and their amount (a won deal's amount at the rate of
    the day it was won, shared equally among the cohort's moments behind its ask, summed per
    rule, currency, day and share before it is converted); returns the distinct records
    (asks, introductions, deals) at each step."""
    behind: dict[int, int] = defaultdict(int)
    for row in rows:
        behind[row["ask"]] += 1
    records: dict[str, set[int]] = {key: set() for key in RECORD}
    won_deals: dict[str, set[int]] = defaultdict(set)
    wins: dict[tuple[str, str, dt.date, int], tuple[Decimal, set[int]]] = {}
    for row in rows:
        moment = _Moment(row)
        rule = rules[row["rule"]]
        for step in moment.reached:
            rule.counts[step] += 1
            records[step].add(row[RECORD[step]])
            days = moment.gap(step)
            if days is not None:
                rule.add_days(step, days, 1)
        if moment.reached and moment.reached[-1] == "won":
            won_deals[row["rule"]].add(row["deal"])
            won_at = moment.times["won"]
            assert won_at is not None
            key = (row["rule"], row["currency"], _utc_day(won_at), behind[row["ask"]])
            total, deals = wins.get(key, (Decimal(0), set()))
            deals.add(row["deal"])
            wins[key] = (total + row["amount"], deals)
    for rule_id, deals in won_deals.items():
        rules[rule_id].won_deals = len(deals)
    for (rule_id, currency, day, shares), (total, deals) in wins.items():
        rule = rules[rule_id]
        rate = rates.rate(currency, day)
        if rate is None:
            rule.unconverted += len(deals)
        else:
            rule.amount += total * rate / shares
    found = {key: len(ids) for key, ids in records.items()}
    found["moments"] = sum(rule.counts["moments"] for rule in rules.values())
    return found


def _total(rules: dict[str, _Rule]) -> _Rule:
    total = _Rule()
    for rule in rules.values():
        for key in KEYS:
            total.counts[key] += rule.counts[key]
        for step, days in rule.days.items():
            for value, n in days.items():
                total.add_days(step, value, n)
        total.won_deals += rule.won_deals
        total.amount += rule.amount
        total.unconverted += rule.unconverted
    return total


def _rule_names() -> dict[str, str]:
    from goodword.moments.programmes import programme_current

    return {rule.id: rule.name for rule in programme_current()[0].rules}


# --- tables --------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _median(days: dict[int, int]) -> float | None:
    return Counted(days).median()


def _step_rows(rule: _Rule) -> list[dict[str, Any]]:
    first = rule.counts["moments"]
    rows = []
    for i, key in enumerate(KEYS):
        count = rule.counts[key]
        rows.append({
            "step": key,
            "label": LABELS[key],
            "count": count,
            "conversion_previous": _share(count, rule.counts[KEYS[i - 1]]) if i else None,
            "conversion_first": _share(count, first),
            "median_days": _median(rule.days[key]) if i else None,
        })  # fmt: skip
    return rows


def _steps(total: _Rule, records: dict[str, int]) -> list[dict[str, Any]]:
    rows = _step_rows(total)
    for row in rows:
        row["records"] = records[row["step"]]
    return rows


def _rule_steps(rules: dict[str, _Rule], names: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for rule_id in sorted(rules):
        for row in _step_rows(rules[rule_id]):
            row["step_label"] = row.pop("label")
            rows.append({"rule": rule_id, "label": names.get(rule_id, rule_id), **row})
    return rows


def _rule_row(rule_id: str, label: str, rule: _Rule) -> dict[str, Any]:
    moments = rule.counts["moments"]
    return {
        "rule": rule_id,
        "label": label,
        "kind": rule.kind,
        **rule.counts,
        "won_deals": rule.won_deals,
        "won_amount": cents(rule.amount),
        "amount_per_moment": cents(rule.amount / moments) if moments else None,
        "win_conversion": _share(rule.counts["won"], moments),
        "unconverted": rule.unconverted,
    }


def _rule_rows(
    rules: dict[str, _Rule], total: _Rule, names: dict[str, str]
) -> list[dict[str, Any]]:
    rows = [_rule_row(r, names.get(r, r), rules[r]) for r in sorted(rules)]
    # A won deal behind moments of two rules counts once in the total, in each rule's row.
    whole = _rule_row("", "All rules", total)
    whole["won_deals"] = None
    rows.append(whole)
    return rows


def _best(rules: dict[str, _Rule]) -> str | None:
    """The rule whose moments led to the most won referred revenue per moment."""
    ranked = [
        (rule.amount / rule.counts["moments"], rule.counts["won"], rule_id)
        for rule_id, rule in rules.items()
        if rule.amount > 0 and rule.counts["moments"]
    ]
    return max(ranked)[2] if ranked else None


def _headline(
    rules: dict[str, _Rule],
    total: _Rule,
    names: dict[str, str],
    period: tuple[dt.date, dt.date],
    currency: str,
) -> str:
    moments = total.counts["moments"]
    if not moments:
        return "No success moments in this period match these filters."
    won = total.counts["won"]
    overall = (
        f"{100 * won / moments:.1f} % of the {moments:,} success moments from {period[0]} to "
        f"{period[1]} led to a won referral ({money_text(total.amount, currency)} won)"
    )
    best = _best(rules)
    if best is None:
        return f"{overall}; no rule's moments have led to won referred revenue yet."
    rule = rules[best]
    per_moment = money_text(rule.amount / rule.counts["moments"], currency)
    return (
        f"{overall}; moments of {names.get(best, best)} led to the most won referred revenue: "
        f"{per_moment} a moment ({rule.counts['won']:,} of {rule.counts['moments']:,} moments "
        f"led to a win)."
    )


def _notes(user: User | None, filters: Filters, period: tuple[dt.date, dt.date]) -> list[str]:
    notes = [
        f"The moments are those that occurred from {period[0]} to {period[1]}, each followed "
        "through every later step whenever it happened."
    ]
    if filters.source and filters.source != DealSource.REFERRAL:
        notes.append(
            f"The source filter ({filters.source}) does not apply: every deal in this funnel "
            "is a referral."
        )
    if not sees_all(user):
        notes.append("Only the deals you may see count as opportunities and wins.")
    return notes


# --- charts --------------------------------------------------------------------------------


def draw(report: Report) -> dict[str, SafeString]:
    """The funnel, and the won referred amount per moment of each rule."""
    steps = report.table("funnel").rows
    rules = [r for r in report.table("rules").rows if r["rule"]]
    return {
        "funnel": charts.funnel(
            [(r["label"], r["count"]) for r in steps], title="Referral funnel (moments)"
        ),
        "rules": charts.bars(
            [(r["label"], r["amount_per_moment"] or Decimal(0)) for r in rules],
            title=f"Won referred amount per moment, by rule ({report.currency})",
            unit=report.currency,
        ),
    }
