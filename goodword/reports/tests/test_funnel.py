"""The referral funnel report: every figure against pandas on generated moments followed
through the real services, the meaning of each step on a scripted account, the cohort, the
filters, what a rep sees, and the charts."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goodword.crm.models import Stage
from goodword.reports.filters import SIZE_BAND_CHOICES, Filters, filters_parse
from goodword.reports.funnel import EMAILED, KEYS, draw, funnel_report
from goodword.reports.tests.conftest import RATES, TODAY, with_rates
from goodword.reports.tests.funnel_data import (
    Built,
    Plan,
    build,
    frames,
    make_accounts,
    make_rates,
    play,
    random_plans,
)
from goodword.users.models import User

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
EVERYTHING = {"from": "2024-12-01", "to": TODAY.isoformat()}
NOON = dt.time(9, 0, tzinfo=dt.UTC)


@pytest.fixture
def users(rep: User, other_rep: User, manager: User) -> dict[str, User]:
    return {"rep": rep, "other_rep": other_rep, "manager": manager}


@pytest.fixture
def generated(users: dict[str, User], csm: User, stages: dict[str, Stage]) -> Built:
    """Nine customer accounts, six episodes each, played through the services."""
    built = Built(users, make_accounts(users, csm))
    make_rates()
    build(built, random_plans(random.Random(11), len(built.accounts), 6), stages)
    return built


# --- the funnel as pandas computes it --------------------------------------------------------


def _rates_frame() -> pd.DataFrame:
    rows = [{"currency": c, "day": pd.Timestamp(d), "rate": r} for c, days in RATES.items()
            for d, r in days]  # fmt: skip
    frame = pd.DataFrame(rows).sort_values("day")
    frame["day"] = frame["day"].astype("datetime64[ns]")
    return frame


def _day(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).dt.floor("D")


def followed(
    f: dict[str, pd.DataFrame],
    period: tuple[dt.date, dt.date],
    *,
    rep: User | None = None,
    team: int | None = None,
    owner: int | None = None,
    industry: str = "",
    size: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """One row per cohort moment: how far it got (a column per step) and when."""
    m = f["moments"]
    day = _day(m["occurred_at"]).dt.date
    live = m["retracted_at"].isna() & (day >= period[0]) & (day <= period[1])
    behind = m[live].groupby("ask_id").size().rename("shares")
    df = m[live].merge(f["accounts"].add_prefix("acc_"), left_on="account_id", right_on="acc_id")
    df = df.merge(f["asks"].add_prefix("ask_"), how="left", left_on="ask_id", right_on="ask_id")
    df = df.merge(behind, how="left", left_on="ask_id", right_index=True)
    intros = f["intros"].add_prefix("intro_").rename(columns={"intro_ask_id": "ask_id"})
    df = df.merge(intros, how="left", on="ask_id")
    first = f["steps"].groupby(["introduction_id", "event"])["at"].min().unstack()
    df = df.merge(first, how="left", left_on="intro_id", right_index=True)
    df = df.merge(f["deals"].add_prefix("deal_"), how="left", left_on="intro_deal_id",
                  right_on="deal_id")  # fmt: skip
    if rep is not None:
        mine = f["accounts"][
            (f["accounts"]["owner_id"] == rep.pk) | (f["accounts"]["csm_id"] == rep.pk)
        ]
        seen = df["account_id"].isin(mine["id"]) | (df["ask_owner_id"] == rep.pk)
        df = df[seen]
    has_ask = df["ask_id"].notna()
    if team is not None:
        df = df[np.where(has_ask, df["ask_owner__team_id"], df["acc_owner__team_id"]) == team]
    if owner is not None:
        has_ask = df["ask_id"].notna()
        df = df[np.where(has_ask, df["ask_owner_id"], df["acc_owner_id"]) == owner]
    if industry:
        df = df[df["acc_industry"].str.lower() == industry.lower()]
    if size is not None:
        df = df[df["acc_employees"].between(*size)]
    return _steps(df.copy(), rep)


def _steps(df: pd.DataFrame, rep: User | None) -> pd.DataFrame:
    for event in ("name", "accept", "open_opportunity"):
        if event not in df:
            df[event] = pd.NaT
    emailed = df["ask_outcome"] == EMAILED
    deal_seen = df["deal_id"].notna()
    if rep is not None:
        deal_seen &= (df["deal_owner_id"] == rep.pk) | (df["deal_account__owner_id"] == rep.pk)
    df["r_moments"] = True
    df["r_asks"] = df["ask_id"].notna()
    df["r_made"] = df["r_asks"] & (df["ask_status"] == "done")
    df["r_agreed"] = df["r_made"] & df["intro_id"].notna() & (~emailed | df["name"].notna())
    df["r_consent"] = df["r_agreed"] & df["name"].notna()
    df["r_accepted"] = df["r_consent"] & df["accept"].notna()
    df["r_opportunity"] = df["r_accepted"] & deal_seen
    df["r_won"] = df["r_opportunity"] & (df["deal_stage__is_won"] == True)  # noqa: E712
    df["t_moments"] = df["occurred_at"]
    df["t_asks"] = df["ask_created_at"]
    df["t_made"] = df["ask_completed_at"]
    df["t_agreed"] = df["name"].where(emailed, df["intro_created_at"])
    df["t_consent"] = df["name"]
    df["t_accepted"] = df["accept"]
    df["t_opportunity"] = df["open_opportunity"].fillna(df["deal_created_at"])
    df["t_won"] = df["deal_closed_at"].fillna(df["deal_updated_at"])
    for before, key in itertools.pairwise(KEYS):
        df[f"d_{key}"] = (_day(df[f"t_{key}"]) - _day(df[f"t_{before}"])).dt.days
    return df


def expected_steps(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The funnel's rows, as the report's first table has them (records aside)."""
    rows = []
    first = int(df["r_moments"].sum())
    for i, key in enumerate(KEYS):
        count = int(df[f"r_{key}"].sum())
        previous = int(df[f"r_{KEYS[i - 1]}"].sum()) if i else 0
        gaps = df.loc[df[f"r_{key}"], f"d_{key}"] if i else pd.Series([], dtype=float)
        rows.append({
            "step": key,
            "count": count,
            "conversion_previous": 100 * count / previous if i and previous else None,
            "conversion_first": 100 * count / first if first else None,
            "median_days": float(gaps.median()) if len(gaps) else None,
        })  # fmt: skip
    return rows


