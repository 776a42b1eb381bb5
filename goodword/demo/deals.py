"""One account's deals over time, as plain values: what kind each deal is follows from what
the account was when the deal began (prospect: new business; customer: expansion, or a
renewal near the contract's anniversary), and a lost renewal is how a customer churns."""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from goodword.demo import names, rates

OPEN_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
WON = "Closed Won"
LOST = "Closed Lost"
NEW, EXPANSION, RENEWAL = "new", "expansion", "renewal"
YEAR = timedelta(days=365)
RENEWAL_LEAD = timedelta(days=120)

_SOURCES = tuple(rates.NEW_BUSINESS)
_SOURCE_CUM = tuple(accumulate(r.share for r in rates.NEW_BUSINESS.values()))
_EXPANSION_SOURCES = ("other", "inbound", "outbound")
_EXPANSION_CUM = (0.6, 0.85, 1.0)
# Where deals of each kind usually enter the pipeline (indexes into OPEN_STAGES).
_ENTRY = {NEW: (0, 0, 0, 1), EXPANSION: (1, 2, 3), RENEWAL: (5, 6)}


@dataclass(slots=True)
class DealPlan:
    name: str
    amount: Decimal
    kind: str
    source: str
    created_at: datetime
    close_date: date
    closed_at: datetime | None
    history: list[tuple[str, datetime]]  # stages entered, in order; the first is where it began

    @property
    def stage(self) -> str:
        return self.history[-1][0]

    @property
    def won(self) -> bool:
        return self.stage == WON


@dataclass(slots=True)
class Standing:
    """What the account is at one moment."""

    since: datetime | None = None  # customer since; None for prospects and churned accounts
    referred: bool = False  # became a customer through a referral
    arr: Decimal = Decimal(0)
    churned: bool = False
    churned_at: datetime | None = None


class Story:
    """The account's closed deals so far; its standing at any moment is replayed from them.

    A customer may leave at each anniversary of becoming one, whether or not a renewal deal
    was opened: `leaves[y]` is the draw for the y-th anniversary, compared with the churn rate
    (lower for referred customers), and a renewal deal's outcome agrees with it."""

    def __init__(self, rng: random.Random) -> None:
        self.closed: list[DealPlan] = []
        self.renewals: set[tuple[datetime, int]] = set()
        self.leaves = [rng.random() for _ in range(4)]

    def leaves_at(self, year: int, *, referred: bool) -> bool:
        draw = self.leaves[min(year, len(self.leaves)) - 1]
        return draw < rates.churn_rate(referred=referred)

    def standing(self, at: datetime) -> Standing:
        s = Standing()
        for deal in sorted(self.closed, key=lambda d: d.closed_at or at):
            if deal.closed_at is None or deal.closed_at > at:
                continue
            self._anniversaries(s, deal.closed_at)
            _apply(s, deal)
        self._anniversaries(s, at)
        return s

    def _anniversaries(self, s: Standing, until: datetime) -> None:
        if s.since is None:
            return
        for year in range(1, int((until - s.since) / YEAR) + 1):
            if self.leaves_at(year, referred=s.referred):
                at = s.since + year * YEAR
                s.since, s.arr, s.churned, s.churned_at = None, Decimal(0), True, at
                return


def _apply(s: Standing, deal: DealPlan) -> None:
    if not deal.won:
        if deal.kind == RENEWAL and s.since is not None:
            s.since, s.arr, s.churned, s.churned_at = None, Decimal(0), True, deal.closed_at
        return
    if deal.kind == NEW and s.since is None:
        s.since, s.referred = deal.closed_at, deal.source == "referral"
        s.churned, s.churned_at = False, None
        s.arr = deal.amount
    elif deal.kind == NEW or (deal.kind == EXPANSION and s.since is not None):
        s.arr += deal.amount
    elif deal.kind == RENEWAL and s.since is not None:
        s.arr = deal.amount


def deal_count(rng: random.Random, mean: float, lifetime: float) -> int:
    """Deals for an account that has existed `lifetime` (as a share of the average account's
    age): proportional to its age, log-normally spread, with `mean` over all accounts."""
    x = mean * lifetime * math.exp(rng.gauss(0, 0.4) - 0.08)
    return int(x) + (rng.random() < x - int(x))


def plan_deals(
    rng: random.Random,
    *,
    company: str,
    employees: int,
    created: datetime,
    now: datetime,
    count: int,
) -> tuple[list[DealPlan], Story]:
    starts = sorted(_between(rng, created + timedelta(days=1), now) for _ in range(count))
    story, deals = Story(rng), []
    for start in starts:
        standing = story.standing(start)
        deal = _next_deal(rng, story, standing, company, employees, start, now)
        deals.append(deal)
        if deal.closed_at is not None:
            story.closed.append(deal)
    return deals, story


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, seconds))


def _next_deal(
    rng: random.Random,
    story: Story,
    s: Standing,
    company: str,
    employees: int,
    start: datetime,
    now: datetime,
) -> DealPlan:
    product = rng.choice(names.DEAL_PRODUCTS)
    if s.since is None:
        source = rng.choices(_SOURCES, cum_weights=_SOURCE_CUM, k=1)[0]
        r = rates.NEW_BUSINESS[source]
        won = rng.random() < r.win_rate
        ends = start + _cycle(rng, r.cycle_days)
        return _deal(
            rng, f"{company}: {product}", _acv(rng, employees), NEW, source, start, ends, won, now
        )
    year = int((start - s.since) / YEAR) + 1
    anniversary = s.since + year * YEAR
    if anniversary - start <= RENEWAL_LEAD and (s.since, year) not in story.renewals:
        story.renewals.add((s.since, year))
        amount = _round(s.arr * Decimal(1 + rng.uniform(0, 0.07)))
        won = not story.leaves_at(year, referred=s.referred)
        ends = anniversary + timedelta(hours=rng.uniform(-72, 72))
        ends = max(ends, start + timedelta(days=1))
        name = f"{company}: renewal {anniversary.year}"
        return _deal(rng, name, amount, RENEWAL, "other", start, ends, won, now)
    source = rng.choices(_EXPANSION_SOURCES, cum_weights=_EXPANSION_CUM, k=1)[0]
    amount = max(Decimal(1000), _round(s.arr * Decimal(rng.uniform(0.15, 0.4))))
    won = rng.random() < rates.EXPANSION_WIN_RATE
    ends = start + _cycle(rng, rates.EXPANSION_CYCLE_DAYS)
    name = f"{company}: {product} (expansion)"
    return _deal(rng, name, amount, EXPANSION, source, start, ends, won, now)


