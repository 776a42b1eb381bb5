"""The rest of the demo's story, written after its first scan: the referral asks the scan
queued are worked as owners work them, through the product's own services, so the referral
funnel report (reports/funnel.py) has every step and the ROI report a time cost; and the
settings the KPI and ROI reports compare against: each rep's targets for the quarter, set by
their manager, and the spend per source for the last twelve months, entered by an admin.

Each ask gets a plan (PLAN_WEIGHTS): left open, closed as not appropriate, declined, no
answer, or agreed with a named person, after which the advocate names someone (or not yet),
that person accepts (a referred deal opens), declines or has not answered, and the deal is
sized, then won, lost or still open. The first asks take the plans not shown yet, in the
order of PLAN_WEIGHTS, so even a small demo shows every step. A plan runs only as far as
the time since the ask allows: its steps are spread over the days after the ask was queued
(MEAN_DAYS) and a step that would fall after `now` has not happened yet.

Times. The scan queues every ask at its own `now`; each ask is dated back to shortly after
the latest moment behind it (when its readiness peaked), with its moments found then and
its due date counted from then, so the older asks left open are overdue. Where a service
takes `now`, the step's time is passed. Where it stamps the wall clock itself (task_complete,
ask_not_appropriate, deal_create, deal_update, deal_move, account and contact creation, the
timeline rows, the handoff of a won deal), the Clock notes the wall-clock span of each call
and afterwards moves every time stamped within it to the step's time, with one UPDATE per
field: the services are not changed for the demo, and the rows end up as if written then.

E-mail. The services write the advocate's invitation, the consent request and the
introduction e-mails to the outbox; the demo's own introductions (referrals.py) have none,
and the demo's people must never be written to, so the e-mail jobs written here are deleted
before the transaction commits: nothing is sent, whether or not a worker runs.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import batched
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Max, Model, Value, When
from django.utils import timezone

from goodword.crm.models import (
    Account,
    Activity,
    Contact,
    Deal,
    DealStageChange,
    Stage,
    Task,
    TaskKind,
    TaskStatus,
)
from goodword.crm.services import ask_not_appropriate, deal_move, deal_update
from goodword.demo import names
from goodword.demo.deals import LOST, WON
from goodword.demo.plan import company
from goodword.demo.referrals import IP_PREFIXES, USER_AGENTS
from goodword.engine.gates import add_business_days
from goodword.handoffs.models import Handoff
from goodword.handoffs.rules import accept_by
from goodword.handoffs.services import THANK_DUE, handoff_for_won_deal
from goodword.jobs.models import Job
from goodword.lib.errors import Invalid
from goodword.moments.models import Moment
from goodword.moments.programmes import programme_current
from goodword.referrals.asks import ask_record
from goodword.referrals.models import DealCredit, Introduction, IntroLink, LinkPurpose
from goodword.referrals.rewards import rewards_grant
from goodword.referrals.services import Visitor, intro_answer, intro_name
from goodword.reports.models import TargetMetric
from goodword.reports.services import SPEND_SOURCES, quarter_of, spend_set, targets_set
from goodword.users.models import User


class Plan(StrEnum):
    WON = "won"
    OPEN = "open"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    NOT_APPROPRIATE = "not_appropriate"
    DEAL_OPEN = "deal_open"
    AWAITING_CONSENT = "awaiting_consent"
    NOT_NAMED = "not_named"
    CONSENT_DECLINED = "consent_declined"
    DEAL_LOST = "deal_lost"


# Per hundred queued asks. About four in five are made; of those about half agree, and of
# the people named about two in three accept. The order is the order a small demo shows them.
PLAN_WEIGHTS = {
    Plan.WON: 6,
    Plan.OPEN: 20,
    Plan.DECLINED: 14,
    Plan.NO_ANSWER: 16,
    Plan.NOT_APPROPRIATE: 7,
    Plan.DEAL_OPEN: 12,
    Plan.AWAITING_CONSENT: 7,
    Plan.NOT_NAMED: 9,
    Plan.CONSENT_DECLINED: 5,
    Plan.DEAL_LOST: 4,
}
_REFERRED = ("made", "named", "accepted", "sized")
STEPS: dict[Plan, tuple[str, ...]] = {
    Plan.WON: (*_REFERRED, "won"),
    Plan.OPEN: (),
    Plan.DECLINED: ("made",),
    Plan.NO_ANSWER: ("made",),
    Plan.NOT_APPROPRIATE: ("made",),
    Plan.DEAL_OPEN: _REFERRED,
    Plan.AWAITING_CONSENT: ("made", "named"),
    Plan.NOT_NAMED: ("made",),
    Plan.CONSENT_DECLINED: ("made", "named", "declined"),
    Plan.DEAL_LOST: (*_REFERRED, "lost"),
}
# Mean days from the step before (the ask's queuing for "made").
MEAN_DAYS = {
    "made": 2.0,
    "named": 2.0,
    "accepted": 1.5,
    "declined": 1.5,
    "sized": 4.0,
    "won": 10.0,
    "lost": 9.0,
}
MIN_GAP = timedelta(minutes=30)
ANSWER_CAP = timedelta(days=12)  # an advocate or person answers before the 14-day expiry
QUEUE_LAG = (timedelta(minutes=20), timedelta(hours=26))  # moment to ask: the next scans
CHANNELS = ("meeting", "meeting", "call", "call", "email")
EMAIL_LINK_SHARE = 0.6  # owners who have Goodword e-mail the advocate their link
SEND_SHARE = 0.7  # advocates who have Goodword send the consent request
PREFILLED_SHARE = 0.4  # owners who note whom the advocate mentioned
NOT_APPROPRIATE_REASONS = (
    "They just escalated a billing issue; asking now would land badly",
    "Our champion there is leaving the company next month",
    "Mid-renewal negotiation: ask once the contract is signed",
)
DECLINE_NOTES = (
    "Company policy: they don't give references",
    "Happy with us but too busy this quarter",
    "",
)
NO_ANSWER_NOTES = ("Left a voicemail", "Said they would think about who to suggest", "")

# Targets per rep and quarter; money in the home currency.
TARGETS = {
    TargetMetric.ASKS_MADE: Decimal(6),
    TargetMetric.INTRODUCTIONS: Decimal(3),
    TargetMetric.PIPELINE_CREATED: Decimal(60_000),
    TargetMetric.REVENUE_WON: Decimal(25_000),
}
TARGET_SPREAD = (Decimal("0.8"), Decimal(1), Decimal(1), Decimal("1.2"), Decimal("1.5"))
# Spend per rep and month, in the home currency; events come in bursts.
SPEND_PER_REP = {
    "inbound": Decimal(1500),
    "outbound": Decimal(2500),
    "partner": Decimal(700),
    "event": Decimal(600),
}
SPEND_MONTHS = 12


@dataclass
class FunnelSummary:
    """What the story added, for the command's output."""

    asks: int = 0
    made: int = 0
    overdue: int = 0
    introductions: int = 0
    named: int = 0
    accepted: int = 0
    won: int = 0
    targets: int = 0
    spend: int = 0

    def line(self) -> str:
        return (
            f"Worked the asks: {self.made:,} of {self.asks:,} made ({self.overdue:,} left "
            f"overdue), {self.introductions:,} introductions, {self.named:,} people named, "
            f"{self.accepted:,} accepted, {self.won:,} referred deals won so far; "
            f"{self.targets:,} targets set, {self.spend:,} months of spend entered."
        )


