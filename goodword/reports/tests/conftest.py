"""A generated book of deals for the report tests: several sources, owners, teams, industries
and sizes; amounts in USD (home), EUR and GBP with dated rates, and in JPY without any rate;
open deals with and without close dates (some passed), won and lost deals, deals whose source
changed and deals reopened after being won. Every figure a report gives is checked against
pandas on the frame this fixture also returns."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.crm.models import Account, Deal, DealSource, Stage
from goodword.reports.models import Rate
from goodword.users.models import User

TODAY = dt.date(2026, 5, 14)
START = dt.datetime(2025, 1, 1, 9, 0, tzinfo=dt.UTC)
RATES = {  # currency → [(first day, rate)], one a week
    "EUR": [(dt.date(2025, 1, 6) + dt.timedelta(weeks=w), Decimal("1.05") + Decimal(w) / 1000)
            for w in range(75)],
    "GBP": [(dt.date(2025, 3, 3) + dt.timedelta(weeks=w),
             Decimal("1.2500000001") + Decimal(w) / 997) for w in range(60)],
}  # fmt: skip
CURRENCIES = ["USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"]
INDUSTRIES = ["Software", "Retail", "Health"]


@dataclass
class Book:
    deals: list[Deal]
    frame: pd.DataFrame  # one row per deal, as pandas sees it
    rates: pd.DataFrame  # currency, day, rate
    users: dict[str, User]


@pytest.fixture
def book(stages: dict[str, Stage], rep: User, other_rep: User, manager: User, csm: User) -> Book:
    rng = random.Random(6)
    users = {"rep": rep, "other_rep": other_rep, "manager": manager}
    accounts = [
        Account.objects.create(
            name=f"Account {i}", industry=INDUSTRIES[i % 3], employees=[8, 40, 300, 2000][i % 4],
            owner=[rep, other_rep, manager][i % 3], csm=csm if i % 2 else None,
            lifecycle="customer", created_at=START, updated_at=START,
        )
        for i in range(12)
    ]  # fmt: skip
    for currency, rows in RATES.items():
        Rate.objects.bulk_create(
            Rate(currency=currency, day=day, rate=rate, imported_at=START) for day, rate in rows
        )
    open_stages = [s for s in stages.values() if not s.is_won and not s.is_lost]
    won, lost = stages["Closed Won"], stages["Closed Lost"]
    deals = []
    for i in range(400):
        created = START + dt.timedelta(days=rng.uniform(0, 495))
        stage = rng.choice([*open_stages, won, won, lost, lost, lost])
        closed = None
        if stage.is_won or stage.is_lost:
            closed = min(
                created + dt.timedelta(days=rng.uniform(1, 150)), START + dt.timedelta(days=498)
            )
        close_date = (
            None
            if rng.random() < 0.15
            else (created + dt.timedelta(days=rng.randint(10, 300))).date()
        )
        account = rng.choice(accounts)
        deals.append(Deal(
            account=account, name=f"Deal {i}", owner=rng.choice([rep, other_rep, manager, None]),
            amount=Decimal(rng.randint(100_00, 90_000_00)) / 100, currency=rng.choice(CURRENCIES),
            stage=stage, kind=rng.choice(["new", "new", "expansion", "renewal"]),
            source=rng.choice([*DealSource.values, "referral", "referral"]),
            created_at=created, updated_at=created, close_date=close_date, closed_at=closed,
        ))  # fmt: skip
    Deal.objects.bulk_create(deals)
    deals = list(Deal.objects.select_related("stage", "account", "owner").order_by("pk"))
    _history(deals, rng, open_stages, won)
    return Book(deals, _frame(deals), _rates_frame(), users)


def _history(deals: list[Deal], rng: random.Random, open_stages: list[Stage], won: Stage) -> None:
    """Some deals changed source after creation; some won deals were reopened (an open stage,
    no closed_at): the reports count each by what it is now."""
    for deal in rng.sample(deals, 30):
        deal.source = DealSource.REFERRAL if deal.source != DealSource.REFERRAL else "inbound"
        deal.save(update_fields=["source"])
    reopened = [d for d in deals if d.stage_id == won.pk][:8]
    for deal in reopened:
        deal.stage = rng.choice(open_stages)
        deal.closed_at = None
        deal.save(update_fields=["stage", "closed_at"])


def _frame(deals: list[Deal]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {
            "id": d.pk, "source": d.source, "kind": d.kind, "currency": d.currency,
            "amount": d.amount,
            "owner_id": d.owner_id, "team_id": d.owner.team_id if d.owner else None,
            "industry": d.account.industry, "employees": d.account.employees,
            "stage_id": d.stage_id, "probability": d.stage.probability,
            "is_won": d.stage.is_won, "is_lost": d.stage.is_lost,
            "created": pd.Timestamp(d.created_at.date()),
            "close_date": pd.Timestamp(d.close_date) if d.close_date else pd.NaT,
            "closed": pd.Timestamp(d.closed_at.date()) if d.closed_at else pd.NaT,
        }
        for d in deals
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _rates_frame() -> pd.DataFrame:
    rows = [
        {"currency": c, "day": pd.Timestamp(day), "rate": rate}
        for c, days in RATES.items()
        for day, rate in days
    ]
    return pd.DataFrame(rows).sort_values("day")


def with_rates(frame: pd.DataFrame, rates: pd.DataFrame, on: str) -> pd.Series:
    """Each row's rate on the day in column `on` (1 for USD; NaN-free: None where no rate),
    by pandas' merge_asof."""
    left = frame[["id", "currency", on]].rename(columns={on: "day"})
    left = left[left["day"].notna()].sort_values("day")  # no day (not closed): no rate
    merged = pd.merge_asof(left, rates, on="day", by="currency", direction="backward")
    merged.loc[merged["currency"] == "USD", "rate"] = Decimal(1)
    merged["rate"] = merged["rate"].map(lambda r: None if r is None or r != r else r)
    return merged.set_index("id")["rate"].reindex(frame["id"]).set_axis(frame.index)
