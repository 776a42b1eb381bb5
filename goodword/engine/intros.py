"""The double opt-in introduction as a state machine: which step may follow which, and when a
waiting introduction is due a reminder or runs out. Values in, values out; `now` is passed in.

    advocate_agreed ──name──> awaiting_consent ──accept──> accepted ──introduce──> introduced
          │                        │                                                  │
          │                        ├──decline──> declined                  open_opportunity
          │                        │                                                  v
          ├───────expire───────────┴──expire───> expired                         opportunity
          └──withdraw (advocate or owner, any step before the introduction)──> withdrawn

An introduction waits on someone outside the company in two states: on the advocate to name
the person (advocate_agreed) and on that person to answer (awaiting_consent). Each wait gets
one reminder (day 5 by default) and runs out after 14 days, counted from when the wait began.
Nobody is introduced until the contact accepts: accepted is the consent, introduced is the
email that follows it, opportunity the referred deal.

The services apply a transition with a conditional UPDATE (WHERE state = the state it was
read in), so two requests on one link make one transition; this module only says which are
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class IntroState(StrEnum):
    ADVOCATE_AGREED = "advocate_agreed"
    AWAITING_CONSENT = "awaiting_consent"
    ACCEPTED = "accepted"
    INTRODUCED = "introduced"
    OPPORTUNITY = "opportunity"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class IntroEvent(StrEnum):
    NAME = "name"  # the advocate names the person; the consent request goes out (or its link)
    ACCEPT = "accept"  # the person accepts on the consent page
    DECLINE = "decline"  # the person declines (or asks never to be contacted again)
    INTRODUCE = "introduce"  # the introduction email goes to the person, advocate and owner
    OPEN_OPPORTUNITY = "open_opportunity"  # the referred deal is created (or matched)
    EXPIRE = "expire"  # nobody answered in time
    WITHDRAW = "withdraw"  # the advocate or the owner calls it off


S, E = IntroState, IntroEvent
TRANSITIONS: dict[tuple[IntroState, IntroEvent], IntroState] = {
    (S.ADVOCATE_AGREED, E.NAME): S.AWAITING_CONSENT,
    (S.ADVOCATE_AGREED, E.EXPIRE): S.EXPIRED,
    (S.ADVOCATE_AGREED, E.WITHDRAW): S.WITHDRAWN,
    (S.AWAITING_CONSENT, E.ACCEPT): S.ACCEPTED,
    (S.AWAITING_CONSENT, E.DECLINE): S.DECLINED,
    (S.AWAITING_CONSENT, E.EXPIRE): S.EXPIRED,
    (S.AWAITING_CONSENT, E.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, E.INTRODUCE): S.INTRODUCED,
    (S.ACCEPTED, E.WITHDRAW): S.WITHDRAWN,
    (S.INTRODUCED, E.OPEN_OPPORTUNITY): S.OPPORTUNITY,
}
# Where an introduction ends: nothing follows.
FINAL = frozenset({S.OPPORTUNITY, S.DECLINED, S.EXPIRED, S.WITHDRAWN})
# Where it waits on someone outside the company, who is reminded once and then runs out.
WAITING = frozenset({S.ADVOCATE_AGREED, S.AWAITING_CONSENT})

# Words for what each state means to the owner, and for refusals.
LABELS = {
    S.ADVOCATE_AGREED: "advocate agreed",
    S.AWAITING_CONSENT: "awaiting contact consent",
    S.ACCEPTED: "contact accepted",
    S.INTRODUCED: "introduced",
    S.OPPORTUNITY: "opportunity",
    S.DECLINED: "contact declined",
    S.EXPIRED: "expired",
    S.WITHDRAWN: "withdrawn",
}


class IllegalTransition(ValueError):
    """The event does not apply in the introduction's state (a double click, a stale page,
    a link used after the introduction moved on)."""

    def __init__(self, state: IntroState, event: IntroEvent) -> None:
        self.state, self.event = state, event
        super().__init__(
            f"cannot {event.value.replace('_', ' ')}: the introduction is {LABELS[state]}"
        )


def transition(state: IntroState, event: IntroEvent) -> IntroState:
    """The state after `event`; raises IllegalTransition where it does not apply."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def events_from(state: IntroState) -> frozenset[IntroEvent]:
    """The events that apply in `state` (none in a final state)."""
    return frozenset(event for (origin, event) in TRANSITIONS if origin == state)


@dataclass(frozen=True)
class Timing:
    remind_after_days: int = 5
    expire_after_days: int = 14

    def __post_init__(self) -> None:
        if not 0 < self.remind_after_days < self.expire_after_days:
            raise ValueError(
                "an introduction's reminder must come after 1 day or more and before it "
                f"expires: remind after {self.remind_after_days} days, expire after "
                f"{self.expire_after_days}"
            )


class Due(StrEnum):
    REMIND = "remind"
    EXPIRE = "expire"


def due(
    *,
    state: IntroState,
    waiting_since: datetime,
    reminded: bool,
    now: datetime,
    timing: Timing = Timing(),
) -> Due | None:
    """What the worker owes a waiting introduction at `now`: EXPIRE once the wait has lasted
    expire_after_days, else REMIND once it has lasted remind_after_days without a reminder,
    else nothing. Exact durations (a wait begun at 10:00 expires at 10:00 fourteen days on)."""
    _aware(now, waiting_since)
    if state not in WAITING:
        return None
    waited = now - waiting_since
    if waited >= timedelta(days=timing.expire_after_days):
        return Due.EXPIRE
    if not reminded and waited >= timedelta(days=timing.remind_after_days):
        return Due.REMIND
    return None


def next_due_at(
    *,
    state: IntroState,
    waiting_since: datetime,
    reminded: bool,
    timing: Timing = Timing(),
) -> datetime | None:
    """When `due` next has something to say for this introduction (None: never), for the
    worker's queue."""
    _aware(waiting_since)
    if state not in WAITING:
        return None
    days = timing.expire_after_days if reminded else timing.remind_after_days
    return waiting_since + timedelta(days=days)


def _aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"an introduction's times must have a time zone: {value.isoformat()}")
