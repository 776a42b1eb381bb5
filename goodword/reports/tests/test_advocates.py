from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.reports import advocates as advocates_module
from goodword.reports.advocates import advocates_report, draw
from goodword.reports.filters import Filters, filters_parse
from goodword.reports.money import money_text
from goodword.reports.tests.advocates_data import HEALTH, WEIGHTS, Advocates, advocates
from goodword.reports.tests.conftest import TODAY, with_rates
from goodword.users.models import User

pytestmark = pytest.mark.django_db
__all__ = ["advocates"]  # the fixture, for pytest
CENT = Decimal("0.01")
COOLDOWN, WINDOW, BUDGET, GAP = 90, 365, 3, 30  # the default programme's gates
PERIOD = (pd.Timestamp("2025-06-01"), pd.Timestamp(TODAY))  # Filters().period(TODAY)


# --- pandas' side ---------------------------------------------------------------------


def _credited(adv: Advocates, period: tuple[pd.Timestamp, pd.Timestamp], deals: set[int] | None):
    """Each credit row with its deal, status (won in the period or open) and rate."""
    frame = adv.book.frame.copy()
    frame["today"] = pd.Timestamp(TODAY)
    closed = frame[frame["closed"].notna()]
    won_rates = dict(zip(closed["id"], with_rates(closed, adv.book.rates, "closed"), strict=True))
    frame["won_rate"] = frame["id"].map(lambda i: won_rates.get(i))
    frame["open_rate"] = with_rates(frame, adv.book.rates, "today")
    if deals is not None:
        frame = frame[frame["id"].isin(deals)]
    df = adv.credits.merge(frame, left_on="deal_id", right_on="id")
    won = df["is_won"] & df["closed"].between(*period)
    still_open = ~df["is_won"] & ~df["is_lost"]
    df["status"] = None
    df.loc[won, "status"] = "won"
    df.loc[still_open, "status"] = "open"
    df = df[df["status"].notna()].copy()
    df["rate"] = [
        w if s == "won" else o
        for s, w, o in zip(df["status"], df["won_rate"], df["open_rate"], strict=True)
    ]
    df["home"] = [
        None if r is None else a * s / 100 * r
        for a, s, r in zip(df["amount"], df["share"], df["rate"], strict=True)
    ]
    return df


def _rewards(adv: Advocates, period: tuple[pd.Timestamp, pd.Timestamp], intros: set[int] | None):
    df = adv.rewards[adv.rewards["status"].isin(["approved", "fulfilled"])]
    df = df[df["day"].between(*period)].rename(columns={"intro_id": "id"})
    if intros is not None:
        df = df[df["id"].isin(intros)]
    df = df.copy()
    df["rate"] = with_rates(df, adv.book.rates, "day") if len(df) else []
    return df


def _total(values: Iterable[Any]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0)).quantize(CENT)


def _made(adv: Advocates) -> pd.DataFrame:
    asks = adv.asks
    made = (asks["status"] == "done") | (
        (asks["status"] == "cancelled") & (asks["outcome"] == "not appropriate")
    )
    end = dt.datetime.combine(TODAY, dt.time.max, tzinfo=dt.UTC)
    return asks[made & asks["completed"].notna() & (asks["completed"] <= end)]


def _figures(
    credits: pd.DataFrame, intros: pd.DataFrame, rewards: pd.DataFrame, *, distinct: bool
) -> dict[str, Any]:
    won, opened = credits[credits["status"] == "won"], credits[credits["status"] == "open"]

    def deals(df: pd.DataFrame) -> int:
        return int(df["deal_id"].nunique()) if distinct else len(df)

    lost = deals(won[won["rate"].isna()]) + deals(opened[opened["rate"].isna()])
    return {
        "introductions": len(intros),
        "won_deals": deals(won),
        "won": _total(won["home"]),
        "open_deals": deals(opened),
        "pipeline": _total(opened["home"]),
        "reward_cost": _total(
            v * r for v, r in zip(rewards["value"], rewards["rate"], strict=True) if r is not None
        ),
        "unconverted": lost + int(rewards["rate"].isna().sum()),
        "counted": len(credits) + len(intros) + len(rewards) > 0,
    }


def _rank(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["won"], -r["pipeline"], -r["introductions"], r[key]))