def _cycle(rng: random.Random, median_days: float) -> timedelta:
    days = max(rates.MIN_CYCLE_DAYS, rng.lognormvariate(math.log(median_days), rates.CYCLE_SIGMA))
    return timedelta(seconds=int(days * 86400))


def _round(amount: Decimal) -> Decimal:
    return Decimal(int(amount / 100) * 100)


def _acv(rng: random.Random, employees: int) -> Decimal:
    """First-year contract value: grows with company size, slower than headcount."""
    base = 6000 * (employees / 50) ** 0.45 * rng.lognormvariate(0, 0.35)
    return Decimal(min(2_000_000, max(1200, int(base / 100) * 100)))


def _deal(
    rng: random.Random,
    name: str,
    amount: Decimal,
    kind: str,
    source: str,
    start: datetime,
    ends: datetime,
    won: bool,
    now: datetime,
) -> DealPlan:
    """A deal whose planned path is cut at `now`: what has not happened yet is left out, so a
    deal planned to close after today is open, in the stage it has reached."""
    path = _path(rng, kind, won)
    times = _times(rng, start, ends, len(path))
    history = [(stage, at) for stage, at in zip(path, times, strict=True) if at <= now]
    closed = len(history) == len(path)
    closed_at = times[-1] if closed else None
    return DealPlan(name, amount, kind, source, start, times[-1].date(), closed_at, history)


def _path(rng: random.Random, kind: str, won: bool) -> list[str]:
    first = rng.choice(_ENTRY[kind])
    if won:
        last = max(first, 7 if rng.random() < 0.8 else 6)
    else:  # lost deals drop out early more often than late
        last = min(7, first + int(rng.random() ** 1.5 * (8 - first)))
    middle = [i for i in range(first + 1, last) if rng.random() < 0.55]
    visited = [first, *middle, *([last] if last > first else [])]
    return [OPEN_STAGES[i] for i in visited] + [WON if won else LOST]


def _times(rng: random.Random, start: datetime, ends: datetime, n: int) -> list[datetime]:
    """n strictly increasing moments from start to ends, gaps drawn at random."""
    weights = list(accumulate(rng.expovariate(1.0) for _ in range(n - 1)))
    total = (ends - start).total_seconds()
    times = [start]
    for w in weights:
        at = start + timedelta(seconds=int(total * w / weights[-1]))
        times.append(max(at, times[-1] + timedelta(seconds=1)))
    return times


# --- who referred the referral deals ----------------------------------------------------


@dataclass(slots=True, frozen=True)
class Advocacy:
    """A span in which an account was a customer (end None: it still is), and the contact
    who would speak for it (None when it has no contacts). Ids are the database's."""

    start: datetime
    end: datetime | None
    account: int
    contact: int | None


def customer_span(
    *,
    lifecycle: str,
    customer_since: date | None,
    churned_at: datetime | None,
    deals: list[DealPlan],
) -> tuple[datetime, datetime | None] | None:
    """When an account was a customer: a customer since `customer_since`; a churned one
    from its first won new deal until it left; a prospect never."""
    if lifecycle == "customer" and customer_since is not None:
        return datetime.combine(customer_since, datetime.min.time(), tzinfo=UTC), None
    won = [d.closed_at for d in deals if d.kind == NEW and d.won and d.closed_at is not None]
    if lifecycle == "churned" and won and churned_at is not None:
        return min(won), churned_at
    return None


class AdvocatePool:
    """A bounded, seeded sample of customer spans seen so far, from which each referral deal
    draws its advocate: an account that was a customer when the deal began, other than the
    deal's own. Accounts are written a chunk at a time, so an advocate comes from the same
    chunk or an earlier one; the sample keeps memory flat however many accounts there are."""

    def __init__(self, rng: random.Random, capacity: int = 5000, tries: int = 24) -> None:
        self.rng, self.capacity, self.tries = rng, capacity, tries
        self.spans: list[Advocacy] = []  # by start
        self.starts: list[datetime] = []
        self.seen = 0

    def add(self, span: Advocacy) -> None:
        self.seen += 1
        if len(self.spans) >= self.capacity:
            drop = self.rng.randrange(self.seen)  # reservoir sampling: keep each with equal odds
            if drop >= self.capacity:
                return
            del self.spans[drop], self.starts[drop]
        at = bisect.bisect_right(self.starts, span.start)
        self.spans.insert(at, span)
        self.starts.insert(at, span.start)

    def pick(self, at: datetime, *, not_account: int) -> Advocacy | None:
        """A customer at `at` other than `not_account`; failing that (the earliest deals of
        a young company), the earliest customer other than it; None when there is none."""
        began = bisect.bisect_right(self.starts, at)
        for _ in range(self.tries if began else 0):
            span = self.spans[self.rng.randrange(began)]
            if span.account != not_account and (span.end is None or span.end > at):
                return span
        return next((s for s in self.spans if s.account != not_account), None)
