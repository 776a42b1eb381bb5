from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.crm.models import Account, Deal, DealSource, Stage, Task, TaskKind, TaskStatus
from goodword.crm.selectors import deals_visible_to, tasks_visible_to
from goodword.referrals.models import Introduction, Reward, RewardRule
from goodword.referrals.selectors import introductions_visible_to
from goodword.reports.filters import Filters, filters_parse
from goodword.reports.money import money_text
from goodword.reports.roi import draw, roi_report
from goodword.reports.services import costs_set
from goodword.reports.tests.conftest import RATES, TODAY, Book, with_rates
from goodword.reports.tests.kpi_data import Activity, activity_fixture  # noqa: F401
from goodword.users.models import User

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
NOW = dt.datetime(2026, 5, 14, 9, tzinfo=dt.UTC)
FROM, TO = "2025-07-01", "2026-03-31"


def _in(days: pd.Series, start: str = FROM, end: str = TO) -> pd.Series:
    return (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))


def _converted(frame: pd.DataFrame, rates: pd.DataFrame, on: str, value: str) -> dict[str, Any]:
    """Count, the sum in USD at the rate of the day in `on`, and the rows not converted."""
    if frame.empty:
        return {"n": 0, "amount": Decimal(0), "lost": 0}
    df = frame.reset_index(drop=True)
    df["id"] = df.index  # with_rates keys the rows by id: spend rows have none
    df["rate"] = with_rates(df, rates, on)
    known = df[df["rate"].notna()]
    amount = sum((a * r for a, r in zip(known[value], known["rate"], strict=True)), Decimal(0))
    return {"n": len(df), "amount": amount, "lost": len(df) - len(known)}


def rate_on(currency: str, day: dt.date) -> Decimal:
    if currency == "USD":
        return Decimal(1)
    return [rate for first, rate in RATES[currency] if first <= day][-1]


def expected(
    book: Book, data: Activity, minutes: int, hourly: Decimal, currency: str
) -> dict[str, Any]:
    """The programme's figures and each source's, by pandas."""
    won = book.frame[book.frame["is_won"] & _in(book.frame["closed"])]
    by_source = {
        s: _converted(won[won["source"] == s], book.rates, "closed", "amount")
        for s in DealSource.values
    }
    rewards = data.rewards[
        data.rewards["status"].isin(["approved", "fulfilled"]) & _in(data.rewards["decided"])
    ]
    cost = _converted(rewards, book.rates, "decided", "value")
    asks = data.asks[
        (data.asks["kind"] == "referral_ask")
        & (data.asks["status"] == "done")
        & _in(data.asks["completed"])
    ]
    time = sum(
        (
            Decimal(minutes) / 60 * hourly * n * rate_on(currency, day.date())
            for day, n in asks.groupby("completed").size().items()
        ),
        Decimal(0),
    )
    spend = data.spend[_in(data.spend["month"])].rename(columns={"month": "day"})
    spent = {
        s: _converted(spend[spend["source"] == s], book.rates, "day", "amount")
        for s in ("inbound", "outbound", "partner", "event")
    }
    return {"won": by_source, "rewards": cost, "asks": len(asks), "time": time, "spend": spent}


