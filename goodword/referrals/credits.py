"""The credit of referred deals: which advocates (contact and account) sent each one, and
in what shares. Every deal whose source is referral has at least one credit row and its
shares sum to exactly 100: the deal is credited in the transaction that makes it a referral
(deal_create / deal_update with `referred_by`, the introduction flow, the import), a manager
may redistribute the shares or take the deal out of the referrals, saying why, and every such
change is kept with its before and after (CreditChange)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from goodword.crm.models import Account, Contact, Deal, DealSource
from goodword.crm.services import activity_record
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.models import CreditChange, DealCredit, Introduction

if TYPE_CHECKING:
    from goodword.users.models import User

HUNDRED = Decimal("100")
CENT = Decimal("0.01")
REASON_MAX = 300
NOT_REFERRED = "only a deal whose source is Referral has credit"


def advocate_problem(account: Account, advocate: Contact | None, deal_account_id: int) -> str:
    """Why this advocate cannot be credited for a deal of `deal_account_id` ("" if it can)."""
    if advocate is not None and advocate.account_id != account.pk:
        return f"{advocate.email} is not a contact of {account.name}"
    if account.pk == deal_account_id:
        return f"{account.name} is the deal's own account and cannot be credited for it"
    return ""


@transaction.atomic
def credit_initial(
    *,
    deal: Deal,
    advocate_account: Account,
    now: dt.datetime,
    advocate: Contact | None = None,
    introduction: Introduction | None = None,
) -> DealCredit:
    """All of a referred deal's credit (100 %) to one advocate. Call it in the transaction
    that makes the deal a referral (deal_create and deal_update do, given `referred_by`).
    Raises Invalid when the deal is not a referral or is credited already, when the advocate
    is not a contact of advocate_account, or when that is the deal's own account."""
    problem = advocate_problem(advocate_account, advocate, deal.account_id)
    if problem:
        raise Invalid({"referred_by": [problem]})
    if deal.source != DealSource.REFERRAL:
        raise Invalid({"source": [NOT_REFERRED]})
    if DealCredit.objects.filter(deal=deal).exists():
        raise Invalid({"referred_by": ["the deal is credited already; a manager changes it"]})
    return DealCredit.objects.create(
        deal=deal,
        advocate_account=advocate_account,
        advocate=advocate,
        share=HUNDRED,
        introduction=introduction,
        created_at=now,
    )


# --- a manager's override -------------------------------------------------------------


@dataclass(frozen=True)
class CreditShare:
    """One row of an override: an advocate account, optionally one of its contacts, and the
    percent of the deal credited to them (a Decimal, or the text a form or CSV gave)."""

    advocate_account_id: int
    advocate_id: int | None
    share: Decimal | str