def expected_amounts(df: pd.DataFrame) -> dict[str, tuple[Decimal, int, int]]:
    """Per rule: the won amount (each won deal at its won day's rate, shared among the
    cohort's moments behind its ask), the won deals, and those without a rate."""
    won = df[df["r_won"]].copy()
    won["day"] = _day(won["t_won"]).dt.tz_localize(None).astype("datetime64[ns]")
    won["currency"] = won["deal_currency"]
    won["rate"] = with_rates(won, _rates_frame(), "day")
    out: dict[str, tuple[Decimal, int, int]] = {}
    for rule, group in won.groupby("rule_id"):
        known = group[group["rate"].notna()]
        amount = sum(
            (a * r / int(n) for a, r, n in zip(known["deal_amount"], known["rate"], known["shares"],
                                          strict=True)),
            Decimal(0),
        )  # fmt: skip
        unconverted = group[group["rate"].isna()]["deal_id"].nunique()
        out[str(rule)] = (amount, group["deal_id"].nunique(), int(unconverted))
    return out


def check(report: Any, df: pd.DataFrame) -> None:
    """Every figure of the three tables against the frame."""
    steps = [{k: r[k] for k in ("step", "count", "conversion_previous", "conversion_first",
                                "median_days")} for r in report.table("funnel").rows]  # fmt: skip
    assert steps == expected_steps(df)
    records = {r["step"]: r["records"] for r in report.table("funnel").rows}
    assert records == {
        "moments": len(df), "asks": df["ask_id"].nunique(),
        "made": df.loc[df["r_made"], "ask_id"].nunique(),
        **{k: df.loc[df[f"r_{k}"], "intro_id"].nunique()
           for k in ("agreed", "consent", "accepted")},
        **{k: df.loc[df[f"r_{k}"], "deal_id"].nunique() for k in ("opportunity", "won")},
    }  # fmt: skip
    per_step = {(r["rule"], r["step"]): r for r in report.table("rule_steps").rows}
    amounts = expected_amounts(df)
    rules = {r["rule"]: r for r in report.table("rules").rows}
    assert set(rules) == {*df["rule_id"].unique(), ""}
    for rule, group in df.groupby("rule_id"):
        for row in expected_steps(group):
            got = per_step[(rule, row["step"])]
            assert {k: got[k] for k in row} == row, (rule, row["step"])
        amount, deals, unconverted = amounts.get(str(rule), (Decimal(0), 0, 0))
        moments = len(group)
        assert rules[rule] == {
            "rule": rule, "label": rule, "kind": group["kind"].iloc[0],
            **{k: int(group[f"r_{k}"].sum()) for k in KEYS},
            "won_deals": deals, "won_amount": amount.quantize(CENT),
            "amount_per_moment": (amount / moments).quantize(CENT),
            "win_conversion": 100 * int(group["r_won"].sum()) / moments,
            "unconverted": unconverted,
        }, rule  # fmt: skip
    total = sum((a for a, _, _ in amounts.values()), Decimal(0))
    assert rules[""]["won_amount"] == total.quantize(CENT)
    assert rules[""]["won"] == int(df["r_won"].sum())


