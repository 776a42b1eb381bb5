"""The success-moment endpoints of /api/v1/: an account's readiness (health, readiness, the
gates that hold it back, in words) and the moments of the accounts the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from goodword.crm.api import ERRORS, ListQuery, _caller, _object_id, _page
from goodword.crm.schemas import PageMeta
from goodword.crm.selectors import account_get_for
from goodword.moments import selectors
from goodword.moments.models import Moment

router = Router()


class ComponentOut(Schema):
    key: str
    label: str
    points: float
    max_points: float
    detail: str


class HealthOut(Schema):
    score: int = Field(description="0 to 100")
    components: list[ComponentOut]


class BlockOut(Schema):
    gate: str
    reason: str
    until: dt.date | None = Field(description="when the block lifts by itself, if it does")


class MomentOut(Schema):
    id: int
    account_id: int
    rule_id: str
    kind: str
    key: str
    occurred_at: dt.datetime
    evidence: str
    contact_id: int | None
    ask_id: int | None

    @staticmethod
    def of(m: Moment) -> MomentOut:
        return MomentOut(
            id=m.pk,
            account_id=m.account_id,
            rule_id=m.rule_id,
            kind=m.kind,
            key=m.key,
            occurred_at=m.occurred_at,
            evidence=m.evidence,
            contact_id=m.contact_id,
            ask_id=m.ask_id,
        )


class ReadinessOut(Schema):
    account_id: int
    readiness: float
    threshold: float
    due: bool = Field(description="readiness reached the threshold and every gate passes")
    reasons: list[str] = Field(description="why the account is not asked now, in words")
    blocks: list[BlockOut]
    health: HealthOut
    contact_id: int | None = Field(description="the contact an ask would name")
    moments: list[MomentOut] = Field(description="live moments, newest first (at most 50)")


class MomentPage(PageMeta):
    items: list[MomentOut]


class MomentQuery(ListQuery):
    account_id: int | None = Field(None, ge=1, le=2**63 - 1, description="Only this account's.")
    rule_id: str | None = Field(None, max_length=50, description="Only this rule's.")


@router.get(
    "/accounts/{account_id}/readiness", response={200: ReadinessOut, **ERRORS}, tags=["moments"]
)
def account_readiness(request: HttpRequest, account_id: int = _object_id()) -> ReadinessOut:
    """Whether the account would be asked for a referral now, and why not."""
    account = account_get_for(user=_caller(request), account_id=account_id)
    r = selectors.readiness_for(account=account, now=timezone.now())
    facts = r.verdict.facts
    return ReadinessOut(
        account_id=account.pk,
        readiness=round(facts.readiness, 3),
        threshold=r.verdict.threshold,
        due=r.verdict.due,
        reasons=r.verdict.reasons,
        blocks=[BlockOut(gate=b.gate, reason=b.reason, until=b.until) for b in r.verdict.blocks],
        health=HealthOut(
            score=facts.health.score,
            components=[
                ComponentOut(
                    key=c.key,
                    label=c.label,
                    points=c.points,
                    max_points=c.max_points,
                    detail=c.detail,
                )
                for c in facts.health.components
            ],
        ),
        contact_id=facts.contact.pk if facts.contact else None,
        moments=[MomentOut.of(m) for m in r.moments],
    )


@router.get("/moments", response={200: MomentPage, **ERRORS}, tags=["moments"])
def moments_list(request: HttpRequest, query: Query[MomentQuery]) -> dict[str, Any]:
    """Live moments of the accounts the caller may see, newest first."""
    qs = selectors.moments_visible_to(_caller(request)).filter(retracted_at__isnull=True)
    if query.account_id is not None:
        qs = qs.filter(account_id=query.account_id)
    if query.rule_id is not None:
        qs = qs.filter(rule_id=query.rule_id)
    return _page(request, qs.order_by("-occurred_at", "-id"), query, MomentOut.of)
