"""Every write of signals: write keys, and taking in events.

`events_ingest` stores a request's accepted events in one transaction, which commits before
the request is answered: an event acknowledged with 200 is in the database. A repeated
messageId is refused by the unique constraint (INSERT … ON CONFLICT DO NOTHING), not by a
lookup first, so two requests racing with the same event store it once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from goodword.crm.models import Account
from goodword.lib.errors import NotFound
from goodword.lib.tokens import hash_secret, new_secret, prefix_of, record_use, same, typed_prefix
from goodword.signals.models import Event, EventState, Identity, WriteKey
from goodword.signals.segment import Parsed

# --- write keys -----------------------------------------------------------------------


def writekey_create(*, name: str = "", rate_limit: int | None = None) -> tuple[WriteKey, str]:
    """Create a write key; returns the row and the whole key, which is never shown again."""
    key, prefix, hashed = new_secret()
    row = WriteKey(name=name[:100], prefix=prefix, hashed_key=hashed, created_at=timezone.now())
    if rate_limit is not None:
        row.rate_limit = rate_limit
    row.save()
    return row, key


def writekey_revoke(*, prefix: str) -> WriteKey:
    """Revoke the write key with this prefix. Raises NotFound if there is none."""
    row = WriteKey.objects.filter(prefix=typed_prefix(prefix)).first()
    if row is None:
        raise NotFound(f"no write key with prefix {prefix!r}")
    WriteKey.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    row.refresh_from_db()
    return row


def writekey_authenticate(key: str) -> WriteKey | None:
    """The live write key whose secret this is, else None."""
    prefix = prefix_of(key)
    if prefix is None:
        return None
    row = WriteKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if row is None or not same(row.hashed_key, hash_secret(key)):
        return None
    record_use(WriteKey, row)
    return row


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    stored: int
    duplicates: int
    held: int


COLUMNS = (
    "message_id, type, event, user_key, group_id, account_id, properties, timestamp, "
    "received_at, state"
)


@transaction.atomic
def events_ingest(*, events: list[Parsed], received_at: dt.datetime) -> Ingested:
    """Store events (already checked); each goes to its account (context.groupId, else its
    user's latest group call) or is held until that is known. Group calls record who belongs
    where and place that user's held events."""
    if not events:
        return Ingested(0, 0, 0)
    accounts = _accounts_by_group({e.group_id for e in events if e.group_id})
    grouped = _identities_record(events, accounts)
    known = dict(
        Identity.objects.filter(user_key__in={e.user_key for e in events}).values_list(
            "user_key", "account_id"
        )
    )
    rows = []
    held = 0
    for e in events:
        account_id = accounts.get(e.group_id) if e.group_id else known.get(e.user_key)
        held += account_id is None
        rows.append(_row(e, account_id, received_at))
    stored = _insert(rows)
    events_place_held(user_keys=grouped)
    return Ingested(stored, len(rows) - stored, held)


def _accounts_by_group(group_ids: set[str]) -> dict[str, int]:
    found = Account.objects.filter(external_id__in=group_ids).values_list("external_id", "pk")
    return {ext: pk for ext, pk in found if ext is not None}


def _identities_record(events: list[Parsed], accounts: dict[str, int]) -> set[str]:
    """Each user's latest group call to a known account wins; returns the users grouped."""
    latest: dict[str, Parsed] = {}
    for e in events:
        if e.type == "group" and e.group_id in accounts:
            seen = latest.get(e.user_key)
            if seen is None or e.timestamp >= seen.timestamp:
                latest[e.user_key] = e
    for user_key, e in latest.items():
        values = {"account_id": accounts[e.group_id], "group_id": e.group_id}
        updated = Identity.objects.filter(user_key=user_key, grouped_at__lte=e.timestamp).update(
            **values, grouped_at=e.timestamp
        )
        if not updated:
            Identity.objects.get_or_create(
                user_key=user_key, defaults={**values, "grouped_at": e.timestamp}
            )
    return set(latest)


def _row(e: Parsed, account_id: int | None, received_at: dt.datetime) -> list[Any]:
    state = EventState.PLACED if account_id is not None else EventState.HELD
    return [
        e.message_id,
        e.type,
        e.event,
        e.user_key,
        e.group_id,
        account_id,
        json.dumps(e.properties, separators=(",", ":"), default=str),
        e.timestamp,
        received_at,
        state,
    ]


INSERT_ROWS = 500  # rows per statement: 5,000 parameters, within SQLite's limit


def _insert(rows: list[list[Any]]) -> int:
    """INSERT … ON CONFLICT (message_id) DO NOTHING; returns how many rows were new."""
    adapt = connection.ops.adapt_datetimefield_value
    stored = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_ROWS):
            part = rows[start : start + INSERT_ROWS]
            marks = ", ".join(["(" + ", ".join(["%s"] * len(part[0])) + ")"] * len(part))
            sql = (
                f"INSERT INTO signals_event ({COLUMNS}) VALUES {marks} "  # noqa: S608
                "ON CONFLICT (message_id) DO NOTHING RETURNING 1"
            )
            params = [adapt(v) if isinstance(v, dt.datetime) else v for row in part for v in row]
            cursor.execute(sql, params)
            stored += len(cursor.fetchall())
    return stored


def events_place_held(*, user_keys: Iterable[str] | None = None) -> int:
    """Place held events whose account is now known: by their groupId, now an account's
    external id, or by their user's group call. Returns how many were placed."""
    held = Event.objects.filter(state=EventState.HELD)
    if user_keys is not None:
        keys = set(user_keys)
        if not keys:
            return 0
        held = held.filter(user_key__in=keys)
    placed = 0
    by_group = _accounts_by_group(set(held.exclude(group_id="").values_list("group_id", flat=True)))
    for group_id, account_id in by_group.items():
        placed += held.filter(group_id=group_id).update(
            account_id=account_id, state=EventState.PLACED
        )
    identities = Identity.objects.filter(
        user_key__in=held.filter(group_id="").values("user_key")
    ).values_list("user_key", "account_id")
    for user_key, account_id in identities:
        placed += held.filter(group_id="", user_key=user_key).update(
            account_id=account_id, state=EventState.PLACED
        )
    return placed
