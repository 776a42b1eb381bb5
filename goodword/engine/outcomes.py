"""What an advocate's team achieved, in words they would say themselves: the `outcome` merge
field of the forwardable intros ("At Acme we have created 1,000 reports"), drafted from a
success moment's kind, rule and data. The owner may edit the draft before it goes out.

Each phrase completes "we …" in the present perfect or present ("have saved 10 hours",
"rate it 10 out of 10"), and never says "our": the owner's own ask reads it back to the
advocate ("at Acme you have saved 10 hours"). Event and property names are read as
`<noun> <participle>` whatever their spelling (report_created, "Report Created",
reportCreated, minutes-saved), the way product analytics names them; a name that does not
read that way gives a phrase about the rule's label instead of a wrong sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Past participles that are not the verb plus -ed (or -d), by the verb and by themselves.
_IRREGULAR = {
    "run": "run",
    "send": "sent",
    "sent": "sent",
    "build": "built",
    "built": "built",
    "make": "made",
    "made": "made",
    "win": "won",
    "won": "won",
    "write": "written",
    "written": "written",
    "do": "done",
    "done": "done",
    "hold": "held",
    "held": "held",
    "ship": "shipped",
    "plan": "planned",
    "log": "logged",
    "set": "set",
    "put": "put",
    "read": "read",
}
# Seconds per unit, for sums of time: shown in hours from two hours' worth.
_UNITS = {"minutes": 60, "seconds": 3600}
_WORDS = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def outcome(
    *, kind: str, data: Mapping[str, object], event: str | None = None, measure: str = "count",
    label: str = "", goal_name: str = "",
) -> str | None:  # fmt: skip
    """The phrase for one moment, or None when its kind or data give none (the template's
    fallback then stands in)."""
    if kind == "milestone":
        return _milestone(data, event, measure, label.strip())
    if kind == "goal":
        name = goal_name.strip()
        return f"have reached the goal “{name}”" if name else None
    if kind == "surge":
        return _surge(data)
    if kind == "nps":
        score = _number(data.get("score"))
        if score is not None and 0 <= score <= 10 and score == score.to_integral_value():
            return f"rate it {_figure(score)} out of 10"
    return _FIXED.get(kind)


_FIXED = {
    "renewal": "have renewed for another term",
    "expansion": "have rolled it out more widely",
    "nps": "would recommend it to anyone",
    "support": "have had great support from the team",
    "praise": "have been really happy with it",
}


def _milestone(
    data: Mapping[str, object], event: str | None, measure: str, label: str
) -> str | None:
    amount = _number(data.get("threshold"))
    if amount is None or amount <= 0:
        return None
    name = measure.split(":", 1)[1] if measure.startswith("sum:") else (event or "")
    words = _WORDS.split(_CAMEL.sub("_", name).lower().strip("_ -."))
    if len(words) < 2 or not words[-1].isalpha() or not all(words):
        return f"have reached the {label} milestone of {_figure(amount)}" if label else None
    verb, noun = _participle(words[-1]), " ".join(words[:-1])
    if noun in _UNITS and amount >= 2 * _UNITS[noun]:
        hours = (amount / _UNITS[noun]).quantize(Decimal("0.1"), ROUND_HALF_UP)
        return f"have {verb} {_figure(hours)} hours"
    return f"have {verb} {_figure(amount)} {_plural(noun, amount)}"


def _surge(data: Mapping[str, object]) -> str | None:
    users, before = _number(data.get("users")), _number(data.get("before_mean"))
    if users is None or before is None or before <= 0 or users <= before:
        return None
    ratio = users / before
    if ratio >= 2:
        times = _figure(ratio.quantize(Decimal("0.1"), ROUND_HALF_UP))
        return f"have grown to {times}× as many weekly users"
    return f"have grown weekly users by {round((ratio - 1) * 100)}%"


def _participle(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ed"):
        return word
    return word + ("d" if word.endswith("e") else "ed")


def _plural(noun: str, amount: Decimal) -> str:
    if amount == 1 or noun.endswith("s"):
        return noun
    if noun.endswith(("x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _figure(amount: Decimal) -> str:
    """1,000 and 10.5: thousands grouped, no trailing zeros, no exponent."""
    whole = amount.to_integral_value()
    return f"{whole:,f}" if amount == whole else f"{amount.normalize():,f}"
