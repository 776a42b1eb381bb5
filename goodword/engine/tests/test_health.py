from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.health import (
    Component,
    Health,
    HealthFacts,
    health_score,
    next_renewal,
)
from goodword.engine.programme import HealthConfig

X = "\N{MULTIPLICATION SIGN}"
CONFIG = HealthConfig()

# An account that earns every point: steady usage, a promoter, happy tickets, no escalation,
# renewal far away.
HEALTHY = HealthFacts(
    weekly_events=(100,) * 12,
    nps_category="promoter",
    csat=(1.0,),
    open_escalations=0,
    days_to_renewal=200,
    renewal_deal_open=False,
)


def component(facts: HealthFacts, key: str, config: HealthConfig = CONFIG) -> Component:
    return next(c for c in health_score(facts, config).components if c.key == key)


def weeks(baseline: int, recent: int) -> tuple[int, ...]:
    """8 baseline weeks then 4 recent weeks with the given events each."""
    return (baseline,) * 8 + (recent,) * 4


@pytest.mark.parametrize(
    ("weekly_events", "config", "points", "detail"),
    [
        pytest.param(
            weeks(100, 100),
            CONFIG,
            35.0,
            f"1.00{X} the 8 weeks before (100 vs 100 events a week)",
            id="steady-full",
        ),
        pytest.param(
            weeks(252, 312),
            CONFIG,
            35.0,
            f"1.24{X} the 8 weeks before (312 vs 252 events a week)",
            id="growth-full",
        ),
        pytest.param(
            weeks(100, 90),
            CONFIG,
            28.0,
            f"0.90{X} the 8 weeks before (90 vs 100 events a week)",
            id="linear-between",
        ),
        pytest.param(
            weeks(100, 75),
            CONFIG,
            17.5,
            f"0.75{X} the 8 weeks before (75 vs 100 events a week)",
            id="halfway",
        ),
        pytest.param(
            weeks(100, 50),
            CONFIG,
            0.0,
            f"0.50{X} the 8 weeks before (50 vs 100 events a week)",
            id="at-zero-ratio",
        ),
        pytest.param(
            weeks(100, 20),
            CONFIG,
            0.0,
            f"0.20{X} the 8 weeks before (20 vs 100 events a week)",
            id="below-zero-ratio",
        ),
        pytest.param(
            (100,) * 7 + (101,) + (100,) * 4,
            CONFIG,
            34.9,  # 0.99875 of the baseline: just below full points
            f"1.00{X} the 8 weeks before (100 vs 100.1 events a week)",
            id="fractional-mean",
        ),
        pytest.param(
            weeks(0, 10), CONFIG, 17.5, "no usage before the last 4 weeks", id="no-baseline"
        ),
        pytest.param(weeks(0, 0), CONFIG, 0.0, "no usage in 12 weeks", id="silent"),
        pytest.param(
            (10, 10, 10, 10), CONFIG, 17.5, "no usage before the last 4 weeks", id="short-padded"
        ),
        pytest.param(
            (5, 10, 10, 10, 10),
            CONFIG,
            35.0,
            f"16.00{X} the 8 weeks before (10 vs 0.6 events a week)",
            id="short-padded-with-baseline",
        ),
        pytest.param(
            (1000, *weeks(100, 100)),
            CONFIG,
            35.0,
            f"1.00{X} the 8 weeks before (100 vs 100 events a week)",
            id="older-weeks-ignored",
        ),
        pytest.param(
            (100, 100, 150),
            HealthConfig(
                usage_baseline_weeks=2,
                usage_recent_weeks=1,
                usage_full_ratio=2.0,
                usage_zero_ratio=1.0,
            ),
            17.5,
            f"1.50{X} the 2 weeks before (150 vs 100 events a week)",
            id="custom-windows-and-ratios",
        ),
        pytest.param(
            (0, 0, 150),
            HealthConfig(usage_baseline_weeks=2, usage_recent_weeks=1, usage_no_baseline=0.2),
            7.0,
            "no usage before the last week",
            id="custom-no-baseline",
        ),
    ],
)
def test_usage_compares_recent_weeks_with_the_baseline(
    weekly_events: tuple[int, ...], config: HealthConfig, points: float, detail: str
) -> None:
    # given an account's weekly events
    facts = replace(HEALTHY, weekly_events=weekly_events)
    # when health is scored
    usage = component(facts, "usage", config)
    # then the usage points and their explanation follow the ratio
    assert usage == Component("usage", "Usage", points, config.usage, detail)


@pytest.mark.parametrize(
    ("category", "points", "detail"),
    [
        pytest.param("promoter", 25.0, "latest NPS: promoter", id="promoter-all"),
        pytest.param("passive", 15.0, "latest NPS: passive", id="passive-share"),
        pytest.param("detractor", 0.0, "latest NPS: detractor", id="detractor-none"),
        pytest.param(None, 15.0, "no NPS answer in 365 days", id="no-answer"),
    ],
)
def test_nps_points_follow_the_latest_category(
    category: str | None, points: float, detail: str
) -> None:
    # given the latest NPS category
    facts = replace(HEALTHY, nps_category=category)
    # when health is scored
    nps = component(facts, "nps")
    # then the NPS points match the category
    assert nps == Component("nps", "NPS", points, 25, detail)