def expected_accounts(
    adv: Advocates,
    period: tuple[pd.Timestamp, pd.Timestamp] = PERIOD,
    *,
    deals: set[int] | None = None,
    intros: set[int] | None = None,
) -> list[dict[str, Any]]:
    credits = _credited(adv, period, deals)
    introductions = _intros_in(adv, period, intros)
    rewards = _rewards(adv, period, intros)
    made = _made(adv)
    made = made[made["kind"] == "referral_ask"]
    rows = []
    for name in adv.accounts:
        f = _figures(
            credits[credits["account"] == name],
            introductions[introductions["account"] == name],
            rewards[rewards["account"] == name],
            distinct=True,
        )
        if not f.pop("counted"):
            continue
        asked = made[made["account"] == name]["completed"]
        last = asked.max().date() if len(asked) else None
        eligible = TODAY if last is None else max(TODAY, last + dt.timedelta(days=COOLDOWN))
        rows.append({"account": name, **f, "last_asked": last, "next_eligible": eligible})
    return _rank(rows, "account")


def _intros_in(
    adv: Advocates, period: tuple[pd.Timestamp, pd.Timestamp], ids: set[int] | None
) -> pd.DataFrame:
    df = adv.intros[adv.intros["created"].between(*period)]
    return df if ids is None else df[df["id"].isin(ids)]


def fatigue_lifts(days: list[dt.date]) -> dt.date:
    """The first day the budget (3 asks of any kind in 365 days, 30 days apart) allows."""
    within = sorted(d for d in days if (TODAY - d).days < WINDOW)
    lifts = []
    if len(within) >= BUDGET:
        lifts.append(within[len(within) - BUDGET] + dt.timedelta(days=WINDOW))
    if days and (TODAY - max(days)).days < GAP:
        lifts.append(max(days) + dt.timedelta(days=GAP))
    return max(lifts, default=TODAY)


def expected_contacts(
    adv: Advocates, period: tuple[pd.Timestamp, pd.Timestamp] = PERIOD
) -> list[dict[str, Any]]:
    credits = _credited(adv, period, None)
    introductions = _intros_in(adv, period, None)
    rewards = _rewards(adv, period, None)
    made = _made(adv)
    rows = []
    for person in adv.contacts.itertuples():
        f = _figures(
            credits[credits["contact"] == person.name],
            introductions[introductions["contact"] == person.name],
            rewards[rewards["contact"] == person.name],
            distinct=False,
        )
        if not f.pop("counted"):
            continue
        mine = made[made["contact"] == person.name]
        referral = mine[mine["kind"] == "referral_ask"]["completed"]
        days = [at.date() for at in mine["completed"]]
        rows.append({
            "contact": person.name, "account": person.account, **f,
            "last_asked": referral.max().date() if len(referral) else None,
            "next_eligible": None if person.opted_out else fatigue_lifts(days),
        })  # fmt: skip
    return _rank(rows, "contact")


def _in_order(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in keys} for r in rows]


KEYS = [
    "introductions", "won_deals", "won", "open_deals", "pipeline", "reward_cost",
    "last_asked", "next_eligible", "unconverted",
]  # fmt: skip


# --- the tests ------------------------------------------------------------------------


def test_advocate_accounts_match_pandas(advocates: Advocates) -> None:
    # given the generated advocates, seen by everyone
    # when the report covers the default period (12 months to today)
    report = advocates_report(user=None, filters=Filters(), today=TODAY)

    # then each account's figures, and their order, are pandas'
    expected = expected_accounts(advocates)
    rows = report.table("accounts").rows
    assert _in_order(rows, ["account", *KEYS]) == expected
    assert len(rows) == 10
    # the data covers what the figures must survive: split and unconverted amounts, rewards,
    # accounts asked within their cooldown and accounts never asked
    assert {r["won"] > 0 for r in rows} == {True, False}
    assert {r["reward_cost"] > 0 for r in rows} == {True, False}
    assert any(r["unconverted"] for r in rows)
    assert {r["next_eligible"] > TODAY for r in rows if r["last_asked"]} == {True, False}


def test_advocate_contacts_match_pandas(advocates: Advocates) -> None:
    # given the generated advocates, when the report covers the default period
    report = advocates_report(user=None, filters=Filters(), today=TODAY)

    # then each contact's figures are pandas': only credit to a contact counts for them
    expected = expected_contacts(advocates)
    rows = report.table("contacts").rows
    assert _in_order(rows, ["contact", "account", *KEYS]) == expected
    # every contact has a figure here; opted-out ones are never eligible, others are now
    # or once their ask budget allows
    assert len(rows) == 30
    eligible = [r["next_eligible"] for r in rows]
    assert None in eligible
    assert TODAY in eligible
    assert any(d and d > TODAY for d in eligible)


