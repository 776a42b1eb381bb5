"""Report 4, advocates: the accounts and contacts who sent referred business, ranked by the
revenue they helped win, with their introductions, referred pipeline, reward cost, last
referral ask and the first day they may be asked again; and the untapped advocates, healthy
accounts with strong recent moments that were never asked.

Credit: each referred deal's amount counts times each advocate's share (DealCredit, in
percent), so a deal two advocates share counts half to each. A credit to an account without
a contact counts for the account only; a credit to a contact counts for the contact and for
their account.

Dates and rates. The period applies to introductions by the day they were created and to
won deals by the day they were won (closed_at), converted at that day's rate; the referred
pipeline is the credited deals open today, converted at today's rate; the reward cost is the
approved and fulfilled rewards decided (decided_at, else created_at) in the period,
converted at the decision day's rate. Amounts are summed unrounded in the home currency
and rounded to cents once, per figure; an amount without a rate is left out, counted in
its row and named in the notes.

Filters. Deals are narrowed by every filter (crm.selectors through reports.filters).
Introductions and rewards are narrowed by the owner and team filters (the user the person
was introduced to) and by what the user may see (referrals.selectors); they have no
industry or size of their own. A source filter other than referral leaves no referred
business at all.

Asks. Last asked is the day of the latest referral ask made (done, or closed as not
appropriate) to the account or the contact, any time. The first day an account may be asked
again is the end of its cooldown (the gates' account_cooldown_days since its last referral
ask); a contact's is the end of their ask-fatigue block (referrals.asks.contact_fatigue's
rule over asks of every kind): today when nothing blocks it, empty when nothing lifts the
block by itself (opted out, a budget of no asks).

Untapped advocates: accounts the user may see, narrowed by the owner, team, industry and
size filters, with a strong moment in the last STRONG_DAYS days and no referral ask task
ever (whatever its status), that are not at risk. A moment is strong when its rule's weight
alone reaches the readiness threshold of the programme in force (the moment would make the
account due on its own); an account is at risk when the gates the asks apply to its health
block it (health below min_health, a recent detractor NPS answer, an open escalation),
computed as the scan computes them (moments.facts.gather). The table lists at most
UNTAPPED_MAX of them, strongest first (the heaviest rule, then the newest moment, then the
oldest account): the candidates come grouped per account and rule from the database, are
ranked, and their health is gathered a chunk at a time until the table is full, so the cost
grows with the table, not with the accounts; the notes say how many were not checked.

The database answers GROUP BY queries whose rows grow with advocates, not deals: credits and
their amounts per stage, advocate, currency, day (only for other currencies than the home
one) and share (grouped on rather than multiplied in SQL, so the sums stay exact Decimals);
the deals an account shares between its contacts, from the partial index of split credits;
introductions, rewards and the latest asks per advocate; then the names (and opt-outs) of
the advocates listed, bound as one array, the asks of the advocate contacts within the
fatigue window, the strong moments of never-asked accounts (per account and rule), and the
health facts of the strongest (a few queries per UNTAPPED_CHUNK accounts). Measured at a
million deals: about 0.4 s on either database (README, Benchmarks).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.safestring import SafeString

from goodword.crm.io.bulk import matching
from goodword.crm.models import (
    ASK_KINDS,
    NOT_APPROPRIATE,
    Account,
    Contact,
    DealSource,
    Task,
    TaskKind,
    TaskStatus,
)
from goodword.crm.selectors import accounts_visible_to
from goodword.engine.gates import Block, fatigue, gates_check
from goodword.engine.programme import GateConfig, Programme
from goodword.lib import charts
from goodword.moments.facts import gather
from goodword.moments.models import Moment
from goodword.moments.programmes import programme_current
from goodword.referrals.models import DealCredit, Introduction, Reward, RewardStatus
from goodword.referrals.selectors import introductions_visible_to
from goodword.reports.dates import day_bounds, rate_day
from goodword.reports.filters import (
    SIZE_BAND_CHOICES,
    Filters,
    deals_for,
    deals_rule,
    sees_all,
    stage_ids,
)
from goodword.reports.money import Money, cents, money_text
from goodword.reports.rates import RateTable
from goodword.reports.report import Column, Report, Table

if TYPE_CHECKING:
    from goodword.users.models import User

STRONG_DAYS = 90  # how recent a strong moment must be for an untapped advocate
CHART_TOP = 10
CHUNK = 500  # ids per IN list (SQLite allows 32,766 parameters per statement)
NAMES_CHUNK = 20_000  # ids per query for the names of the advocates listed
UNTAPPED_MAX = 100  # untapped advocates listed, strongest first
UNTAPPED_CHUNK = 150  # candidates whose health is gathered at a time
COST = (RewardStatus.APPROVED, RewardStatus.FULFILLED)  # rewards that cost money
AT_RISK = frozenset({"health", "detractor", "escalation"})  # the gates on an account's health
ZERO = Decimal(0)

FIGURE_COLUMNS = [
    Column("introductions", "Introductions", "count"),
    Column("won_deals", "Won referred deals", "count"),
    Column("won", "Won referred revenue", "money"),
    Column("open_deals", "Open referred deals", "count"),
    Column("pipeline", "Referred pipeline", "money"),
    Column("reward_cost", "Reward cost", "money"),
    Column("last_asked", "Last referral ask", "date"),
    Column("next_eligible", "May be asked from", "date"),
    Column("unconverted", "Amounts not converted (no rate)", "count"),
]
ACCOUNT_COLUMNS = [
    Column("account_id", "Account id", "count"),
    Column("account", "Account"),
    *FIGURE_COLUMNS,
]
CONTACT_COLUMNS = [
    Column("contact_id", "Contact id", "count"),
    Column("contact", "Contact"),
    Column("account", "Account"),
    *FIGURE_COLUMNS,
]
UNTAPPED_COLUMNS = [
    Column("account", "Account"),
    Column("owner", "Owner"),
    Column("health", "Health", "count"),
    Column("moment", "Strongest moment"),
    Column("weight", "Its weight", "count"),
    Column("moment_day", "On", "date"),
    Column("evidence", "Evidence"),
    Column("strong_moments", "Strong moments", "count"),
]


@dataclass
class _Figures:
    introductions: int = 0
    won_deals: int = 0
    won: Money = ZERO
    open_deals: int = 0
    pipeline: Money = ZERO
    reward_cost: Money = ZERO
    rewards: int = 0
    unconverted: int = 0
    last_asked: dt.date | None = None
    next_eligible: dt.date | None = None

    @property
    def counted(self) -> bool:
        """Whether the advocate did anything the report counts (asks alone do not)."""
        return bool(self.introductions or self.won_deals or self.open_deals or self.rewards)

    def row(self) -> dict[str, Any]:
        return {
            "introductions": self.introductions,
            "won_deals": self.won_deals,
            "won": cents(self.won),
            "open_deals": self.open_deals,
            "pipeline": cents(self.pipeline),
            "reward_cost": cents(self.reward_cost),
            "last_asked": self.last_asked,
            "next_eligible": self.next_eligible,
            "unconverted": self.unconverted,
        }


@dataclass
class _Tally:
    """The figures of every advocate account and contact, filled query by query."""

    accounts: defaultdict[int, _Figures]
    contacts: defaultdict[int, _Figures]
    rates: RateTable

    def convert(self, total: Decimal, currency: str, day: dt.date | None) -> Money | None:
        rate = self.rates.rate(currency, day)
        return None if rate is None else total * rate


def advocates_report(
    *, user: User | None, filters: Filters, today: dt.date, rates: RateTable | None = None
) -> Report:
    rates = rates if rates is not None else RateTable.load()
    period = filters.period(today)
    now = dt.datetime.combine(today, dt.time.max, tzinfo=timezone.get_current_timezone())
    programme, _ = programme_current()
    tally = _Tally(defaultdict(_Figures), defaultdict(_Figures), rates)
    referred = not filters.source or filters.source == DealSource.REFERRAL
    if referred:
        _add_deals(tally, user, filters, period, today)
        _add_introductions(tally, user, filters, period)
        _add_rewards(tally, user, filters, period)
    accounts = {a: f for a, f in tally.accounts.items() if f.counted}
    contacts = {c: f for c, f in tally.contacts.items() if f.counted}
    people = _people(contacts)
    opted = {pk for pk, (_, _, at) in people.items() if at is not None and at <= now}
    _add_asks(accounts, contacts, now=now, gates=programme.gates, opted=opted)
    account_rows = _account_rows(accounts)
    untapped = _untapped(user, filters, now, programme)
    return Report(
        name="advocates",
        title="Advocates",
        filters=filters,
        currency=rates.home,
        period=period,
        headline=_headline(account_rows, untapped, rates.home),
        tables=[
            Table("accounts", "Advocate accounts", ACCOUNT_COLUMNS, account_rows),
            Table(
                "contacts", "Advocate contacts", CONTACT_COLUMNS, _contact_rows(contacts, people)
            ),
            Table("untapped", "Untapped advocates: never asked", UNTAPPED_COLUMNS, untapped.rows),
        ],
        notes=[*rates.missing_notes(), *_notes(filters, programme, untapped)],
    )


# --- credited deals -------------------------------------------------------------------


def _credits(
    user: User | None, filters: Filters, period: tuple[dt.date, dt.date], won: list[int]
) -> QuerySet[DealCredit]:
    """The credits of deals the user may see that match the filters and were won (a stage
    of `won`) in the period or are open now."""
    first, after = day_bounds(*period)
    won_in_period = Q(deal__stage_id__in=won, deal__closed_at__gte=first, deal__closed_at__lt=after)
    still_open = Q(deal__stage_id__in=stage_ids())
    credits = DealCredit.objects.filter(deals_rule(filters, "deal__"))
    if not sees_all(user):  # what the user may see is a subquery; else the deal is joined
        credits = credits.filter(deal__in=deals_for(user, Filters()).values("pk"))
    # Only referral deals have credits (crm.services and credits.credits_clear keep it so).
    # Saying so lets the database read those deals from their covering index (which holds
    # every column needed here, the id too) and then their credits, rather than every credit
    # and then its deal's row.
    credits = credits.filter(deal__source=DealSource.REFERRAL)
    return credits.filter(won_in_period | still_open)


def _add_deals(
    tally: _Tally,
    user: User | None,
    filters: Filters,
    period: tuple[dt.date, dt.date],
    today: dt.date,
) -> None:
    """One GROUP BY over the credits of deals won in the period or open now: credits and
    amounts per stage, advocate, currency, day (of a won deal in another currency than the
    home one; an open deal is converted at today's rate) and share, converted once per
    group. An account's deals are its credits, less the second and later credits of a deal
    it shares between its contacts (a deal two contacts of one account share is one deal
    of that account): those are found among all credits, without the deals, and are rare."""
    won = stage_ids(won=True)
    credits = _credits(user, filters, period, won).annotate(
        day=rate_day("deal__closed_at", tally.rates.home, "deal__currency")
    )
    groups = (
        credits.values_list(
            "deal__stage_id", "advocate_account_id", "advocate_id", "deal__currency", "day",
            "share",
        )
        .annotate(n=Count("pk"), total=Sum("deal__amount"))
        .order_by()
    )  # fmt: skip
    deals: defaultdict[tuple[bool, int, str, dt.date | None], int] = defaultdict(int)
    for stage_id, account_id, contact_id, currency, day, share, n, total in groups:
        is_won = stage_id in won
        on = day if is_won else today
        value = tally.convert(total * share / 100, currency, on)
        targets = [tally.accounts[account_id]]
        if contact_id is not None:
            contact = tally.contacts[contact_id]
            targets.append(contact)
            _count_deals(contact, won=is_won, deals=n, converted=value is not None)
        for figures in targets:
            _add_amount(figures, won=is_won, value=value)
        deals[is_won, account_id, currency, on] += n
    for key, n in _shared(credits, won, today).items():
        deals[key] -= n
    for (is_won, account_id, currency, on), n in deals.items():
        known = tally.rates.rate(currency, on) is not None
        _count_deals(tally.accounts[account_id], won=is_won, deals=n, converted=known)


def _shared(
    credits: QuerySet[Any, Any],  # DealCredit with `day`, which the stubs cannot name
    won: list[int],
    today: dt.date,
) -> dict[tuple[bool, int, str, dt.date | None], int]:
    """The credits beyond the first of each deal an account has several credits of (two of
    its contacts share it), among `credits` (with the day their amounts convert at), by the
    key _add_deals counts deals under. Such
    a deal is split, so each of its credits has less than all of it (a deal's shares sum to
    100): they are read from the partial index of those credits."""
    pairs = (
        DealCredit.objects.filter(share__lt=Decimal("100"))
        .values_list("deal_id", "advocate_account_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by()
    )
    extra: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for deal_id, account_id, n in pairs:
        extra[deal_id].append((account_id, n - 1))
    found: defaultdict[tuple[bool, int, str, dt.date | None], int] = defaultdict(int)
    for part in _chunks(extra):
        chosen = (
            credits.filter(deal_id__in=part)
            .values_list("deal_id", "deal__stage_id", "deal__currency", "day")
            .order_by()
            .distinct()
        )
        for deal_id, stage_id, currency, day in chosen:
            is_won = stage_id in won
            for account_id, n in extra[deal_id]:
                found[is_won, account_id, currency, day if is_won else today] += n
    return found


def _count_deals(figures: _Figures, *, won: bool, deals: int, converted: bool) -> None:
    if won:
        figures.won_deals += deals
    else:
        figures.open_deals += deals
    if not converted:
        figures.unconverted += deals


def _add_amount(figures: _Figures, *, won: bool, value: Money | None) -> None:
    if value is None:
        return
    if won:
        figures.won += value
    else:
        figures.pipeline += value


# --- introductions and rewards --------------------------------------------------------


def _by_owner(filters: Filters, prefix: str) -> Q:
    """The owner and team filters on the user an introduction is owned by."""
    rule = Q()
    if filters.owner is not None:
        rule &= Q(**{f"{prefix}owner_id": filters.owner})
    if filters.team is not None:
        rule &= Q(**{f"{prefix}owner__team_id": filters.team})
    return rule


def _introductions(user: User | None) -> QuerySet[Introduction]:
    return Introduction.objects.all() if user is None else introductions_visible_to(user)


def _add_introductions(
    tally: _Tally, user: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> None:
    first, after = day_bounds(*period)
    groups = (
        _introductions(user)
        .filter(_by_owner(filters, ""), created_at__gte=first, created_at__lt=after)
        .values("advocate_account_id", "advocate_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for g in groups:
        tally.accounts[g["advocate_account_id"]].introductions += g["n"]
        if g["advocate_id"] is not None:
            tally.contacts[g["advocate_id"]].introductions += g["n"]


def _add_rewards(
    tally: _Tally, user: User | None, filters: Filters, period: tuple[dt.date, dt.date]
) -> None:
    first, after = day_bounds(*period)
    decided = Q(decided_at__gte=first, decided_at__lt=after)
    undecided = Q(decided_at__isnull=True, created_at__gte=first, created_at__lt=after)
    rewards = Reward.objects.filter(decided | undecided, status__in=COST)
    rewards = rewards.filter(_by_owner(filters, "introduction__"))
    if not sees_all(user):
        assert user is not None
        rewards = rewards.filter(introduction__in=introductions_visible_to(user).values("pk"))
    groups = (
        rewards.annotate(day=rate_day(Coalesce("decided_at", "created_at"), tally.rates.home))
        .values("advocate_account_id", "advocate_id", "currency", "day")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by()
    )
    for g in groups:
        value = tally.convert(g["total"], g["currency"], g["day"])
        targets = [tally.accounts[g["advocate_account_id"]]]
        if g["advocate_id"] is not None:
            targets.append(tally.contacts[g["advocate_id"]])
        for figures in targets:
            figures.rewards += g["n"]
            if value is None:
                figures.unconverted += g["n"]
            else:
                figures.reward_cost += value


# --- asks -----------------------------------------------------------------------------


def _made(now: dt.datetime) -> Q:
    """An ask counts as made when done, or closed as not appropriate (as the gates count)."""
    return Q(completed_at__lte=now) & (
        Q(status=TaskStatus.DONE) | Q(status=TaskStatus.CANCELLED, outcome=NOT_APPROPRIATE)
    )


def _chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _add_asks(
    accounts: dict[int, _Figures],
    contacts: dict[int, _Figures],
    *,
    now: dt.datetime,
    gates: GateConfig,
    opted: set[int],
) -> None:
    tz = now.tzinfo
    groups = (
        Task.objects.filter(_made(now), kind=TaskKind.REFERRAL_ASK)
        .values("account_id", "contact_id")
        .annotate(last=Max("completed_at"))
        .order_by()
    )  # every account's: as many rows as accounts and contacts asked, and no list of ids
    for g in groups:
        day = g["last"].astimezone(tz).date()
        if g["account_id"] in accounts:
            _later(accounts[g["account_id"]], day)
        if g["contact_id"] in contacts:
            _later(contacts[g["contact_id"]], day)
    for figures in accounts.values():
        figures.next_eligible = _after_cooldown(figures.last_asked, now, gates)
    _contacts_eligible(contacts, now=now, gates=gates, opted=opted)


def _later(figures: _Figures, day: dt.date) -> None:
    if figures.last_asked is None or day > figures.last_asked:
        figures.last_asked = day


def _after_cooldown(last: dt.date | None, now: dt.datetime, gates: GateConfig) -> dt.date:
    """The first day from today the account cooldown gate lets an ask through (as
    engine.gates counts it: whole calendar days since the last ask's day)."""
    today = now.date()
    if last is None or gates.account_cooldown_days is None:
        return today
    return max(today, last + dt.timedelta(days=gates.account_cooldown_days))


def _contacts_eligible(
    contacts: dict[int, _Figures], *, now: dt.datetime, gates: GateConfig, opted: set[int]
) -> None:
    """Each contact's first day out of the fatigue block, by engine.gates.fatigue over the
    asks of every kind within the budget's window (the ask page's rule); none for those who
    opted out (`opted`)."""
    days = max(gates.fatigue_window_days, gates.fatigue_gap_days or 0) + 1
    recent = Task.objects.filter(
        _made(now),
        kind__in=ASK_KINDS,
        completed_at__gte=now - dt.timedelta(days=days),
        contact_id__isnull=False,
    )
    asks: defaultdict[int, list[dt.datetime]] = defaultdict(list)
    for contact_id, at in recent.values_list("contact_id", "completed_at"):
        if contact_id in contacts and at is not None:
            asks[contact_id].append(at)
    unasked = _eligible(fatigue(contact_name="", asks=(), now=now, config=gates), now)
    for contact_id, figures in contacts.items():
        if contact_id in opted:
            continue  # never: they opted out of referral asks
        if contact_id not in asks:  # the rule over no asks, the same for every such contact
            figures.next_eligible = unasked
            continue
        block = fatigue(
            contact_name=str(contact_id),  # the block's words are not shown
            asks=tuple(asks[contact_id]),
            now=now,
            config=gates,
        )
        figures.next_eligible = _eligible(block, now)


def _eligible(block: Block | None, now: dt.datetime) -> dt.date | None:
    return now.date() if block is None else block.until


def _named(model: type[Account] | type[Contact], ids: Iterable[int], *fields: str) -> list[Any]:
    """`fields` (the first is the primary key) of the accounts or contacts with these ids:
    NAMES_CHUNK ids a query, sent on PostgreSQL as one array parameter (crm.io.bulk.matching),
    so a table of thousands of advocates costs one or two queries."""
    rows: list[Any] = []
    for part in _chunks(ids, NAMES_CHUNK):
        rows.extend(matching(model, "id", part).values_list(*fields))
    return rows


# --- rows -----------------------------------------------------------------------------


def _rank(item: tuple[str, _Figures]) -> tuple[Decimal, Decimal, int, str]:
    name, f = item
    return (-f.won, -f.pipeline, -f.introductions, name.casefold())


def _account_rows(accounts: dict[int, _Figures]) -> list[dict[str, Any]]:
    names = dict(_named(Account, accounts, "pk", "name"))
    ranked = sorted(((names[a], f, a) for a, f in accounts.items()), key=lambda r: _rank(r[:2]))
    return [{"account_id": a, "account": name, **f.row()} for name, f, a in ranked]


def _people(contacts: dict[int, _Figures]) -> dict[int, tuple[str, str, dt.datetime | None]]:
    """Each advocate contact's name, account name and when they opted out of asks, if they
    did: one read for the table's names and the asks' eligibility."""
    fields = ("pk", "first_name", "last_name", "email", "account__name", "opted_out_at")
    return {
        pk: (f"{first} {last}".strip() or email, account, opted_at)
        for pk, first, last, email, account, opted_at in _named(Contact, contacts, *fields)
    }


def _contact_rows(
    contacts: dict[int, _Figures], people: dict[int, tuple[str, str, dt.datetime | None]]
) -> list[dict[str, Any]]:
    who = {pk: (name, account) for pk, (name, account, _) in people.items()}
    ranked = sorted(
        ((who[c], f, c) for c, f in contacts.items()), key=lambda i: _rank((i[0][0], i[1]))
    )
    return [
        {"contact_id": c, "contact": name, "account": account, **f.row()}
        for (name, account), f, c in ranked
    ]


# --- untapped advocates ---------------------------------------------------------------


def _strong_rules(programme: Programme) -> dict[str, tuple[float, str]]:
    """The active rules one of whose moments reaches the readiness threshold on its own:
    rule id → (weight, name)."""
    threshold = programme.readiness.threshold
    return {r.id: (r.weight, r.name) for r in programme.active_rules if r.weight >= threshold}


def _accounts_for(user: User | None, filters: Filters) -> QuerySet[Account]:
    accounts = Account.objects.all() if user is None else accounts_visible_to(user)
    return accounts.filter(_accounts_rule(filters))


def _accounts_rule(filters: Filters) -> Q:
    """The owner, team, industry and size filters on an account (empty without them)."""
    rule = _by_owner(filters, "")
    if filters.industry:
        rule &= Q(industry__iexact=filters.industry)
    if filters.size:
        lower, upper = SIZE_BAND_CHOICES[filters.size]
        rule &= Q(employees__gte=lower)
        if upper is not None:
            rule &= Q(employees__lte=upper)
    return rule


@dataclass
class _Strongest:
    account_id: int
    weight: float
    at: dt.datetime
    rule_id: str
    count: int
    evidence: str = ""


def _strong_moments(
    user: User | None, filters: Filters, now: dt.datetime, strong: dict[str, tuple[float, str]]
) -> list[_Strongest]:
    """The never-asked accounts with a strong recent moment, each with its strongest (the
    heaviest rule, then the newest) and how many strong moments it had, strongest first: one
    GROUP BY per account and rule, whose rows grow with those accounts, not their moments."""
    asked = Task.objects.filter(account_id=OuterRef("account_id"), kind=TaskKind.REFERRAL_ASK)
    moments = Moment.objects.filter(
        retracted_at__isnull=True,
        rule_id__in=list(strong),
        occurred_at__gt=now - dt.timedelta(days=STRONG_DAYS),
        occurred_at__lte=now,
    )
    if _accounts_rule(filters) or not sees_all(user):
        moments = moments.filter(account__in=_accounts_for(user, filters).values("pk"))
    rows = (
        moments.filter(~Exists(asked))
        .values_list("account_id", "rule_id")
        .annotate(last=Max("occurred_at"), n=Count("pk"))
        .order_by()
    )
    best: dict[int, tuple[float, dt.datetime, str]] = {}
    counts: defaultdict[int, int] = defaultdict(int)
    for account_id, rule_id, at, n in rows:
        counts[account_id] += n
        mine = (strong[rule_id][0], at, rule_id)
        seen = best.get(account_id)
        if seen is None or mine > seen:
            best[account_id] = mine
    # the heaviest first, then the newest, then the oldest account
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1].timestamp(), item[0]))
    return [
        _Strongest(account_id, weight, at, rule_id, counts[account_id])
        for account_id, (weight, at, rule_id) in ranked
    ]


