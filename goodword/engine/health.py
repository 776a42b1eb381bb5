"""The account health score: five components with points, each explained in words a CSM reads.

Values in, values out: the caller gathers the facts (weekly usage, NPS, CSAT, escalations,
renewal) and passes the programme's HealthConfig, whose docstring defines every component.
Raises ValueError for facts that cannot be true (negative counts, CSAT outside 0 to 1).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from statistics import fmean

from goodword.engine.programme import HealthConfig

COMPONENT_KEYS = ("usage", "nps", "csat", "escalations", "renewal")
TIMES = "\N{MULTIPLICATION SIGN}"  # after the usage ratio; a letter x would read as a typo


@dataclass(frozen=True)
class HealthFacts:
    """What health is computed from, gathered by the caller as of one day.

    weekly_events: events per complete ISO week, oldest first, the most recent complete week
        last. Only the last usage_baseline_weeks + usage_recent_weeks values count; a shorter
        tuple is padded with leading zeros (weeks before the first event had none).
    nps_category: the latest answer's category within nps_days, None if none.
    csat: CSAT (0 to 1) of each ticket closed in the last csat_days.
    days_to_renewal: None when unknown (no customer_since).
    """

    weekly_events: tuple[int, ...]
    nps_category: str | None
    csat: tuple[float, ...]
    open_escalations: int
    days_to_renewal: int | None
    renewal_deal_open: bool


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    points: float  # rounded to 1 decimal
    max_points: float
    detail: str


@dataclass(frozen=True)
class Health:
    score: int  # 0 to 100
    components: tuple[Component, ...]


def health_score(facts: HealthFacts, config: HealthConfig) -> Health:
    """The components in the order of COMPONENT_KEYS, and the score: the share of the points
    shown (rounded, so a CSM can add them up) in the maximum, in percent, rounded half up."""
    components = (
        _usage(facts.weekly_events, config),
        _nps(facts.nps_category, config),
        _csat(facts.csat, config),
        _escalations(facts.open_escalations, config),
        _renewal(facts.days_to_renewal, facts.renewal_deal_open, config),
    )
    return Health(score=_score(components), components=components)


def next_renewal(customer_since: date, today: date) -> date:
    """The first anniversary of customer_since on or after today; a customer since 29 Feb
    renews on 28 Feb in common years. A customer_since in the future gives its first
    anniversary, as does today itself (a customer who joined today renews in a year)."""
    year = max(customer_since.year + 1, today.year)
    renewal = _anniversary(customer_since, year)
    if renewal < today:
        renewal = _anniversary(customer_since, year + 1)
    return renewal


def _anniversary(day: date, year: int) -> date:
    # 28 Feb rather than 1 Mar: a renewal should not fall after the contract year ends.
    if (day.month, day.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def _score(components: tuple[Component, ...]) -> int:
    total = sum(c.max_points for c in components)
    if total <= 0:
        return 0
    percent = _half_up(100 * sum(c.points for c in components) / total)
    return int(min(100.0, max(0.0, percent)))


def _component(key: str, label: str, max_points: float, fraction: float, detail: str) -> Component:
    points = _half_up(max_points * fraction, places=1)
    return Component(key=key, label=label, points=points, max_points=max_points, detail=detail)


def _usage(weekly_events: tuple[int, ...], config: HealthConfig) -> Component:
    if any(events < 0 for events in weekly_events):
        raise ValueError(f"weekly events cannot be negative: {weekly_events}")
    baseline, recent = _usage_windows(weekly_events, config)
    baseline_mean = fmean(baseline) if baseline else 0.0
    recent_mean = fmean(recent) if recent else 0.0
    if baseline_mean > 0:
        ratio = recent_mean / baseline_mean
        fraction = _usage_fraction(ratio, config)
        detail = (
            f"{ratio:.2f}{TIMES} the {_weeks(len(baseline))} before "
            f"({_number(recent_mean)} vs {_number(baseline_mean)} events a week)"
        )
    elif recent_mean > 0:
        fraction = config.usage_no_baseline
        detail = f"no usage before the last {_weeks(len(recent))}"
    else:
        fraction = 0.0
        detail = f"no usage in {_count(len(baseline) + len(recent), 'week')}"
    return _component("usage", "Usage", config.usage, fraction, detail)


def _usage_windows(
    weekly_events: tuple[int, ...], config: HealthConfig
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(baseline weeks, recent weeks), padded at the front with silent weeks."""
    wanted = config.usage_baseline_weeks + config.usage_recent_weeks
    tail = weekly_events[max(0, len(weekly_events) - wanted) :]
    weeks = (0,) * (wanted - len(tail)) + tail
    return weeks[: config.usage_baseline_weeks], weeks[config.usage_baseline_weeks :]