def test_the_programme_and_every_source_match_pandas(
    book: Book, activity: Activity, admin_user: User
) -> None:
    # given the book, its rewards, asks and spend, and an admin's costs in EUR
    costs_set(actor=admin_user, minutes_per_ask="12", hourly_cost="75", currency="EUR", now=NOW)

    # when the report covers July 2025 to March 2026
    report = roi_report(user=None, filters=filters_parse({"from": FROM, "to": TO}), today=TODAY)

    # then the programme's row is pandas'
    want = expected(book, activity, 12, Decimal(75), "EUR")
    referral = want["won"]["referral"]
    cost = want["rewards"]["amount"] + want["time"]
    (programme,) = report.table("programme").rows
    assert programme == {
        "won_deals": referral["n"],
        "revenue_won": referral["amount"].quantize(CENT),
        "rewards": want["rewards"]["n"],
        "reward_cost": want["rewards"]["amount"].quantize(CENT),
        "asks_made": want["asks"],
        "minutes_per_ask": 12,
        "hourly_cost": (75 * rate_on("EUR", dt.date(2026, 3, 31))).quantize(CENT),
        "time_cost": want["time"].quantize(CENT),
        "total_cost": cost.quantize(CENT),
        "net_return": (referral["amount"] - cost).quantize(CENT),
        "roi_multiple": pytest.approx(float(referral["amount"] / cost)),
        "unconverted": referral["lost"] + want["rewards"]["lost"],
    }
    assert want["rewards"]["lost"] > 0
    assert want["asks"] > 0
    # and each source's: the referral's spend is the programme's cost, the others' entered
    rows = {r["source"]: r for r in report.table("sources").rows}
    assert list(rows) == DealSource.values
    for source, deals in want["won"].items():
        spent = (
            {"n": 1, "amount": cost, "lost": want["rewards"]["lost"]}
            if source == "referral"
            else want["spend"].get(source)
        )
        amount = None if spent is None else spent["amount"]
        assert rows[source] == {
            "source": source,
            "label": DealSource(source).label,
            "won_deals": deals["n"],
            "revenue_won": deals["amount"].quantize(CENT),
            "spend": None if amount is None else amount.quantize(CENT),
            "cost_per_won_deal": (
                (amount / deals["n"]).quantize(CENT) if amount is not None and deals["n"] else None
            ),
            "revenue_per_cost": (
                pytest.approx(float(deals["amount"] / amount)) if amount else None
            ),
            "unconverted": deals["lost"] + (spent["lost"] if spent else 0),
        }, source
    assert rows["other"]["spend"] is None  # nothing entered for it
    # JPY has no rate: its deals and rewards are counted, not converted, and noted
    won, rewards = book.frame, activity.rewards
    first = min(
        *won[won["is_won"] & _in(won["closed"]) & (won["currency"] == "JPY")]["closed"],
        *rewards[
            rewards["status"].isin(["approved", "fulfilled"])
            & _in(rewards["decided"])
            & (rewards["currency"] == "JPY")
        ]["decided"],
    )
    assert report.notes == [f"JPY amounts are not converted: no rate (from {first.date()})"]


def test_the_headline_says_what_referrals_returned(book: Book, activity: Activity) -> None:
    report = roi_report(user=None, filters=filters_parse({"from": FROM, "to": TO}), today=TODAY)
    (p,) = report.table("programme").rows
    rewards = money_text(p["reward_cost"], "USD").removeprefix("USD ")
    assert report.headline == (
        f"Referrals returned {p['revenue_won'] / p['total_cost']:.1f}× their cost: "
        f"{money_text(p['revenue_won'], 'USD')} won for {money_text(p['total_cost'], 'USD')} "
        f"(rewards {rewards}, {p['asks_made']:,} asks × 10 min at USD 60/h)"
    )
    assert report.notes[-1] == (
        "The time cost uses the default 10 minutes per ask at USD 60 an hour: an admin may "
        "set them."
    )
    drawn = draw(report)
    assert set(drawn) == {"programme", "sources"}
    assert all(svg.count("<svg") == 1 for svg in drawn.values())


def test_a_worked_example(
    stages: dict[str, Stage], rep: User, manager: User, account: Account
) -> None:
    # given one referral deal of USD 1.2M won in March 2026, USD 30,000 of rewards approved
    # and 1,200 referral asks made that month, at the default 10 minutes and USD 60/h
    won_at = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    deal = Deal.objects.create(
        account=account, name="Big", owner=rep, amount=Decimal("1200000"), currency="USD",
        stage=stages["Closed Won"], source="referral", created_at=won_at, updated_at=won_at,
        closed_at=won_at,
    )  # fmt: skip
    rule = RewardRule.objects.create(
        name="Won", trigger="won", kind="gift_card", value=Decimal(1), created_at=won_at
    )
    intro = Introduction.objects.create(
        state="opportunity", advocate_account=account, owner=rep, deal=deal,
        waiting_since=won_at, created_at=won_at, updated_at=won_at,
    )  # fmt: skip
    Reward.objects.create(
        rule=rule, introduction=intro, advocate_account=account, kind="gift_card",
        value=Decimal("30000"), currency="USD", status="fulfilled", available_at=won_at,
        decided_at=won_at, created_at=won_at,
    )  # fmt: skip
    Task.objects.bulk_create(
        Task(
            kind=TaskKind.REFERRAL_ASK,
            subject=f"Ask {i}",
            owner=rep,
            due_at=won_at,
            status=TaskStatus.DONE,
            created_at=won_at,
            completed_at=won_at,
        )
        for i in range(1200)
    )

    # when the report covers the first quarter of 2026
    filters = filters_parse({"from": "2026-01-01", "to": "2026-03-31"})
    report = roi_report(user=manager, filters=filters, today=TODAY)

    # then: USD 12,000 of time (1,200 × 10 / 60 × 60) and 30,000 of rewards
    assert report.headline == (
        "Referrals returned 28.6× their cost: USD 1.2M won for USD 42k "
        "(rewards 30k, 1,200 asks × 10 min at USD 60/h)"
    )
    (p,) = report.table("programme").rows
    assert (p["time_cost"], p["total_cost"], p["net_return"]) == (
        Decimal("12000.00"), Decimal("42000.00"), Decimal("1158000.00"),
    )  # fmt: skip
    assert p["roi_multiple"] == pytest.approx(1_200_000 / 42_000)


