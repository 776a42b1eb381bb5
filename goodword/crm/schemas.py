"""Request and response bodies of the CRM API.

The request schemas say as much as JSON Schema can about what the services accept (lengths,
patterns, enums), so a body that matches the schema is refused only for reasons a schema cannot
express (an unknown owner, a duplicate external_id). Amounts travel as decimal strings next to
their currency code; datetimes as ISO 8601 with a zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from goodword.crm.models import (
    Account,
    Contact,
    Deal,
    DealKind,
    DealSource,
    Lifecycle,
    Stage,
    Task,
    TaskKind,
    TaskStatus,
)
from goodword.lib.errors import Invalid
from goodword.lib.validators import CURRENCIES

# PostgreSQL cannot store NUL in text, so no string may carry one.
NO_NUL = r"^[^\x00]*$"
# Required text: at least one character that is neither NUL nor white space.
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = rf"^({LABEL}\.)+{LABEL}$"
DOMAIN_OR_EMPTY = rf"^(({LABEL}\.)+{LABEL})?$"
AMOUNT = r"^[0-9]{1,14}(\.[0-9]{1,2})?$"
PHONE = r"^(\+[1-9][0-9]{6,14})?$"
COUNTRY = r"^([A-Za-z]{2})?$"
MAX_ID = 2**63 - 1

if TYPE_CHECKING:
    Currency = str
else:
    Currency = Literal[tuple(sorted(CURRENCIES))]
LifecycleValue = Literal["prospect", "customer", "churned"]
DealKindValue = Literal["new", "expansion", "renewal"]
DealSourceValue = Literal["referral", "inbound", "outbound", "partner", "event", "other"]
TaskKindValue = Literal[
    "todo", "call", "email", "meeting", "follow_up", "referral_ask", "reference_ask", "review_ask"
]
TaskStatusValue = Literal["open", "done", "cancelled"]

# The literals must list exactly the model choices; fail at import if they drift apart.
for _literal, _choices in [
    (LifecycleValue, Lifecycle),
    (DealKindValue, DealKind),
    (DealSourceValue, DealSource),
    (TaskKindValue, TaskKind),
    (TaskStatusValue, TaskStatus),
]:
    assert set(_literal.__args__) == set(_choices.values), _choices  # type: ignore[attr-defined]


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _iso_date(value: Any) -> Any:
    """Only the ISO 8601 string: pydantic would also take a number as a Unix time."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    if not isinstance(value, str | dt.date):
        raise ValueError("must be a date string, YYYY-MM-DD")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with a zone, e.g. 2026-11-23T14:03:00Z")
    if not isinstance(value, str | dt.datetime):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _in_utc(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    """Store and compare in UTC: PostgreSQL refuses offsets beyond ±15:59, Python allows ±23:59.
    A time that UTC cannot hold (year 1 at +01:00) is refused as invalid (400), not as a
    schema violation: the schema's date-time format allows it."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        field = info.field_name or "__all__"
        raise Invalid({field: [f"{value.isoformat()} is out of range in UTC"]}) from None


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime), AfterValidator(_in_utc)]
Domain = Annotated[str, StringConstraints(max_length=253, pattern=DOMAIN)]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """A field that may be left out but not set to null shows no `default: null`."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", 0) is None and "anyOf" not in prop:
            del prop["default"]


class RequestBody(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)

    @field_validator("*", mode="before")
    @classmethod
    def _json_integers(cls, value: Any, info: ValidationInfo) -> Any:
        """A JSON integer (1, or 1.0 as JSON Schema counts it), never "1" or true: pydantic
        would take those for an integer field."""
        annotation = cls.model_fields[info.field_name or ""].annotation
        if annotation in _INT_TYPES and isinstance(value, str | bool):
            raise ValueError("must be a whole number")
        return value


_INT_TYPES: tuple[Any, ...] = (int, int | None)


def _opt(**constraints: Any) -> Any:
    """A field that may be left out (PATCH); typed Any so the None default passes mypy."""
    return Field(None, **constraints)


def _text(max_length: int, *, required: bool = False) -> Any:
    pattern = NOT_BLANK if required else NO_NUL
    return _opt(max_length=max_length, pattern=pattern)


def _owner_email() -> Any:
    return Field(
        None,
        max_length=254,
        json_schema_extra={"format": "email"},
        description="E-mail of an active user; null for none.",
    )


def _nullable_text(max_length: int) -> Any:
    return _opt(max_length=max_length, pattern=NO_NUL)


# --- errors and pages -------------------------------------------------------------------


