"""Reads of handoffs, and their access function.

Rule: admins and managers see every handoff; everyone else sees the handoffs of deals they
may see (crm's deal rule) and those they are the CSM of. Admins change every handoff;
others change those of deals they may change (a manager: their team's) and those they are
the CSM of. Who may accept or assign is the services' question (see services.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from goodword.crm.selectors import _sees_all, deals_editable_by, deals_visible_to
from goodword.handoffs.models import Handoff, HandoffSettings, HandoffStatus, StakeholderRole
from goodword.handoffs.rules import DEFAULT_CHECKLIST, DEFAULT_REQUIRED, REQUIRABLE
from goodword.lib.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from goodword.users.models import User

VIEWS = ("mine", "unassigned", "overdue")


def handoffs_visible_to(user: User) -> QuerySet[Handoff]:
    qs = Handoff.objects.all()
    if _sees_all(user):
        return qs
    return qs.filter(Q(deal_id__in=deals_visible_to(user).values("pk")) | Q(csm=user))


def handoffs_editable_by(user: User) -> QuerySet[Handoff]:
    qs = Handoff.objects.all()
    if user.is_admin_role:
        return qs
    return qs.filter(Q(deal_id__in=deals_editable_by(user).values("pk")) | Q(csm=user))


def handoff_get_for(*, user: User, handoff_id: int, write: bool = False) -> Handoff:
    """Raises NotFound if the handoff is missing or hidden, Forbidden if read-only to user."""
    found = (
        handoffs_visible_to(user)
        .select_related("deal__account", "deal__owner", "csm", "advocate", "advocate_account")
        .filter(pk=handoff_id)
        .first()
    )
    if found is None:
        raise NotFound("handoff")
    if write and not handoffs_editable_by(user).filter(pk=handoff_id).exists():
        raise Forbidden("you may see this handoff but not change it")
    return found


def overdue_rule(now: dt.datetime) -> Q:
    return Q(status=HandoffStatus.OPEN, accept_by__lte=now)


def handoffs_list(user: User, *, view: str = "", now: dt.datetime) -> QuerySet[Handoff]:
    """The handoffs `user` may see, narrowed to a view: mine (they fill or accept it),
    unassigned (open, no CSM) or overdue (open past its accept-by time); oldest due first."""
    qs = handoffs_visible_to(user).select_related("deal__account", "deal__owner", "csm")
    if view == "mine":
        qs = qs.filter(Q(csm=user) | Q(deal__owner=user))
    elif view == "unassigned":
        qs = qs.filter(status=HandoffStatus.OPEN, csm__isnull=True)
    elif view == "overdue":
        qs = qs.filter(overdue_rule(now))
    return qs.order_by("status", "accept_by", "id")


def is_overdue(handoff: Handoff, now: dt.datetime) -> bool:
    return handoff.status == HandoffStatus.OPEN and handoff.accept_by <= now


def settings_get() -> HandoffSettings:
    """The one settings row; until an admin saves it, the defaults (unsaved: a read writes
    nothing)."""
    row = HandoffSettings.objects.filter(pk=1).first()
    if row is None:
        row = HandoffSettings(pk=1, required=DEFAULT_REQUIRED, checklist=DEFAULT_CHECKLIST)
    return row


def settings_get_for(*, user: User) -> HandoffSettings:
    """For admins only; NotFound for everyone else (the page does not exist for them)."""
    if not user.is_admin_role:
        raise NotFound("handoff settings")
    return settings_get()


def _present(handoff: Handoff) -> dict[str, bool]:
    roles = set(handoff.stakeholders.values_list("role", flat=True))
    return {
        "goals": handoff.goals.exists(),
        "champion": StakeholderRole.CHAMPION in roles,
        "economic_buyer": StakeholderRole.ECONOMIC_BUYER in roles,
        "admin": StakeholderRole.ADMIN in roles,
        "promised": bool(handoff.promised.strip()),
        "risks": bool(handoff.risks.strip()),
        "kickoff_on": handoff.kickoff_on is not None,
    }


def handoff_missing(handoff: Handoff, required: list[str] | None = None) -> dict[str, list[str]]:
    """The required fields the handoff lacks, each with what it needs ({} when complete)."""
    wanted = settings_get().required if required is None else required
    present = _present(handoff)
    return {
        name: [f"is required: {REQUIRABLE[name]}"]
        for name in wanted
        if name in REQUIRABLE and not present[name]
    }


def handoff_rows(qs: Iterable[Handoff], now: dt.datetime) -> list[dict[str, Any]]:
    """The list's table (and its CSV): one dict per handoff."""
    return [
        {
            "handoff": h,
            "id": h.pk,
            "deal": h.deal.name,
            "account": h.deal.account.name,
            "owner": h.deal.owner.email if h.deal.owner else "",
            "csm": h.csm.email if h.csm else "",
            "status": h.status,
            "created_at": h.created_at,
            "accept_by": h.accept_by,
            "accepted_at": h.accepted_at,
            "overdue": is_overdue(h, now),
        }
        for h in qs
    ]