def _usage_fraction(ratio: float, config: HealthConfig) -> float:
    # Checked in this order so a config with full <= zero is a step, not a division by zero.
    if ratio >= config.usage_full_ratio:
        return 1.0
    if ratio <= config.usage_zero_ratio:
        return 0.0
    span = config.usage_full_ratio - config.usage_zero_ratio
    return (ratio - config.usage_zero_ratio) / span


def _nps(category: str | None, config: HealthConfig) -> Component:
    fractions = {"promoter": 1.0, "passive": config.nps_passive, "detractor": 0.0}
    if category is None:
        detail = f"no NPS answer in {_count(config.nps_days, 'day')}"
        return _component("nps", "NPS", config.nps, config.nps_none, detail)
    if category not in fractions:
        raise ValueError(f"{category!r} is not an NPS category (promoter, passive or detractor)")
    return _component("nps", "NPS", config.nps, fractions[category], f"latest NPS: {category}")


def _csat(ratings: tuple[float, ...], config: HealthConfig) -> Component:
    if not ratings:
        detail = f"no rated ticket in {_count(config.csat_days, 'day')}"
        return _component("csat", "CSAT", config.csat, config.csat_none, detail)
    if any(not 0 <= rating <= 1 for rating in ratings):
        raise ValueError(f"CSAT ratings must lie within 0 and 1: {ratings}")
    mean = fmean(ratings)
    detail = f"mean CSAT {mean:.2f} over {_count(len(ratings), 'ticket')}"
    return _component("csat", "CSAT", config.csat, mean, detail)


def _escalations(open_escalations: int, config: HealthConfig) -> Component:
    if open_escalations < 0:
        raise ValueError(f"open escalations cannot be negative: {open_escalations}")
    if open_escalations == 0:
        return _component(
            "escalations", "Escalations", config.escalations, 1.0, "no open escalated ticket"
        )
    detail = _count(open_escalations, "open escalated ticket")
    return _component("escalations", "Escalations", config.escalations, 0.0, detail)


def _renewal(days: int | None, deal_open: bool, config: HealthConfig) -> Component:
    if days is not None and days < 0:
        raise ValueError(f"days to renewal cannot be negative: {days}")
    if deal_open:
        return _component("renewal", "Renewal", config.renewal, 1.0, "renewal deal open")
    if days is None:
        # Unknown is not a risk we can see, and penalising it would punish missing CRM data.
        return _component("renewal", "Renewal", config.renewal, 1.0, "renewal date unknown")
    when = "renewal today" if days == 0 else f"renewal in {_count(days, 'day')}"
    if days > config.renewal_days:
        return _component("renewal", "Renewal", config.renewal, 1.0, when)
    fraction = days / config.renewal_days if config.renewal_days > 0 else 0.0
    detail = f"{when}, no renewal deal open"
    return _component("renewal", "Renewal", config.renewal, fraction, detail)


def _half_up(value: float, places: int = 0) -> float:
    # round() goes half to even (72.5 -> 72) where people expect 73; rounding to 9 places first
    # drops float noise such as 72.49999999999999 that would otherwise decide the direction.
    exact = Decimal(repr(round(value, 9)))
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _number(value: float) -> str:
    """At most one decimal, none when whole: 312, 0.6, 100.1."""
    text = f"{_half_up(value, places=1):.1f}"
    return text.removesuffix(".0")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _weeks(n: int) -> str:
    """For "the last 4 weeks" / "the last week"."""
    return "week" if n == 1 else f"{n} weeks"
