"""The request and response bodies of the handoff endpoints of /api/v1/ (handoffs/api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, cast

from ninja import Field, Schema

from goodword.crm.schemas import MAX_ID, NO_NUL, NOT_BLANK, IsoDate, PageMeta, RequestBody, _opt
from goodword.handoffs.models import ChecklistItem, Handoff, HandoffGoal, Stakeholder

StatusValue = Literal["open", "accepted"]
RoleValue = Literal["champion", "economic_buyer", "admin", "user"]
ViewValue = Literal["mine", "unassigned", "overdue"]
TARGET = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
MEASURE = r"^(count|sum:[A-Za-z_][A-Za-z0-9_.]{0,199})$"


# --- in ------------------------------------------------------------------------------------


class GoalIn(RequestBody):
    name: str = Field(..., max_length=200, pattern=NOT_BLANK)
    event: str = Field(..., max_length=200, pattern=NOT_BLANK, description="The usage event.")
    measure: str = Field(
        "count", max_length=210, pattern=MEASURE, description="count, or sum:<property>."
    )
    target: str = Field(..., pattern=TARGET, description="Decimal string above 0.")
    due_on: IsoDate | None = None


class StakeholderIn(RequestBody):
    contact_id: int = Field(..., ge=1, le=MAX_ID, description="A contact of the deal's account.")
    role: RoleValue


class HandoffPatch(RequestBody):
    promised: str = _opt(max_length=10_000, pattern=NO_NUL, description="What was promised.")
    risks: str = _opt(max_length=10_000, pattern=NO_NUL)
    kickoff_on: IsoDate | None = None
    goals: list[GoalIn] = _opt(description="The whole list: it replaces the goals.")
    stakeholders: list[StakeholderIn] = _opt(
        description="The whole list: it replaces the stakeholders. One champion at most."
    )


class AcceptIn(RequestBody):
    send_welcome: bool = Field(
        False, description="Email the champion a welcome from the CSM (through the outbox)."
    )


class AssignIn(RequestBody):
    csm_email: str | None = Field(
        ...,
        max_length=254,
        json_schema_extra={"format": "email"},
        description="An active CSM, manager or admin; null: unassigned.",
    )


class ChecklistIn(RequestBody):
    done: bool


# --- out -----------------------------------------------------------------------------------


class GoalOut(Schema):
    id: int
    name: str
    event: str
    measure: str
    target: str = Field(description="Decimal string.")
    due_on: dt.date | None
    signals_goal_id: int | None = Field(
        description="The goal the `goal` rule watches, once accepted."
    )

    @staticmethod
    def of(g: HandoffGoal) -> GoalOut:
        return GoalOut(
            id=g.pk,
            name=g.name,
            event=g.event,
            measure=g.measure,
            target=format(g.target.normalize(), "f"),
            due_on=g.due_on,
            signals_goal_id=g.goal_id,
        )


class StakeholderOut(Schema):
    contact_id: int
    email: str
    name: str
    role: RoleValue

    @staticmethod
    def of(s: Stakeholder) -> StakeholderOut:
        return StakeholderOut(
            contact_id=s.contact_id,
            email=s.contact.email,
            name=s.contact.full_name,
            role=cast(RoleValue, s.role),
        )


class ChecklistItemOut(Schema):
    id: int
    label: str
    done: bool
    done_at: dt.datetime | None

    @staticmethod
    def of(c: ChecklistItem) -> ChecklistItemOut:
        return ChecklistItemOut(id=c.pk, label=c.label, done=c.done, done_at=c.done_at)


class HandoffOut(Schema):
    id: int
    deal_id: int
    deal_name: str
    account_id: int
    account_name: str
    owner_email: str | None = Field(description="The deal's owner, who fills the handoff in.")
    csm_email: str | None = Field(description="Who accepts it; null: waiting to be assigned.")
    status: StatusValue
    created_at: dt.datetime
    accept_by: dt.datetime = Field(description="5 business days after it was created.")
    accepted_at: dt.datetime | None
    overdue: bool

    @staticmethod
    def fields(h: Handoff, overdue: bool) -> dict[str, Any]:
        return {
            "id": h.pk,
            "deal_id": h.deal_id,
            "deal_name": h.deal.name,
            "account_id": h.deal.account_id,
            "account_name": h.deal.account.name,
            "owner_email": h.deal.owner.email if h.deal.owner else None,
            "csm_email": h.csm.email if h.csm else None,
            "status": h.status,
            "created_at": h.created_at,
            "accept_by": h.accept_by,
            "accepted_at": h.accepted_at,
            "overdue": overdue,
        }


class HandoffDetailOut(HandoffOut):
    promised: str
    risks: str
    kickoff_on: dt.date | None
    advocate_account_id: int | None = Field(description="Who referred the deal, if anyone.")
    advocate_contact_id: int | None
    thank_task_id: int | None = Field(description="The deal owner's task to thank them.")
    welcome_sent_at: dt.datetime | None
    goals: list[GoalOut]
    stakeholders: list[StakeholderOut]
    checklist: list[ChecklistItemOut]
    missing: dict[str, list[str]] = Field(
        description="Required fields (as admins chose) still missing: accepting is refused."
    )


class HandoffPage(PageMeta):
    items: list[HandoffOut]
