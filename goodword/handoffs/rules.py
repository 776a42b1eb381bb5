"""The handoff's rules as plain values: what admins may require, the defaults, and the
business-day deadline. No database here."""

from __future__ import annotations

import datetime as dt

# The fields admins may require before a handoff is accepted, with the words its refusal uses.
REQUIRABLE: dict[str, str] = {
    "goals": "at least one goal the customer bought the product for",
    "champion": "a champion among the stakeholders",
    "economic_buyer": "an economic buyer among the stakeholders",
    "admin": "an admin among the stakeholders",
    "promised": "what was promised in the sale",
    "risks": "the risks",
    "kickoff_on": "the kickoff date",
}
DEFAULT_REQUIRED = ["goals", "champion", "kickoff_on"]
DEFAULT_CHECKLIST = [
    "Internal handover call held",
    "Kickoff meeting booked",
    "Admin users invited",
    "Success plan shared with the champion",
]
CHECKLIST_MAX = 30
BUSINESS_DAYS_TO_ACCEPT = 5


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """`start` moved on by `days` weekdays (Monday to Friday), keeping its time of day: a
    handoff created on Friday at 10:00 is due the next Friday at 10:00, and one created on a
    Saturday the Friday after, as its first business day is the Monday."""
    if start.tzinfo is None:
        raise ValueError("start must be aware")
    moved, left = start, days
    while left > 0:
        moved += dt.timedelta(days=1)
        if moved.weekday() < 5:
            left -= 1
    return moved


def accept_by(created_at: dt.datetime) -> dt.datetime:
    return add_business_days(created_at, BUSINESS_DAYS_TO_ACCEPT)
