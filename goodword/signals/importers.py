"""Importers for what customers said and aimed for: NPS answers, tickets, messages, goals.

They ride on the CSV import of goodword.crm.io (all or nothing, FILE:ROW: column: reason,
upsert by external_id), and name their account by external id and their person by e-mail:
the contact is linked when the account has one with that address, and the address is kept
either way. Ticket and message texts are scored for praise as they are written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from goodword.crm.cleaning import boolean, choice, text
from goodword.crm.io.base import Batch, Importer, RowError
from goodword.crm.io.kinds import References
from goodword.crm.io.reading import Header, Row
from goodword.crm.io.report import ImportReport
from goodword.crm.models import Contact
from goodword.engine import praise
from goodword.engine.scores import csat_normalise, nps_score, parse_measure
from goodword.lib.validators import clean_decimal, clean_email, parse_datetime
from goodword.signals.models import (
    CsatScale,
    Goal,
    Message,
    MessageChannel,
    NpsResponse,
    Ticket,
    TicketPriority,
)


def _when(required: bool) -> Callable[[str], dt.datetime | None]:
    def clean(value: str) -> dt.datetime | None:
        parsed = parse_datetime(value)
        if parsed is None and required:
            raise ValueError("is required")
        return parsed

    return clean


def _email(value: str) -> str:
    return clean_email(value) if value.strip() else ""


def _target(value: str) -> Decimal:
    number = clean_decimal(value)
    if number is None or number <= 0:
        raise ValueError(f"{value!r} is not a positive number")
    return number


def _measure(value: str) -> str:
    return str(parse_measure(value or "count"))


class SignalImporter(References):
    """Rows that belong to an account (by external id) and maybe to one of its contacts."""

    fields: ClassVar[Mapping[str, Callable[[str], Any]]]
    text_column: ClassVar[str] = ""

    def __init__(self, report: ImportReport, header: Header, now: dt.datetime) -> None:
        super().__init__(report, header, now)
        self.contacts: dict[tuple[int, str], int] = {}

    def load(self, keys: list[str], rows: list[Row]) -> None:
        super().load(keys, rows)
        self.load_accounts(rows)
        if "contact_email" not in self.fields:
            return
        emails = {r.cells.get("contact_email", "").strip().lower() for r in rows} - {""}
        found = Contact.objects.filter(
            account_id__in=set(self.accounts.values()), email__in=emails
        ).values_list("account_id", "email", "pk")
        self.contacts = {(account_id, email): pk for account_id, email, pk in found}

    def plan(self, row: Row, key: str) -> None:
        problems: list[tuple[str, str]] = []
        account_id = self.account(row.cells, problems)
        values: dict[str, Any] = {}
        for column, cleaner in self.fields.items():
            if column not in row.cells:
                continue
            try:
                values[column] = cleaner(row.cells[column])
            except ValueError as exc:
                problems.append((column, str(exc)))
        problems += self.check(values)
        if problems:
            raise RowError(problems)
        values["account_id"] = account_id
        self.derive(values)
        existing = self.existing.get(key)
        if existing is None:
            self.create({**values, "imported_at": self.now})
        else:
            self.change(existing, values)

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems that involve more than one column."""
        return []

    def derive(self, values: dict[str, Any]) -> None:
        if "contact_email" in values:
            email = values["contact_email"]
            values["contact_id"] = self.contacts.get((values["account_id"], email))
        if self.text_column:
            values["praise"] = praise.score(values.get(self.text_column, ""))

    def touched(self) -> set[str]:
        return {"imported_at"}

    def after_write(self, batch: Batch) -> None:
        """Signals are shown in their own lists on the account page, not as timeline rows."""


class NpsImporter(SignalImporter):
    kind = "nps"
    model = NpsResponse
    fields: ClassVar[Mapping[str, Callable[[str], Any]]] = {
        "external_id": text(200, required=True),
        "contact_email": _email,
        "score": nps_score,
        "comment": text(10_000),
        "responded_at": _when(required=True),
    }


class TicketImporter(SignalImporter):
    kind = "tickets"
    model = Ticket
    text_column = "text"
    fields: ClassVar[Mapping[str, Callable[[str], Any]]] = {
        "external_id": text(200, required=True),
        "contact_email": _email,
        "opened_at": _when(required=True),
        "closed_at": _when(required=False),
        "priority": lambda v: choice(TicketPriority)(v) if v.strip() else TicketPriority.NORMAL,
        "escalated": boolean,
        "csat": text(20),
        "csat_scale": lambda v: choice(CsatScale)(v) if v.strip() else "",
        "text": text(100_000),
    }

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        opened, closed = values.get("opened_at"), values.get("closed_at")
        if opened and closed and closed < opened:
            problems.append(("closed_at", "is before opened_at"))
        raw, scale = values.get("csat", ""), values.get("csat_scale", "")
        if raw and not scale:
            problems.append(("csat_scale", "is required with a csat (1-5, 1-10 or good-bad)"))
        elif raw:
            try:
                values["csat_normalised"] = csat_normalise(raw, scale)
            except ValueError as exc:
                problems.append(("csat", str(exc)))
        return problems

    def derive(self, values: dict[str, Any]) -> None:
        super().derive(values)
        values["csat_raw"] = values.pop("csat", "")
        values["csat"] = values.pop("csat_normalised", None)


class MessageImporter(SignalImporter):
    kind = "messages"
    model = Message
    text_column = "text"
    fields: ClassVar[Mapping[str, Callable[[str], Any]]] = {
        "external_id": text(200, required=True),
        "contact_email": _email,
        "received_at": _when(required=True),
        "channel": choice(MessageChannel),
        "text": text(100_000, required=True),
    }


class GoalImporter(SignalImporter):
    kind = "goals"
    model = Goal
    fields: ClassVar[Mapping[str, Callable[[str], Any]]] = {
        "external_id": text(200, required=True),
        "name": text(200, required=True),
        "event": text(200, required=True),
        "measure": _measure,
        "target": _target,
        "starts_at": _when(required=True),
        "due_at": _when(required=False),
    }

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        starts, due = values.get("starts_at"), values.get("due_at")
        if starts and due and due <= starts:
            return [("due_at", "is not after starts_at")]
        return []


SIGNAL_IMPORTERS: dict[str, type[Importer]] = {
    "nps": NpsImporter,
    "tickets": TicketImporter,
    "messages": MessageImporter,
    "goals": GoalImporter,
}
