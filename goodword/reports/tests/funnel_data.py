"""Generated success moments followed through the real services for the funnel report's
tests: asks recorded as made (agreed, declined, no answer, sent by email) or closed as not
appropriate or left open, introductions named or not, accepted, declined, suppressed or
withdrawn, flagged without a deal or opening one, and deals won, lost or still open, in
USD, EUR, GBP and JPY (which has no rate). Moments come as model rows (the scan that finds
them reads an event store), asks as the rows the scan writes; everything after goes through
the services. The services stamp a few times with the clock (a task's creation and
completion, a deal's creation), so those are set to the plan's times afterwards.

`frames` reads the records back as pandas frames for the tests' own computation."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from goodword.crm.models import Account, Deal, Stage, Task, TaskKind
from goodword.crm.services import (
    account_create,
    account_update,
    ask_not_appropriate,
    contact_create,
    deal_move,
    deal_update,
)
from goodword.moments.models import Moment
from goodword.referrals import asks, services
from goodword.referrals.models import Introduction, IntroductionStep, IntroLink, LinkPurpose
from goodword.reports.models import Rate
from goodword.reports.tests.conftest import RATES, START, TODAY
from goodword.users.models import User

RULES = {"reports": "milestone", "promoter": "nps", "goals": "goal", "praise": "praise"}
INDUSTRIES = ["Software", "Retail", "Health"]
ASKS = ["none", "none", "not_appropriate", "declined", "no_answer", "agreed", "agreed",
        "agreed", "agreed", "emailed", "emailed"]  # fmt: skip
ANSWERS = ["accept", "accept", "accept", "accept", "decline", "suppress", ""]
CURRENCIES = ["USD", "USD", "EUR", "GBP", "JPY"]
VISITOR = services.Visitor(ip="203.0.113.7", user_agent="pytest")


@dataclass(frozen=True)
class Plan:
    """One episode on one account: its moments, then how far its ask went. `gaps` are the
    days from the last moment to the ask, to it being made, to the naming, to the answer and
    to the deal's close."""

    rules: tuple[str, ...]
    at: dt.datetime
    ask: str = "none"  # none, open, not_appropriate, declined, no_answer, agreed, emailed
    named: bool = False
    withdrawn: bool = False  # the owner called the introduction off before it was named
    answer: str = ""  # "", accept, decline, suppress
    flagged: bool = False  # the person's company is a customer already: no deal
    close: str = ""  # "", won, lost
    amount: Decimal = Decimal("1000.00")
    currency: str = "USD"
    ask_owner: str = ""  # a user other than the account's owner owns the ask
    retracted: int = 0  # how many of its moments a later scan retracted
    gaps: tuple[float, float, float, float, float] = (1.0, 2.0, 3.0, 4.0, 30.0)
    hidden_deal: bool = False  # the deal and its company were given to the other rep
    spacing: float = 7.0  # hours between its moments


@dataclass
class Built:
    users: dict[str, User]
    accounts: list[Account]
    counter: list[int] = field(default_factory=lambda: [0])

    def next(self) -> int:
        self.counter[0] += 1
        return self.counter[0]


def make_accounts(users: dict[str, User], csm: User, count: int = 9) -> list[Account]:
    owners = [users["rep"], users["other_rep"], users["manager"]]
    return [
        account_create(
            actor=None,
            owner=owners[i % 3],
            csm=csm if i % 4 == 1 else None,
            data={"name": f"Customer {i}", "domain": f"customer{i}.example",
                  "industry": INDUSTRIES[i % 3], "employees": [8, 40, 300, 2000][i % 4],
                  "lifecycle": "customer", "customer_since": "2024-01-01"},
        )
        for i in range(count)
    ]  # fmt: skip


def make_rates() -> None:
    for currency, rows in RATES.items():
        Rate.objects.bulk_create(
            Rate(currency=currency, day=day, rate=rate, imported_at=START) for day, rate in rows
        )


def random_plans(rng: random.Random, accounts: int, per_account: int) -> list[list[Plan]]:
    """Episodes for each account, one after the other, all before TODAY."""
    out = []
    for _ in range(accounts):
        at = START + dt.timedelta(days=rng.uniform(0, 60))
        plans = []
        for i in range(per_account):
            plan = _random_plan(rng, at, last=i == per_account - 1)
            plans.append(plan)
            at += dt.timedelta(days=sum(plan.gaps[:2]) + rng.uniform(15, 60))
        out.append(plans)
    return out