@pytest.mark.parametrize(
    ("csat", "points", "detail"),
    [
        pytest.param((1.0,), 20.0, "mean CSAT 1.00 over 1 ticket", id="perfect"),
        pytest.param(
            (0.9, 0.8, 0.7, 0.9, 0.8), 16.4, "mean CSAT 0.82 over 5 tickets", id="mean-of-five"
        ),
        pytest.param((0.0, 0.0), 0.0, "mean CSAT 0.00 over 2 tickets", id="all-unhappy"),
        pytest.param((), 15.0, "no rated ticket in 90 days", id="no-ticket"),
    ],
)
def test_csat_points_are_the_mean_rating_times_the_points(
    csat: tuple[float, ...], points: float, detail: str
) -> None:
    # given the CSAT of recently closed tickets
    facts = replace(HEALTHY, csat=csat)
    # when health is scored
    result = component(facts, "csat")
    # then the points are the mean share
    assert result == Component("csat", "CSAT", points, 20, detail)


@pytest.mark.parametrize(
    ("open_escalations", "points", "detail"),
    [
        pytest.param(0, 10.0, "no open escalated ticket", id="none-open"),
        pytest.param(1, 0.0, "1 open escalated ticket", id="one-open"),
        pytest.param(2, 0.0, "2 open escalated tickets", id="two-open"),
    ],
)
def test_escalations_give_all_points_or_none(
    open_escalations: int, points: float, detail: str
) -> None:
    # given a number of open escalated tickets
    facts = replace(HEALTHY, open_escalations=open_escalations)
    # when health is scored
    result = component(facts, "escalations")
    # then any open escalation takes every point
    assert result == Component("escalations", "Escalations", points, 10, detail)


@pytest.mark.parametrize(
    ("days", "deal_open", "points", "detail"),
    [
        pytest.param(200, False, 10.0, "renewal in 200 days", id="far-away"),
        pytest.param(61, False, 10.0, "renewal in 61 days", id="just-outside"),
        pytest.param(60, False, 10.0, "renewal in 60 days, no renewal deal open", id="at-edge"),
        pytest.param(23, False, 3.8, "renewal in 23 days, no renewal deal open", id="near"),
        pytest.param(1, False, 0.2, "renewal in 1 day, no renewal deal open", id="tomorrow"),
        pytest.param(0, False, 0.0, "renewal today, no renewal deal open", id="today"),
        pytest.param(23, True, 10.0, "renewal deal open", id="near-with-deal"),
        pytest.param(None, False, 10.0, "renewal date unknown", id="unknown"),
    ],
)
def test_renewal_points_shrink_as_an_uncovered_renewal_nears(
    days: int | None, deal_open: bool, points: float, detail: str
) -> None:
    # given the days to renewal and whether a renewal deal is open
    facts = replace(HEALTHY, days_to_renewal=days, renewal_deal_open=deal_open)
    # when health is scored
    result = component(facts, "renewal")
    # then the points are in proportion to the days left within the renewal window
    assert result == Component("renewal", "Renewal", points, 10, detail)


def test_a_healthy_account_scores_100_with_components_in_order() -> None:
    # given an account earning every point
    # when health is scored
    health = health_score(HEALTHY, CONFIG)
    # then every component is full and listed in the documented order
    assert health == Health(
        score=100,
        components=(
            Component(
                "usage", "Usage", 35.0, 35, f"1.00{X} the 8 weeks before (100 vs 100 events a week)"
            ),
            Component("nps", "NPS", 25.0, 25, "latest NPS: promoter"),
            Component("csat", "CSAT", 20.0, 20, "mean CSAT 1.00 over 1 ticket"),
            Component("escalations", "Escalations", 10.0, 10, "no open escalated ticket"),
            Component("renewal", "Renewal", 10.0, 10, "renewal in 200 days"),
        ),
    )


