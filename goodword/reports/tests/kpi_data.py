"""Generated activity on top of the `book` for the rep KPI and ROI reports: referral asks
(and other tasks) created, done on time and late, open and overdue, snoozed or closed as not
appropriate; introductions (some without an ask, some without an owner); rewards in every
status and currency; quarterly targets; spend per source and month. Each comes with a
pandas frame, for the tests to compute every figure on their own."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.crm.models import Account, Task, TaskKind, TaskStatus
from goodword.engine.intros import IntroState
from goodword.referrals.models import Introduction, Reward, RewardRule, RewardStatus
from goodword.reports.models import RepTarget, SourceSpend, TargetMetric
from goodword.reports.tests.conftest import START, TODAY, Book
from goodword.users.models import User

QUARTERS = [dt.date(2025, m, 1) for m in (1, 4, 7, 10)] + [dt.date(2026, m, 1) for m in (1, 4)]


@dataclass
class Activity:
    asks: pd.DataFrame  # id, owner_id, team_id, kind, status, created, completed_at, due_at…
    intros: pd.DataFrame  # id, owner_id, team_id, created, industry, employees
    rewards: pd.DataFrame  # id, status, currency, value, decided (day), owner_id
    targets: pd.DataFrame  # user_id, quarter, metric, value
    spend: pd.DataFrame  # source, month, amount, currency


def _when(rng: random.Random) -> dt.datetime:
    return START + dt.timedelta(days=rng.uniform(0, 498))


def _task(rng: random.Random, owner: User, account: Account | None, kind: str) -> Task:
    created = _when(rng)
    due = created + dt.timedelta(days=rng.uniform(1, 20))
    status = rng.choice([TaskStatus.DONE, TaskStatus.DONE, TaskStatus.CANCELLED, "open"])
    completed = None
    if status != "open":
        completed = min(
            created + dt.timedelta(days=rng.uniform(0.1, 30)), START + dt.timedelta(days=498)
        )
    return Task(
        kind=kind, subject=f"Ask {rng.random():.6f}", owner=owner, account=account,
        due_at=due, status=status, created_at=created, completed_at=completed,
        outcome="not appropriate" if status == TaskStatus.CANCELLED else "",
    )  # fmt: skip


def _asks(book: Book, rng: random.Random, owners: list[User]) -> list[Task]:
    accounts = list(Account.objects.order_by("pk"))
    tasks = []
    for i in range(260):
        kind = TaskKind.REFERRAL_ASK if i % 5 else rng.choice([TaskKind.CALL, TaskKind.REVIEW_ASK])
        task = _task(rng, rng.choice(owners), rng.choice([*accounts, None]), kind)
        if task.status == TaskStatus.OPEN and kind == TaskKind.REFERRAL_ASK:
            task.account = None  # one open referral ask per account: these hang off none
        tasks.append(task)
    # One open ask per account, some overdue today and some not.
    for account in accounts:
        task = _task(rng, rng.choice(owners), account, TaskKind.REFERRAL_ASK)
        task.status, task.completed_at = TaskStatus.OPEN, None
        task.due_at = dt.datetime.combine(TODAY, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(
            days=rng.randint(-40, 10)
        )
        tasks.append(task)
    return Task.objects.bulk_create(tasks)


def _intros(rng: random.Random, owners: list[User], asks: list[Task]) -> list[Introduction]:
    accounts = list(Account.objects.order_by("pk"))
    referral_asks = [t for t in asks if t.kind == TaskKind.REFERRAL_ASK]
    intros = []
    for _ in range(150):
        ask = rng.choice([*referral_asks, None])
        owner = ask.owner if ask is not None else rng.choice([*owners, None])
        created = _when(rng)
        intros.append(Introduction(
            state=rng.choice(list(IntroState)).value, ask=ask,
            advocate_account=ask.account if ask and ask.account else rng.choice(accounts),
            owner=owner, waiting_since=created, created_at=created, updated_at=created,
        ))  # fmt: skip
    return Introduction.objects.bulk_create(intros)


def _rewards(rng: random.Random, intros: list[Introduction]) -> list[Reward]:
    rules = [
        RewardRule.objects.create(
            name=f"Rule {i}",
            trigger="accepted",
            kind="gift_card",
            value=Decimal(100),
            currency="USD",
            created_at=START,
        )
        for i in range(2)
    ]
    rewards = []
    for intro in rng.sample(intros, 90):
        status = rng.choice([*RewardStatus.values, "approved", "fulfilled"])
        decided = None if status in ("held", "pending") else _when(rng)
        rewards.append(Reward(
            rule=rng.choice(rules), introduction=intro, advocate_account=intro.advocate_account,
            kind="gift_card", value=Decimal(rng.randint(10_00, 2_500_00)) / 100,
            currency=rng.choice(["USD", "USD", "EUR", "GBP", "JPY"]), status=status,
            available_at=intro.created_at, decided_at=decided, created_at=intro.created_at,
        ))  # fmt: skip
    return Reward.objects.bulk_create(rewards)


def _targets(rng: random.Random, owners: list[User]) -> list[RepTarget]:
    targets = []
    for owner in owners:
        for quarter in QUARTERS:
            for metric in rng.sample(TargetMetric.values, 3):
                money = metric in ("pipeline_created", "revenue_won")
                value = (
                    Decimal(rng.randint(1_000_00, 900_000_00)) / 100
                    if money
                    else rng.randint(1, 60)
                )
                targets.append(RepTarget(
                    user=owner, quarter=quarter, metric=metric, value=Decimal(value),
                    set_at=START,
                ))  # fmt: skip
    return RepTarget.objects.bulk_create(targets)


def _spend(rng: random.Random) -> list[SourceSpend]:
    rows = []
    for month in range(17):
        first = dt.date(2025 + month // 12, month % 12 + 1, 1)
        for source in rng.sample(["inbound", "outbound", "partner", "event"], 3):
            rows.append(SourceSpend(
                source=source, month=first, amount=Decimal(rng.randint(100_00, 20_000_00)) / 100,
                currency=rng.choice(["USD", "EUR", "GBP"]), entered_at=START,
            ))  # fmt: skip
    return SourceSpend.objects.bulk_create(rows)


@pytest.fixture(name="activity")
def activity_fixture(book: Book) -> Activity:
    rng = random.Random(11)
    owners = [book.users["rep"], book.users["other_rep"], book.users["manager"]]
    asks = _asks(book, rng, owners)
    intros = _intros(rng, owners, asks)
    rewards = _rewards(rng, intros)
    targets = _targets(rng, owners)
    spend = _spend(rng)
    teams: dict[int | None, int | None] = {u.pk: u.team_id for u in owners}
    return Activity(
        asks=_frame(
            {
                "id": t.pk, "owner_id": t.owner_id, "team_id": teams[t.owner_id],
                "kind": t.kind, "status": t.status, "created": _day(t.created_at),
                "completed": _day(t.completed_at), "completed_at": t.completed_at,
                "due_at": t.due_at, "account_id": t.account_id,
            }
            for t in asks
        ),
        intros=_frame(
            {
                "id": i.pk, "owner_id": i.owner_id, "team_id": teams.get(i.owner_id),
                "created": _day(i.created_at), "account_id": i.advocate_account_id,
            }
            for i in intros
        ),
        rewards=_frame(
            {
                "id": r.pk, "status": r.status, "currency": r.currency, "value": r.value,
                "decided": _day(r.decided_at), "owner_id": r.introduction.owner_id,
                "intro_id": r.introduction_id,
            }
            for r in rewards
        ),
        targets=_frame(
            {"user_id": t.user_id, "quarter": pd.Timestamp(t.quarter), "metric": t.metric,
             "value": t.value}
            for t in targets
        ),
        spend=_frame(
            {"source": s.source, "month": pd.Timestamp(s.month), "amount": s.amount,
             "currency": s.currency}
            for s in spend
        ),
    )  # fmt: skip


def _day(moment: dt.datetime | None) -> Any:
    return pd.Timestamp(moment.astimezone(dt.UTC).date()) if moment else pd.NaT


def _frame(rows: Any) -> pd.DataFrame:
    return pd.DataFrame(list(rows))