def funnel_write(*, seed: int, now: datetime) -> FunnelSummary:
    """Work the open referral asks as of `now` (the scan's), set the quarter's targets and
    enter the year's spend, in one transaction; the same seed and database give the same
    rows (but for the links' random keys)."""
    summary = FunnelSummary()
    with transaction.atomic():
        jobs = Job.objects.aggregate(last=Max("pk"))["last"] or 0
        clock = Clock()
        Walker(seed, now, clock, summary).run()
        clock.restamp()
        # The e-mails the services wrote: never sent from the demo (see the docstring).
        Job.objects.filter(pk__gt=jobs, kind="email.send").delete()
        summary.targets = targets_write(seed=seed, now=now)
        summary.spend = spend_write(seed=seed, now=now)
    return summary


# --- moving wall-clock stamps to the step's time -------------------------------------------

# Every time a service called here stamps from the wall clock.
STAMPED: tuple[tuple[type[Model], str], ...] = (
    (Activity, "at"),
    (Task, "created_at"),
    (Task, "completed_at"),
    (Account, "created_at"),
    (Account, "updated_at"),
    (Contact, "created_at"),
    (Contact, "updated_at"),
    (Deal, "created_at"),
    (Deal, "updated_at"),
    (DealStageChange, "changed_at"),
    (DealCredit, "created_at"),
    (Handoff, "created_at"),
    (Handoff, "updated_at"),
)
SPANS_PER_UPDATE = 100  # keeps each statement's CASE and parameters small


