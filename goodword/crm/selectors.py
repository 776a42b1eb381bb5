"""Reads, and the one access function per object type. Every view, endpoint and command
reaches CRM objects through these: they are the security boundary.

Rule: admins and managers see everything; reps and CSMs see accounts they own or are the CSM
of, and what hangs off those accounts, plus deals and tasks they own themselves. Admins edit
everything; managers edit what belongs to a member of their team; reps and CSMs edit what
they see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.models import Count, Q, QuerySet, Sum

from goodword.crm.models import (
    Account,
    Activity,
    Contact,
    Deal,
    DealTotal,
    ImportRun,
    Stage,
    Task,
)
from goodword.lib.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from goodword.users.models import User


def _sees_all(user: User) -> bool:
    return user.is_admin_role or user.is_manager


def _team_ids(user: User) -> list[int]:
    """The users whose records a manager may edit: their team, or only themselves."""
    from goodword.users.models import User as UserModel

    if user.team_id is None:
        return [user.pk]
    return list(UserModel.objects.filter(team_id=user.team_id).values_list("pk", flat=True))


def _account_rule(user: User, prefix: str = "") -> Q:
    return Q(**{f"{prefix}owner": user}) | Q(**{f"{prefix}csm": user})


def _account_team_rule(members: list[int], prefix: str = "") -> Q:
    return Q(**{f"{prefix}owner_id__in": members}) | Q(**{f"{prefix}csm_id__in": members})


# Up to this many of a user's accounts are written into a query as a list of ids.
INLINE_IDS = 2000


def _own_account_ids(user: User) -> QuerySet[Account, Any]:
    return Account.objects.filter(_account_rule(user)).values("pk")


# --- accounts -------------------------------------------------------------------------


def accounts_visible_to(user: User) -> QuerySet[Account]:
    qs = Account.objects.all()
    return qs if _sees_all(user) else qs.filter(_account_rule(user))


def accounts_editable_by(user: User) -> QuerySet[Account]:
    if user.is_admin_role:
        return Account.objects.all()
    if user.is_manager:
        return Account.objects.filter(_account_team_rule(_team_ids(user)))
    return accounts_visible_to(user)


def account_get_for(*, user: User, account_id: int, write: bool = False) -> Account:
    """Raises NotFound if the account is missing or hidden, Forbidden if read-only to user."""
    return _get(accounts_visible_to(user), accounts_editable_by(user), account_id, write)


# --- contacts -------------------------------------------------------------------------


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    qs = Contact.objects.all()
    return qs if _sees_all(user) else qs.filter(_account_rule(user, "account__"))


def contacts_editable_by(user: User) -> QuerySet[Contact]:
    if user.is_admin_role:
        return Contact.objects.all()
    if user.is_manager:
        return Contact.objects.filter(_account_team_rule(_team_ids(user), "account__"))
    return contacts_visible_to(user)


def contact_get_for(*, user: User, contact_id: int, write: bool = False) -> Contact:
    return _get(contacts_visible_to(user), contacts_editable_by(user), contact_id, write)


# --- deals ----------------------------------------------------------------------------


def deals_visible_to(user: User) -> QuerySet[Deal]:
    """The rule as a UNION of two indexed lookups (own deals; deals of the user's accounts):
    an OR across the deal and its account's columns made PostgreSQL scan every deal."""
    qs = Deal.objects.all()
    if _sees_all(user):
        return qs
    account_ids = list(_own_account_ids(user).values_list("pk", flat=True)[: INLINE_IDS + 1])
    if len(account_ids) <= INLINE_IDS:
        # A literal list lets PostgreSQL OR two index scans (owner; account) into one bitmap,
        # where a subquery made it hash every deal in the filtered stages.
        return qs.filter(Q(owner=user) | Q(account_id__in=account_ids))
    own = Deal.objects.filter(owner=user).values("pk")
    of_accounts = Deal.objects.filter(account_id__in=_own_account_ids(user)).values("pk")
    return qs.filter(pk__in=own.union(of_accounts))


def deals_editable_by(user: User) -> QuerySet[Deal]:
    if user.is_admin_role:
        return Deal.objects.all()
    if user.is_manager:
        members = _team_ids(user)
        return Deal.objects.filter(
            Q(owner_id__in=members) | _account_team_rule(members, "account__")
        )
    return deals_visible_to(user)


def deal_get_for(*, user: User, deal_id: int, write: bool = False) -> Deal:
    return _get(deals_visible_to(user), deals_editable_by(user), deal_id, write)


def deals_on_board(
    user: User, *, owner: User | None = None, source: str = "", kind: str = ""
) -> QuerySet[Deal]:
    """The deals a board shows to `user`, narrowed by the board's filters."""
    return deals_visible_to(user).filter(**_given(owner=owner, source=source, kind=kind))


def _given(**filters: Any) -> dict[str, Any]:
    """The filters that were given a value (an empty one means "any")."""
    return {name: value for name, value in filters.items() if value}


class BoardTotal(NamedTuple):
    stage_id: int
    currency: str
    deals: int
    amount: Decimal


def deal_board_totals(
    user: User,
    *,
    stages: list[Stage],
    since: dt.datetime,
    owner: User | None = None,
    source: str = "",
    kind: str = "",
) -> list[BoardTotal]:
    """Per stage and currency, the number and total amount of the deals on `user`'s board:
    every deal of an open stage, and those of a closed stage closed since `since` (a UTC
    midnight). Amounts in different currencies are never added together.

    A board of every deal (a manager's or an admin's, unfiltered or by source and kind) is
    summed from the trigger-kept DealTotal rows, whose size does not grow with the deals;
    other boards are narrow and are aggregated from their deals."""
    if since != dt.datetime.combine(since.date(), dt.time(), tzinfo=dt.UTC):
        raise ValueError("board totals are kept per UTC day: since must be a UTC midnight")
    open_ids = [s.pk for s in stages if not s.is_closed]
    closed_ids = [s.pk for s in stages if s.is_closed]
    if _sees_all(user) and owner is None:
        kept = DealTotal.objects.filter(
            Q(stage_id__in=open_ids) | Q(stage_id__in=closed_ids, closed_on__gte=since.date())
        )
        kept = kept.filter(**_given(source=source, kind=kind))
        rows: Iterable[Mapping[str, Any]] = kept.values("stage_id", "currency").annotate(
            n=Sum("deals"), total=Sum("amount")
        )
    else:
        deals = deals_on_board(user, owner=owner, source=source, kind=kind)
        parts = (
            deals.filter(stage_id__in=open_ids),
            deals.filter(stage_id__in=closed_ids, closed_at__gte=since),
        )
        rows = [
            row
            for part in parts
            for row in part.values("stage_id", "currency").annotate(
                n=Count("*"), total=Sum("amount")
            )
        ]
    totals = [
        BoardTotal(row["stage_id"], row["currency"], row["n"], row["total"] or Decimal(0))
        for row in rows
        if row["n"]
    ]
    return sorted(totals, key=lambda t: (t.stage_id, t.currency))


# --- tasks ----------------------------------------------------------------------------


def tasks_visible_to(user: User) -> QuerySet[Task]:
    qs = Task.objects.all()
    if _sees_all(user):
        return qs
    return qs.filter(Q(owner=user) | _account_rule(user, "account__"))


def tasks_editable_by(user: User) -> QuerySet[Task]:
    if user.is_admin_role:
        return Task.objects.all()
    if user.is_manager:
        members = _team_ids(user)
        return Task.objects.filter(
            Q(owner_id__in=members) | _account_team_rule(members, "account__")
        )
    return tasks_visible_to(user)


def task_get_for(*, user: User, task_id: int, write: bool = False) -> Task:
    return _get(tasks_visible_to(user), tasks_editable_by(user), task_id, write)


# --- stages and activity --------------------------------------------------------------


def stages_list() -> QuerySet[Stage]:
    return Stage.objects.order_by("position", "id")


def stage_get_for(*, user: User, stage_id: int, write: bool = False) -> Stage:
    """Everyone sees the stages; only admins change them."""
    stage = Stage.objects.filter(pk=stage_id).first()
    if stage is None:
        raise NotFound("stage")
    if write and not user.is_admin_role:
        raise Forbidden("only admins edit pipeline stages")
    return stage


def activities_for_account(account: Account, limit: int = 100) -> QuerySet[Activity]:
    return account.activities.select_related("actor").order_by("-at", "-id")[:limit]


def _get[M: (Account, Contact, Deal, Task)](
    visible: QuerySet[M], editable: QuerySet[M], pk: int, write: bool
) -> M:
    obj = visible.filter(pk=pk).first()
    if obj is None:
        raise NotFound(visible.model._meta.verbose_name)
    if write and not editable.filter(pk=pk).exists():
        raise Forbidden(f"you may see this {visible.model._meta.verbose_name} but not change it")
    return obj


# --- import runs ----------------------------------------------------------------------


def importrun_get_for(*, user: User, run_id: int) -> ImportRun:
    """An import run, for admins (who alone may import). Raises NotFound otherwise."""
    run = ImportRun.objects.filter(pk=run_id).first() if user.is_admin_role else None
    if run is None:
        raise NotFound("import run")
    return run
