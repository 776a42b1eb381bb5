"""What an advocate's team achieved, in words they would say themselves: the `outcome` merge
field of the forwardable intros ("At Acme we have created 1,000 reports"), drafted from a
success moment's rule and data. The owner may edit the draft before it goes out.

Each phrase completes "we …" in the present perfect or present ("have saved 10 hours",
"rate it 10 out of 10"). Event and property names are read as `<noun>_<participle>`, the
way product analytics names them (report_created, minutes_saved); a name that does not
read that way gives a phrase about the rule's label instead of a wrong sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

# Participles whose past form is not the verb plus -ed (or -d).
_IRREGULAR = {
    "run": "run",
    "sent": "sent",
    "built": "built",
    "made": "made",
    "won": "won",
    "written": "written",
    "done": "done",
    "held": "held",
    "shipped": "shipped",
}
_UNITS = {"minutes": 60, "seconds": 3600}  # shown as hours above two hours' worth


def outcome(
    *, kind: str, data: Mapping[str, object], event: str | None = None, measure: str = "count",
    label: str = "", goal_name: str = "",
) -> str | None:  # fmt: skip
    """The phrase for one moment, or None when its kind has none (the template's fallback
    then stands in)."""
    if kind == "milestone":
        return _milestone(data, event, measure, label)
    if kind == "goal":
        return f"have reached our goal: {goal_name.strip()}" if goal_name.strip() else None
    if kind == "surge":
        return _surge(data)
    return _FIXED.get(kind)


_FIXED = {
    "renewal": "have renewed for another term",
    "expansion": "have expanded our use of it",
    "nps": "would recommend it to anyone",
    "support": "have had great support from the team",
    "praise": "have been really happy with it",
}


def _milestone(
    data: Mapping[str, object], event: str | None, measure: str, label: str
) -> str | None:
    amount = _number(data.get("threshold"))
    if amount is None:
        return None
    name = measure.split(":", 1)[1] if measure.startswith("sum:") else (event or "")
    words = name.replace("-", "_").split("_")
    if len(words) < 2 or not words[-1].isalpha():
        return f"have passed {_figure(amount)} in {label}" if label else None
    verb, noun = _participle(words[-1]), " ".join(words[:-1])
    if noun in _UNITS and amount >= 2 * _UNITS[noun]:
        return f"have {verb} {_figure(amount / _UNITS[noun])} hours"
    return f"have {verb} {_figure(amount)} {_plural(noun, amount)}"


def _surge(data: Mapping[str, object]) -> str | None:
    users, before = _number(data.get("users")), _number(data.get("before_mean"))
    if users is None or before is None or before <= 0:
        return None
    ratio = users / before
    if ratio >= 2:
        return f"have grown to {ratio:.1f}× as many weekly users".replace(".0×", "×")
    return f"have grown our weekly users by {round((ratio - 1) * 100)}%"


def _participle(word: str) -> str:
    if word in _IRREGULAR or word.endswith("ed"):
        return _IRREGULAR.get(word, word)
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
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _figure(amount: Decimal) -> str:
    whole = amount.to_integral_value()
    return f"{whole:,f}" if amount == whole else f"{amount.normalize():,f}"