def test_a_deal_two_contacts_of_one_account_share_counts_once_for_the_account(
    advocates: Advocates,
) -> None:
    # given deals credited to two contacts of the same account (or to an account and one of
    # its contacts)
    credits = advocates.credits
    shared = credits.groupby(["deal_id", "account"]).size()
    assert (shared > 1).sum() > 0

    # when the report is made over every day since the first deal
    filters = filters_parse({"from": "2025-01-01", "to": "2026-05-14"})
    report = advocates_report(user=None, filters=filters, today=TODAY)

    # then each account counts those deals once, with the shares' sum of their amounts
    period = (pd.Timestamp("2025-01-01"), pd.Timestamp(TODAY))
    assert _in_order(report.table("accounts").rows, ["account", *KEYS]) == expected_accounts(
        advocates, period
    )
    assert _in_order(report.table("contacts").rows, ["contact", "account", *KEYS]) == (
        expected_contacts(advocates, period)
    )


def test_untapped_advocates_are_healthy_never_asked_accounts_with_strong_moments(
    advocates: Advocates,
) -> None:
    # given accounts with moments: healthy and at risk, asked and never asked, strong, weak,
    # old and retracted
    # when the report is made
    report = advocates_report(user=None, filters=Filters(), today=TODAY)

    # then the untapped ones are the never-asked healthy accounts with a moment of weight 40
    # or more in the last 90 days, the heaviest first, then the newest
    df = advocates.untapped
    since = pd.Timestamp(dt.datetime.combine(TODAY, dt.time.max, tzinfo=dt.UTC)) - pd.Timedelta(
        days=90
    )
    chosen = df[
        df["rule"].map(lambda r: WEIGHTS.get(r, 0) >= 40)
        & (df["at"] > since)
        & ~df["asked"]
        & df["kind"].isin(list(HEALTH))
    ].copy()
    chosen["weight"] = chosen["rule"].map(WEIGHTS)
    chosen = chosen.sort_values(["weight", "at"], ascending=[False, False])
    assert report.table("untapped").rows == [
        {
            "account": row.account,
            "owner": row.owner,
            "health": row.health,
            "moment": row.rule,
            "weight": row.weight,
            "moment_day": row.at.date(),
            "evidence": f"{row.rule} reached at {row.account}",
            "strong_moments": 2 if row.account == "Untapped 00" else 1,  # a renewal too
        }
        for row in chosen.itertuples()
    ]
    assert [r["account"] for r in report.table("untapped").rows] == [
        "Untapped 00", "Untapped 15", "Untapped 03", "Untapped 14", "Untapped 01",
        "Untapped 02", "Untapped 04",
    ]  # fmt: skip