def _evidence(shown: list[_Strongest]) -> None:
    """The evidence of each shown account's strongest moment (the latest written of equal
    ones)."""
    wanted = {(s.account_id, s.rule_id, s.at): s for s in shown}
    for part in _chunks(s.account_id for s in shown):
        rows = (
            Moment.objects.filter(
                account_id__in=part,
                retracted_at__isnull=True,
                rule_id__in={s.rule_id for s in shown},
                occurred_at__in={s.at for s in shown},
            )
            .order_by("id")
            .values_list("account_id", "rule_id", "occurred_at", "evidence")
        )
        for account_id, rule_id, at, evidence in rows:
            best = wanted.get((account_id, rule_id, at))
            if best is not None:
                best.evidence = evidence


@dataclass
class _Untapped:
    rows: list[dict[str, Any]]
    candidates: int  # never-asked accounts with a strong recent moment
    checked: int  # how many of them had their health checked, strongest first

    @property
    def complete(self) -> bool:
        return self.checked == self.candidates


def _untapped(
    user: User | None, filters: Filters, now: dt.datetime, programme: Programme
) -> _Untapped:
    """The healthy never-asked accounts with a strong recent moment, strongest first, at most
    UNTAPPED_MAX: the candidates' health is gathered (as the scan gathers it) a chunk at a
    time in that order, until the table is full or the candidates run out."""
    strong = _strong_rules(programme)
    if not strong:
        return _Untapped([], 0, 0)
    candidates = _strong_moments(user, filters, now, strong)
    shown: list[tuple[_Strongest, Account, int]] = []
    checked = 0
    while checked < len(candidates) and len(shown) < UNTAPPED_MAX:
        part = candidates[checked : checked + UNTAPPED_CHUNK]
        checked += len(part)
        facts = gather([c.account_id for c in part], programme, now=now, moments={}, contacts=False)
        for best in part:
            f = facts[best.account_id]
            blocks = gates_check(f.gate, now=now, config=programme.gates)
            if not any(b.gate in AT_RISK for b in blocks):
                shown.append((best, f.account, f.health.score))
    shown = shown[:UNTAPPED_MAX]
    if len(shown) == UNTAPPED_MAX:  # the next candidates were checked but not shown
        checked = candidates.index(shown[-1][0]) + 1
    _evidence([best for best, _, _ in shown])
    rows = [_untapped_row(best, account, health, strong, now) for best, account, health in shown]
    return _Untapped(rows, len(candidates), checked)


