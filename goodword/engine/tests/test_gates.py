from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.gates import (
    GATES,
    Block,
    GateFacts,
    add_business_days,
    decay_steps,
    explain,
    gates_check,
    readiness,
    short_date,
)
from goodword.engine.programme import GateConfig, ReadinessConfig

NOW = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
GATE_CONFIG = GateConfig()
READINESS_CONFIG = ReadinessConfig()


def at(day: str, time: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# An account that passes every gate.
CLEAR = GateFacts(
    lifecycle="customer",
    customer_since=date(2024, 1, 15),
    health=80,
    last_detractor_at=None,
    open_escalations=0,
    last_account_ask_at=None,
    contact_name="Jane Doe",
    contact_opted_out=False,
    contact_asks=(),
    open_ask=False,
    owner_name="Sam Rep",
    owner_active=True,
)


@pytest.mark.parametrize(
    ("moments", "config", "value"),
    [
        pytest.param([], READINESS_CONFIG, 0.0, id="no-moments"),
        pytest.param([(NOW, 40.0)], READINESS_CONFIG, 40.0, id="fresh-full-weight"),
        pytest.param([(days_ago(14), 40.0)], READINESS_CONFIG, 20.0, id="one-half-life"),
        pytest.param([(days_ago(28), 40.0)], READINESS_CONFIG, 10.0, id="two-half-lives"),
        pytest.param(
            [(days_ago(0.5), 40.0)], READINESS_CONFIG, 40 * 0.5 ** (0.5 / 14), id="half-a-day"
        ),
        pytest.param(
            [(NOW, 40.0), (days_ago(14), 20.0)], READINESS_CONFIG, 50.0, id="moments-add-up"
        ),
        pytest.param(
            [(days_ago(180), 40.0)], READINESS_CONFIG, 40 * 0.5 ** (180 / 14), id="at-horizon"
        ),
        pytest.param(
            [(days_ago(180) - timedelta(seconds=1), 40.0)],
            READINESS_CONFIG,
            0.0,
            id="past-horizon",
        ),
        pytest.param(
            [(NOW + timedelta(seconds=1), 40.0)], READINESS_CONFIG, 0.0, id="future-ignored"
        ),
        pytest.param(
            [(days_ago(14).astimezone(NEW_YORK), 40.0)],
            READINESS_CONFIG,
            20.0,
            id="other-time-zone-same-instant",
        ),
        pytest.param(
            [(days_ago(7), 40.0)],
            ReadinessConfig(half_life_days=7, horizon_days=10),
            20.0,
            id="custom-half-life",
        ),
        pytest.param(
            [(days_ago(11), 40.0)],
            ReadinessConfig(half_life_days=7, horizon_days=10),
            0.0,
            id="custom-horizon",
        ),
    ],
)
def test_readiness_halves_every_half_life_within_the_horizon(
    moments: list[tuple[datetime, float]], config: ReadinessConfig, value: float
) -> None:
    # given moments with their weights
    # when readiness is computed at NOW
    result = readiness(moments, now=NOW, config=config)
    # then each weight is halved per half-life of age, and only moments 0..horizon days old count
    assert result == value


@pytest.mark.parametrize(
    ("moments", "now", "words"),
    [
        pytest.param([], NOW.replace(tzinfo=None), "now must have a time zone", id="naive-now"),
        pytest.param(
            [(datetime(2025, 11, 30, 9, 0), 40.0)], NOW, "must have a time zone", id="naive-moment"
        ),
    ],
)
def test_readiness_refuses_naive_datetimes(
    moments: list[tuple[datetime, float]], now: datetime, words: str
) -> None:
    # given a datetime without a time zone
    # when readiness is computed
    # then it is refused
    with pytest.raises(ValueError, match=words):
        readiness(moments, now=now, config=READINESS_CONFIG)


def test_readiness_refuses_a_half_life_that_is_not_positive() -> None:
    # given a half-life of 0 days
    config = ReadinessConfig(half_life_days=0)
    # when readiness is computed
    # then it is refused instead of dividing by zero
    with pytest.raises(ValueError, match="half_life_days must be more than 0"):
        readiness([(NOW, 40.0)], now=NOW, config=config)


def _stepped(moments: list[tuple[datetime, float]], steps: list[tuple[datetime, float]]) -> float:
    """What a database sums with the steps: each moment's weight times the factor of the
    first step it is at or after (SQL: CASE WHEN at >= since THEN factor ...), else 0."""
    total = 0.0
    for at, weight in moments:
        total += weight * next((f for since, f in steps if at >= since), 0.0)
    return total


@given(
    ages=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=200 * 86_400_000_000),  # microseconds
            st.floats(min_value=0, max_value=100),
        ),
        max_size=10,
    ),
    half_life=st.floats(min_value=0.5, max_value=60),
    horizon=st.integers(min_value=0, max_value=400),
)
def test_decay_steps_bound_readiness_from_above_closely(
    ages: list[tuple[int, float]], half_life: float, horizon: int
) -> None:
    # given moments of any age within the horizon, and any half-life
    config = ReadinessConfig(half_life_days=half_life, horizon_days=horizon)
    moments = [
        (NOW - timedelta(microseconds=age), weight)
        for age, weight in ages
        if age <= horizon * 86_400_000_000
    ]
    # when the steps' bound of readiness is summed as a database would
    bound = _stepped(moments, decay_steps(now=NOW, config=config))
    exact = readiness(moments, now=NOW, config=config)
    # then it is never below readiness (bar float summation order), and at most twice it
    assert bound >= exact * (1 - 1e-12)
    assert bound <= 2 * exact * (1 + 1e-12)
    # and at most 2^(1/4) times it over moments within four half-lives
    recent = [(at, w) for at, w in moments if NOW - at <= timedelta(days=4 * half_life)]
    near = _stepped(recent, decay_steps(now=NOW, config=config))
    assert near <= 2**0.25 * readiness(recent, now=NOW, config=config) * (1 + 1e-12)


