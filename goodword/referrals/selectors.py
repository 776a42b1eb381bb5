"""Reads, and the access function per object type of the referrals app.

Rule (as for the CRM): admins and managers see every introduction; reps and CSMs see the
introductions they own and those made by an account they own or are the CSM of. Admins
change everything; managers change what a member of their team owns; reps and CSMs change
what they see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from goodword.crm.selectors import _account_rule, _sees_all, _team_ids
from goodword.lib.errors import Forbidden, NotFound
from goodword.referrals.models import Introduction

if TYPE_CHECKING:
    from goodword.users.models import User


def introductions_visible_to(user: User) -> QuerySet[Introduction]:
    qs = Introduction.objects.all()
    if _sees_all(user):
        return qs
    return qs.filter(Q(owner=user) | _account_rule(user, "advocate_account__"))


def introductions_editable_by(user: User) -> QuerySet[Introduction]:
    if user.is_admin_role:
        return Introduction.objects.all()
    if user.is_manager:
        members = _team_ids(user)
        return Introduction.objects.filter(
            Q(owner_id__in=members)
            | Q(advocate_account__owner_id__in=members)
            | Q(advocate_account__csm_id__in=members)
        )
    return introductions_visible_to(user)


def introduction_get_for(*, user: User, introduction_id: int, write: bool = False) -> Introduction:
    """Raises NotFound if the introduction is missing or hidden, Forbidden if read-only."""
    visible = introductions_visible_to(user).select_related(
        "advocate", "advocate_account", "owner", "ask", "deal", "person_contact"
    )
    intro = visible.filter(pk=introduction_id).first()
    if intro is None:
        raise NotFound("introduction")
    if write and not introductions_editable_by(user).filter(pk=introduction_id).exists():
        raise Forbidden("you may see this introduction but not change it")
    return intro
