from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.reports.filters import Filters, filters_parse
from goodword.reports.reps import draw, quarter_shares, reps_report
from goodword.reports.tests.conftest import TODAY, Book, with_rates
from goodword.reports.tests.kpi_data import Activity, activity_fixture  # noqa: F401
from goodword.users.models import User

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
METRICS = ("asks_made", "introductions", "pipeline_created", "revenue_won")


def test_quarter_shares_of_a_period() -> None:
    # a whole quarter counts whole; a part by its days
    assert quarter_shares(dt.date(2026, 1, 1), dt.date(2026, 3, 31)) == {
        dt.date(2026, 1, 1): Decimal(1)
    }
    shares = quarter_shares(dt.date(2025, 12, 1), dt.date(2026, 5, 14))
    assert shares == {
        dt.date(2025, 10, 1): Decimal(31) / Decimal(92),
        dt.date(2026, 1, 1): Decimal(1),
        dt.date(2026, 4, 1): Decimal(44) / Decimal(91),
    }


def _in(days: pd.Series, start: str, end: str) -> pd.Series:
    return (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))


def _money(frame: pd.DataFrame, on: str, rates: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Per owner: deals, amount in USD at the rate of the day in `on`, deals unconverted."""
    df = frame.copy()
    df["rate"] = with_rates(df, rates, on)
    out: dict[int, dict[str, Any]] = {}
    for owner, group in df.groupby("owner_id"):
        known = group[group["rate"].notna()]
        amount = sum(
            (a * r for a, r in zip(known["amount"], known["rate"], strict=True)), Decimal(0)
        )
        out[int(owner)] = {"n": len(group), "amount": amount, "lost": len(group) - len(known)}
    return out


def expected_reps(
    book: Book, data: Activity, start: str, end: str, shares: dict[str, Decimal]
) -> dict[int, dict[str, Any]]:
    """Every figure of every rep's row, by pandas."""
    asks = data.asks[data.asks["kind"] == "referral_ask"]
    done = asks[(asks["status"] == "done") & _in(asks["completed"], start, end)]
    today = pd.Timestamp(dt.datetime.combine(TODAY, dt.time.min, tzinfo=dt.UTC))
    deals = book.frame[(book.frame["source"] == "referral") & book.frame["owner_id"].notna()]
    created = _money(deals[_in(deals["created"], start, end)], "created", book.rates)
    won = _money(deals[deals["is_won"] & _in(deals["closed"], start, end)], "closed", book.rates)
    owners = {u.pk for u in book.users.values()}
    out = {}
    for owner in owners:
        mine = asks[asks["owner_id"] == owner]
        made = done[done["owner_id"] == owner]
        intros = data.intros[data.intros["owner_id"] == owner]
        c = created.get(owner, {"n": 0, "amount": Decimal(0), "lost": 0})
        w = won.get(owner, {"n": 0, "amount": Decimal(0), "lost": 0})
        row: dict[str, Any] = {
            "assigned": int(_in(mine["created"], start, end).sum()),
            "made_on_time": int((made["completed_at"] <= made["due_at"]).sum()),
            "made_late": int((made["completed_at"] > made["due_at"]).sum()),
            "overdue": int(((mine["status"] == "open") & (mine["due_at"] < today)).sum()),
            "introductions": int(_in(intros["created"], start, end).sum()),
            "pipeline_deals": c["n"],
            "pipeline_created": c["amount"].quantize(CENT),
            "won_deals": w["n"],
            "revenue_won": w["amount"].quantize(CENT),
            "unconverted": c["lost"] + w["lost"],
        }
        actual = {
            "asks_made": Decimal(row["made_on_time"] + row["made_late"]),
            "introductions": Decimal(row["introductions"]),
            "pipeline_created": c["amount"],
            "revenue_won": w["amount"],
        }
        targets = data.targets[data.targets["user_id"] == owner]
        for metric in METRICS:
            total = Decimal(0)
            found = False
            for quarter, share in shares.items():
                cell = targets[
                    (targets["metric"] == metric) & (targets["quarter"] == pd.Timestamp(quarter))
                ]
                for value in cell["value"]:
                    total += value * share
                    found = True
            row[f"target_{metric}"] = total.quantize(CENT) if found else None
            row[f"attainment_{metric}"] = (
                pytest.approx(float(actual[metric] / total * 100)) if found and total else None
            )
        out[owner] = row
    return out


def test_every_reps_figures_match_pandas_over_whole_quarters(
    book: Book, activity: Activity
) -> None:
    # given the book and its asks, introductions and targets; when a manager's report covers
    # the three quarters from July 2025 to March 2026
    filters = filters_parse({"from": "2025-07-01", "to": "2026-03-31"})
    report = reps_report(user=book.users["manager"], filters=filters, today=TODAY)

    # then each rep's row is pandas', figure by figure, with each quarter's targets whole
    shares = {q: Decimal(1) for q in ("2025-07-01", "2025-10-01", "2026-01-01")}
    expected = expected_reps(book, activity, "2025-07-01", "2026-03-31", shares)
    rows = {r["user_id"]: r for r in report.table("reps").rows}
    assert set(rows) == set(expected)
    for owner, figures in expected.items():
        assert {k: rows[owner][k] for k in figures} == figures, rows[owner]["email"]
    # (the data has every case: late, overdue, unconverted, attainment)
    assert all(sum(r[k] for r in rows.values()) > 0 for k in ("made_late", "overdue"))
    assert sum(r["unconverted"] for r in rows.values()) > 0
    assert report.period == (dt.date(2025, 7, 1), dt.date(2026, 3, 31))


def test_targets_count_for_the_part_of_a_quarter_covered(book: Book, activity: Activity) -> None:
    # given the default period, 1 June 2025 to today (14 May 2026): parts of two quarters
    report = reps_report(user=None, filters=Filters(), today=TODAY)

    # then a quarter's target counts for the share of its days covered
    shares = {
        "2025-04-01": Decimal(30) / Decimal(91),
        "2025-07-01": Decimal(1),
        "2025-10-01": Decimal(1),
        "2026-01-01": Decimal(1),
        "2026-04-01": Decimal(44) / Decimal(91),
    }
    expected = expected_reps(book, activity, "2025-06-01", "2026-05-14", shares)
    rows = {r["user_id"]: r for r in report.table("reps").rows}
    for owner, figures in expected.items():
        assert {k: rows[owner][k] for k in figures} == figures, rows[owner]["email"]


def test_team_totals_add_up_their_reps(book: Book, activity: Activity) -> None:
    # given a manager's report
    report = reps_report(user=book.users["manager"], filters=Filters(), today=TODAY)

    # then each team's row sums its reps' figures and targets, and "All teams" sums all
    reps = report.table("reps").rows
    teams = {t["team"]: t for t in report.table("teams").rows}
    assert list(teams) == ["East", "West", "All teams"]
    for name, members in (("East", ["East"]), ("West", ["West"]), ("All teams", ["East", "West"])):
        mine = [r for r in reps if r["team"] in members]
        team = teams[name]
        assert team["reps"] == len(mine)
        for key in ("assigned", "made_on_time", "overdue", "introductions", "won_deals"):
            assert team[key] == sum(r[key] for r in mine), (name, key)
        for key in ("pipeline_created", "revenue_won"):
            assert abs(team[key] - sum(r[key] for r in mine)) <= CENT * len(mine)
        for metric in METRICS:
            target = sum(r[f"target_{metric}"] or 0 for r in mine)
            assert abs(team[f"target_{metric}"] - target) <= CENT * len(mine)
    east = teams["East"]
    assert east["attainment_revenue_won"] == pytest.approx(
        float(east["revenue_won"] / east["target_revenue_won"] * 100), rel=1e-6
    )


def test_a_rep_sees_their_own_row_only(book: Book, activity: Activity) -> None:
    # given a rep and a manager
    rep: User = book.users["rep"]
    everyone = reps_report(user=book.users["manager"], filters=Filters(), today=TODAY)

    # when the rep makes the report
    report = reps_report(user=rep, filters=Filters(), today=TODAY)

    # then it has their row alone, as the manager sees it, and no team totals
    mine = next(r for r in everyone.table("reps").rows if r["user_id"] == rep.pk)
    assert report.table("reps").rows == [mine]
    assert report.table("teams").rows == []
    assert report.notes[-1] == (
        "You see your own figures only; team totals are for managers and admins."
    )


def test_team_and_source_filters(book: Book, activity: Activity) -> None:
    # given a report narrowed to the West team
    west = book.users["other_rep"]
    report = reps_report(user=None, filters=filters_parse({"team": str(west.team_id)}), today=TODAY)
    # then only West's rep is in it
    assert [r["user_id"] for r in report.table("reps").rows] == [west.pk]

    # given a source other than referral, the asks and introductions stay, the deals go
    inbound = reps_report(user=None, filters=filters_parse({"source": "inbound"}), today=TODAY)
    full = reps_report(user=None, filters=Filters(), today=TODAY)
    for row, whole in zip(inbound.table("reps").rows, full.table("reps").rows, strict=True):
        assert (row["assigned"], row["introductions"]) == (
            whole["assigned"],
            whole["introductions"],
        )
        assert (row["won_deals"], row["revenue_won"]) == (0, Decimal("0.00"))


def test_headline_and_charts(book: Book, activity: Activity) -> None:
    filters = filters_parse({"from": "2025-07-01", "to": "2026-03-31"})
    report = reps_report(user=None, filters=filters, today=TODAY)
    total = report.table("teams").rows[-1]
    made = total["made_on_time"] + total["made_late"]
    assert report.headline.startswith(
        f"{made:,} referral asks made ({total['made_on_time'] / made * 100:.0f} % on time), "
        f"{total['overdue']:,} overdue; {total['introductions']:,} introductions and USD "
    )
    assert report.headline.endswith(
        f"referred revenue won, "
        f"{total['revenue_won'] / total['target_revenue_won'] * 100:.0f} % of target."
    )
    drawn = draw(report)
    assert set(drawn) == {"reps", "teams"}
    assert all(svg.count("<svg") == 1 for svg in drawn.values())


def test_an_empty_period_says_so(book: Book) -> None:
    filters = filters_parse({"from": "2020-01-01", "to": "2020-03-31"})
    report = reps_report(user=None, filters=filters, today=TODAY)
    assert report.headline == "No referral asks, introductions or referred deals in this period."
    assert report.table("reps").rows == []


def test_an_empty_report_still_draws(book: Book) -> None:
    filters = filters_parse({"from": "2020-01-01", "to": "2020-03-31"})
    drawn = draw(reps_report(user=None, filters=filters, today=TODAY))
    assert set(drawn) == {"reps"}
    assert drawn["reps"].count("<svg") + drawn["reps"].count("<figure") >= 1


def test_the_report_is_eight_queries(
    book: Book, activity: Activity, django_assert_num_queries: Any
) -> None:
    # rates, asks, introductions, pipeline created, the won stages, revenue won, targets, users
    with django_assert_num_queries(8):
        reps_report(user=book.users["manager"], filters=Filters(), today=TODAY)
