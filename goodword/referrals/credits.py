"""The credit of referred deals: which advocates (contact and account) sent each one, and
in what shares. A referred deal's shares sum to 100; a manager may change them, saying why,
and every change is kept with its before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from goodword.crm.models import Account, Contact, Deal, DealSource
from goodword.crm.services import activity_record
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.models import CreditChange, DealCredit, Introduction

if TYPE_CHECKING:
    from goodword.users.models import User

HUNDRED = Decimal("100")


def credit_initial(
    *,
    deal: Deal,
    advocate_account: Account,
    now: dt.datetime,
    advocate: Contact | None = None,
    introduction: Introduction | None = None,
) -> DealCredit:
    """All of a new referred deal's credit to one advocate. Call inside the transaction
    that creates the deal. Raises Invalid when the advocate is not at advocate_account or
    the advocate account is the deal's own."""
    errors = _advocate_errors("advocate", advocate_account, advocate, deal)
    if errors:
        raise Invalid(errors)
    return DealCredit.objects.create(
        deal=deal,
        advocate_account=advocate_account,
        advocate=advocate,
        share=HUNDRED,
        introduction=introduction,
        created_at=now,
    )


def _advocate_errors(
    field: str, account: Account, advocate: Contact | None, deal: Deal
) -> dict[str, list[str]]:
    if advocate is not None and advocate.account_id != account.pk:
        return {field: [f"{advocate} is not a contact of {account.name}"]}
    if account.pk == deal.account_id:
        return {field: ["an account cannot be credited for its own deal"]}
    return {}


@dataclass(frozen=True)
class CreditShare:
    advocate_account_id: int
    advocate_id: int | None
    share: Decimal | str


def _share(raw: Decimal | str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite() or value <= 0 or value > HUNDRED:
        raise ValueError("must be more than 0 and at most 100")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimals")
    return value


def _rows(deal: Deal, shares: list[CreditShare]) -> tuple[list[DealCredit], dict[str, list[str]]]:
    rows: list[DealCredit] = []
    errors: dict[str, list[str]] = {}
    seen: set[tuple[int, int | None]] = set()
    for i, item in enumerate(shares):
        where = f"shares[{i}]"
        account = Account.objects.filter(pk=item.advocate_account_id).first()
        advocate = Contact.objects.filter(pk=item.advocate_id).first() if item.advocate_id else None
        if account is None or (item.advocate_id and advocate is None):
            errors[where] = ["no such account or contact"]
            continue
        errors.update(_advocate_errors(where, account, advocate, deal))
        who = (account.pk, advocate.pk if advocate else None)
        if who in seen:
            errors.setdefault(where, []).append("this advocate is credited twice")
        seen.add(who)
        try:
            share = _share(item.share)
        except ValueError as bad:
            errors.setdefault(f"{where}.share", []).append(str(bad))
            continue
        rows.append(DealCredit(deal=deal, advocate_account=account, advocate=advocate, share=share))
    return rows, errors


def _described(rows: QuerySet[DealCredit] | list[DealCredit]) -> list[dict[str, Any]]:
    return [
        {
            "advocate_account_id": r.advocate_account_id,
            "advocate_account": r.advocate_account.name,
            "advocate_id": r.advocate_id,
            "advocate": r.advocate.email if r.advocate else None,
            "share": str(r.share),
        }
        for r in rows
    ]


@transaction.atomic
def credits_set(
    *, actor: User, deal: Deal, shares: list[CreditShare], reason: str, now: dt.datetime
) -> list[DealCredit]:
    """Replace a referred deal's credit (managers and admins only), saying why; the shares
    must each be above 0 with at most two decimals and sum to exactly 100, each advocate
    once, each contact at its account, never the deal's own account. Raises Forbidden for
    other users and Invalid naming each bad row; nothing changes when it raises."""
    if not (actor.is_manager or actor.is_admin_role):
        raise Forbidden("only managers and admins change the credit of a deal")
    errors: dict[str, list[str]] = {}
    reason = reason.strip()
    if not reason:
        errors["reason"] = ["say why the credit changes"]
    elif len(reason) > 300:
        errors["reason"] = ["is longer than 300 characters"]
    if deal.source != DealSource.REFERRAL:
        errors["deal"] = ["only a referred deal has credit"]
    if not shares:
        errors["shares"] = ["at least one advocate must be credited"]
    rows, row_errors = _rows(deal, shares)
    errors.update(row_errors)
    total = sum((r.share for r in rows), Decimal(0))
    if not row_errors and shares and total != HUNDRED:
        errors["shares"] = [f"the shares sum to {total}, not 100"]
    if errors:
        raise Invalid(errors)
    current = DealCredit.objects.filter(deal=deal).select_related("advocate_account", "advocate")
    before = _described(current)
    links = {(c.advocate_account_id, c.advocate_id): c.introduction_id for c in current}
    current.delete()
    for row in rows:
        row.created_at = now
        row.introduction_id = links.get((row.advocate_account_id, row.advocate_id))
    DealCredit.objects.bulk_create(rows)
    after = _described(rows)
    CreditChange.objects.create(
        deal=deal, actor=actor, reason=reason, before=before, after=after, at=now
    )
    activity_record(
        actor=actor,
        account=deal.account,
        verb="deal.credit_changed",
        obj=deal,
        summary=f"Credit of {deal.name} changed: {reason}"[:300],
        before={"credits": before},
        after={"credits": after},
    )
    return rows


def credits_for(deal: Deal) -> QuerySet[DealCredit]:
    return DealCredit.objects.filter(deal=deal).select_related(
        "advocate_account", "advocate", "introduction"
    )


def credit_history(deal: Deal) -> QuerySet[CreditChange]:
    return CreditChange.objects.filter(deal=deal).select_related("actor")