# --- against pandas ---------------------------------------------------------------------------


def test_every_figure_matches_pandas(generated: Built) -> None:
    # given moments from January 2025 on, followed through the services
    period = (dt.date(2024, 12, 1), TODAY)

    # when the report covers all of them
    report = funnel_report(user=None, filters=filters_parse(EVERYTHING), today=TODAY)

    # then each figure is pandas', and the data covers every path the funnel knows
    df = followed(frames(), period)
    check(report, df)
    statuses = set(df["ask_status"].dropna())
    assert statuses == {"open", "done", "cancelled"}
    assert df["ask_id"].isna().any()  # moments without asks
    assert (df["r_made"] & df["intro_id"].isna()).any()  # declined or no answer
    assert (df["r_made"] & df["intro_id"].notna() & ~df["r_agreed"]).any()  # emailed, unnamed
    assert (df["r_consent"] & ~df["r_accepted"]).any()  # declined consents
    assert (df["r_accepted"] & df["deal_id"].isna()).any()  # introductions without deals
    assert (df["r_opportunity"] & (df["deal_stage__is_won"] == False)).any()  # noqa: E712
    assert df["r_won"].sum() > 5
    assert df["rule_id"].nunique() == 4
    assert report.period == period
    assert report.currency == "USD"


def test_the_cohort_is_the_moments_of_the_period_followed_whenever(generated: Built) -> None:
    # given a period in the middle of the data
    period = (dt.date(2025, 3, 1), dt.date(2025, 8, 31))

    # when the report covers it
    filters = filters_parse({"from": "2025-03-01", "to": "2025-08-31"})
    report = funnel_report(user=None, filters=filters, today=TODAY)

    # then only its moments count, followed to wins after the period, and a won deal's amount
    # is shared among the moments of the period behind its ask
    df = followed(frames(), period)
    check(report, df)
    assert (_day(df["t_won"][df["r_won"]]).dt.date > period[1]).any()
    assert len(df) < len(followed(frames(), (dt.date(2024, 12, 1), TODAY)))
    assert report.notes[0] == (
        "The moments are those that occurred from 2025-03-01 to 2025-08-31, each followed "
        "through every later step whenever it happened."
    )


def test_the_default_period_is_twelve_months_and_jpy_is_noted(generated: Built) -> None:
    # given the data, when the report has no dates
    report = funnel_report(user=None, filters=Filters(), today=TODAY)

    # then it covers June 2025 to TODAY; JPY wins are counted but not converted, and noted
    df = followed(frames(), (dt.date(2025, 6, 1), TODAY))
    check(report, df)
    won_jpy = df[df["r_won"] & (df["deal_currency"] == "JPY")]
    assert len(won_jpy) > 0
    assert (
        report.table("rules").rows[-1]["unconverted"]
        == won_jpy.groupby("rule_id")["deal_id"].nunique().sum()
    )
    first = _day(won_jpy["t_won"]).dt.date.min()
    assert report.notes[-1] == f"JPY amounts are not converted: no rate (from {first})"


@pytest.mark.parametrize(
    "given",
    [
        {"team": "east"},
        {"owner": "manager"},
        {"industry": "software", "size": "201-500"},
        {"industry": "retail", "size": "11-50"},
    ],
)
def test_filters_apply_to_the_asks_owner_and_the_account(
    generated: Built, given: dict[str, str]
) -> None:
    # given the data and a filter on the team or owner (of the ask, else of the account) or on
    # the account's industry and size
    ids = {"east": generated.users["rep"].team_id, "manager": generated.users["manager"].pk}
    query = {k: str(ids.get(v, v)) for k, v in given.items()}
    narrow: dict[str, Any] = {k: ids[v] for k, v in given.items() if v in ids}
    if "industry" in given:
        narrow.update(industry=given["industry"], size=SIZE_BAND_CHOICES[given["size"]])

    # when the report is filtered
    report = funnel_report(user=None, filters=filters_parse({**EVERYTHING, **query}), today=TODAY)

    # then only those moments are followed
    df = followed(frames(), (dt.date(2024, 12, 1), TODAY), **narrow)
    check(report, df)
    assert 0 < len(df) < len(followed(frames(), (dt.date(2024, 12, 1), TODAY)))


