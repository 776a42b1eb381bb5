from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from goodword.crm.models import DealSource
from goodword.reports.filters import Filters, filters_parse
from goodword.reports.pipeline import pipeline_report, quarters
from goodword.reports.tests.conftest import TODAY, Book, with_rates
from goodword.users.models import User

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")


def test_quarters_of_a_day() -> None:
    assert quarters(dt.date(2026, 5, 14)) == (
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    )
    assert quarters(dt.date(2026, 11, 2))[1] == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))


def expected_open(frame: pd.DataFrame, rates: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The open pipeline per source, by pandas: each deal converted at the rate of TODAY."""
    df = frame[~frame["is_won"] & ~frame["is_lost"]].copy()
    df["today"] = pd.Timestamp(TODAY)
    df["rate"] = with_rates(df, rates, "today")
    this_q, next_q = (
        (pd.Timestamp("2026-04-01"), pd.Timestamp("2026-06-30")),
        (
            pd.Timestamp("2026-07-01"),
            pd.Timestamp("2026-09-30"),
        ),
    )
    df["bucket"] = np.select(
        [
            df["close_date"].isna(),
            df["close_date"] < this_q[0],
            df["close_date"] <= this_q[1],
            (df["close_date"] >= next_q[0]) & (df["close_date"] <= next_q[1]),
        ],
        ["none", "past", "this", "next"],
        "later",
    )
    converted = df[df["rate"].notna()].copy()
    converted["home"] = [a * r for a, r in zip(converted["amount"], converted["rate"], strict=True)]
    converted["weighted"] = [
        h * p / 100 for h, p in zip(converted["home"], converted["probability"], strict=True)
    ]
    out: dict[str, dict[str, Any]] = {}
    for source, group in df.groupby("source"):
        money = converted[converted["source"] == source]
        row: dict[str, Any] = {
            "deals": len(group),
            "amount": sum(money["home"], Decimal(0)).quantize(CENT),
            "weighted": sum(money["weighted"], Decimal(0)).quantize(CENT),
            "past_due": int((group["bucket"] == "past").sum()),
            "no_close_date": int((group["bucket"] == "none").sum()),
            "unconverted": int(group["rate"].isna().sum()),
        }
        for bucket in ("this", "next"):
            part = money[money["bucket"] == bucket]
            row[f"{bucket}_deals"] = int((group["bucket"] == bucket).sum())
            row[f"{bucket}_amount"] = sum(part["home"], Decimal(0)).quantize(CENT)
            row[f"{bucket}_weighted"] = sum(part["weighted"], Decimal(0)).quantize(CENT)
        out[str(source)] = row
    return out


def test_open_pipeline_per_source_matches_pandas(book: Book) -> None:
    # given the generated book, seen by everyone (the command line's view)
    # when the report is made
    report = pipeline_report(user=None, filters=Filters(), today=TODAY)

    # then each source's open figures are pandas' to the cent, and the total adds them up
    expected = expected_open(book.frame, book.rates)
    rows = {r["source"]: r for r in report.table("open").rows}
    assert set(rows) == {*expected, ""}
    for source, figures in expected.items():
        assert {k: rows[source][k] for k in figures} == figures, source
    total = rows[""]
    assert total["deals"] == sum(f["deals"] for f in expected.values())
    assert total["amount"] == sum((f["amount"] for f in expected.values()), Decimal(0))
    # JPY has no rate: its deals are counted, left out of the amounts, and named in a note
    assert total["unconverted"] == int(
        ((book.frame["currency"] == "JPY") & ~book.frame["is_won"] & ~book.frame["is_lost"]).sum()
    )
    assert total["unconverted"] > 0
    # (from the first day a JPY amount was asked for: the earliest referred JPY deal's)
    jpy = book.frame[(book.frame["currency"] == "JPY") & (book.frame["source"] == "referral")]
    first = min(TODAY, jpy[jpy["created"] >= "2025-06-01"]["created"].min().date())
    assert report.notes == [f"JPY amounts are not converted: no rate (from {first})"]
    assert report.currency == "USD"


def test_referred_pipeline_created_per_month_matches_pandas(book: Book) -> None:
    # given the book, when the report covers January 2025 to mid-May 2026
    filters = filters_parse({"from": "2025-01-01", "to": "2026-05-14"})
    report = pipeline_report(user=None, filters=filters, today=TODAY)

    # then each month's referral deals and amount (converted on the day each was created)
    # are pandas'
    df = book.frame[book.frame["source"] == DealSource.REFERRAL].copy()
    df["rate"] = with_rates(df, book.rates, "created")
    df["month"] = df["created"].dt.strftime("%Y-%m")
    rows = {r["month"]: r for r in report.table("referred_per_month").rows}
    assert list(rows) == [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)][:17]
    for month, row in rows.items():
        group = df[df["month"] == month]
        known = group[group["rate"].notna()]
        amount = sum(
            (a * r for a, r in zip(known["amount"], known["rate"], strict=True)), Decimal(0)
        )
        assert row == {
            "month": month,
            "deals": len(group),
            "amount": amount.quantize(CENT),
            "unconverted": len(group) - len(known),
        }


def test_filters_narrow_the_deals(book: Book) -> None:
    # given the book, when the report is filtered to one team, one industry and a size band
    rep = book.users["rep"]
    filters = filters_parse({"team": str(rep.team_id), "industry": "software", "size": "201-500"})
    report = pipeline_report(user=None, filters=filters, today=TODAY)

    # then only those deals count
    frame = book.frame
    narrowed = frame[
        (frame["team_id"] == rep.team_id)
        & (frame["industry"] == "Software")
        & frame["employees"].between(201, 500)
    ]
    expected = expected_open(narrowed, book.rates)
    rows = {r["source"]: r for r in report.table("open").rows}
    assert {s: rows[s]["deals"] for s in expected} == {s: f["deals"] for s, f in expected.items()}
    assert {s: rows[s]["amount"] for s in expected} == {s: f["amount"] for s, f in expected.items()}


def test_a_rep_sees_the_figures_of_their_own_deals_and_accounts(book: Book) -> None:
    # given a rep
    rep: User = book.users["rep"]

    # when they make the report
    report = pipeline_report(user=rep, filters=Filters(), today=TODAY)

    # then it counts their deals and the deals of accounts they own, nothing else
    mine = {d.pk for d in book.deals if d.owner_id == rep.pk or d.account.owner_id == rep.pk}
    frame = book.frame[book.frame["id"].isin(mine)]
    expected = expected_open(frame, book.rates)
    rows = {r["source"]: r for r in report.table("open").rows}
    assert {s: rows[s]["deals"] for s in expected} == {s: f["deals"] for s, f in expected.items()}
    assert rows[""]["deals"] < len(book.frame)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"from": "2026-13-01"}, {"date_from": ["'2026-13-01' is not a date (YYYY-MM-DD)"]}),
        ({"from": "2026-05-01", "to": "2026-04-01"}, {"date_to": ["is before the start date"]}),
        ({"team": "999999"}, {"team": ["no team with id '999999'"]}),
        ({"owner": "abc"}, {"owner": ["no owner with id 'abc'"]}),
        (
            {"source": "cold"},
            {"source": ["one of referral, inbound, outbound, partner, event, other"]},
        ),
    ],
)
def test_bad_filters_are_named(data: dict[str, str], errors: dict[str, list[str]]) -> None:
    from goodword.lib.errors import Invalid

    with pytest.raises(Invalid) as refused:
        filters_parse(data)
    assert refused.value.errors == errors