class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, invalid.")
    message: str
    errors: dict[str, list[str]] | None = _opt(
        description="Reasons per field (for invalid and validation_error)."
    )


class PageMeta(Schema):
    count: int = Field(description="How many objects match, over all pages.")
    next: str | None = Field(description="URL of the next page, null on the last.")
    previous: str | None = Field(description="URL of the previous page, null on the first.")


# --- accounts -------------------------------------------------------------------------


class AccountOut(Schema):
    id: int
    external_id: str | None
    name: str
    domain: str
    industry: str
    employees: int | None
    country: str
    lifecycle: LifecycleValue
    owner_email: str | None
    csm_email: str | None
    customer_since: dt.date | None
    arr: str = Field(description="Decimal string, in `currency`.")
    currency: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(a: Account) -> AccountOut:
        return AccountOut(
            id=a.pk,
            external_id=a.external_id,
            name=a.name,
            domain=a.domain,
            industry=a.industry,
            employees=a.employees,
            country=a.country,
            lifecycle=cast(LifecycleValue, a.lifecycle),
            owner_email=a.owner.email if a.owner else None,
            csm_email=a.csm.email if a.csm else None,
            customer_since=a.customer_since,
            arr=str(a.arr),
            currency=a.currency,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class AccountPatch(RequestBody):
    external_id: str | None = _nullable_text(100)
    name: str = _text(200, required=True)
    domain: str = _opt(max_length=253, pattern=DOMAIN_OR_EMPTY)
    industry: str = _text(100)
    employees: int | None = _opt(ge=0, le=2_000_000_000)
    country: str = _opt(pattern=COUNTRY, description="ISO 3166-1 alpha-2")
    lifecycle: LifecycleValue = _opt()
    owner_email: str | None = _owner_email()
    csm_email: str | None = _owner_email()
    customer_since: IsoDate | None = None
    arr: str = _opt(pattern=AMOUNT, description="Decimal string, e.g. 48000.00")
    currency: Currency = _opt()


class AccountIn(AccountPatch):
    name: str = Field(..., max_length=200, pattern=NOT_BLANK)
    owner_email: str | None = _opt(
        max_length=254,
        json_schema_extra={"format": "email"},
        description="E-mail of an active user; left out: the caller; null: no owner.",
    )


class AccountPage(PageMeta):
    items: list[AccountOut]


# --- contacts -------------------------------------------------------------------------


class ContactOut(Schema):
    id: int
    account_id: int
    external_id: str | None
    first_name: str
    last_name: str
    email: str
    title: str
    phone: str
    past_employers: list[str]
    opted_out: bool
    opted_out_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(c: Contact) -> ContactOut:
        return ContactOut(
            id=c.pk,
            account_id=c.account_id,
            external_id=c.external_id,
            first_name=c.first_name,
            last_name=c.last_name,
            email=c.email,
            title=c.title,
            phone=c.phone,
            past_employers=list(c.past_employers),
            opted_out=c.opted_out,
            opted_out_at=c.opted_out_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ContactPatch(RequestBody):
    external_id: str | None = _nullable_text(100)
    first_name: str = _text(100)
    last_name: str = _text(100)
    email: str = _opt(max_length=254, json_schema_extra={"format": "email"})
    title: str = _text(200)
    phone: str = _opt(pattern=PHONE, description="E.164, e.g. +14155550100")
    past_employers: list[Domain] = _opt(
        max_length=50,
        description="Company domains the contact worked at.",
    )


class ContactIn(ContactPatch):
    account_id: int = Field(..., ge=1, le=MAX_ID)
    email: str = Field(..., max_length=254, json_schema_extra={"format": "email"})


class ContactPage(PageMeta):
    items: list[ContactOut]


# --- stages and deals -----------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int = Field(description="Win probability in percent.")
    is_won: bool
    is_lost: bool

    @staticmethod
    def of(s: Stage) -> StageOut:
        return StageOut(
            id=s.pk,
            name=s.name,
            position=s.position,
            probability=s.probability,
            is_won=s.is_won,
            is_lost=s.is_lost,
        )


class DealOut(Schema):
    id: int
    account_id: int
    external_id: str | None
    name: str
    amount: str = Field(description="Decimal string, in `currency`.")
    currency: str
    stage_id: int
    stage: str
    kind: DealKindValue
    source: DealSourceValue
    owner_email: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    close_date: dt.date | None
    closed_at: dt.datetime | None

    @staticmethod
    def of(d: Deal) -> DealOut:
        return DealOut(
            id=d.pk,
            account_id=d.account_id,
            external_id=d.external_id,
            name=d.name,
            amount=str(d.amount),
            currency=d.currency,
            stage_id=d.stage_id,
            stage=d.stage.name,
            kind=cast(DealKindValue, d.kind),
            source=cast(DealSourceValue, d.source),
            owner_email=d.owner.email if d.owner else None,
            created_at=d.created_at,
            updated_at=d.updated_at,
            close_date=d.close_date,
            closed_at=d.closed_at,
        )


class DealPatch(RequestBody):
    external_id: str | None = _nullable_text(100)
    name: str = _text(200, required=True)
    amount: str = _opt(pattern=AMOUNT, description="Decimal string, e.g. 12000.00")
    currency: Currency = _opt()
    stage_id: int = _opt(ge=1, le=MAX_ID, description="Moving a deal records when.")
    kind: DealKindValue = _opt()
    source: DealSourceValue = _opt()
    owner_email: str | None = _owner_email()
    close_date: IsoDate | None = _opt(description="Expected close.")
    referred_by_contact_id: int = _opt(
        ge=1,
        le=MAX_ID,
        description="For a deal that becomes a referral: the customer contact who referred it "
        "(all its credit goes to them and their account). A referral keeps its credit here; "
        "a manager changes it with PUT /deals/{deal_id}/credits.",
    )
    referred_by_account_id: int = _opt(
        ge=1,
        le=MAX_ID,
        description="As referred_by_contact_id, when only the referring account is known.",
    )


class DealIn(DealPatch):
    account_id: int = Field(..., ge=1, le=MAX_ID)
    name: str = Field(..., max_length=200, pattern=NOT_BLANK)
    stage_id: int = _opt(ge=1, le=MAX_ID, description="Left out: the first stage of the pipeline.")
    owner_email: str | None = _opt(
        max_length=254,
        json_schema_extra={"format": "email"},
        description="E-mail of an active user; left out: the caller; null: no owner.",
    )


class DealPage(PageMeta):
    items: list[DealOut]


# --- tasks ----------------------------------------------------------------------------


class TaskOut(Schema):
    id: int
    kind: TaskKindValue
    subject: str
    owner_email: str
    account_id: int | None
    contact_id: int | None
    deal_id: int | None
    due_at: dt.datetime
    status: TaskStatusValue
    outcome: str
    notes: str
    created_at: dt.datetime
    completed_at: dt.datetime | None
    snoozed_until: dt.datetime | None = Field(description="The time it was last snoozed until.")
    reason: str = Field(description="Why an ask was closed as not appropriate.")

    @staticmethod
    def of(t: Task) -> TaskOut:
        return TaskOut(
            id=t.pk,
            kind=cast(TaskKindValue, t.kind),
            subject=t.subject,
            owner_email=t.owner.email,
            account_id=t.account_id,
            contact_id=t.contact_id,
            deal_id=t.deal_id,
            due_at=t.due_at,
            status=cast(TaskStatusValue, t.status),
            outcome=t.outcome,
            notes=t.notes,
            created_at=t.created_at,
            completed_at=t.completed_at,
            snoozed_until=t.snoozed_until,
            reason=t.reason,
        )


class TaskPatch(RequestBody):
    kind: TaskKindValue = _opt()
    subject: str = _text(200, required=True)
    owner_email: str = _opt(max_length=254, json_schema_extra={"format": "email"})
    due_at: IsoDateTime = _opt()
    status: TaskStatusValue = _opt()
    outcome: str = _text(200)
    notes: str = _text(10_000)


class TaskIn(TaskPatch):
    subject: str = Field(..., max_length=200, pattern=NOT_BLANK)
    owner_email: str = _opt(
        max_length=254,
        json_schema_extra={"format": "email"},
        description="E-mail of an active user; left out: the caller.",
    )
    due_at: IsoDateTime = _opt(description="Left out: now.")
    account_id: int | None = _opt(ge=1, le=MAX_ID)
    contact_id: int | None = _opt(ge=1, le=MAX_ID)
    deal_id: int | None = _opt(ge=1, le=MAX_ID)


class TaskSnoozeIn(RequestBody):
    until: IsoDateTime = Field(
        ..., description="When the task falls due again: after now, at most 365 days ahead."
    )


class TaskNotAppropriateIn(RequestBody):
    reason: str = Field(
        ..., max_length=300, pattern=NOT_BLANK, description="Why the ask is not appropriate."
    )


class TaskPage(PageMeta):
    items: list[TaskOut]