def parse_share(raw: Decimal | str) -> Decimal:
    """A share as a Decimal percent above 0 and at most 100, with at most two decimals;
    raises ValueError saying what is wrong."""
    try:
        value = Decimal(str(raw).strip().removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError(f"{str(raw)!r} is not a number") from None
    if not value.is_finite() or value <= 0 or value > HUNDRED:
        raise ValueError("must be more than 0 and at most 100")
    if value != value.quantize(CENT):
        raise ValueError("has more than two decimals")
    return value.quantize(CENT)


def _lookup(shares: list[CreditShare]) -> tuple[dict[int, Account], dict[int, Contact]]:
    """The rows' accounts and contacts in two queries."""
    accounts = Account.objects.in_bulk([s.advocate_account_id for s in shares])
    contacts = Contact.objects.in_bulk([s.advocate_id for s in shares if s.advocate_id])
    return accounts, contacts


def _row(
    deal: Deal, item: CreditShare, found: tuple[dict[int, Account], dict[int, Contact]]
) -> tuple[DealCredit | None, dict[str, str]]:
    """One override row checked on its own: the credit it makes, or its problems by field."""
    accounts, contacts = found
    problems: dict[str, str] = {}
    account = accounts.get(item.advocate_account_id)
    advocate = contacts.get(item.advocate_id) if item.advocate_id else None
    if account is None:
        problems["advocate_account"] = "there is no such account"
    elif item.advocate_id and advocate is None:
        problems["advocate"] = "there is no such contact"
    elif problem := advocate_problem(account, advocate, deal.account_id):
        problems["advocate"] = problem
    try:
        share = parse_share(item.share)
    except ValueError as bad:
        problems["share"] = str(bad)
    if problems or account is None:
        return None, problems
    return DealCredit(deal=deal, advocate_account=account, advocate=advocate, share=share), {}


def _checked_rows(deal: Deal, shares: list[CreditShare]) -> tuple[list[DealCredit], dict[str, Any]]:
    errors: dict[str, list[str]] = {}
    rows: list[DealCredit] = []
    seen: set[tuple[int, int | None]] = set()
    found = _lookup(shares)
    for i, item in enumerate(shares):
        row, problems = _row(deal, item, found)
        for field, reason in problems.items():
            errors[f"shares[{i}].{field}"] = [reason]
        if row is None:
            continue
        who = (row.advocate_account_id, row.advocate_id)
        if who in seen:
            errors[f"shares[{i}].advocate"] = ["is credited twice; give each advocate one row"]
        seen.add(who)
        rows.append(row)
    total = sum((r.share for r in rows), Decimal(0))
    if not errors and shares and total != HUNDRED:
        errors["shares"] = [f"the shares sum to {total} %, not 100 %"]
    return rows, errors


def _reason_errors(reason: str) -> dict[str, list[str]]:
    if not reason:
        return {"reason": ["say why the credit changes"]}
    if len(reason) > REASON_MAX:
        return {"reason": [f"is longer than {REASON_MAX} characters"]}
    return {}


def _check_manager(actor: User) -> None:
    if not (actor.is_manager or actor.is_admin_role):
        raise Forbidden("only managers and admins change the credit of a deal")


def _described(rows: QuerySet[DealCredit] | list[DealCredit]) -> list[dict[str, Any]]:
    """Credit rows as the audit keeps them: ids with names and e-mails, so the history still
    reads right after an account is renamed or a contact deleted."""
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


def _claim(deal: Deal, now: dt.datetime, **changes: Any) -> None:
    """Conditional update of the deal itself: it must still be a referral, and concurrent
    credit changes of one deal queue behind its row lock (a no-op on SQLite, whose writers
    are serialised anyway)."""
    still_referred = Deal.objects.filter(pk=deal.pk, source=DealSource.REFERRAL)
    claimed = still_referred.update(updated_at=now, **changes)
    if claimed != 1:
        raise Invalid({"deal": [NOT_REFERRED]})


def _audit(
    *, actor: User, deal: Deal, reason: str, before: list[Any], after: list[Any], now: dt.datetime
) -> None:
    CreditChange.objects.create(
        deal=deal, actor=actor, reason=reason, before=before, after=after, at=now
    )
    activity_record(
        actor=actor,
        account=deal.account,
        verb="deal.credit_changed",
        obj=deal,
        summary=f"Credit of {deal.name} changed: {reason}",
        before={"credits": before},
        after={"credits": after},
    )


@transaction.atomic
def credits_set(
    *, actor: User, deal: Deal, shares: list[CreditShare], reason: str, now: dt.datetime
) -> list[DealCredit]:
    """Replace a referred deal's credit (managers and admins only), saying why. Each row's
    share is above 0 with at most two decimals, the shares sum to exactly 100, each advocate
    has one row, each contact belongs to its account, and the deal's own account is never
    credited. A row that keeps an advocate keeps the introduction it came from.

    Raises Forbidden for other users, and Invalid naming each bad row ("shares[2].share");
    nothing changes when it raises."""
    _check_manager(actor)
    reason = reason.strip()
    errors = _reason_errors(reason)
    if deal.source != DealSource.REFERRAL:
        errors["deal"] = [NOT_REFERRED]
    if not shares:
        errors["shares"] = ["credit at least one advocate"]
    rows, row_errors = _checked_rows(deal, shares)
    if errors or row_errors:
        raise Invalid({**errors, **row_errors})
    _claim(deal, now)
    current = credits_for(deal)
    before = _described(current)
    links = {(c.advocate_account_id, c.advocate_id): c.introduction_id for c in current}
    current.delete()
    for row in rows:
        row.created_at = now
        row.introduction_id = links.get((row.advocate_account_id, row.advocate_id))
    try:
        with transaction.atomic():
            DealCredit.objects.bulk_create(rows)
    except IntegrityError:
        raise Invalid({"shares": ["the credit was changed meanwhile; reload"]}) from None
    after = _described(rows)
    _audit(actor=actor, deal=deal, reason=reason, before=before, after=after, now=now)
    return rows


@transaction.atomic
def credits_clear(*, actor: User, deal: Deal, source: str, reason: str, now: dt.datetime) -> Deal:
    """Take a deal out of the referrals (managers and admins only), saying why: its source
    becomes `source` and its credit rows are removed, in one step, so that no referral deal
    is ever without credit and no other deal keeps any. The rows removed are kept in the
    change history.

    Raises Forbidden for other users, and Invalid (nothing changed) without a reason, when
    the deal is not a referral, or when `source` is not another source."""
    _check_manager(actor)
    reason = reason.strip()
    errors = _reason_errors(reason)
    others = [s for s in DealSource.values if s != DealSource.REFERRAL]
    if source not in others:
        errors["source"] = [f"choose one of {', '.join(others)}"]
    if deal.source != DealSource.REFERRAL:
        errors["deal"] = [NOT_REFERRED]
    if errors:
        raise Invalid(errors)
    _claim(deal, now, source=source)
    current = credits_for(deal)
    before = _described(current)
    current.delete()
    deal.source, deal.updated_at = source, now
    _audit(actor=actor, deal=deal, reason=reason, before=before, after=[], now=now)
    return deal


# --- reads ----------------------------------------------------------------------------


def credits_for(deal: Deal) -> QuerySet[DealCredit]:
    """The deal's credit rows, largest share first, with who and where they came from."""
    return DealCredit.objects.filter(deal=deal).select_related(
        "advocate_account", "advocate", "introduction"
    )


def credit_history(deal: Deal) -> QuerySet[CreditChange]:
    """The deal's credit changes, newest first."""
    return CreditChange.objects.filter(deal=deal).select_related("actor")
