"""Generated advocates on top of the report tests' book of deals: advocate accounts with
contacts (some opted out), the referral deals' credit (one contact, one account without a
contact, two advocate accounts sharing a deal, two contacts of one account sharing one,
an account and one of its own contacts sharing one), introductions, rewards in every status
and several currencies (JPY without a rate), asks of every kind and outcome, and accounts
with moments for the untapped advocates: healthy ones, at-risk ones (silent, a detractor,
an open escalation), asked ones, weak, old and retracted moments.

`Advocates` keeps pandas frames of what was written, for the tests' own computation."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.crm.models import Account, Contact, Deal, DealSource, Task, TaskKind, TaskStatus
from goodword.engine.intros import IntroState
from goodword.moments.models import Moment
from goodword.referrals.models import DealCredit, Introduction, Reward, RewardRule, RewardStatus
from goodword.reports.tests.conftest import START, TODAY, Book
from goodword.signals.models import EventWeek, NpsResponse, Ticket
from goodword.users.models import User

NOW = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
SHARES = [
    (Decimal("50"), Decimal("50")),
    (Decimal("60"), Decimal("40")),
    (Decimal("33.33"), Decimal("66.67")),
    (Decimal("12.5"), Decimal("87.5")),
]
REWARD_CURRENCIES = ["USD", "USD", "EUR", "GBP", "JPY"]
# Untapped candidates: (health kind, moment rule, moment age in days, asked before).
# steady usage scores 85 and promoters 95; silent accounts 50 (below 70); a detractor or an
# open escalation blocks the ask whatever the score.
UNTAPPED_PLAN = [
    ("steady", "goals", 3, None),
    ("promoter", "renewed", 10, None),
    ("steady", "hours-saved", 40, None),
    ("promoter", "goals", 89, None),
    ("steady", "renewed", 60, None),
    ("silent", "goals", 5, None),
    ("detractor", "goals", 12, None),
    ("escalated", "renewed", 20, None),
    ("steady", "goals", 15, TaskStatus.OPEN),
    ("promoter", "renewed", 25, TaskStatus.CANCELLED),
    ("steady", "praise", 4, None),  # weak: weight 25 < 40
    ("steady", "reports", 4, None),  # weak: weight 30 < 40
    ("promoter", "goals", 91, None),  # too old
    ("steady", "retracted", 6, None),
    ("steady", "hours-saved", 2, None),
    ("promoter", "goals", 30, None),
]
WEIGHTS = {"goals": 50.0, "renewed": 40.0, "hours-saved": 40.0, "praise": 25.0, "reports": 30.0}
HEALTH = {"steady": 85, "promoter": 95}


@dataclass
class Advocates:
    book: Book
    credits: pd.DataFrame  # deal_id, account, contact, share
    intros: pd.DataFrame  # id, account, contact, owner_id, team_id, created, visible_to
    rewards: pd.DataFrame  # account, contact, status, value, currency, day, owner_id
    asks: pd.DataFrame  # account, contact, kind, made, completed
    contacts: pd.DataFrame  # id, name, account, opted_out
    untapped: pd.DataFrame  # account, owner, owner_id, kind, rule, age, asked, health
    accounts: dict[str, Account]


@pytest.fixture
def advocates(book: Book, csm: User) -> Advocates:
    rng = random.Random(11)
    users = [book.users["rep"], book.users["other_rep"], book.users["manager"]]
    accounts, contacts = _advocate_accounts(users, csm)
    credits = _credits(book.deals, rng, accounts, contacts)
    intros = _introductions(rng, accounts, contacts, users)
    rewards = _rewards(rng, intros)
    asks = _asks(rng, accounts, contacts, users)
    untapped = _untapped(users)
    return Advocates(
        book=book,
        credits=credits,
        intros=_intro_frame(intros),
        rewards=rewards,
        asks=asks,
        contacts=_contact_frame(contacts),
        untapped=untapped,
        accounts={a.name: a for a in accounts},
    )


def _advocate_accounts(users: list[User], csm: User) -> tuple[list[Account], list[Contact]]:
    accounts = [
        Account.objects.create(
            name=f"Advocate {chr(65 + i)}", industry="Software", employees=120,
            owner=users[i % 3], csm=csm if i % 4 == 0 else None, lifecycle="customer",
            created_at=START, updated_at=START,
        )
        for i in range(10)
    ]  # fmt: skip
    contacts = []
    for account in accounts:
        for j in range(3):
            opted = START + dt.timedelta(days=100) if (account.pk + j) % 7 == 0 else None
            contacts.append(Contact.objects.create(
                account=account, first_name=f"P{j}", last_name=account.name.split()[-1],
                email=f"p{j}@{account.pk}.example", opted_out_at=opted,
                created_at=START, updated_at=START,
            ))  # fmt: skip
    return accounts, contacts


def _credits(
    deals: list[Deal], rng: random.Random, accounts: list[Account], contacts: list[Contact]
) -> pd.DataFrame:
    people = {a.pk: [c for c in contacts if c.account_id == a.pk] for a in accounts}
    rows: list[DealCredit] = []
    for deal in deals:
        if deal.source != DealSource.REFERRAL:
            continue
        one, two = rng.sample(accounts, 2)
        first, second = rng.choice(SHARES)
        mode = rng.choice(["contact", "contact", "account", "split", "split", "colleagues", "own"])
        pair = rng.sample(people[one.pk], 2)
        modes: dict[str, list[tuple[Account, Contact | None, Decimal]]] = {
            "contact": [(one, pair[0], Decimal(100))],
            "account": [(one, None, Decimal(100))],
            "split": [(one, pair[0], first), (two, rng.choice([None, *people[two.pk]]), second)],
            "colleagues": [(one, pair[0], first), (one, pair[1], second)],
            "own": [(one, None, first), (one, pair[1], second)],
        }
        rows += [
            DealCredit(deal=deal, advocate_account=a, advocate=c, share=s, created_at=START)
            for a, c, s in modes[mode]
        ]
    DealCredit.objects.bulk_create(rows)
    names = {c.pk: c.full_name for c in contacts}
    return pd.DataFrame(
        [
            {
                "deal_id": r.deal_id, "account": r.advocate_account.name,
                "contact": names[r.advocate_id] if r.advocate_id else None, "share": r.share,
            }
            for r in rows
        ]
    )  # fmt: skip


def _introductions(
    rng: random.Random, accounts: list[Account], contacts: list[Contact], users: list[User]
) -> list[Introduction]:
    intros = []
    for _ in range(150):
        account = rng.choice(accounts)
        mine = [c for c in contacts if c.account_id == account.pk]
        created = START + dt.timedelta(days=rng.uniform(0, 498))
        intros.append(Introduction(
            state=rng.choice(list(IntroState)), advocate_account=account,
            advocate=rng.choice([None, *mine]), owner=rng.choice([*users, None]),
            waiting_since=created, created_at=created, updated_at=created,
        ))  # fmt: skip
    Introduction.objects.bulk_create(intros)
    return list(
        Introduction.objects.select_related("advocate_account", "advocate", "owner").order_by("pk")
    )


def _rewards(rng: random.Random, intros: list[Introduction]) -> pd.DataFrame:
    rule = RewardRule.objects.create(
        name="Thanks", trigger="accepted", kind="gift_card", value=Decimal("100"),
        created_at=START,
    )  # fmt: skip
    rows = []
    for intro in rng.sample(intros, 110):
        status = rng.choice(list(RewardStatus))
        created = intro.created_at + dt.timedelta(days=rng.uniform(0, 20))
        decided: dt.datetime | None = created + dt.timedelta(days=rng.uniform(0, 30))
        if status in (RewardStatus.HELD, RewardStatus.INELIGIBLE) or rng.random() < 0.1:
            decided = None  # undecided, or decided before decisions were recorded
        rows.append(Reward(
            rule=rule, introduction=intro, advocate_account=intro.advocate_account,
            advocate=intro.advocate, kind="gift_card", status=status,
            value=Decimal(rng.randint(10_00, 900_00)) / 100,
            currency=rng.choice(REWARD_CURRENCIES), available_at=created, decided_at=decided,
            created_at=created,
        ))  # fmt: skip
    Reward.objects.bulk_create(rows)
    return pd.DataFrame(
        [
            {
                "account": r.advocate_account.name,
                "contact": r.advocate.full_name if r.advocate else None,
                "status": r.status, "value": r.value, "currency": r.currency,
                "day": pd.Timestamp((r.decided_at or r.created_at).date()),
                "intro_id": r.introduction_id,
            }
            for r in rows
        ]
    )  # fmt: skip


def _asks(
    rng: random.Random, accounts: list[Account], contacts: list[Contact], users: list[User]
) -> pd.DataFrame:
    tasks = []
    kinds = [TaskKind.REFERRAL_ASK] * 3 + [TaskKind.REVIEW_ASK, TaskKind.REFERENCE_ASK]
    outcomes = [
        (TaskStatus.DONE, "agreed"), (TaskStatus.DONE, "declined"),
        (TaskStatus.CANCELLED, "not appropriate"), (TaskStatus.CANCELLED, "duplicate"),
    ]  # fmt: skip
    for contact in contacts:
        for _ in range(rng.choice([0, 1, 2, 3, 4])):
            status, outcome = rng.choice(outcomes)
            completed = NOW - dt.timedelta(
                days=rng.choice([1, 5, 29, 30, 31, 60, 89, 90, 200, 500])
            )
            tasks.append(_task(contact, rng.choice(kinds), status, outcome, completed, users))
    # An ask recorded after today does not count yet; an open ask is not made.
    tasks.append(_task(contacts[0], TaskKind.REFERRAL_ASK, TaskStatus.DONE, "agreed",
                       NOW + dt.timedelta(days=2), users))  # fmt: skip
    tasks.append(_task(contacts[4], TaskKind.REFERRAL_ASK, TaskStatus.OPEN, "", None, users))
    Task.objects.bulk_create(tasks)
    names = {c.pk: c.full_name for c in contacts}
    account_names = {a.pk: a.name for a in accounts}
    return pd.DataFrame(
        [
            {
                "account": account_names[t.account_id or 0], "contact": names[t.contact_id or 0],
                "kind": t.kind, "status": t.status, "outcome": t.outcome,
                "completed": t.completed_at,
            }
            for t in tasks
        ]
    )  # fmt: skip


def _task(
    contact: Contact,
    kind: str,
    status: str,
    outcome: str,
    completed: dt.datetime | None,
    users: list[User],
) -> Task:
    created = (completed or NOW) - dt.timedelta(days=3)
    return Task(
        kind=kind, subject="Ask", owner=users[contact.pk % 3], account_id=contact.account_id,
        contact=contact, due_at=created, status=status, outcome=outcome, created_at=created,
        completed_at=completed,
    )  # fmt: skip


def _untapped(users: list[User]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    for i, (health, rule, age, asked) in enumerate(UNTAPPED_PLAN):
        owner = users[i % 3]
        account = Account.objects.create(
            name=f"Untapped {i:02d}", industry=["Retail", "Health"][i % 2], employees=40,
            owner=owner, lifecycle="customer", created_at=START, updated_at=START,
        )  # fmt: skip
        if health != "silent":
            EventWeek.objects.bulk_create(
                EventWeek(account=account, week=monday - dt.timedelta(weeks=w), events=100)
                for w in range(1, 13)
            )
        _signals(account, health, i)
        at = NOW - dt.timedelta(days=age, hours=i)
        _moment(account, rule, at, f"{rule}-{i}")
        _moment(account, "reports", NOW - dt.timedelta(days=1), f"weak-{i}")  # a weak one too
        if i == 0:  # a second strong moment, lighter than the first
            _moment(account, "renewed", NOW - dt.timedelta(days=50), "extra-0")
        if asked is not None:
            Task.objects.create(
                kind=TaskKind.REFERRAL_ASK, subject="Ask", owner=owner, account=account,
                due_at=START, status=asked, created_at=START,
                completed_at=None if asked == TaskStatus.OPEN else START,
            )  # fmt: skip
        rows.append({
            "account": account.name, "owner": str(owner), "owner_id": owner.pk,
            "industry": account.industry, "kind": health, "rule": rule, "at": at,
            "asked": asked is not None, "health": HEALTH.get(health),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _signals(account: Account, health: str, i: int) -> None:
    if health in ("promoter", "detractor"):
        NpsResponse.objects.create(
            external_id=f"nps-{i}", account=account, score=10 if health == "promoter" else 3,
            responded_at=NOW - dt.timedelta(days=20), imported_at=NOW,
        )  # fmt: skip
    if health == "escalated":
        Ticket.objects.create(
            external_id=f"ticket-{i}", account=account, opened_at=NOW - dt.timedelta(days=3),
            escalated=True, praise=0.0, imported_at=NOW,
        )  # fmt: skip


def _moment(account: Account, rule: str, at: dt.datetime, key: str) -> None:
    retracted = rule == "retracted"
    Moment.objects.create(
        account=account, rule_id="goals" if retracted else rule, kind="goal", key=key,
        occurred_at=at, evidence=f"{rule} reached at {account.name}", found_at=at,
        updated_at=at, retracted_at=at if retracted else None,
    )  # fmt: skip


def _intro_frame(intros: list[Introduction]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": i.pk, "account": i.advocate_account.name,
                "contact": i.advocate.full_name if i.advocate else None,
                "owner_id": i.owner_id, "team_id": i.owner.team_id if i.owner else None,
                "created": pd.Timestamp(i.created_at.date()),
            }
            for i in intros
        ]
    )  # fmt: skip


def _contact_frame(contacts: list[Contact]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": c.pk, "name": c.full_name, "account": c.account.name,
                "opted_out": c.opted_out_at is not None,
            }
            for c in contacts
        ]
    )  # fmt: skip