def test_a_rep_sees_the_moments_and_deals_they_may_see(generated: Built) -> None:
    # given a rep: their accounts' moments and their own asks, and the deals they may see
    rep = generated.users["rep"]

    # when they make the report
    report = funnel_report(user=rep, filters=filters_parse(EVERYTHING), today=TODAY)

    # then it follows only those, and says deals they may not see are left out
    df = followed(frames(), (dt.date(2024, 12, 1), TODAY), rep=rep)
    check(report, df)
    everyone = followed(frames(), (dt.date(2024, 12, 1), TODAY))
    assert 0 < len(df) < len(everyone)
    hidden = df["r_accepted"] & df["deal_id"].notna() & ~df["r_opportunity"]
    assert hidden.any()  # a deal given to the other rep
    assert "Only the deals you may see count as opportunities and wins." in report.notes


def test_a_source_other_than_referral_is_ignored_and_noted(generated: Built) -> None:
    # given the data, when the report is asked for inbound deals
    filters = filters_parse({**EVERYTHING, "source": "inbound"})
    report = funnel_report(user=None, filters=filters, today=TODAY)

    # then the funnel is the same as without it, with a note
    plain = funnel_report(user=None, filters=filters_parse(EVERYTHING), today=TODAY)
    assert report.tables == plain.tables
    assert report.notes == [
        plain.notes[0],
        "The source filter (inbound) does not apply: every deal in this funnel is a referral.",
        *plain.notes[1:],
    ]
    referral = funnel_report(
        user=None, filters=filters_parse({**EVERYTHING, "source": "referral"}), today=TODAY
    )
    assert referral.tables == plain.tables
    assert referral.notes == plain.notes


# --- what each step means --------------------------------------------------------------------


def _at(day: int) -> dt.datetime:
    return dt.datetime.combine(dt.date(2025, 9, 1) + dt.timedelta(days=day), NOON)


@pytest.fixture
def scripted(users: dict[str, User], csm: User, stages: dict[str, Stage]) -> Built:
    """One account, six episodes a month apart, each ending at another step."""
    built = Built(users, make_accounts(users, csm, count=1))
    make_rates()
    account = built.accounts[0]
    plans = [
        # agreed, named, accepted, won: a USD 1,000 deal behind two moments
        Plan(("reports", "promoter"), _at(0), ask="agreed", named=True, answer="accept",
             close="won", spacing=24),
        Plan(("praise",), _at(30), ask="emailed"),  # sent by email, never named
        Plan(("goals",), _at(60)),  # no ask
        Plan(("praise",), _at(90), ask="declined"),
        Plan(("promoter",), _at(120), ask="agreed", named=True, answer="decline"),
        Plan(("goals",), _at(150), ask="agreed", named=True, answer="accept", flagged=True),
        Plan(("goals",), _at(180), ask="open"),
    ]  # fmt: skip
    for plan in plans:
        play(built, account, plan, stages)
    return built


def test_each_step_means_what_the_code_records(scripted: Built) -> None:
    # given the scripted account, when the report covers it
    report = funnel_report(user=None, filters=filters_parse(EVERYTHING), today=TODAY)

    # then an ask sent by email and never named was made but not agreed; a declined consent
    # stops at consent requested; a flagged introduction (its company is a customer) at
    # accepted; the open ask was never made
    rows = {r["step"]: r for r in report.table("funnel").rows}
    assert {k: rows[k]["count"] for k in KEYS} == {
        "moments": 8, "asks": 7, "made": 6, "agreed": 4, "consent": 4, "accepted": 3,
        "opportunity": 2, "won": 2,
    }  # fmt: skip
    assert {k: rows[k]["records"] for k in KEYS} == {
        "moments": 8, "asks": 6, "made": 5, "agreed": 3, "consent": 3, "accepted": 2,
        "opportunity": 1, "won": 1,
    }  # fmt: skip
    # (UTC calendar days: the plan's gaps are 1, 2, 3 and 4 days and 30 to the win)
    assert {k: rows[k]["median_days"] for k in KEYS} == {
        "moments": None, "asks": 1.0, "made": 2.0, "agreed": 0.0, "consent": 3.0,
        "accepted": 4.0, "opportunity": 0.0, "won": 30.0,
    }  # fmt: skip
    assert rows["won"]["conversion_first"] == 25.0
    assert rows["opportunity"]["conversion_previous"] == 100 * 2 / 3

    # and the USD 1,000 win is shared by its two moments: reports earns 500 from one moment
    rules = {r["rule"]: r for r in report.table("rules").rows}
    assert {r: (v["moments"], v["won"], v["won_amount"]) for r, v in rules.items()} == {
        "goals": (3, 0, Decimal("0.00")),
        "praise": (2, 0, Decimal("0.00")),
        "promoter": (2, 1, Decimal("500.00")),
        "reports": (1, 1, Decimal("500.00")),
        "": (8, 2, Decimal("1000.00")),
    }
    assert report.headline == (
        "25.0 % of the 8 success moments from 2024-12-01 to 2026-05-14 led to a won referral "
        "(USD 1k won); moments of reports led to the most won referred revenue: USD 500 a "
        "moment (1 of 1 moments led to a win)."
    )


