"""Whether an account may be asked for a referral now: readiness from its success moments, the
gates every ask must pass, and why an account was not asked, in words.

Values in, values out; `now` is passed in and must be an aware datetime.

Readiness ages are exact (fractional days), so readiness decays smoothly between scans.
Gate ages are whole days: the difference between calendar dates in now's time zone, so an ask
made yesterday evening is 1 day old this morning, and a cooldown of 90 days lifts on the 90th
calendar day (exactly at the threshold passes). A record dated after now (clock skew between
servers) still blocks: these gates keep people from being asked too often, so they err on the
side of not asking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from goodword.engine.programme import GateConfig, ReadinessConfig

# Every gate id, in the order gates_check reports them.
GATES = (
    "customer",
    "customer_days",
    "health",
    "detractor",
    "escalation",
    "account_cooldown",
    "contact_limit",
    "contact_fatigue",
    "contact_opted_out",
    "no_contact",
    "open_ask",
    "owner",
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class GateFacts:
    """What the gates look at for one account, gathered by the caller as of now."""

    lifecycle: str  # prospect, customer or churned
    customer_since: date | None
    health: int | None  # None: unknown, which blocks
    last_detractor_at: datetime | None  # latest detractor NPS answer from anyone at the account
    open_escalations: int
    last_account_ask_at: datetime | None  # latest ask to anyone at the account
    contact_name: str | None  # the contact to ask; None: no contact found
    contact_opted_out: bool
    contact_asks: tuple[datetime, ...]  # referral asks to that contact, any time
    open_ask: bool
    owner_name: str | None  # None: no owner
    owner_active: bool
    # Asks of every kind (referral, reference call, review) to that contact, any time: the
    # contact's fatigue budget.
    contact_all_asks: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Block:
    gate: str  # one of GATES
    reason: str
    until: date | None  # when the block lifts by itself (time-based gates), else None


type _Check = Callable[[GateFacts, datetime, GateConfig], Block | None]


def readiness(
    moments: Iterable[tuple[datetime, float]], *, now: datetime, config: ReadinessConfig
) -> float:
    """The sum of each moment's weight halved every half_life_days of its age, over moments
    from 0 to horizon_days old. Moments after now are not known yet at now (a backtest replays
    the past) and do not count. Raises ValueError for a naive datetime."""
    _require_aware(now, "now")
    _require_half_life(config)
    total = 0.0
    for at, weight in moments:
        _require_aware(at, "a moment's time")
        age_days = (now - at).total_seconds() / SECONDS_PER_DAY
        if 0 <= age_days <= config.horizon_days:
            total += weight * 0.5 ** (age_days / config.half_life_days)
    return total


def decay_steps(*, now: datetime, config: ReadinessConfig) -> list[tuple[datetime, float]]:
    """An upper bound of readiness's decay in steps a database can sum without powers:
    (since, factor) pairs, newest first. A moment at or after `since` (and before the step
    above's since) is worth at most `factor` times its weight, the decay at the step's newer
    end. Steps are a quarter of a half-life for the first four half-lives (the bound is at
    most 2^(1/4) = 1.19 times the true worth there) and a whole one after, to the horizon
    (at most 2 times, on moments worth under 1/16 of their weight). The factors are the same
    float expression `readiness` uses, at the steps' actual ages, so summed over the same
    moments the bound is never below it (bar the order of float additions)."""
    _require_aware(now, "now")
    half_life = _require_half_life(config)
    ages = [half_life * i / 4 for i in range(1, 17)]
    whole = 5
    while ages[-1] < config.horizon_days:
        ages.append(half_life * whole)
        whole += 1
    out: list[tuple[datetime, float]] = []
    newer = now
    for age in ages:
        since = max(now - timedelta(days=age), now - timedelta(days=config.horizon_days))
        factor = 0.5 ** ((now - newer).total_seconds() / SECONDS_PER_DAY / half_life)
        out.append((since, factor))
        if age >= config.horizon_days:
            break
        newer = since
    return out


def gates_check(facts: GateFacts, *, now: datetime, config: GateConfig) -> tuple[Block, ...]:
    """Every failing gate, in the order of GATES; empty when the ask may go ahead.
    Raises ValueError for a naive datetime."""
    _require_aware(now, "now")
    checks: tuple[_Check, ...] = (
        _customer,
        _customer_days,
        _health,
        _detractor,
        _escalation,
        _account_cooldown,
        _contact_limit,
        _contact_fatigue,
        _contact_opted_out,
        _no_contact,
        _open_ask,
        _owner,
    )
    return tuple(block for check in checks if (block := check(facts, now, config)) is not None)


def explain(*, readiness: float, threshold: float, blocks: Sequence[Block]) -> list[str]:
    """Why an account was not asked: readiness first when below the threshold, then each
    block's reason; empty when it would be asked."""
    reasons = [block.reason for block in blocks]
    if readiness < threshold:
        reasons.insert(0, f"readiness {_floor_tenth(readiness)} < {_number(threshold)}")
    return reasons


def add_business_days(start: datetime, days: int) -> datetime:
    """start plus `days` business days (Monday to Friday), keeping time of day and tzinfo.
    From a Saturday or Sunday counting starts on Monday, so days=0 gives that Monday."""
    if days < 0:
        raise ValueError(f"days cannot be negative: {days}")
    day = start
    if day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
    weeks, rest = divmod(days, 5)
    day += timedelta(weeks=weeks)
    for _ in range(rest):
        day += timedelta(days=3 if day.weekday() == 4 else 1)
    return day


def short_date(day: date, *, today: date) -> str:
    """3 Sep in today's year, 3 Sep 2025 otherwise (no locale: the same on every server)."""
    text = f"{day.day} {MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _customer(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if not config.customer or facts.lifecycle == "customer":
        return None
    return Block("customer", f"not a customer ({facts.lifecycle})", None)


def _customer_days(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    minimum = config.min_customer_days
    if minimum is None:
        return None
    if facts.customer_since is None:
        return Block("customer_days", "customer since unknown", None)
    days = (now.date() - facts.customer_since).days
    if days >= minimum:
        return None
    until = facts.customer_since + timedelta(days=minimum)
    # A customer_since in the future reads as 0 days, not a negative number.
    reason = f"customer for {_count(max(0, days), 'day')} < {minimum} (until {_short(until, now)})"
    return Block("customer_days", reason, until)


def _health(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if config.min_health is None:
        return None
    if facts.health is None:
        return Block("health", "health unknown", None)
    if facts.health >= config.min_health:
        return None
    return Block("health", f"health {facts.health} < {_number(config.min_health)}", None)


def _detractor(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    recent = _within(facts.last_detractor_at, config.detractor_days, now)
    if recent is None:
        return None
    answered, until = recent
    reason = f"detractor NPS answer on {_short(answered, now)} (until {_short(until, now)})"
    return Block("detractor", reason, until)


def _escalation(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if not config.no_open_escalation or facts.open_escalations <= 0:
        return None
    return Block("escalation", _count(facts.open_escalations, "open escalated ticket"), None)


def _account_cooldown(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    recent = _within(facts.last_account_ask_at, config.account_cooldown_days, now)
    if recent is None:
        return None
    asked, until = recent
    reason = f"asked on {_short(asked, now)}, cooldown until {_short(until, now)}"
    return Block("account_cooldown", reason, until)


def _contact_limit(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    limit, window = config.contact_max_asks, config.contact_window_days
    if limit is None or facts.contact_name is None:
        return None
    spent = _over_limit(facts.contact_asks, limit, window, now)
    if spent is None:
        return None
    counted, until = spent
    lifts = f", until {_short(until, now)}" if until is not None else ""
    reason = (
        f"{facts.contact_name} asked {_count(counted, 'time')} in "
        f"{_count(window, 'day')} (limit {limit}{lifts})"
    )
    return Block("contact_limit", reason, until)


def _contact_fatigue(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if facts.contact_name is None:
        return None
    return fatigue(
        contact_name=facts.contact_name, asks=facts.contact_all_asks, now=now, config=config
    )


def fatigue(
    *, contact_name: str, asks: tuple[datetime, ...], now: datetime, config: GateConfig
) -> Block | None:
    """The contact's budget across every kind of ask (`asks`: when each was made): at most
    fatigue_max_asks within fatigue_window_days, and fatigue_gap_days at least since the
    last one. Days count as in the other gates (calendar days in now's time zone). The
    scan's gate and the ask page both ask this."""
    reasons: list[str] = []
    lifts: list[date | None] = []
    limit, window = config.fatigue_max_asks, config.fatigue_window_days
    if limit is not None and (spent := _over_limit(asks, limit, window, now)):
        counted, until = spent
        lifts.append(until)
        reasons.append(
            f"{_count(counted, 'ask')} of any kind in {_count(window, 'day')} (budget {limit})"
        )
    gap = config.fatigue_gap_days
    last = max((_day(at, now) for at in asks), default=None)
    if gap is not None and last is not None and _age(last, now) < gap:
        lifts.append(last + timedelta(days=gap))
        reasons.append(f"last asked on {_short(last, now)} (asks {gap} days apart)")
    if not reasons:
        return None
    until = None if None in lifts else max(d for d in lifts if d is not None)
    tail = f", until {_short(until, now)}" if until is not None else ""
    return Block("contact_fatigue", f"{contact_name}: {'; '.join(reasons)}{tail}", until)


def _over_limit(
    asks: tuple[datetime, ...], limit: int, window: int, now: datetime
) -> tuple[int, date | None] | None:
    """(asks within `window` days, the day the block lifts) when they reach `limit`, else
    None. The block lifts once enough asks have left the window to be below the limit; with
    the usual count == limit that is the oldest one. A limit of 0 never lifts (None)."""
    counted = sorted(day for day in (_day(at, now) for at in asks) if _age(day, now) < window)
    if len(counted) < limit:
        return None
    until = counted[len(counted) - limit] + timedelta(days=window) if limit > 0 else None
    return len(counted), until


def _contact_opted_out(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if not config.contact_opted_out or facts.contact_name is None or not facts.contact_opted_out:
        return None
    return Block("contact_opted_out", f"{facts.contact_name} opted out", None)


def _no_contact(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    # Not switchable: without a contact there is nobody to ask.
    if facts.contact_name is not None:
        return None
    return Block("no_contact", "no contact to ask", None)


def _open_ask(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if not config.no_open_ask or not facts.open_ask:
        return None
    return Block("open_ask", "an ask is already open", None)


def _owner(facts: GateFacts, now: datetime, config: GateConfig) -> Block | None:
    if not config.owner_active:
        return None
    if facts.owner_name is None:
        return Block("owner", "no owner", None)
    if facts.owner_active:
        return None
    return Block("owner", f"owner {facts.owner_name} is inactive", None)


def _within(at: datetime | None, days: int | None, now: datetime) -> tuple[date, date] | None:
    """(at's day, the day the block lifts) while `at` is less than `days` old, else None."""
    if at is None or days is None:
        return None
    day = _day(at, now)
    return (day, day + timedelta(days=days)) if _age(day, now) < days else None


def _day(at: datetime, now: datetime) -> date:
    """The calendar day of `at` in now's time zone."""
    _require_aware(at, "a fact's time")
    return at.astimezone(now.tzinfo).date()


def _age(day: date, now: datetime) -> int:
    return (now.date() - day).days


def _short(day: date, now: datetime) -> str:
    return short_date(day, today=now.date())


def _require_half_life(config: ReadinessConfig) -> float:
    if config.half_life_days <= 0:
        raise ValueError(f"half_life_days must be more than 0, not {config.half_life_days}")
    return config.half_life_days


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must have a time zone (aware datetime): {moment.isoformat()}")


def _floor_tenth(value: float) -> str:
    # Down, not to nearest: 39.96 below a threshold of 40 must not read "40.0 < 40". Rounding to
    # 6 places first keeps float noise (5.6 * 10 = 55.99999...) from taking a tenth off.
    return f"{math.floor(round(value * 10, 6)) / 10:.1f}"


def _number(value: float) -> str:
    """Whole numbers without ".0": 70, 40.5."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
