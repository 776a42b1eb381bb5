"""Writing moments: each scan hands over what its rules found, and for which accounts (or
keys) the finding is complete; what is new is inserted, what moved is updated, and what a
complete finding no longer holds is retracted. The unique key (account, rule_id, key)
decides what is the same moment, so a repeated or concurrent write adds nothing twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from goodword.moments.models import Moment

BATCH = 1000
CHANGING = ("occurred_at", "contact_id", "evidence", "data", "retracted_at")


@dataclass(frozen=True)
class Found:
    """A moment as a rule finds it."""

    account_id: int
    key: str
    occurred_at: dt.datetime
    evidence: str
    data: dict[str, Any] = field(default_factory=dict)
    contact_id: int | None = None


@dataclass
class Tally:
    found: int = 0  # new moments
    moved: int = 0  # moments whose time or evidence changed (late events, edited records)
    retracted: int = 0

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.moved += other.moved
        self.retracted += other.retracted

    def as_json(self) -> dict[str, int]:
        return {"found": self.found, "moved": self.moved, "retracted": self.retracted}


# What a finding covers: for each stored moment of the rule, whether it lies inside (so a
# complete finding that lacks it retracts it). None: the finding only adds.
Scope = Callable[[int, str], bool] | None


def moments_write(
    *,
    rule_id: str,
    kind: str,
    found: Iterable[Found],
    scope: Scope,
    accounts: set[int] | None,
    now: dt.datetime,
) -> Tally:
    """Insert new moments, update moved ones, and retract stored ones inside `scope` that
    `found` lacks. `accounts` narrows which stored moments are read (None: all of the rule's).
    Call inside the scan's transaction."""
    stored = _stored(rule_id, accounts)
    tally = Tally()
    fresh: list[Moment] = []
    changed: list[Moment] = []
    seen: set[tuple[int, str]] = set()
    for item in found:
        seen.add((item.account_id, item.key))
        old = stored.get((item.account_id, item.key))
        if old is None:
            fresh.append(_new(rule_id, kind, item, now))
        elif _apply(old, item, now):
            changed.append(old)
    if scope is not None:
        for (account_id, key), old in stored.items():
            if (account_id, key) in seen or old.retracted_at is not None:
                continue
            if scope(account_id, key):
                old.retracted_at = now
                old.updated_at = now
                changed.append(old)
                tally.retracted += 1
    Moment.objects.bulk_create(fresh, batch_size=BATCH, ignore_conflicts=True)
    Moment.objects.bulk_update(changed, [*CHANGING, "updated_at"], batch_size=BATCH)
    tally.found = len(fresh)
    tally.moved = len(changed) - tally.retracted
    return tally


def _stored(rule_id: str, accounts: set[int] | None) -> dict[tuple[int, str], Moment]:
    qs = Moment.objects.filter(rule_id=rule_id)
    if accounts is not None and len(accounts) <= BATCH:
        qs = qs.filter(account_id__in=accounts)
    out = {}
    for moment in qs.only("id", "account_id", "key", *CHANGING, "updated_at"):
        if accounts is None or moment.account_id in accounts:
            out[(moment.account_id, moment.key)] = moment
    return out


def _new(rule_id: str, kind: str, item: Found, now: dt.datetime) -> Moment:
    return Moment(
        account_id=item.account_id,
        rule_id=rule_id,
        kind=kind,
        key=item.key,
        occurred_at=item.occurred_at,
        contact_id=item.contact_id,
        evidence=item.evidence[:500],
        data=item.data,
        found_at=now,
        updated_at=now,
    )


def _apply(old: Moment, item: Found, now: dt.datetime) -> bool:
    """Bring a stored moment in line with its finding; True when anything changed."""
    wanted = {
        "occurred_at": item.occurred_at,
        "contact_id": item.contact_id,
        "evidence": item.evidence[:500],
        "data": item.data,
        "retracted_at": None,
    }
    if all(getattr(old, name) == value for name, value in wanted.items()):
        return False
    for name, value in wanted.items():
        setattr(old, name, value)
    old.updated_at = now
    return True


def live_moments() -> Q:
    return Q(retracted_at__isnull=True)