def test_untapped_advocates_list_the_strongest_and_say_how_many_were_not_checked(
    advocates: Advocates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a table of three untapped advocates at most, health gathered two at a time
    monkeypatch.setattr(advocates_module, "UNTAPPED_MAX", 3)
    monkeypatch.setattr(advocates_module, "UNTAPPED_CHUNK", 2)

    # when the report is made
    report = advocates_report(user=None, filters=Filters(), today=TODAY)

    # then the three strongest healthy ones are listed, as the whole list starts
    assert [r["account"] for r in report.table("untapped").rows] == [
        "Untapped 00", "Untapped 15", "Untapped 03",
    ]  # fmt: skip
    # and the headline and a note count the never-asked candidates, healthy or not
    df = advocates.untapped
    since = pd.Timestamp(dt.datetime.combine(TODAY, dt.time.max, tzinfo=dt.UTC)) - pd.Timedelta(
        days=90
    )
    strong = df[df["rule"].map(lambda r: WEIGHTS.get(r, 0) >= 40) & (df["at"] > since)]
    candidates = strong[~strong["asked"]]["account"].nunique()
    assert candidates > 7  # some are at risk
    assert report.headline.endswith(
        f"{candidates} accounts with strong recent moments were never asked; the 3 strongest "
        "healthy ones are listed."
    )
    shown_at = list(
        strong[~strong["asked"]]
        .assign(w=strong["rule"].map(WEIGHTS))
        .sort_values(["w", "at"], ascending=[False, False])["account"]
        .unique()
    )
    checked = shown_at.index("Untapped 03") + 1
    assert report.notes[-1] == (
        "Untapped advocates: the 3 healthy ones with the strongest moments are listed; "
        f"{candidates - checked} more never-asked accounts with a strong moment were not "
        "checked. Narrow the filters (owner, team, industry, size) to see others."
    )


def test_headline_notes_and_chart(advocates: Advocates) -> None:
    # given the generated advocates, when the report is made
    report = advocates_report(user=None, filters=Filters(), today=TODAY)

    # then the headline sums the accounts' figures and names the top one
    rows = report.table("accounts").rows
    won = sum((r["won"] for r in rows), Decimal(0))
    pipeline = sum((r["pipeline"] for r in rows), Decimal(0))
    top = rows[0]
    assert report.headline == (
        f"10 accounts sent referred business worth {money_text(won, 'USD')} won "
        f"({money_text(pipeline, 'USD')} in pipeline); top: {top['account']} "
        f"({money_text(top['won'], 'USD')}). 7 healthy accounts with strong recent moments "
        "were never asked."
    )
    # JPY has no rate: the note says so; the strong moments are defined
    assert report.notes[0].startswith("JPY amounts are not converted: no rate")
    assert report.notes[1] == (
        "Strong moments: those of a rule whose weight reaches the readiness threshold (40) on "
        "its own: hours-saved (40), goals (50), renewed (40); untapped advocates had one in "
        "the last 90 days."
    )
    # the chart draws the top accounts by won revenue, as the table has them
    svg = draw(report)["accounts"]
    assert "Top 10 advocate accounts by won referred revenue (USD)" in svg
    drawn = [r["account"] for r in rows if r["account"] in svg]
    assert drawn == [r["account"] for r in rows if r["won"] > 0]  # nothing won, no bar
    assert len(drawn) == 8
    assert report.as_json()["tables"][0]["rows"][0]["won"] == str(top["won"])


def test_a_rep_sees_advocates_of_their_own_deals_introductions_and_accounts(
    advocates: Advocates,
) -> None:
    # given a rep
    rep: User = advocates.book.users["rep"]

    # when they make the report
    report = advocates_report(user=rep, filters=Filters(), today=TODAY)

    # then deals count when the rep owns them or their account, introductions and rewards
    # when the rep owns them or the advocate account
    book = advocates.book
    deals = {d.pk for d in book.deals if d.owner_id == rep.pk or d.account.owner_id == rep.pk}
    mine = {a.name for a in advocates.accounts.values() if a.owner_id == rep.pk}
    intros = advocates.intros
    seen = set(intros[(intros["owner_id"] == rep.pk) | intros["account"].isin(mine)]["id"])
    expected = expected_accounts(advocates, deals=deals, intros=seen)
    assert _in_order(report.table("accounts").rows, ["account", *KEYS]) == expected
    # and untapped accounts only their own
    untapped = [r["account"] for r in report.table("untapped").rows]
    assert untapped == ["Untapped 00", "Untapped 15", "Untapped 03"]
    assert {r["owner"] for r in report.table("untapped").rows} == {str(rep)}


def test_owner_filter_narrows_deals_introductions_rewards_and_untapped(
    advocates: Advocates,
) -> None:
    # given the manager as the owner filter
    manager: User = advocates.book.users["manager"]
    filters = filters_parse({"owner": str(manager.pk)})

    # when the report is made
    report = advocates_report(user=None, filters=filters, today=TODAY)

    # then only the manager's deals, introductions (and their rewards) and accounts count
    deals = {d.pk for d in advocates.book.deals if d.owner_id == manager.pk}
    intros = set(advocates.intros[advocates.intros["owner_id"] == manager.pk]["id"])
    expected = expected_accounts(advocates, deals=deals, intros=intros)
    assert _in_order(report.table("accounts").rows, ["account", *KEYS]) == expected
    assert [r["owner"] for r in report.table("untapped").rows] == [str(manager)] * 2


def test_another_source_leaves_no_referred_business(advocates: Advocates) -> None:
    # given the inbound source as a filter, when the report is made
    report = advocates_report(user=None, filters=Filters(source="inbound"), today=TODAY)

    # then no account sent referred business; untapped advocates do not depend on deals
    assert report.table("accounts").rows == []
    assert report.table("contacts").rows == []
    assert len(report.table("untapped").rows) == 7
    assert report.headline == (
        "No account sent referred business in this period. 7 healthy accounts with strong "
        "recent moments were never asked."
    )
    assert "No data" in draw(report)["accounts"]
