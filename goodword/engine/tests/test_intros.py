from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodword.engine.intros import (
    FINAL,
    WAITING,
    Due,
    IllegalTransition,
    IntroEvent,
    IntroState,
    Timing,
    due,
    events_from,
    next_due_at,
    transition,
)

S, E = IntroState, IntroEvent
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# Every state against every event, written out: the state it leads to, or None where it is
# refused. Rows are states, columns the events in this order:
ORDER = (E.NAME, E.ACCEPT, E.DECLINE, E.INTRODUCE, E.OPEN_OPPORTUNITY, E.EXPIRE, E.WITHDRAW)
TABLE: dict[IntroState, tuple[IntroState | None, ...]] = {
    S.ADVOCATE_AGREED: (S.AWAITING_CONSENT, None, None, None, None, S.EXPIRED, S.WITHDRAWN),
    S.AWAITING_CONSENT: (None, S.ACCEPTED, S.DECLINED, None, None, S.EXPIRED, S.WITHDRAWN),
    S.ACCEPTED: (None, None, None, S.INTRODUCED, None, None, S.WITHDRAWN),
    S.INTRODUCED: (None, None, None, None, S.OPPORTUNITY, None, None),
    S.OPPORTUNITY: (None,) * 7,
    S.DECLINED: (None,) * 7,
    S.EXPIRED: (None,) * 7,
    S.WITHDRAWN: (None,) * 7,
}
CASES = [
    (state, event, after)
    for state, row in TABLE.items()
    for event, after in zip(ORDER, row, strict=True)
]


def test_the_table_covers_every_state_and_event() -> None:
    assert set(TABLE) == set(IntroState)
    assert set(ORDER) == set(IntroEvent)


@pytest.mark.parametrize(("state", "event", "after"), CASES)
def test_transition(state: IntroState, event: IntroEvent, after: IntroState | None) -> None:
    if after is None:
        with pytest.raises(IllegalTransition) as refused:
            transition(state, event)
        assert (refused.value.state, refused.value.event) == (state, event)
    else:
        assert transition(state, event) == after


@pytest.mark.parametrize("state", list(IntroState))
def test_events_from_lists_exactly_the_allowed_events(state: IntroState) -> None:
    allowed = {e for e, after in zip(ORDER, TABLE[state], strict=True) if after is not None}
    assert events_from(state) == allowed


def test_a_refusal_says_what_and_why_in_words() -> None:
    with pytest.raises(IllegalTransition, match="cannot accept: the introduction is expired"):
        transition(S.EXPIRED, E.ACCEPT)
    with pytest.raises(
        IllegalTransition, match="cannot open opportunity: the introduction is contact accepted"
    ):
        transition(S.ACCEPTED, E.OPEN_OPPORTUNITY)


def test_nobody_is_introduced_before_the_contact_accepts() -> None:
    # Every path into introduced or opportunity passes through accepted.
    reached = {S.ADVOCATE_AGREED: [S.ADVOCATE_AGREED]}
    frontier = [S.ADVOCATE_AGREED]
    while frontier:
        state = frontier.pop()
        for event in events_from(state):
            after = transition(state, event)
            if after not in reached:
                reached[after] = [*reached[state], after]
                frontier.append(after)
    assert set(reached) == set(IntroState)
    for state in (S.INTRODUCED, S.OPPORTUNITY):
        assert S.ACCEPTED in reached[state]


@given(st.lists(st.sampled_from(list(IntroEvent)), max_size=12))
def test_any_sequence_of_events_stays_in_a_final_state_once_there(
    events: list[IntroEvent],
) -> None:
    state = S.ADVOCATE_AGREED
    for event in events:
        try:
            after = transition(state, event)
        except IllegalTransition:
            continue
        assert state not in FINAL
        state = after


# --- reminders and expiry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited", "reminded", "expected"),
    [
        (timedelta(0), False, None),
        (timedelta(days=5) - timedelta(seconds=1), False, None),
        (timedelta(days=5), False, Due.REMIND),
        (timedelta(days=5), True, None),
        (timedelta(days=13, hours=23), False, Due.REMIND),
        (timedelta(days=13, hours=23), True, None),
        (timedelta(days=14), False, Due.EXPIRE),
        (timedelta(days=14), True, Due.EXPIRE),
        (timedelta(days=400), True, Due.EXPIRE),
        (-timedelta(days=1), False, None),  # clock skew: a wait "begun" tomorrow
    ],
)
@pytest.mark.parametrize("state", sorted(WAITING))
def test_a_waiting_introduction_is_reminded_once_then_expires(
    state: IntroState, waited: timedelta, reminded: bool, expected: Due | None
) -> None:
    assert due(state=state, waiting_since=T0, reminded=reminded, now=T0 + waited) == expected


@pytest.mark.parametrize("state", sorted(set(IntroState) - WAITING))
def test_an_introduction_that_waits_on_nobody_is_never_due(state: IntroState) -> None:
    assert due(state=state, waiting_since=T0, reminded=False, now=T0 + timedelta(days=99)) is None
    assert next_due_at(state=state, waiting_since=T0, reminded=False) is None


@given(
    state=st.sampled_from(sorted(WAITING)),
    reminded=st.booleans(),
    remind=st.integers(1, 30),
    extra=st.integers(1, 60),
    since=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_next_due_at_is_the_first_moment_due_has_something_to_say(
    state: IntroState, reminded: bool, remind: int, extra: int, since: datetime
) -> None:
    timing = Timing(remind_after_days=remind, expire_after_days=remind + extra)
    at = next_due_at(state=state, waiting_since=since, reminded=reminded, timing=timing)
    assert at is not None
    kw = {"state": state, "waiting_since": since, "reminded": reminded, "timing": timing}
    assert due(now=at - timedelta(microseconds=1), **kw) is None  # type: ignore[arg-type]
    assert due(now=at, **kw) == (Due.EXPIRE if reminded else Due.REMIND)  # type: ignore[arg-type]


def test_the_timing_must_remind_before_it_expires() -> None:
    for remind, expire in ((0, 14), (14, 14), (15, 14), (-1, 3)):
        with pytest.raises(ValueError, match="reminder must come after 1 day or more"):
            Timing(remind_after_days=remind, expire_after_days=expire)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="must have a time zone"):
        due(state=S.AWAITING_CONSENT, waiting_since=T0, reminded=False, now=datetime(2026, 3, 9))
    with pytest.raises(ValueError, match="must have a time zone"):
        next_due_at(state=S.AWAITING_CONSENT, waiting_since=datetime(2026, 3, 2), reminded=False)