def test_a_rep_sees_what_they_may_and_no_spend(book: Book, activity: Activity) -> None:
    # given a rep
    rep: User = book.users["rep"]

    # when they make the report
    report = roi_report(user=rep, filters=filters_parse({"from": FROM, "to": TO}), today=TODAY)

    # then the revenue, rewards and asks are of what they may see; no spend is shown
    seen = set(deals_visible_to(rep).values_list("pk", flat=True))
    intros = set(introductions_visible_to(rep).values_list("pk", flat=True))
    asks = set(tasks_visible_to(rep).values_list("pk", flat=True))
    data = Activity(
        asks=activity.asks[activity.asks["id"].isin(asks)],
        intros=activity.intros,
        rewards=activity.rewards[activity.rewards["intro_id"].isin(intros)],
        targets=activity.targets,
        spend=activity.spend.iloc[0:0],
    )
    frame = book.frame[book.frame["id"].isin(seen)]
    want = expected(Book(book.deals, frame, book.rates, book.users), data, 10, Decimal(60), "USD")
    (p,) = report.table("programme").rows
    assert (p["won_deals"], p["revenue_won"]) == (
        want["won"]["referral"]["n"], want["won"]["referral"]["amount"].quantize(CENT),
    )  # fmt: skip
    assert (p["rewards"], p["reward_cost"]) == (
        want["rewards"]["n"], want["rewards"]["amount"].quantize(CENT),
    )  # fmt: skip
    assert p["asks_made"] == want["asks"]
    assert p["asks_made"] < len(activity.asks)
    spend = {r["source"]: r["spend"] for r in report.table("sources").rows}
    assert [s for s, v in spend.items() if v is not None] == ["referral"]
    assert "The spend entered per source is shown to managers and admins only." in report.notes


def test_filters_narrow_everything_but_the_spend(book: Book, activity: Activity) -> None:
    west = book.users["other_rep"]
    filters = filters_parse({"from": FROM, "to": TO, "team": str(west.team_id)})
    report = roi_report(user=None, filters=filters, today=TODAY)
    whole = roi_report(user=None, filters=filters_parse({"from": FROM, "to": TO}), today=TODAY)

    (p,) = report.table("programme").rows
    asks = activity.asks
    assert p["asks_made"] == int(
        (
            (asks["kind"] == "referral_ask")
            & (asks["status"] == "done")
            & _in(asks["completed"])
            & (asks["owner_id"] == west.pk)
        ).sum()
    )
    rewards = activity.rewards
    assert p["rewards"] == int(
        (
            rewards["status"].isin(["approved", "fulfilled"])
            & _in(rewards["decided"])
            & (rewards["owner_id"] == west.pk)
        ).sum()
    )
    spend = {r["source"]: r["spend"] for r in report.table("sources").rows}
    assert spend["inbound"] == whole.table("sources").rows[1]["spend"]
    assert report.notes[-2] == (
        "The spend entered per source is the whole company's: the filters narrow the deals, "
        "rewards and asks, not the spend."
    )

    # a source other than referral leaves the programme's cost out
    inbound = roi_report(user=None, filters=Filters(source="inbound"), today=TODAY)
    (p,) = inbound.table("programme").rows
    assert (p["won_deals"], p["total_cost"], p["roi_multiple"]) == (0, Decimal("0.00"), None)
    assert inbound.headline == "No referred revenue won and no programme cost in this period."


def test_the_report_is_seven_queries_and_draws_when_empty(
    book: Book, activity: Activity, django_assert_num_queries: Any
) -> None:
    # rates, the won stages, deals won, programme costs, rewards, asks made, spend
    with django_assert_num_queries(7):
        roi_report(user=book.users["manager"], filters=Filters(), today=TODAY)
    empty = roi_report(
        user=None, filters=filters_parse({"from": "2020-01-01", "to": "2020-03-31"}), today=TODAY
    )
    assert set(draw(empty)) == {"programme", "sources"}