def test_decay_steps_end_at_the_horizon() -> None:
    # given the default half-life (14 days) and horizon (180 days)
    steps = decay_steps(now=NOW, config=READINESS_CONFIG)
    # then the first step starts at full worth and the last reaches back to the horizon
    assert steps[0] == (NOW - timedelta(days=3.5), 1.0)
    assert steps[-1][0] == NOW - timedelta(days=180)
    assert [f for _, f in steps] == sorted((f for _, f in steps), reverse=True)
    # and a moment just past the horizon falls outside every step
    assert _stepped([(NOW - timedelta(days=180, microseconds=1), 40.0)], steps) == 0.0


@given(
    ages=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400 * 86_400),
            st.floats(min_value=0, max_value=100),
        ),
        max_size=10,
    ),
    later=st.integers(min_value=0, max_value=400 * 86_400),
)
def test_readiness_never_increases_as_time_passes(
    ages: list[tuple[int, float]], later: int
) -> None:
    # given moments none of which is after NOW
    moments = [(NOW - timedelta(seconds=age), weight) for age, weight in ages]
    # when readiness is computed at NOW and at a later time
    before = readiness(moments, now=NOW, config=READINESS_CONFIG)
    after = readiness(moments, now=NOW + timedelta(seconds=later), config=READINESS_CONFIG)
    # then it has not grown
    assert after <= before