class Clock:
    """The wall-clock span of each service call and the time the call stands for."""

    def __init__(self) -> None:
        self.spans: list[tuple[datetime, datetime, datetime]] = []

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        start = timezone.now()
        try:
            yield
        finally:
            self.spans.append((start, timezone.now(), when))

    def restamp(self) -> None:
        """Move each time stamped within a span to the span's time. Nothing else writes
        during the story, so only the rows its services wrote are in the spans."""
        for model, name in STAMPED:
            for spans in batched(self.spans, SPANS_PER_UPDATE, strict=False):
                whens = [When(**{f"{name}__range": (s, e)}, then=Value(at)) for s, e, at in spans]
                rows = model._default_manager.filter(
                    **{f"{name}__range": (spans[0][0], spans[-1][1])}
                )
                rows.update(**{name: Case(*whens, default=F(name), output_field=DateTimeField())})


# --- working the asks ----------------------------------------------------------------------


@dataclass
class Walk:
    """One ask on its way, with what its steps made."""

    ask: Task
    plan: Plan
    rng: random.Random
    introduction: Introduction | None = None
    deal: Deal | None = None


class Walker:
    """Works each open ask of the first scan, the oldest first."""

    def __init__(self, seed: int, now: datetime, clock: Clock, summary: FunnelSummary) -> None:
        self.seed, self.now, self.clock, self.summary = seed, now, clock, summary
        self.rng = random.Random(f"goodword-demo:{seed}:funnel")
        self.unseen = list(PLAN_WEIGHTS)
        self.stages = {s.name: s for s in Stage.objects.all()}
        self.people = 2 * Account.objects.count()  # company indexes past the demo's own
        self.due_days = programme_current()[0].asks.due_business_days

    def run(self) -> None:
        asks = list(
            Task.objects.filter(kind=TaskKind.REFERRAL_ASK, status=TaskStatus.OPEN)
            .select_related("owner", "account", "contact")
            .order_by("pk")
        )
        queued = {ask.pk: self._queued(ask) for ask in asks}
        asks.sort(key=lambda ask: (queued[ask.pk], ask.pk))
        self.summary.asks = len(asks)
        for ask in asks:
            plan, first = self._plan()
            walk = Walk(ask, plan, random.Random(self.rng.random()))
            done = self._walk(walk, self._times(walk, queued[ask.pk], squeeze=first))
            if first and not done:
                self.unseen.insert(0, plan)  # refused on the way: the next ask shows it
        self.summary.overdue = Task.objects.filter(
            pk__in=queued, status=TaskStatus.OPEN, due_at__lt=self.now
        ).count()

    def _plan(self) -> tuple[Plan, bool]:
        """The plans no ask has shown yet first (true), then by weight (false)."""
        if self.unseen:
            return self.unseen.pop(0), True
        return self.rng.choices(list(PLAN_WEIGHTS), weights=list(PLAN_WEIGHTS.values()))[0], False

    def _queued(self, ask: Task) -> datetime:
        """Date the ask back to shortly after the latest moment behind it, with its moments
        found then and its due date counted from then (the scan stamped them all `now`)."""
        moments = Moment.objects.filter(ask=ask)
        latest = moments.aggregate(last=Max("occurred_at"))["last"] or ask.created_at
        lag = self.rng.uniform(*(d.total_seconds() for d in QUEUE_LAG))
        queued = min(latest + timedelta(seconds=int(lag)), ask.created_at, self.now - MIN_GAP)
        due = add_business_days(queued, self.due_days)
        Task.objects.filter(pk=ask.pk).update(created_at=queued, due_at=due)
        Activity.objects.filter(verb="ask.queued", object_type="task", object_id=ask.pk).update(
            at=queued
        )
        moments.filter(found_at__gt=queued).update(found_at=queued, updated_at=queued)
        ask.created_at, ask.due_at = queued, due
        return queued

    def _times(self, walk: Walk, queued: datetime, *, squeeze: bool) -> list[datetime]:
        """When each step of the plan happened, up to `now`. A plan shown the first time
        is squeezed into the time there is, each step taking its share by MEAN_DAYS (one
        long draw would otherwise leave the others no time), so every step appears."""
        steps = STEPS[walk.plan]
        gaps = [self._gap(walk.rng, step) for step in steps]
        room = self.now - MIN_GAP - queued
        if squeeze and sum(gaps, timedelta()) > room:
            total = sum(MEAN_DAYS[step] for step in steps)
            gaps = [room * MEAN_DAYS[s] / total * walk.rng.uniform(0.8, 1.0) for s in steps]
        times, at = [], queued
        for gap in gaps:
            at += gap
            if at >= self.now:
                break
            times.append(at)
        return times

    def _gap(self, rng: random.Random, step: str) -> timedelta:
        days = rng.expovariate(1 / MEAN_DAYS[step])
        gap = max(MIN_GAP, timedelta(seconds=int(days * 86400)))
        return min(gap, ANSWER_CAP) if step in {"named", "accepted", "declined"} else gap

    def _walk(self, walk: Walk, times: Sequence[datetime]) -> bool:
        """Take the steps there was time for; false when the product refused one (e.g. the
        contact's ask budget): the ask stays where it got to."""
        for step, at in zip(STEPS[walk.plan], times, strict=False):
            try:
                with self.clock.at(at):
                    getattr(self, f"_{step}")(walk, at)
            except Invalid:
                return False
        return True

    # --- the steps ---------------------------------------------------------------------

    def _made(self, walk: Walk, at: datetime) -> None:
        ask, rng = walk.ask, walk.rng
        if walk.plan == Plan.NOT_APPROPRIATE:
            reason = rng.choice(NOT_APPROPRIATE_REASONS)
            ask_not_appropriate(actor=ask.owner, task=ask, reason=reason)
            return
        outcome = {Plan.DECLINED: "declined", Plan.NO_ANSWER: "no_answer"}.get(walk.plan, "agreed")
        note = rng.choice(DECLINE_NOTES if outcome == "declined" else NO_ANSWER_NOTES)
        recorded = ask_record(
            actor=ask.owner,
            ask=ask,
            channel=rng.choice(CHANNELS),
            outcome=outcome,
            now=at,
            contact=None if ask.contact else self._contact(ask),
            person=self._prefill(walk) if outcome == "agreed" else None,
            note=note if outcome != "agreed" else "",
            email_link=rng.random() < EMAIL_LINK_SHARE,
        )
        self.summary.made += 1
        if recorded.introduction is not None:
            walk.introduction = recorded.introduction
            self.summary.introductions += 1

    def _named(self, walk: Walk, at: datetime) -> None:
        assert walk.introduction is not None
        link = _link(walk.introduction, LinkPurpose.ADVOCATE)
        person = self._person(walk)
        send = walk.rng.random() < SEND_SHARE
        walk.introduction, _ = intro_name(link=link, data={**person, "send": send}, now=at)
        self.summary.named += 1

    def _accepted(self, walk: Walk, at: datetime) -> None:
        intro = self._answer(walk, "accept", at)
        walk.deal = intro.deal
        self.summary.accepted += 1

    def _declined(self, walk: Walk, at: datetime) -> None:
        self._answer(walk, "decline", at)

    def _answer(self, walk: Walk, decision: str, at: datetime) -> Introduction:
        assert walk.introduction is not None
        link = _link(walk.introduction, LinkPurpose.CONSENT)
        visitor = Visitor(
            ip=f"{walk.rng.choice(IP_PREFIXES)}{walk.rng.randint(1, 254)}",
            user_agent=walk.rng.choice(USER_AGENTS),
        )
        walk.introduction = intro_answer(link=link, decision=decision, visitor=visitor, now=at)
        return walk.introduction

    def _sized(self, walk: Walk, at: datetime) -> None:
        """The owner qualifies the referred deal: its amount and expected close."""
        if walk.deal is None:
            return
        amount = Decimal(int(6000 * walk.rng.lognormvariate(0.6, 0.5) / 100) * 100)
        close = (at + timedelta(days=walk.rng.randint(30, 75))).date()
        deal = deal_update(
            actor=walk.deal.owner,
            deal=walk.deal,
            data={"amount": str(amount), "close_date": close.isoformat()},
        )
        walk.deal = deal_move(
            actor=deal.owner, deal=deal, stage=self.stages["Needs Analysis"], at=at
        )

    def _won(self, walk: Walk, at: datetime) -> None:
        if walk.deal is None:
            return
        deal = deal_move(actor=walk.deal.owner, deal=walk.deal, stage=self.stages[WON], at=at)
        # deal_move hands the deal over as of the wall clock, which skips a win older than
        # RECENT_WIN; hand it over as of the win (nothing happens when it was handed over).
        handoff_for_won_deal(actor=deal.owner, deal=deal, now=at)
        _handoff_dated(deal, at)
        assert walk.introduction is not None
        rewards_grant(introduction=walk.introduction, trigger="won", now=at + MIN_GAP, deal=deal)
        walk.deal = deal
        self.summary.won += 1

    def _lost(self, walk: Walk, at: datetime) -> None:
        if walk.deal is not None:
            walk.deal = deal_move(
                actor=walk.deal.owner, deal=walk.deal, stage=self.stages[LOST], at=at
            )

    # --- who ----------------------------------------------------------------------------

    def _contact(self, ask: Task) -> Contact | None:
        """Whom to ask when the scan named nobody: the account's first contact still askable."""
        return (
            Contact.objects.filter(account=ask.account_id, opted_out_at__isnull=True)
            .order_by("pk")
            .first()
        )

    def _person(self, walk: Walk) -> dict[str, Any]:
        """Someone at a company that is not in the CRM, so accepting opens a deal."""
        firm = company(self.seed, self.people)
        self.people += 1
        first, last = walk.rng.choice(names.FIRST_NAMES), walk.rng.choice(names.LAST_NAMES)
        return {
            "name": f"{first} {last}",
            "email": f"{_ascii(first)}.{_ascii(last)}@{firm.domain}",
            "company": firm.name,
            "title": walk.rng.choice(names.TITLES)[0],
        }

    def _prefill(self, walk: Walk) -> dict[str, Any]:
        """Whom the advocate mentioned, when the owner noted it (their company only)."""
        if walk.rng.random() >= PREFILLED_SHARE:
            return {}
        return {"company": company(self.seed, self.people).name}