def _untapped_row(
    best: _Strongest,
    account: Account,
    health: int,
    strong: dict[str, tuple[float, str]],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "account": account.name,
        "owner": str(account.owner) if account.owner else "",
        "health": health,
        "moment": strong[best.rule_id][1],
        "weight": best.weight,
        "moment_day": best.at.astimezone(now.tzinfo).date(),
        "evidence": best.evidence,
        "strong_moments": best.count,
    }


# --- words and chart ------------------------------------------------------------------


def _never(untapped: _Untapped) -> str:
    if untapped.complete:
        n = len(untapped.rows)
        return (
            f"{n:,} healthy account{'s' if n != 1 else ''} with strong recent moments "
            f"{'were' if n != 1 else 'was'} never asked."
        )
    return (
        f"{untapped.candidates:,} accounts with strong recent moments were never asked; the "
        f"{len(untapped.rows):,} strongest healthy ones are listed."
    )


def _headline(rows: list[dict[str, Any]], untapped: _Untapped, currency: str) -> str:
    senders = [r for r in rows if r["won_deals"] or r["open_deals"]]
    never = _never(untapped)
    if not senders:
        return f"No account sent referred business in this period. {never}"
    won = sum((r["won"] for r in senders), ZERO)
    pipeline = sum((r["pipeline"] for r in senders), ZERO)
    top = senders[0] if senders[0]["won"] > 0 else None
    best = f"; top: {top['account']} ({money_text(top['won'], currency)})" if top else ""
    return (
        f"{len(senders):,} account{'s' if len(senders) != 1 else ''} sent referred business "
        f"worth {money_text(won, currency)} won ({money_text(pipeline, currency)} in "
        f"pipeline){best}. {never}"
    )