def _random_plan(rng: random.Random, at: dt.datetime, *, last: bool) -> Plan:
    # Only an account's last ask may stay open: the database allows one open ask at a time.
    ask = "open" if last and rng.random() < 0.3 else rng.choice(ASKS)
    gaps = (rng.uniform(0, 6), rng.uniform(0, 9), rng.uniform(0.2, 9), rng.uniform(0, 8),
            rng.uniform(3, 120))  # fmt: skip
    named = ask in ("agreed", "emailed") and rng.random() < 0.8
    answer = rng.choice(ANSWERS) if named else ""
    close = rng.choice(["won", "won", "lost", ""]) if answer == "accept" else ""
    ends = at + dt.timedelta(days=sum(gaps))
    return Plan(
        rules=tuple(rng.choice(list(RULES)) for _ in range(rng.choice([1, 1, 2, 3]))),
        at=at,
        ask=ask,
        named=named,
        withdrawn=ask in ("agreed", "emailed") and not named and rng.random() < 0.5,
        answer=answer,
        flagged=answer == "accept" and rng.random() < 0.2,
        close=close if ends.date() < TODAY else "",
        amount=Decimal(rng.randint(500_00, 80_000_00)) / 100,
        currency=rng.choice(CURRENCIES),
        ask_owner=rng.choice(["", "", "", "", "manager", "other_rep"]),
        retracted=1 if rng.random() < 0.08 else 0,
        gaps=gaps,
        hidden_deal=rng.random() < 0.15,
    )


def build(built: Built, plans: list[list[Plan]], stages: dict[str, Stage]) -> None:
    for account, episodes in zip(built.accounts, plans, strict=False):
        for plan in episodes:
            play(built, account, plan, stages)


def play(built: Built, account: Account, plan: Plan, stages: dict[str, Stage]) -> None:
    """One episode through the services, at the plan's times."""
    moments = _moments(built, account, plan)
    if plan.ask == "none":
        return
    asked = moments[-1].occurred_at + dt.timedelta(days=plan.gaps[0])
    task = _ask(built, account, plan, asked)
    Moment.objects.filter(pk__in=[m.pk for m in moments]).update(ask=task)
    if plan.ask == "open":
        return
    made = asked + dt.timedelta(days=plan.gaps[1])
    intro = _make(built, task, plan, made)
    Task.objects.filter(pk=task.pk).update(completed_at=made)
    if intro is None:
        return
    named = made + dt.timedelta(days=plan.gaps[2])
    if plan.withdrawn:
        services.intro_withdraw(intro=intro, actor=task.owner, note="not now", now=named)
        return
    if not plan.named:
        return
    _name(built, intro, plan, named)
    if plan.answer:
        answered = named + dt.timedelta(days=plan.gaps[3])
        _answer(built, intro, plan, answered, stages)


def _moments(built: Built, account: Account, plan: Plan) -> list[Moment]:
    made = []
    for j, rule in enumerate(plan.rules):
        at = plan.at + dt.timedelta(hours=plan.spacing * j)
        retracted = at + dt.timedelta(days=2) if j < plan.retracted else None
        made.append(
            Moment.objects.create(
                account=account, rule_id=rule, kind=RULES[rule], key=f"k{built.next()}",
                occurred_at=at, evidence=f"{rule} moment", found_at=at, updated_at=at,
                retracted_at=retracted,
            )
        )  # fmt: skip
    return made


def _ask(built: Built, account: Account, plan: Plan, at: dt.datetime) -> Task:
    # The row the scan writes (moments.asks._ask), for a contact of its own: a fresh contact
    # has its whole ask budget, so no gate refuses the ask later.
    n = built.next()
    contact = contact_create(
        actor=None,
        account=account,
        data={"first_name": f"Advocate{n}", "last_name": "Smith",
              "email": f"advocate{n}@{account.domain}"},
    )  # fmt: skip
    owner = built.users[plan.ask_owner] if plan.ask_owner else account.owner
    assert owner is not None
    return Task.objects.create(
        kind=TaskKind.REFERRAL_ASK, subject=f"Ask {contact} for a referral", owner=owner,
        account=account, contact=contact, due_at=at + dt.timedelta(days=3),
        notes="moments: why now", created_at=at,
    )  # fmt: skip


