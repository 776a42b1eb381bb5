"""The demo's referral deals are credited as the product credits them: all of each to one
advocate, a contact of another account that was a customer when the deal began."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from goodword.crm.models import Deal
from goodword.demo.deals import Advocacy, AdvocatePool
from goodword.demo.generator import generate
from goodword.referrals.models import DealCredit

TODAY = dt.date(2026, 5, 1)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def customer_at(account_id: int, at: dt.datetime) -> bool:
    """From the written deals alone: a won new deal closed by then, and no lost renewal in
    between (how the demo's accounts churn)."""
    deals = Deal.objects.filter(account_id=account_id, closed_at__lte=at)
    won = deals.filter(kind="new", stage__is_won=True).order_by("closed_at").first()
    if won is None or won.closed_at is None:
        return False
    lost = deals.filter(kind="renewal", stage__is_lost=True, closed_at__gt=won.closed_at)
    return not lost.exists()


def test_every_demo_referral_deal_is_credited_to_another_customers_contact(db: None) -> None:
    # given a generated demo company
    generate(accounts=150, seed=5, today=TODAY)
    referrals = list(Deal.objects.filter(source="referral"))
    assert len(referrals) > 20
    # then each referral deal has one credit of 100 % to a contact of another account
    credits = {c.deal_id: c for c in DealCredit.objects.select_related("advocate")}
    assert sorted(credits) == sorted(d.pk for d in referrals)
    for deal in referrals:
        credit = credits[deal.pk]
        assert credit.share == Decimal(100)
        assert credit.advocate_account_id != deal.account_id
        assert credit.advocate is not None
        assert credit.advocate.account_id == credit.advocate_account_id
        assert credit.created_at == deal.created_at
    # and nearly all of them to an account that was a customer when the deal began (the
    # earliest referrals of the company's history may precede every customer)
    fitting = sum(customer_at(credits[d.pk].advocate_account_id, d.created_at) for d in referrals)
    assert fitting >= 0.9 * len(referrals)


def test_the_same_seed_credits_the_same_advocates(db: None) -> None:
    def advocates() -> list[tuple[str | None, str | None]]:
        rows = DealCredit.objects.order_by("deal__external_id")
        return list(rows.values_list("deal__external_id", "advocate__external_id"))

    generate(accounts=40, seed=9, today=TODAY)
    first = advocates()
    generate(accounts=40, seed=9, today=TODAY)
    assert advocates() == first


def span(start_days: int, end_days: int | None, account: int) -> Advocacy:
    end = None if end_days is None else T0 + dt.timedelta(days=end_days)
    return Advocacy(T0 + dt.timedelta(days=start_days), end, account, account * 10)


def test_the_pool_picks_a_customer_at_the_time_other_than_the_deals_account() -> None:
    pool = AdvocatePool(random.Random(1))
    for s in (span(0, 100, 1), span(50, None, 2), span(200, None, 3)):
        pool.add(s)
    at = T0 + dt.timedelta(days=150)
    picks = {pool.pick(at, not_account=9) for _ in range(50)}
    assert picks == {span(50, None, 2)}  # 1 had left, 3 was not yet a customer
    # no other customer then: the earliest one other than the deal's account
    assert pool.pick(at, not_account=2) == span(0, 100, 1)
    # before anyone was a customer: the earliest customer, never the deal's own account
    assert pool.pick(T0 - dt.timedelta(days=1), not_account=1) == span(50, None, 2)


def test_the_pool_stays_within_its_capacity() -> None:
    pool = AdvocatePool(random.Random(2), capacity=10)
    for i in range(1000):
        pool.add(span(i, None, i))
    assert len(pool.spans) == 10
    assert pool.starts == sorted(pool.starts)
