"""The handoffs endpoints of /api/v1/: the list, one handoff, filling it in, accepting it
(its CSM), assigning it (managers) and ticking its checklist. Thin like the CRM's: reach the
handoff through handoff_get_for (404 for whoever may not see it), call the service, render."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router

from goodword.crm.api import (
    ERRORS,
    ListQuery,
    _active_user,
    _api_field_names,
    _caller,
    _object_id,
    _page,
)
from goodword.crm.schemas import _opt
from goodword.handoffs import services
from goodword.handoffs.models import Handoff
from goodword.handoffs.schemas import (
    AcceptIn,
    AssignIn,
    ChecklistIn,
    ChecklistItemOut,
    GoalOut,
    HandoffDetailOut,
    HandoffOut,
    HandoffPage,
    HandoffPatch,
    StakeholderOut,
    StatusValue,
    ViewValue,
)
from goodword.handoffs.selectors import handoff_get_for, handoff_missing, handoffs_list, is_overdue

router = Router(tags=["handoffs"])


class HandoffQuery(ListQuery):
    view: ViewValue = _opt(description="mine, unassigned (open, no CSM) or overdue.")
    status: StatusValue = _opt()


def _detail(h: Handoff) -> HandoffDetailOut:
    now = timezone.now()
    return HandoffDetailOut(
        **HandoffOut.fields(h, is_overdue(h, now)),
        promised=h.promised,
        risks=h.risks,
        kickoff_on=h.kickoff_on,
        advocate_account_id=h.advocate_account_id,
        advocate_contact_id=h.advocate_id,
        thank_task_id=h.thank_task_id,
        welcome_sent_at=h.welcome_sent_at,
        goals=[GoalOut.of(g) for g in h.goals.all()],
        stakeholders=[StakeholderOut.of(s) for s in h.stakeholders.select_related("contact")],
        checklist=[ChecklistItemOut.of(c) for c in h.checklist.all()],
        missing=handoff_missing(h) if not h.is_accepted else {},
    )


@router.get("/handoffs", response={200: HandoffPage, **ERRORS})
def handoffs_get(request: HttpRequest, query: Query[HandoffQuery]) -> Any:
    """Handoffs the caller may see, open ones first, the soonest due first."""
    now = timezone.now()
    qs = handoffs_list(_caller(request), view=query.view or "", now=now)
    if query.status is not None:
        qs = qs.filter(status=query.status)
    return _page(
        request, qs, query, lambda h: HandoffOut(**HandoffOut.fields(h, is_overdue(h, now)))
    )


@router.get("/handoffs/{handoff_id}", response={200: HandoffDetailOut, **ERRORS})
def handoff_get(request: HttpRequest, handoff_id: int = _object_id()) -> Any:
    """One handoff with its goals, stakeholders, checklist and the required fields missing."""
    return _detail(handoff_get_for(user=_caller(request), handoff_id=handoff_id))


@router.patch("/handoffs/{handoff_id}", response={200: HandoffDetailOut, **ERRORS})
def handoff_patch(
    request: HttpRequest, payload: HandoffPatch, handoff_id: int = _object_id()
) -> Any:
    """Fill the handoff in (400 once it is accepted). Goals and stakeholders replace the
    whole list when given."""
    user = _caller(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    data = payload.model_dump(mode="json", exclude_unset=True)
    services.handoff_update(actor=user, handoff=handoff, data=data, now=timezone.now())
    return _detail(handoff_get_for(user=user, handoff_id=handoff_id))


@router.post("/handoffs/{handoff_id}/accept", response={200: HandoffDetailOut, **ERRORS})
def handoff_accept(request: HttpRequest, payload: AcceptIn, handoff_id: int = _object_id()) -> Any:
    """The handoff's CSM accepts it (403 for anyone else; 400 naming each required field
    missing). Its goals become goals the `goal` rule watches."""
    user = _caller(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    services.handoff_accept(
        actor=user, handoff=handoff, send_welcome=payload.send_welcome, now=timezone.now()
    )
    return _detail(handoff_get_for(user=user, handoff_id=handoff_id))


@router.post("/handoffs/{handoff_id}/assign", response={200: HandoffDetailOut, **ERRORS})
def handoff_assign(request: HttpRequest, payload: AssignIn, handoff_id: int = _object_id()) -> Any:
    """A manager (or admin) names the CSM who accepts an open handoff (403 for others)."""
    user = _caller(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    csm = _active_user("csm_email", payload.csm_email)
    with _api_field_names():
        services.handoff_assign(actor=user, handoff=handoff, csm=csm, now=timezone.now())
    return _detail(handoff_get_for(user=user, handoff_id=handoff_id))


@router.put(
    "/handoffs/{handoff_id}/checklist/{item_id}", response={200: HandoffDetailOut, **ERRORS}
)
def handoff_checklist(
    request: HttpRequest,
    payload: ChecklistIn,
    handoff_id: int = _object_id(),
    item_id: int = _object_id(),
) -> Any:
    """Tick or untick a checklist item, also on an accepted handoff."""
    user = _caller(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    services.handoff_checklist_set(
        actor=user, handoff=handoff, item_id=item_id, done=payload.done, now=timezone.now()
    )
    return _detail(handoff)