def _make(built: Built, task: Task, plan: Plan, at: dt.datetime) -> Introduction | None:
    owner = task.owner
    if plan.ask == "not_appropriate":
        ask_not_appropriate(actor=owner, task=task, reason="they are unhappy this week")
        return None
    if plan.ask == "emailed":
        return asks.ask_email_send(
            actor=owner, ask=task, subject="A favour", body="Would you introduce someone?", now=at
        ).introduction
    outcome = "agreed" if plan.ask == "agreed" else plan.ask
    recorded = asks.ask_record(actor=owner, ask=task, channel="call", outcome=outcome, now=at)
    return recorded.introduction


def _link(intro: Introduction, purpose: LinkPurpose) -> IntroLink:
    links = IntroLink.objects.filter(introduction=intro, purpose=purpose, used_at__isnull=True)
    return links.select_related("introduction").latest("id")


def _name(built: Built, intro: Introduction, plan: Plan, at: dt.datetime) -> None:
    n = built.next()
    # A customer's domain makes the person's company a customer already: flagged, no deal.
    domain = built.accounts[n % len(built.accounts)].domain if plan.flagged else f"new{n}.example"
    data = {"name": f"Person {n}", "email": f"person{n}@{domain}", "company": f"Company {n}",
            "send": "1" if n % 2 else ""}  # fmt: skip
    services.intro_name(link=_link(intro, LinkPurpose.ADVOCATE), data=data, now=at)


def _answer(
    built: Built, intro: Introduction, plan: Plan, at: dt.datetime, stages: dict[str, Stage]
) -> None:
    link = _link(intro, LinkPurpose.CONSENT)
    services.intro_answer(link=link, decision=plan.answer, visitor=VISITOR, now=at)
    intro.refresh_from_db()
    if intro.deal is None:
        return
    deal = deal_update(
        actor=None,
        deal=intro.deal,
        data={"amount": str(plan.amount), "currency": plan.currency},
    )
    Deal.objects.filter(pk=deal.pk).update(created_at=at)
    if plan.hidden_deal:
        other = built.users["other_rep"]
        deal = deal_update(actor=None, deal=deal, data={}, owner=other)
        account_update(actor=None, account=deal.account, data={}, owner=other)
    if plan.close:
        closed = at + dt.timedelta(days=plan.gaps[4])
        stage = stages["Closed Won"] if plan.close == "won" else stages["Closed Lost"]
        deal_move(actor=None, deal=deal, stage=stage, at=closed)


# --- the records as pandas sees them -----------------------------------------------------


def frames() -> dict[str, pd.DataFrame]:
    """Moments, asks, introductions with their step times, deals and accounts, one frame
    each, straight from the tables."""
    moments = pd.DataFrame(
        Moment.objects.values("id", "rule_id", "kind", "occurred_at", "retracted_at",
                              "account_id", "ask_id")
    )  # fmt: skip
    tasks = pd.DataFrame(
        Task.objects.filter(kind=TaskKind.REFERRAL_ASK).values(
            "id", "owner_id", "owner__team_id", "status", "outcome", "created_at", "completed_at"
        )
    )
    intros = pd.DataFrame(Introduction.objects.values("id", "ask_id", "created_at", "deal_id"))
    steps = pd.DataFrame(IntroductionStep.objects.values("introduction_id", "event", "at"))
    deals = pd.DataFrame(
        Deal.objects.values("id", "amount", "currency", "stage__is_won", "closed_at",
                            "updated_at", "created_at", "owner_id", "account__owner_id")
    )  # fmt: skip
    accounts = pd.DataFrame(
        Account.objects.values("id", "owner_id", "owner__team_id", "csm_id", "industry",
                               "employees")
    )  # fmt: skip
    return {"moments": moments, "asks": tasks, "intros": intros, "steps": steps,
            "deals": deals, "accounts": accounts}  # fmt: skip