@pytest.mark.parametrize(
    ("changes", "config", "blocks"),
    [
        pytest.param({}, GATE_CONFIG, (), id="all-pass"),
        # customer
        pytest.param(
            {"lifecycle": "prospect"},
            GATE_CONFIG,
            (Block("customer", "not a customer (prospect)", None),),
            id="customer-prospect",
        ),
        pytest.param(
            {"lifecycle": "churned"},
            GATE_CONFIG,
            (Block("customer", "not a customer (churned)", None),),
            id="customer-churned",
        ),
        pytest.param({"lifecycle": "prospect"}, GateConfig(customer=False), (), id="customer-off"),
        # customer_days
        pytest.param(
            {"customer_since": date(2025, 10, 20)},
            GATE_CONFIG,
            (
                Block(
                    "customer_days",
                    "customer for 42 days < 90 (until 18 Jan 2026)",
                    date(2026, 1, 18),
                ),
            ),
            id="customer-days-too-new",
        ),
        pytest.param(
            {"customer_since": date(2025, 9, 3)},
            GATE_CONFIG,
            (Block("customer_days", "customer for 89 days < 90 (until 2 Dec)", date(2025, 12, 2)),),
            id="customer-days-one-short",
        ),
        pytest.param(
            {"customer_since": date(2025, 9, 2)}, GATE_CONFIG, (), id="customer-days-exactly-90"
        ),
        pytest.param(
            {"customer_since": date(2025, 12, 5)},
            GATE_CONFIG,
            (
                Block(
                    "customer_days", "customer for 0 days < 90 (until 5 Mar 2026)", date(2026, 3, 5)
                ),
            ),
            id="customer-days-future-start",
        ),
        pytest.param(
            {"customer_since": None},
            GATE_CONFIG,
            (Block("customer_days", "customer since unknown", None),),
            id="customer-days-unknown",
        ),
        pytest.param(
            {"customer_since": None},
            GateConfig(min_customer_days=None),
            (),
            id="customer-days-off",
        ),
        # health
        pytest.param(
            {"health": 54},
            GATE_CONFIG,
            (Block("health", "health 54 < 70", None),),
            id="health-low",
        ),
        pytest.param(
            {"health": 69},
            GATE_CONFIG,
            (Block("health", "health 69 < 70", None),),
            id="health-one-short",
        ),
        pytest.param({"health": 70}, GATE_CONFIG, (), id="health-exactly-min"),
        pytest.param(
            {"health": 70},
            GateConfig(min_health=70.5),
            (Block("health", "health 70 < 70.5", None),),
            id="health-fractional-min",
        ),
        pytest.param(
            {"health": None},
            GATE_CONFIG,
            (Block("health", "health unknown", None),),
            id="health-unknown",
        ),
        pytest.param({"health": None}, GateConfig(min_health=None), (), id="health-off"),
        # detractor
        pytest.param(
            {"last_detractor_at": at("2025-09-03")},
            GATE_CONFIG,
            (
                Block(
                    "detractor",
                    "detractor NPS answer on 3 Sep (until 2 Mar 2026)",
                    date(2026, 3, 2),
                ),
            ),
            id="detractor-recent",
        ),
        pytest.param(
            {"last_detractor_at": at("2025-06-05")},
            GATE_CONFIG,
            (
                Block(
                    "detractor",
                    "detractor NPS answer on 5 Jun (until 2 Dec)",
                    date(2025, 12, 2),
                ),
            ),
            id="detractor-179-days",
        ),
        pytest.param(
            {"last_detractor_at": at("2025-06-04", "23:59")},
            GATE_CONFIG,
            (),
            id="detractor-180-calendar-days-passes",
        ),
        pytest.param(
            {"last_detractor_at": datetime(2025, 6, 5, 0, 30, tzinfo=BERLIN)},
            GATE_CONFIG,
            (),
            id="detractor-day-taken-in-nows-zone",  # 4 Jun 22:30 UTC: 180 days ago
        ),
        pytest.param(
            {"last_detractor_at": at("2025-12-02")},
            GATE_CONFIG,
            (
                Block(
                    "detractor",
                    "detractor NPS answer on 2 Dec (until 31 May 2026)",
                    date(2026, 5, 31),
                ),
            ),
            id="detractor-future-dated-still-blocks",
        ),
        pytest.param(
            {"last_detractor_at": at("2025-11-30")},
            GateConfig(detractor_days=None),
            (),
            id="detractor-off",
        ),
        # escalation
        pytest.param(
            {"open_escalations": 1},
            GATE_CONFIG,
            (Block("escalation", "1 open escalated ticket", None),),
            id="escalation-one",
        ),
        pytest.param(
            {"open_escalations": 2},
            GATE_CONFIG,
            (Block("escalation", "2 open escalated tickets", None),),
            id="escalation-two",
        ),
        pytest.param(
            {"open_escalations": 2},
            GateConfig(no_open_escalation=False),
            (),
            id="escalation-off",
        ),
        # account_cooldown
        pytest.param(
            {"last_account_ask_at": at("2025-09-03")},
            GATE_CONFIG,
            (Block("account_cooldown", "asked on 3 Sep, cooldown until 2 Dec", date(2025, 12, 2)),),
            id="cooldown-89-days",
        ),
        pytest.param(
            {"last_account_ask_at": at("2025-09-02")}, GATE_CONFIG, (), id="cooldown-exactly-90"
        ),
        pytest.param(
            {"last_account_ask_at": at("2025-11-30")},
            GateConfig(account_cooldown_days=None),
            (),
            id="cooldown-off",
        ),
        # contact_limit
        pytest.param(
            {"contact_asks": (at("2025-03-04"), at("2025-09-03"))},
            GATE_CONFIG,
            (
                Block(
                    "contact_limit",
                    "Jane Doe asked 2 times in 365 days (limit 2, until 4 Mar 2026)",
                    date(2026, 3, 4),
                ),
            ),
            id="contact-limit-reached",
        ),
        pytest.param(
            {"contact_asks": (at("2025-09-03"),)}, GATE_CONFIG, (), id="contact-limit-below"
        ),
        pytest.param(
            {"contact_asks": (at("2024-12-01"), at("2025-09-03"))},
            GATE_CONFIG,
            (),
            id="contact-limit-oldest-exactly-365-days-ago",
        ),
        pytest.param(
            {"contact_asks": (at("2025-09-03"), at("2025-01-10"), at("2025-03-04"))},
            GATE_CONFIG,
            (
                Block(
                    "contact_limit",
                    "Jane Doe asked 3 times in 365 days (limit 2, until 4 Mar 2026)",
                    date(2026, 3, 4),
                ),
            ),
            id="contact-limit-over-lifts-when-below-limit",
        ),
        pytest.param(
            {"contact_asks": ()},
            GateConfig(contact_max_asks=0),
            (Block("contact_limit", "Jane Doe asked 0 times in 365 days (limit 0)", None),),
            id="contact-limit-zero-never-lifts",
        ),
        pytest.param(
            {"contact_asks": (at("2025-11-10"),)},
            GateConfig(contact_max_asks=1, contact_window_days=30),
            (
                Block(
                    "contact_limit",
                    "Jane Doe asked 1 time in 30 days (limit 1, until 10 Dec)",
                    date(2025, 12, 10),
                ),
            ),
            id="contact-limit-custom-window",
        ),
        # contact_fatigue: every kind of ask counts, 3 in 365 days, 30 days apart
        pytest.param(
            {"contact_all_asks": (at("2025-01-10"), at("2025-05-02"), at("2025-09-03"))},
            GATE_CONFIG,
            (
                Block(
                    "contact_fatigue",
                    "Jane Doe: 3 asks of any kind in 365 days (budget 3), until 10 Jan 2026",
                    date(2026, 1, 10),
                ),
            ),
            id="fatigue-budget-spent",
        ),
        pytest.param(
            {"contact_all_asks": (at("2024-12-01"), at("2025-05-02"), at("2025-09-03"))},
            GATE_CONFIG,
            (),
            id="fatigue-oldest-exactly-365-days-ago",
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-11-02"),)},
            GATE_CONFIG,
            (
                Block(
                    "contact_fatigue",
                    "Jane Doe: last asked on 2 Nov (asks 30 days apart), until 2 Dec",
                    date(2025, 12, 2),
                ),
            ),
            id="fatigue-29-days-since-the-last",
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-11-01"),)}, GATE_CONFIG, (), id="fatigue-30-days"
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-03-01"), at("2025-07-01"), at("2025-11-20"))},
            GATE_CONFIG,
            (
                Block(
                    "contact_fatigue",
                    "Jane Doe: 3 asks of any kind in 365 days (budget 3); last asked on 20 Nov "
                    "(asks 30 days apart), until 1 Mar 2026",
                    date(2026, 3, 1),
                ),
            ),
            id="fatigue-both-lifts-when-both-have",
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-11-20"),)},
            GateConfig(fatigue_max_asks=0),
            (
                Block(
                    "contact_fatigue",
                    "Jane Doe: 1 ask of any kind in 365 days (budget 0); last asked on 20 Nov "
                    "(asks 30 days apart)",
                    None,
                ),
            ),
            id="fatigue-zero-budget-never-lifts",
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-01-10"), at("2025-05-02"), at("2025-11-20"))},
            GateConfig(fatigue_max_asks=None, fatigue_gap_days=None),
            (),
            id="fatigue-off",
        ),
        pytest.param(
            {"contact_all_asks": (at("2025-11-20"),), "contact_name": None},
            GATE_CONFIG,
            (Block("no_contact", "no contact to ask", None),),
            id="fatigue-without-a-contact",
        ),
        pytest.param(
            {"contact_asks": (at("2025-03-04"), at("2025-09-03"))},
            GateConfig(contact_max_asks=None),
            (),
            id="contact-limit-off",
        ),
        # contact_opted_out
        pytest.param(
            {"contact_opted_out": True},
            GATE_CONFIG,
            (Block("contact_opted_out", "Jane Doe opted out", None),),
            id="contact-opted-out",
        ),
        pytest.param(
            {"contact_opted_out": True},
            GateConfig(contact_opted_out=False),
            (),
            id="contact-opted-out-off",
        ),
        # no_contact
        pytest.param(
            {
                "contact_name": None,
                "contact_opted_out": True,
                "contact_asks": (at("2025-03-04"), at("2025-09-03")),
            },
            GATE_CONFIG,
            (Block("no_contact", "no contact to ask", None),),
            id="no-contact-skips-contact-gates",
        ),
        # open_ask
        pytest.param(
            {"open_ask": True},
            GATE_CONFIG,
            (Block("open_ask", "an ask is already open", None),),
            id="open-ask",
        ),
        pytest.param({"open_ask": True}, GateConfig(no_open_ask=False), (), id="open-ask-off"),
        # owner
        pytest.param(
            {"owner_name": None},
            GATE_CONFIG,
            (Block("owner", "no owner", None),),
            id="owner-missing",
        ),
        pytest.param(
            {"owner_active": False},
            GATE_CONFIG,
            (Block("owner", "owner Sam Rep is inactive", None),),
            id="owner-inactive",
        ),
        pytest.param(
            {"owner_name": None, "owner_active": False},
            GateConfig(owner_active=False),
            (),
            id="owner-off",
        ),
    ],
)
def test_each_gate_blocks_with_a_reason(
    changes: dict[str, Any], config: GateConfig, blocks: tuple[Block, ...]
) -> None:
    # given an otherwise clear account with one fact changed
    facts = replace(CLEAR, **changes)
    # when the gates are checked at NOW
    result = gates_check(facts, now=NOW, config=config)
    # then exactly the expected gates block, with their reasons and lift dates
    assert result == blocks


