from __future__ import annotations

import math
import statistics
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from goodword.engine.stats import headline, median_difference, median_interval, rate_ratio
from goodword.reports.filters import Filters, filters_parse
from goodword.reports.sources import sources_report
from goodword.reports.tests.conftest import TODAY, Book, with_rates

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")
Z = 1.959963984540054


def wilson(won: int, n: int) -> tuple[float, float, float] | tuple[None, None, None]:
    """The Wilson score interval, written out from its formula."""
    if n == 0:
        return None, None, None
    p = won / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return p * 100, max(0.0, centre - half) * 100, min(1.0, centre + half) * 100


def expected(frame: pd.DataFrame, rates: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per source by pandas: the new-business deals created from 2025-06-01 to TODAY."""
    created = (frame["created"] >= "2025-06-01") & (frame["created"] <= pd.Timestamp(TODAY))
    cohort = frame[created & (frame["kind"] == "new")]
    cohort = cohort.assign(rate=with_rates(cohort, rates, "closed").where(cohort["is_won"]))
    out = {}
    for source, group in cohort.groupby("source"):
        won = group[group["is_won"]]
        converted = won[won["rate"].notna()]
        amount = sum(
            (a * r for a, r in zip(converted["amount"], converted["rate"], strict=True)), Decimal(0)
        )
        days = [float(d) for d in (won["closed"] - won["created"]).dt.days]
        rate, low, high = wilson(len(won), len(won) + int(group["is_lost"].sum()))
        median = median_interval(days, seed=0)
        out[str(source)] = {
            "created": len(group),
            "won": len(won),
            "lost": int(group["is_lost"].sum()),
            "open": int((~group["is_won"] & ~group["is_lost"]).sum()),
            "win_rate": rate,
            "win_rate_low": low,
            "win_rate_high": high,
            "median_days": statistics.median(days) if days else None,
            "median_days_low": median.low,
            "median_days_high": median.high,
            "won_amount": amount.quantize(CENT),
            "average_won": (amount / len(converted)).quantize(CENT) if len(converted) else None,
            "unconverted": len(won) - len(converted),
            "_days": days,
        }  # fmt: skip
    return out


def test_each_source_matches_pandas(book: Book) -> None:
    # when the report is made over the default twelve months
    report = sources_report(user=None, filters=Filters(), today=TODAY)

    # then every source's figures are pandas', intervals included
    want = expected(book.frame, book.rates)
    rows = {r["source"]: r for r in report.table("sources").rows}
    for source, figures in want.items():
        got = rows[source]
        for key, value in figures.items():
            if key == "_days":
                continue
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, abs=1e-9), (source, key)
            else:
                assert got[key] == value, (source, key)


def test_referred_against_the_rest_and_the_headline(book: Book) -> None:
    # when the report is made
    report = sources_report(user=None, filters=Filters(), today=TODAY)

    # then "all other sources" pools every source but referral, and the headline and the
    # comparison are the statistics of those two groups
    want = expected(book.frame, book.rates)
    referred = want.pop("referral")
    rest_won = sum(f["won"] for f in want.values())
    rest_lost = sum(f["lost"] for f in want.values())
    rest_days = [d for f in want.values() for d in f["_days"]]
    others = next(r for r in report.table("sources").rows if r["source"] == "others")
    assert (others["won"], others["lost"]) == (rest_won, rest_lost)
    assert others["median_days"] == statistics.median(rest_days)
    ratio = rate_ratio(
        referred["won"], referred["won"] + referred["lost"], rest_won, rest_won + rest_lost
    )
    faster = median_difference(referred["_days"], rest_days, seed=0)
    assert report.headline == headline(
        win_ratio=ratio,
        cycle_difference=faster,
        referred_closed=referred["won"] + referred["lost"],
        other_closed=rest_won + rest_lost,
    )
    comparison = report.table("comparison").rows
    assert comparison[0]["estimate"] == pytest.approx(ratio.estimate)
    assert (comparison[1]["low"], comparison[1]["high"]) == (faster.low, faster.high)


def test_too_few_closed_deals_say_the_data_cannot_tell(book: Book) -> None:
    # given one month only
    filters = filters_parse({"from": "2026-04-01", "to": "2026-04-30"})
    report = sources_report(user=None, filters=filters, today=TODAY)
    assert report.headline.startswith("The data cannot tell yet")