def _link(intro: Introduction, purpose: LinkPurpose) -> IntroLink:
    """The newest unused link of `purpose`: the one the e-mail (or the owner) passed on."""
    return (
        IntroLink.objects.select_related("introduction__advocate", "introduction__advocate_account")
        .filter(introduction=intro, purpose=purpose, used_at__isnull=True)
        .latest("pk")
    )


def _handoff_dated(deal: Deal, at: datetime) -> None:
    """The handoff deal_move made for the win, and its thank-you task, counted from the win
    (the service counts its deadlines from the wall clock)."""
    handoff = Handoff.objects.filter(deal=deal).first()
    if handoff is None:
        return
    Handoff.objects.filter(pk=handoff.pk).update(
        created_at=at, updated_at=at, accept_by=accept_by(at)
    )
    if handoff.thank_task_id is not None:
        Task.objects.filter(pk=handoff.thank_task_id).update(due_at=at + THANK_DUE)


def _ascii(text: str) -> str:
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in flat.lower() if ch.isalnum())


# --- targets and spend ---------------------------------------------------------------------


def targets_write(*, seed: int, now: datetime) -> int:
    """Each active rep's targets for the quarter of `now`, set by their team's manager early
    in the quarter (an admin for a rep whose team has none); returns how many."""
    rng = random.Random(f"goodword-demo:{seed}:targets")
    first = quarter_of(now.date())
    set_at = min(
        now, datetime.combine(first, datetime.min.time(), now.tzinfo) + timedelta(days=2, hours=9)
    )
    users = User.objects.filter(is_active=True).order_by("pk")
    managers = {u.team_id: u for u in reversed(users.filter(role="manager"))}
    admin = users.filter(role="admin").first()
    values: dict[int, dict[tuple[int, str], Decimal]] = {}
    for rep in users.filter(role="rep"):
        setter = managers.get(rep.team_id, admin)
        if setter is None:
            continue
        for metric, base in TARGETS.items():
            value = (base * rng.choice(TARGET_SPREAD)).quantize(Decimal(1))
            values.setdefault(setter.pk, {})[(rep.pk, metric.value)] = value
    setters = User.objects.in_bulk(list(values))
    made = 0
    for setter_id, cells in values.items():
        result = targets_set(actor=setters[setter_id], quarter=first, values=cells, now=set_at)
        made += result.added + result.changed
    return made


