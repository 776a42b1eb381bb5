"""Exporting records as CSV (the import's native columns, formula-safe) or as a JSON array.

Rows are streamed from the database in chunks (`.iterator(chunk_size=2000)`) and written as
they come, so an export of a million deals needs no more memory than one of ten.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from django.db.models import CharField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from goodword.crm import selectors
from goodword.crm.io.presets import KINDS
from goodword.crm.models import Account, Contact, Deal, Task
from goodword.lib.csvsafe import csv_lines

if TYPE_CHECKING:
    from goodword.users.models import User

EXPORT_KINDS = (*KINDS, "tasks")
FORMATS = ("csv", "json")
CHUNK_SIZE = 2000

TASK_COLUMNS = (
    "id",
    "kind",
    "subject",
    "owner_email",
    "account_external_id",
    "contact_email",
    "deal_external_id",
    "due_at",
    "status",
    "outcome",
    "notes",
)

# Our column → the database path it is read from.
_SOURCES: dict[str, dict[str, str]] = {
    "users": {"team": "team__name"},
    "accounts": {"owner_email": "owner__email", "csm_email": "csm__email"},
    "contacts": {"account_external_id": "account__external_id", "opted_out": "opted_out_at"},
    "deals": {
        "account_external_id": "account__external_id",
        "stage": "stage__name",
        "owner_email": "owner__email",
    },
    "nps": {"account_external_id": "account__external_id"},
    "tickets": {"account_external_id": "account__external_id", "csat": "csat_raw"},
    "messages": {"account_external_id": "account__external_id"},
    "goals": {"account_external_id": "account__external_id"},
    "tasks": {
        "owner_email": "owner__email",
        "account_external_id": "account__external_id",
        "contact_email": "contact__email",
        "deal_external_id": "deal__external_id",
    },
}


def columns(kind: str) -> tuple[str, ...]:
    return TASK_COLUMNS if kind == "tasks" else KINDS[kind]


def _queryset(kind: str, user: User | None) -> QuerySet[Any]:
    """All records, or, given a user, those the user may see (the selectors decide)."""
    if kind == "users":
        from goodword.users.models import User as UserModel

        users = UserModel.objects.all()
        if user is not None and not (user.is_admin_role or user.is_manager):
            users = users.filter(pk=user.pk)
        return users
    signals = _signals(kind)
    if signals is not None:
        if user is None:
            return signals
        return signals.filter(account__in=selectors.accounts_visible_to(user))
    if user is None:
        everything: dict[str, QuerySet[Any]] = {
            "accounts": Account.objects.all(),
            "contacts": Contact.objects.all(),
            "deals": Deal.objects.all(),
            "tasks": Task.objects.all(),
        }
        return everything[kind]
    visible: dict[str, Callable[[User], QuerySet[Any]]] = {
        "accounts": selectors.accounts_visible_to,
        "contacts": selectors.contacts_visible_to,
        "deals": selectors.deals_visible_to,
        "tasks": selectors.tasks_visible_to,
    }
    return visible[kind](user)


def _signals(kind: str) -> QuerySet[Any] | None:
    from goodword.signals.models import Goal, Message, NpsResponse, Ticket

    models: dict[str, QuerySet[Any]] = {
        "nps": NpsResponse.objects.all(),
        "tickets": Ticket.objects.all(),
        "messages": Message.objects.all(),
        "goals": Goal.objects.all(),
    }
    return models.get(kind)


def export_rows(
    kind: str, *, user: User | None = None, account: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """The records of `kind` as tuples in the order of `columns(kind)`, oldest first; given
    an account id, only that account's (a kind without an account raises ValueError)."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(EXPORT_KINDS)}")
    sources = _SOURCES[kind]
    paths = [sources.get(column, column) for column in columns(kind)]
    qs = _of_account(_queryset(kind, user), kind, account)
    if kind == "deals":
        qs = qs.annotate(referred_by=_referred_by())
    rows = qs.order_by("pk").values_list(*paths)
    convert = _contact_row if kind == "contacts" else None
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield convert(row) if convert else row


def _referred_by() -> Subquery:
    """A referral deal's advocate as the import reads it: the e-mail of the contact with the
    largest share, or their account's domain when no one is named."""
    from goodword.referrals.models import DealCredit

    top = DealCredit.objects.filter(deal=OuterRef("pk")).order_by("-share", "pk")
    who = Coalesce("advocate__email", "advocate_account__domain", output_field=CharField())
    return Subquery(top.annotate(who=who).values("who")[:1])


def _of_account(qs: QuerySet[Any], kind: str, account: int | None) -> QuerySet[Any]:
    if account is None:
        return qs
    if kind == "users":
        raise ValueError("users belong to no account")
    return qs.filter(pk=account) if kind == "accounts" else qs.filter(account_id=account)


def _contact_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # opted_out is whether the contact has opted out (when and how stay in Goodword).
    *head, past, opted_out_at = row
    return (*head, list(past or []), opted_out_at is not None)


def _csv_cells(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # past_employers is a list; in a CSV cell it is `;`-separated, as import reads it.
    return tuple(";".join(v) if isinstance(v, list) else v for v in row)


def export_lines(
    kind: str, *, fmt: str = "csv", user: User | None = None, account: int | None = None
) -> Iterator[str]:
    """The export as text, piece by piece (for files and streaming HTTP responses)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    rows = export_rows(kind, user=user, account=account)
    if fmt == "csv":
        return csv_lines(list(columns(kind)), map(_csv_cells, rows))
    return _json_lines(columns(kind), rows)


def _json_lines(header: Iterable[str], rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """One JSON array, one object per line: valid JSON for tools, and greppable."""
    names = list(header)
    separator = "[\n"
    for row in rows:
        yield separator + json.dumps(dict(zip(names, row, strict=True)), default=_json_value)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would lose cents on large amounts
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def export_file(
    kind: str,
    out: TextIO,
    *,
    fmt: str = "csv",
    user: User | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to `out`; returns the number of records written."""
    count = 0
    for piece in export_lines(kind, fmt=fmt, user=user):
        out.write(piece)
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(1000)
    if progress is not None:
        progress(count % 1000)
    # One piece more than records: the CSV header, or the JSON array's closing bracket.
    return max(count - 1, 0)


def export_count(kind: str, *, user: User | None = None) -> int:
    return _queryset(kind, user).count()