def test_every_failing_gate_is_reported_in_order() -> None:
    # given an account failing every gate it can fail at once
    facts = GateFacts(
        lifecycle="prospect",
        customer_since=date(2025, 10, 20),
        health=54,
        last_detractor_at=at("2025-09-03"),
        open_escalations=1,
        last_account_ask_at=at("2025-09-03"),
        contact_name="Jane Doe",
        contact_opted_out=True,
        contact_asks=(at("2025-03-04"), at("2025-09-03")),
        open_ask=True,
        owner_name="Sam Rep",
        owner_active=False,
        contact_all_asks=(at("2025-11-20"),),
    )
    # when the gates are checked
    blocks = gates_check(facts, now=NOW, config=GATE_CONFIG)
    # then every gate but no_contact blocks, in the documented order
    assert tuple(block.gate for block in blocks) == tuple(g for g in GATES if g != "no_contact")


def test_every_gate_off_lets_even_a_failing_account_through_except_no_contact() -> None:
    # given every switchable gate off and an account that would fail them all
    config = GateConfig(
        customer=False,
        min_customer_days=None,
        min_health=None,
        detractor_days=None,
        no_open_escalation=False,
        account_cooldown_days=None,
        contact_max_asks=None,
        fatigue_max_asks=None,
        fatigue_gap_days=None,
        contact_opted_out=False,
        no_open_ask=False,
        owner_active=False,
    )
    facts = GateFacts(
        "prospect", None, None, NOW, 3, NOW, None, True, (NOW,), True, None, False, (NOW,)
    )
    # when the gates are checked
    blocks = gates_check(facts, now=NOW, config=config)
    # then only the missing contact blocks: there is nobody to ask
    assert blocks == (Block("no_contact", "no contact to ask", None),)
    # and with a contact, nothing does
    assert gates_check(replace(facts, contact_name="Jane Doe"), now=NOW, config=config) == ()


