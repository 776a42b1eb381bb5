"""Customer ratings on common scales: NPS categories, CSAT normalised to 0-1, goal measures.

Pure functions: values in, values out. Raise ValueError with words a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

CSAT_SCALES = ("1-5", "1-10", "good-bad")

# Help desks label the two-point rating in several ways; all mean the same two answers.
GOOD = frozenset({"good", "satisfied", "positive", "yes", "thumbs up", "+1"})
BAD = frozenset({"bad", "unsatisfied", "dissatisfied", "negative", "no", "thumbs down", "-1"})


def nps_category(score: int) -> str:
    """Promoter 9-10, passive 7-8, detractor 0-6 (as Bain's Net Promoter defines them)."""
    if not 0 <= score <= 10:
        raise ValueError(f"{score} is not an NPS score (0 to 10)")
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def nps_score(raw: str) -> int:
    """An NPS answer: a whole number from 0 to 10 ("9" or "9.0")."""
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number from 0 to 10") from None
    if number != number.to_integral_value() or not 0 <= number <= 10:
        raise ValueError(f"{raw!r} is not a whole number from 0 to 10")
    return int(number)


def csat_normalise(raw: str, scale: str) -> float:
    """A CSAT rating on its scale → 0 (worst) to 1 (best). `1-5` and `1-10` are linear from
    their lowest point; `good-bad` is 1 or 0."""
    value = raw.strip()
    if scale == "good-bad":
        word = value.casefold()
        if word in GOOD:
            return 1.0
        if word in BAD:
            return 0.0
        raise ValueError(f"{raw!r} is not good or bad (the good-bad scale)")
    if scale not in CSAT_SCALES:
        raise ValueError(f"{scale!r} is not one of {', '.join(CSAT_SCALES)}")
    top = 5 if scale == "1-5" else 10
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number on the {scale} scale") from None
    if not 1 <= number <= top:
        raise ValueError(f"{raw!r} is outside the {scale} scale")
    return float((number - 1) / (top - 1))


PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")


@dataclass(frozen=True)
class Measure:
    """How a goal or milestone measures events: how many (`count`) or the sum of a numeric
    property (`sum:minutes_saved`)."""

    kind: str  # "count" or "sum"
    property: str = ""

    def __str__(self) -> str:
        return "count" if self.kind == "count" else f"sum:{self.property}"


def parse_measure(raw: str) -> Measure:
    text = raw.strip()
    if text == "count":
        return Measure("count")
    kind, _, prop = text.partition(":")
    if kind == "sum" and PROPERTY.fullmatch(prop.strip()):
        return Measure("sum", prop.strip())
    raise ValueError(f"{raw!r} is not a measure: use count or sum:<property>")