def test_a_win_is_shared_among_the_moments_of_the_period_behind_its_ask(scripted: Built) -> None:
    # given the scripted account, whose won ask has a moment on each of two days
    # when the period starts on the second day
    start = _at(1).date().isoformat()
    report = funnel_report(
        user=None, filters=filters_parse({"from": start, "to": TODAY.isoformat()}), today=TODAY
    )

    # then the moment of the period is followed to the win, and its rule earns all of it
    rules = {r["rule"]: r for r in report.table("rules").rows}
    assert "reports" not in rules
    assert (rules["promoter"]["won"], rules["promoter"]["won_amount"]) == (1, Decimal("1000.00"))
    assert rules[""]["won_amount"] == Decimal("1000.00")


def test_retracted_moments_are_left_out(scripted: Built) -> None:
    # given the scripted account, when a later scan retracts the won moments
    from goodword.moments.models import Moment

    Moment.objects.filter(occurred_at__lt=_at(2)).update(retracted_at=_at(200))
    report = funnel_report(user=None, filters=filters_parse(EVERYTHING), today=TODAY)

    # then they and their win are no longer in the funnel
    rows = {r["step"]: r["count"] for r in report.table("funnel").rows}
    assert (rows["moments"], rows["won"]) == (6, 0)
    assert report.headline == (
        "0.0 % of the 6 success moments from 2024-12-01 to 2026-05-14 led to a won referral "
        "(USD 0 won); no rule's moments have led to won referred revenue yet."
    )


def test_no_moments_say_so(users: dict[str, User]) -> None:
    # given no moments, when the report is made
    report = funnel_report(user=None, filters=Filters(), today=TODAY)

    # then the headline says so, the funnel has its steps at zero, and no rule has a row
    assert report.headline == "No success moments in this period match these filters."
    assert [
        (r["step"], r["count"], r["conversion_first"]) for r in report.table("funnel").rows
    ] == [(k, 0, None) for k in KEYS]
    assert [r["rule"] for r in report.table("rules").rows] == [""]
    assert report.table("rule_steps").rows == []


def test_the_queries_do_not_grow_with_the_moments(
    scripted: Built, csm: User, stages: dict[str, Stage]
) -> None:
    # given the scripted account, seen by a rep (the costliest access rule)
    rep = scripted.users["rep"]
    with CaptureQueriesContext(connection) as few:
        funnel_report(user=rep, filters=Filters(), today=TODAY)

    # when many more moments are followed
    more = Built(scripted.users, make_accounts(scripted.users, csm, count=6), counter=[1000])
    build(more, random_plans(random.Random(3), 6, 5), stages)
    with CaptureQueriesContext(connection) as many:
        funnel_report(user=rep, filters=Filters(), today=TODAY)

    # then the report takes as many queries as before
    assert len(many.captured_queries) == len(few.captured_queries) == 5


def test_the_charts_draw_the_funnel_and_the_rules(scripted: Built) -> None:
    # given the report of the scripted account, when its charts are drawn
    report = funnel_report(user=None, filters=filters_parse(EVERYTHING), today=TODAY)
    charts = draw(report)

    # then the funnel shows its moments per step and the bars the rules' amount per moment
    assert set(charts) == {"funnel", "rules"}
    assert "Success moments: 8." in charts["funnel"]
    assert "Won: 2 · 100% of previous." in charts["funnel"]
    assert "reports: 500 USD." in charts["rules"]
    assert charts["rules"].count("<rect") == 4