def spend_write(*, seed: int, now: datetime) -> int:
    """What was spent on each paid source in each of the last SPEND_MONTHS months (this one
    included), entered by the admin early the month after (this month's: at `now`);
    returns how many months per source were entered."""
    admin = User.objects.filter(role="admin", is_active=True).order_by("pk").first()
    if admin is None:
        return 0
    rng = random.Random(f"goodword-demo:{seed}:spend")
    reps = max(1, User.objects.filter(role="rep", is_active=True).count())
    month = now.date().replace(day=1)
    months = [_month_back(month, k) for k in reversed(range(SPEND_MONTHS))]
    for first in months:
        entered = min(now, _entered(first, now))
        for source in sorted(SPEND_PER_REP):
            assert source in SPEND_SOURCES
            amount = _spend(rng, source, reps)
            spend_set(
                actor=admin,
                source=source,
                month=first,
                amount=amount,
                currency=settings.HOME_CURRENCY,
                now=entered,
            )
    return len(months)


def _spend(rng: random.Random, source: str, reps: int) -> Decimal:
    base = SPEND_PER_REP[source] * reps
    burst = Decimal(rng.choice((1, 1, 2, 4))) if source == "event" else Decimal(1)
    amount = base * burst * Decimal(str(round(rng.uniform(0.75, 1.25), 2)))
    return Decimal(int(amount / 100) * 100)


def _month_back(first: date, k: int) -> date:
    index = first.year * 12 + first.month - 1 - k
    return date(index // 12, index % 12 + 1, 1)


def _entered(first: date, now: datetime) -> datetime:
    following = _month_back(first, -1)
    return datetime.combine(following, datetime.min.time(), now.tzinfo) + timedelta(
        days=2, hours=10
    )