@pytest.mark.parametrize(
    ("facts", "config", "score"),
    [
        pytest.param(
            replace(HEALTHY, weekly_events=weeks(100, 75), days_to_renewal=0),
            CONFIG,
            73,
            id="72.5-rounds-half-up",
        ),
        pytest.param(
            HealthFacts(weeks(0, 0), "detractor", (0.0,), 3, 0, False), CONFIG, 0, id="all-zero"
        ),
        pytest.param(
            HealthFacts((), None, (), 0, None, False),
            CONFIG,
            50,  # usage 0 + NPS 15 + CSAT 15 + escalations 10 + renewal 10
            id="nothing-known",
        ),
        pytest.param(
            replace(HEALTHY, nps_category="passive"),
            HealthConfig(usage=0, nps=50, csat=0, escalations=0, renewal=0),
            60,
            id="share-of-a-custom-maximum",
        ),
        pytest.param(
            HEALTHY,
            HealthConfig(usage=0, nps=0, csat=0, escalations=0, renewal=0),
            0,
            id="no-points-at-all",
        ),
    ],
)
def test_the_score_is_the_share_of_points_in_percent(
    facts: HealthFacts, config: HealthConfig, score: int
) -> None:
    # given facts and a config
    # when health is scored
    health = health_score(facts, config)
    # then the score is the rounded percentage of the maximum
    assert health.score == score


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        pytest.param(replace(HEALTHY, nps_category="fan"), "not an NPS category", id="nps"),
        pytest.param(replace(HEALTHY, csat=(1.2,)), "within 0 and 1", id="csat-high"),
        pytest.param(replace(HEALTHY, csat=(-0.1,)), "within 0 and 1", id="csat-low"),
        pytest.param(replace(HEALTHY, weekly_events=(-1,)), "negative", id="events"),
        pytest.param(replace(HEALTHY, open_escalations=-1), "negative", id="escalations"),
        pytest.param(replace(HEALTHY, days_to_renewal=-1), "negative", id="renewal"),
    ],
)
def test_facts_that_cannot_be_true_are_refused_in_words(facts: HealthFacts, words: str) -> None:
    # given impossible facts
    # when health is scored
    # then it refuses with a reason
    with pytest.raises(ValueError, match=words):
        health_score(facts, CONFIG)


@pytest.mark.parametrize(
    ("customer_since", "today", "renewal"),
    [
        pytest.param(date(2020, 3, 15), date(2025, 6, 1), date(2026, 3, 15), id="passed-this-year"),
        pytest.param(date(2020, 6, 1), date(2025, 6, 1), date(2025, 6, 1), id="is-today"),
        pytest.param(date(2020, 6, 2), date(2025, 6, 1), date(2025, 6, 2), id="tomorrow"),
        pytest.param(date(2019, 12, 31), date(2026, 1, 1), date(2026, 12, 31), id="year-end"),
        pytest.param(date(2025, 6, 1), date(2025, 6, 1), date(2026, 6, 1), id="joined-today"),
        pytest.param(date(2025, 3, 1), date(2025, 6, 1), date(2026, 3, 1), id="joined-this-year"),
        pytest.param(date(2025, 9, 1), date(2025, 6, 1), date(2026, 9, 1), id="future-start"),
        pytest.param(date(2020, 2, 29), date(2025, 2, 28), date(2025, 2, 28), id="leap-on-28"),
        pytest.param(date(2020, 2, 29), date(2025, 3, 1), date(2026, 2, 28), id="leap-next"),
        pytest.param(date(2020, 2, 29), date(2028, 2, 1), date(2028, 2, 29), id="leap-in-leap"),
        pytest.param(date(2024, 2, 29), date(2024, 3, 1), date(2025, 2, 28), id="leap-first"),
    ],
)
def test_next_renewal_is_the_first_anniversary_on_or_after_today(
    customer_since: date, today: date, renewal: date
) -> None:
    # given when the account became a customer
    # when its next renewal is computed
    # then it is the first anniversary not before today
    assert next_renewal(customer_since, today) == renewal


POINTS = st.integers(min_value=0, max_value=100)
SHARES = st.floats(min_value=0, max_value=1)

CONFIGS = st.builds(
    HealthConfig,
    usage=POINTS,
    nps=POINTS,
    csat=POINTS,
    escalations=POINTS,
    renewal=POINTS,
    usage_recent_weeks=st.integers(min_value=0, max_value=8),
    usage_baseline_weeks=st.integers(min_value=0, max_value=12),
    usage_full_ratio=st.floats(min_value=0, max_value=3),
    usage_zero_ratio=st.floats(min_value=0, max_value=3),
    usage_no_baseline=SHARES,
    nps_passive=SHARES,
    nps_none=SHARES,
    csat_none=SHARES,
    renewal_days=st.integers(min_value=0, max_value=400),
)
FACTS = st.builds(
    HealthFacts,
    weekly_events=st.lists(st.integers(min_value=0, max_value=10**6), max_size=20).map(tuple),
    nps_category=st.sampled_from([None, "promoter", "passive", "detractor"]),
    csat=st.lists(SHARES, max_size=10).map(tuple),
    open_escalations=st.integers(min_value=0, max_value=5),
    days_to_renewal=st.none() | st.integers(min_value=0, max_value=400),
    renewal_deal_open=st.booleans(),
)


@given(FACTS, CONFIGS)
def test_the_score_and_every_component_stay_within_their_bounds(
    facts: HealthFacts, config: HealthConfig
) -> None:
    # given any possible facts and config
    # when health is scored
    health = health_score(facts, config)
    # then the score is within 0..100 and no component exceeds its maximum
    assert 0 <= health.score <= 100
    assert all(0 <= c.points <= c.max_points for c in health.components)
