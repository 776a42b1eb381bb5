"""The request and response bodies of the referral endpoints of /api/v1/ (referrals/api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from goodword.crm.schemas import MAX_ID, NO_NUL, NOT_BLANK, PageMeta, RequestBody, _opt
from goodword.referrals.models import (
    Consent,
    DealCredit,
    Introduction,
    IntroductionStep,
    Reward,
    RewardRule,
)

IntroStateValue = Literal[
    "advocate_agreed",
    "awaiting_consent",
    "accepted",
    "introduced",
    "opportunity",
    "declined",
    "expired",
    "withdrawn",
]
ChannelValue = Literal["meeting", "call", "email"]
OutcomeValue = Literal["agreed", "declined", "no_answer"]
ConsentValue = Literal["in_person", "email"]
TemplateKindValue = Literal["blurb", "email", "linkedin", "ask_email"]
RewardTriggerValue = Literal["accepted", "opportunity", "won"]
RewardKindValue = Literal["gift_card", "account_credit", "donation", "swag", "thank_you"]
RewardStatusValue = Literal["held", "pending", "approved", "rejected", "ineligible", "fulfilled"]
RewardActionValue = Literal["approve", "reject", "override", "fulfil"]

SHARE = r"^\s*\d{1,3}(\.\d{1,2})?\s*$"


def _text(max_length: int, *, required: bool = False, description: str = "") -> Any:
    pattern = NOT_BLANK if required else NO_NUL
    if required:
        return Field(..., max_length=max_length, pattern=pattern, description=description)
    return Field("", max_length=max_length, pattern=pattern, description=description)


def _id(description: str = "") -> Any:
    return Field(None, ge=1, le=MAX_ID, description=description)


# --- the person, asks ------------------------------------------------------------------------


class PersonIn(RequestBody):
    name: str = _text(200, description="Required where the person is named.")
    email: str = Field("", max_length=254, pattern=NO_NUL)
    company: str = _text(200)
    title: str = _text(200)


class PersonOut(Schema):
    name: str
    email: str
    company: str
    title: str


class AskMomentOut(Schema):
    id: int
    kind: str
    evidence: str
    occurred_at: dt.datetime


class AskContactOut(Schema):
    id: int
    email: str
    name: str
    may_ask: bool = Field(description="False while the ask budget or a gate holds them back.")
    blocked_because: str
    may_ask_from: dt.date | None = Field(description="When the block lifts by itself, if it does.")


class PeerOut(Schema):
    account_id: int
    contact_id: int | None
    name: str = Field(description="The person to ask for, or the company when none is known.")
    company: str
    kind: str = Field(description="The strongest reason: relationship, mention or lookalike.")
    reasons: list[str]


class DraftOut(Schema):
    kind: str
    label: str
    subject: str
    text: str


class AskOut(Schema):
    id: int
    status: str
    owner_email: str
    account_id: int | None
    contact_id: int | None
    moments: list[AskMomentOut] = Field(description="Why now: the peaks of value, newest first.")
    contacts: list[AskContactOut]
    peers: list[PeerOut] = Field(description="Whom to ask for, best first.")
    drafts: list[DraftOut]
    ask_email: DraftOut
    introduction_ids: list[int]


class AskRecordIn(RequestBody):
    channel: ChannelValue
    outcome: OutcomeValue
    contact_id: int = _id("The contact asked; left out: the ask's contact.")
    person: PersonIn | None = _opt(description="Whom they agreed to introduce, if said.")
    note: str = _text(300)
    email_link: bool = Field(
        True,
        description="On agreed: email the advocate their link (true) or return it (false).",
    )


class AskEmailIn(RequestBody):
    subject: str = _text(200, required=True)
    body: str = _text(10_000, required=True)
    contact_id: int = _id("The contact asked; left out: the ask's contact.")
    person: PersonIn | None = _opt()


class AskRecordedOut(Schema):
    ask_id: int
    introduction_id: int | None
    follow_up_task_id: int | None
    advocate_url: str | None = Field(
        description="The advocate's link, when the caller passes it on themselves (once)."
    )


# --- introductions ---------------------------------------------------------------------------


class IntroductionOut(Schema):
    id: int
    state: IntroStateValue
    label: str
    ask_id: int | None
    advocate_account_id: int
    advocate_contact_id: int | None
    owner_email: str | None
    person: PersonOut
    why: str
    channel: str
    flag: str = Field(description="Why no deal was created, for the owner to act on.")
    person_contact_id: int | None
    deal_id: int | None
    waiting_since: dt.datetime
    due_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def of(i: Introduction) -> IntroductionOut:
        return IntroductionOut(
            id=i.pk,
            state=i.state,  # type: ignore[arg-type]
            label=i.label,
            ask_id=i.ask_id,
            advocate_account_id=i.advocate_account_id,
            advocate_contact_id=i.advocate_id,
            owner_email=i.owner.email if i.owner else None,
            person=PersonOut(
                name=i.person_name,
                email=i.person_email,
                company=i.person_company,
                title=i.person_title,
            ),
            why=i.why,
            channel=i.channel,
            flag=i.flag,
            person_contact_id=i.person_contact_id,
            deal_id=i.deal_id,
            waiting_since=i.waiting_since,
            due_at=i.due_at,
            created_at=i.created_at,
            updated_at=i.updated_at,
            closed_at=i.closed_at,
        )


class StepOut(Schema):
    event: str
    from_state: str
    to_state: str
    by: str
    actor_email: str | None
    note: str
    at: dt.datetime

    @staticmethod
    def of(s: IntroductionStep) -> StepOut:
        return StepOut(
            event=s.event,
            from_state=s.from_state,
            to_state=s.to_state,
            by=s.by,
            actor_email=s.actor.email if s.actor else None,
            note=s.note,
            at=s.at,
        )


class ConsentOut(Schema):
    email: str
    decision: str
    purpose: str
    channel: str
    text_shown: str
    recorded_by_email: str | None
    at: dt.datetime

    @staticmethod
    def of(c: Consent) -> ConsentOut:
        return ConsentOut(
            email=c.email,
            decision=c.decision,
            purpose=c.purpose,
            channel=c.channel,
            text_shown=c.text_shown,
            recorded_by_email=c.recorded_by.email if c.recorded_by else None,
            at=c.at,
        )


class IntroductionDetailOut(IntroductionOut):
    steps: list[StepOut]
    consents: list[ConsentOut]


class IntroductionPage(PageMeta):
    items: list[IntroductionOut]


class WithdrawIn(RequestBody):
    note: str = _text(300)


class ReferralLogIn(RequestBody):
    advocate_contact_id: int = Field(..., ge=1, le=MAX_ID, description="The customer contact.")
    person: PersonIn
    consent: ConsentValue = Field(
        ...,
        description="in_person: they already agreed (introduced at once); "
        "email: Goodword asks them first, in the caller's name.",
    )
    notes: str = _text(2000)


# --- credit ----------------------------------------------------------------------------------


class CreditOut(Schema):
    advocate_account_id: int
    advocate_account: str
    advocate_contact_id: int | None
    advocate_email: str | None
    share: str = Field(description="Percent, a decimal string; a deal's shares sum to 100.")
    introduction_id: int | None

    @staticmethod
    def of(c: DealCredit) -> CreditOut:
        return CreditOut(
            advocate_account_id=c.advocate_account_id,
            advocate_account=c.advocate_account.name,
            advocate_contact_id=c.advocate_id,
            advocate_email=c.advocate.email if c.advocate else None,
            share=str(c.share),
            introduction_id=c.introduction_id,
        )


class CreditShareIn(RequestBody):
    advocate_account_id: int = Field(..., ge=1, le=MAX_ID)
    advocate_contact_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="A contact of that account; null: no one named."
    )
    share: str = Field(..., pattern=SHARE, description="Percent, at most two decimals.")


class CreditsIn(RequestBody):
    shares: list[CreditShareIn] = Field(..., min_length=1, max_length=20)
    reason: str = _text(300, required=True)


class CreditsOut(Schema):
    deal_id: int
    credits: list[CreditOut]


# --- rewards ---------------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    name: str
    trigger: RewardTriggerValue
    kind: RewardKindValue
    value: str
    currency: str
    hold_days: int
    active: bool
    created_at: dt.datetime

    @staticmethod
    def of(r: RewardRule) -> RuleOut:
        return RuleOut(
            id=r.pk,
            name=r.name,
            trigger=r.trigger,  # type: ignore[arg-type]
            kind=r.kind,  # type: ignore[arg-type]
            value=str(r.value),
            currency=r.currency,
            hold_days=r.hold_days,
            active=r.active,
            created_at=r.created_at,
        )


class RulePatch(RequestBody):
    name: str = _opt(max_length=100, pattern=NOT_BLANK)
    trigger: RewardTriggerValue = _opt()
    kind: RewardKindValue = _opt()
    value: str = _opt(pattern=r"^\d{1,10}(\.\d{1,2})?$", description="Decimal string.")
    currency: str = _opt(pattern=r"^[A-Z]{3}$")
    hold_days: int = _opt(ge=0, le=3650)


class RuleIn(RulePatch):
    name: str = Field(..., max_length=100, pattern=NOT_BLANK)
    trigger: RewardTriggerValue
    kind: RewardKindValue


class RulePage(PageMeta):
    items: list[RuleOut]


class RewardOut(Schema):
    id: int
    rule_id: int
    introduction_id: int
    deal_id: int | None
    advocate_account_id: int
    advocate_contact_id: int | None
    kind: RewardKindValue
    value: str
    currency: str
    status: RewardStatusValue
    ineligible_because: str
    available_at: dt.datetime = Field(description="When its hold ends.")
    decided_by_email: str | None
    decided_at: dt.datetime | None
    decision_note: str
    fulfilled_at: dt.datetime | None
    fulfilment_note: str
    created_at: dt.datetime

    @staticmethod
    def of(r: Reward) -> RewardOut:
        return RewardOut(
            id=r.pk,
            rule_id=r.rule_id,
            introduction_id=r.introduction_id,
            deal_id=r.deal_id,
            advocate_account_id=r.advocate_account_id,
            advocate_contact_id=r.advocate_id,
            kind=r.kind,  # type: ignore[arg-type]
            value=str(r.value),
            currency=r.currency,
            status=r.status,  # type: ignore[arg-type]
            ineligible_because=r.ineligible_because,
            available_at=r.available_at,
            decided_by_email=r.decided_by.email if r.decided_by else None,
            decided_at=r.decided_at,
            decision_note=r.decision_note,
            fulfilled_at=r.fulfilled_at,
            fulfilment_note=r.fulfilment_note,
            created_at=r.created_at,
        )


class RewardPage(PageMeta):
    items: list[RewardOut]


class DecisionIn(RequestBody):
    note: str = _text(300, description="Required to reject or override.")


class LedgerTotalOut(Schema):
    currency: str
    status: RewardStatusValue
    count: int
    value: str


class LedgerOut(Schema):
    account_id: int
    totals: list[LedgerTotalOut]
    rewards: list[RewardOut]


# --- templates -------------------------------------------------------------------------------


class TemplateOut(Schema):
    kind: TemplateKindValue
    label: str
    subject: str = Field(description="Empty for the kinds that are not emails.")
    body: str
    is_default: bool = Field(description="True while Goodword's own wording is in force.")
    updated_by_email: str | None
    updated_at: dt.datetime | None


class TemplateIn(RequestBody):
    subject: str = Field("", max_length=200, pattern=NO_NUL)
    body: str = Field(..., max_length=10_000, pattern=NO_NUL)


class RenderedOut(Schema):
    subject: str | None
    text: str | None


class PreviewOut(Schema):
    errors: dict[str, list[str]]
    sample: RenderedOut = Field(description="Filled in with made-up values.")
    bare: RenderedOut = Field(description="With every field missing: the fallbacks.")