@pytest.mark.parametrize(
    ("facts", "now"),
    [
        pytest.param(CLEAR, NOW.replace(tzinfo=None), id="naive-now"),
        pytest.param(
            replace(CLEAR, last_detractor_at=datetime(2025, 9, 3)), NOW, id="naive-detractor"
        ),
        pytest.param(
            replace(CLEAR, last_account_ask_at=datetime(2025, 9, 3)), NOW, id="naive-account-ask"
        ),
        pytest.param(
            replace(CLEAR, contact_asks=(datetime(2025, 9, 3),)), NOW, id="naive-contact-ask"
        ),
        pytest.param(
            replace(CLEAR, contact_all_asks=(datetime(2025, 9, 3),)), NOW, id="naive-any-ask"
        ),
    ],
)
def test_gates_refuse_naive_datetimes(facts: GateFacts, now: datetime) -> None:
    # given a datetime without a time zone
    # when the gates are checked
    # then they refuse instead of guessing a zone
    with pytest.raises(ValueError, match="must have a time zone"):
        gates_check(facts, now=now, config=GATE_CONFIG)


HEALTH_BLOCK = Block("health", "health 54 < 70", None)
OWNER_BLOCK = Block("owner", "no owner", None)


@pytest.mark.parametrize(
    ("value", "threshold", "blocks", "reasons"),
    [
        pytest.param(12.5, 40.0, [], ["readiness 12.5 < 40"], id="below-threshold"),
        pytest.param(12.0, 40.0, [], ["readiness 12.0 < 40"], id="whole-readiness"),
        pytest.param(39.96, 40.0, [], ["readiness 39.9 < 40"], id="never-rounds-up-to-it"),
        pytest.param(12.5, 40.5, [], ["readiness 12.5 < 40.5"], id="fractional-threshold"),
        pytest.param(40.0, 40.0, [], [], id="exactly-threshold-would-ask"),
        pytest.param(
            12.5,
            40.0,
            [HEALTH_BLOCK, OWNER_BLOCK],
            ["readiness 12.5 < 40", "health 54 < 70", "no owner"],
            id="readiness-first-then-blocks",
        ),
        pytest.param(55.0, 40.0, [HEALTH_BLOCK], ["health 54 < 70"], id="ready-but-blocked"),
    ],
)
def test_explain_lists_why_an_account_was_not_asked(
    value: float, threshold: float, blocks: list[Block], reasons: list[str]
) -> None:
    # given readiness, its threshold and the blocking gates
    # when the outcome is explained
    result = explain(readiness=value, threshold=threshold, blocks=blocks)
    # then the reasons read in order, readiness first
    assert result == reasons


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        pytest.param(at("2025-12-01"), 0, at("2025-12-01"), id="monday-plus-0"),
        pytest.param(at("2025-12-01"), 1, at("2025-12-02"), id="monday-plus-1"),
        pytest.param(at("2025-12-04"), 2, at("2025-12-08"), id="thursday-plus-2-over-weekend"),
        pytest.param(at("2025-12-05"), 0, at("2025-12-05"), id="friday-plus-0"),
        pytest.param(at("2025-12-05"), 1, at("2025-12-08"), id="friday-plus-1"),
        pytest.param(at("2025-12-05"), 5, at("2025-12-12"), id="friday-plus-a-week"),
        pytest.param(at("2025-12-06"), 0, at("2025-12-08"), id="saturday-plus-0-is-monday"),
        pytest.param(at("2025-12-07"), 0, at("2025-12-08"), id="sunday-plus-0-is-monday"),
        pytest.param(at("2025-12-06"), 1, at("2025-12-09"), id="saturday-counts-from-monday"),
        pytest.param(at("2025-12-07"), 2, at("2025-12-10"), id="sunday-plus-2"),
        pytest.param(at("2025-12-03"), 10, at("2025-12-17"), id="two-weeks"),
        pytest.param(at("2025-12-03"), 13, at("2025-12-22"), id="two-weeks-and-three-days"),
        pytest.param(
            datetime(2025, 10, 24, 9, 30, tzinfo=BERLIN),
            1,
            datetime(2025, 10, 27, 9, 30, tzinfo=BERLIN),
            id="keeps-wall-time-across-dst-change",
        ),
    ],
)
def test_add_business_days_skips_weekends(start: datetime, days: int, due: datetime) -> None:
    # given a start and a number of business days
    # when they are added
    result = add_business_days(start, days)
    # then the weekend is skipped and time of day and zone are kept
    assert result == due
    assert (result.time(), result.tzinfo) == (start.time(), start.tzinfo)


def test_add_business_days_refuses_negative_days() -> None:
    # given a negative number of days
    # when they are added
    # then it is refused
    with pytest.raises(ValueError, match="cannot be negative"):
        add_business_days(NOW, -1)


@pytest.mark.parametrize(
    ("day", "today", "text"),
    [
        pytest.param(date(2025, 9, 3), date(2025, 12, 1), "3 Sep", id="this-year"),
        pytest.param(date(2026, 3, 2), date(2025, 12, 1), "2 Mar 2026", id="next-year"),
        pytest.param(date(2024, 12, 31), date(2025, 1, 1), "31 Dec 2024", id="last-year"),
    ],
)
def test_short_date_shows_the_year_only_when_it_differs(day: date, today: date, text: str) -> None:
    # given a day and today
    # when it is written short
    # then the year appears only outside today's year
    assert short_date(day, today=today) == text