def _notes(filters: Filters, programme: Programme, untapped: _Untapped) -> list[str]:
    strong = _strong_rules(programme)
    names = ", ".join(f"{name} ({weight:g})" for weight, name in strong.values()) or "none"
    notes = [
        f"Strong moments: those of a rule whose weight reaches the readiness threshold "
        f"({programme.readiness.threshold:g}) on its own: {names}; untapped advocates had one "
        f"in the last {STRONG_DAYS} days."
    ]
    if not untapped.complete:
        notes.append(
            f"Untapped advocates: the {UNTAPPED_MAX} healthy ones with the strongest moments "
            f"are listed; {untapped.candidates - untapped.checked:,} more never-asked "
            "accounts with a strong moment were not checked. Narrow the filters (owner, "
            "team, industry, size) to see others."
        )
    if filters.industry or filters.size:
        notes.append(
            "The industry and size filters narrow the referred deals (by the referred "
            "account) and the untapped accounts, not introductions or rewards."
        )
    return notes


def draw(report: Report) -> dict[str, SafeString]:
    """Bars of the CHART_TOP accounts by won referred revenue, drawn from the accounts table."""
    rows = [r for r in report.table("accounts").rows if r["won"] > 0][:CHART_TOP]
    return {
        "accounts": charts.bars(
            [(r["account"], r["won"]) for r in rows],
            title=f"Top {CHART_TOP} advocate accounts by won referred revenue ({report.currency})",
            unit=report.currency,
        )
    }
