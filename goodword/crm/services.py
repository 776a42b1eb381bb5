"""Every write to the customer records. Each function runs in one transaction, records an
Activity row for the account's timeline, and raises `Invalid` (nothing written) on bad input.
Access is checked before these are called, through the selectors' access functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from goodword.crm.cleaning import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    DEAL_FIELDS,
    TASK_FIELDS,
    clean_fields,
    text,
)
from goodword.crm.models import (
    NOT_APPROPRIATE,
    Account,
    Activity,
    Contact,
    Deal,
    DealSource,
    DealStageChange,
    Lifecycle,
    Stage,
    Task,
    TaskKind,
    TaskStatus,
)
from goodword.lib.errors import Invalid

if TYPE_CHECKING:
    from goodword.referrals.models import Introduction
    from goodword.users.models import User


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {f: _jsonable(getattr(obj, f)) for f in fields}


def activity_record(
    *,
    actor: User | None,
    account: Account,
    verb: str,
    obj: Any,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> Activity:
    return Activity.objects.create(
        account=account,
        actor=actor,
        verb=verb,
        object_type=type(obj).__name__.lower(),
        object_id=obj.pk,
        summary=summary[:300],
        before=before or {},
        after=after or {},
        at=timezone.now(),
    )


def _changes(obj: Any, cleaned: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    before, after = {}, {}
    for field, value in cleaned.items():
        old = getattr(obj, field)
        if old != value:
            before[field] = _jsonable(old)
            after[field] = _jsonable(value)
    return before, after


def _save_unique(obj: Any, message: dict[str, list[str]]) -> None:
    """Save inside a savepoint; a unique-constraint race becomes Invalid, not a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise Invalid(message) from None


def _check_user(field: str, user: User | None) -> None:
    if user is not None and not user.is_active:
        raise Invalid({field: [f"{user.email} is not an active user"]})


# --- accounts -------------------------------------------------------------------------


@transaction.atomic
def account_create(
    *, actor: User | None, data: dict[str, Any], owner: User | None = None, csm: User | None = None
) -> Account:
    """Raises Invalid on a bad field or an external_id already in use."""
    cleaned = clean_fields(ACCOUNT_FIELDS, data)
    _check_user("owner", owner)
    _check_user("csm", csm)
    now = timezone.now()
    if cleaned.get("lifecycle") == Lifecycle.CUSTOMER and not cleaned.get("customer_since"):
        cleaned["customer_since"] = now.date()
    account = Account(**cleaned, owner=owner, csm=csm, created_at=now, updated_at=now)
    _save_unique(account, {"external_id": ["is already used by another account"]})
    activity_record(
        actor=actor,
        account=account,
        verb="account.created",
        obj=account,
        summary=f"Account {account.name} created",
        after=_snapshot(account, [*cleaned, "owner", "csm"]),
    )
    return account


_UNSET: Any = object()


@transaction.atomic
def account_update(
    *,
    actor: User | None,
    account: Account,
    data: dict[str, Any],
    owner: User | None = _UNSET,
    csm: User | None = _UNSET,
) -> Account:
    """Change the given fields only. Raises Invalid on a bad field."""
    cleaned = clean_fields(ACCOUNT_FIELDS, data, partial=True)
    if owner is not _UNSET:
        _check_user("owner", owner)
        cleaned["owner"] = owner
    if csm is not _UNSET:
        _check_user("csm", csm)
        cleaned["csm"] = csm
    if cleaned.get("lifecycle") == Lifecycle.CUSTOMER and not (
        cleaned.get("customer_since") or account.customer_since
    ):
        cleaned["customer_since"] = timezone.now().date()
    before, after = _changes(account, cleaned)
    if not after:
        return account
    for field, value in cleaned.items():
        setattr(account, field, value)
    account.updated_at = timezone.now()
    _save_unique(account, {"external_id": ["is already used by another account"]})
    activity_record(
        actor=actor,
        account=account,
        verb="account.updated",
        obj=account,
        summary=f"Account changed: {', '.join(after)}",
        before=before,
        after=after,
    )
    return account


# --- contacts -------------------------------------------------------------------------

_CONTACT_DUPLICATE = {
    "email": ["another contact at this account has this e-mail address"],
    "external_id": ["or the external_id is already used by another contact"],
}


@transaction.atomic
def contact_create(*, actor: User | None, account: Account, data: dict[str, Any]) -> Contact:
    """Raises Invalid on a bad field, a duplicate e-mail at the account or external_id."""
    cleaned = clean_fields(CONTACT_FIELDS, data)
    now = timezone.now()
    contact = Contact(account=account, **cleaned, created_at=now, updated_at=now)
    _save_unique(contact, _CONTACT_DUPLICATE)
    activity_record(
        actor=actor,
        account=account,
        verb="contact.created",
        obj=contact,
        summary=f"Contact {contact} added",
        after=_snapshot(contact, list(cleaned)),
    )
    return contact


@transaction.atomic
def contact_update(*, actor: User | None, contact: Contact, data: dict[str, Any]) -> Contact:
    cleaned = clean_fields(CONTACT_FIELDS, data, partial=True)
    before, after = _changes(contact, cleaned)
    if not after:
        return contact
    for field, value in cleaned.items():
        setattr(contact, field, value)
    contact.updated_at = timezone.now()
    _save_unique(contact, _CONTACT_DUPLICATE)
    activity_record(
        actor=actor,
        account=contact.account,
        verb="contact.updated",
        obj=contact,
        summary=f"Contact {contact} changed: {', '.join(after)}",
        before=before,
        after=after,
    )
    return contact


@transaction.atomic
def contact_opt_out(*, actor: User | None, contact: Contact, how: str) -> Contact:
    """Record that the contact asked not to be asked for referrals (idempotent)."""
    if contact.opted_out_at is not None:
        return contact
    contact.opted_out_at = timezone.now()
    contact.opted_out_how = how[:200]
    contact.save(update_fields=["opted_out_at", "opted_out_how"])
    activity_record(
        actor=actor,
        account=contact.account,
        verb="contact.opted_out",
        obj=contact,
        summary=f"{contact} opted out of referral asks ({how})",
        after={"opted_out_how": how},
    )
    return contact


# --- stages ---------------------------------------------------------------------------


@transaction.atomic
def stage_update(*, actor: User, stage: Stage, data: dict[str, Any]) -> Stage:
    """Change a stage's name, position, probability or won/lost flags (admins only)."""
    errors: dict[str, list[str]] = {}
    fields = {"name", "position", "probability", "is_won", "is_lost"}
    for field in set(data) - fields:
        errors.setdefault("__all__", []).append(f"unknown field {field}")
    if "probability" in data:
        p = data["probability"]
        if not isinstance(p, int) or not 0 <= p <= 100:
            errors["probability"] = ["must be a whole number from 0 to 100"]
    if data.get("is_won", stage.is_won) and data.get("is_lost", stage.is_lost):
        errors["is_won"] = ["a stage cannot be both won and lost"]
    if "name" in data and not str(data["name"]).strip():
        errors["name"] = ["is required"]
    if errors:
        raise Invalid(errors)
    for field, value in data.items():
        setattr(stage, field, value)
    _save_unique(stage, {"name": ["another stage has this name"]})
    return stage


# --- deals ----------------------------------------------------------------------------

# One statement, so the rows it sums are exactly the rows it deletes: a delta committed by
# another transaction meanwhile is neither summed nor deleted, and two compactions running
# at once never count a row twice (the second skips rows the first deleted).
_COMPACT_POSTGRES = """
WITH repeated AS (
    SELECT stage_id, currency, source, kind, coalesce(closed_on, '-infinity') AS day
    FROM crm_dealtotal GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1
), folded AS (
    DELETE FROM crm_dealtotal AS t USING repeated AS r
    WHERE t.stage_id = r.stage_id AND t.currency = r.currency AND t.source = r.source
      AND t.kind = r.kind AND coalesce(t.closed_on, '-infinity') = r.day
    RETURNING t.stage_id, t.currency, t.source, t.kind, t.closed_on, t.deals, t.amount
), kept AS (
    INSERT INTO crm_dealtotal (stage_id, currency, source, kind, closed_on, deals, amount)
    SELECT stage_id, currency, source, kind, closed_on, sum(deals), sum(amount) FROM folded
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(deals) <> 0 OR sum(amount) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM folded) - (SELECT count(*) FROM kept)
"""

# SQLite has one writer at a time, so within the transaction nothing else appends: fold the
# rows up to the current highest id, then delete those rows of the folded keys.
_COMPACT_SQLITE = [
    """INSERT INTO crm_dealtotal (stage_id, currency, source, kind, closed_on, deals, amount)
    SELECT stage_id, currency, source, kind, closed_on, sum(deals), sum(amount)
    FROM crm_dealtotal WHERE id <= %s
    GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1 AND sum(deals) <> 0""",
    """DELETE FROM crm_dealtotal WHERE id <= %s
    AND (stage_id, currency, source, kind, coalesce(closed_on, '')) IN (
        SELECT stage_id, currency, source, kind, coalesce(closed_on, '') FROM crm_dealtotal
        WHERE id <= %s GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1
    )""",
]


@transaction.atomic
def deal_totals_compact() -> int:
    """Fold each board key's delta rows (DealTotal) into one row, dropping keys that sum to
    nothing. Safe to run at any time and from several processes. Returns the rows removed."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_COMPACT_POSTGRES)
            return int(cursor.fetchone()[0])
        cursor.execute("SELECT max(id), count(*) FROM crm_dealtotal")
        top, before = cursor.fetchone()
        if top is None:
            return 0
        cursor.execute(_COMPACT_SQLITE[0], [top])
        cursor.execute(_COMPACT_SQLITE[1], [top, top])
        cursor.execute("SELECT count(*) FROM crm_dealtotal")
        return int(before - cursor.fetchone()[0])


# The customer who referred a deal: a contact (credited with their account) or, when the
# person is not known, an account.
ReferredBy = Contact | Account

_NEEDS_ADVOCATE = "a referred deal needs the customer who referred it"
_NOT_A_REFERRAL = "only a deal whose source is Referral is referred by someone"
_STAYS_REFERRED = (
    "a referred deal keeps its source; a manager can take it out of the referrals, "
    "saying why, on the deal's page"
)


def _credit_first(
    deal: Deal, referred_by: ReferredBy, introduction: Introduction | None, now: dt.datetime
) -> None:
    """All the credit of a deal that has just become a referral to whoever referred it."""
    from goodword.referrals.credits import credit_initial

    if isinstance(referred_by, Contact):
        account, advocate = referred_by.account, referred_by
    else:
        account, advocate = referred_by, None
    credit_initial(
        deal=deal, advocate_account=account, advocate=advocate, introduction=introduction, now=now
    )


@transaction.atomic
def deal_create(
    *,
    actor: User | None,
    account: Account,
    stage: Stage,
    data: dict[str, Any],
    owner: User | None = None,
    referred_by: ReferredBy | None = None,
    introduction: Introduction | None = None,
) -> Deal:
    """A referral deal (source referral) needs `referred_by`, who is given all its credit
    (with the introduction it came from, if any). Raises Invalid on a bad field, a duplicate
    external_id, a referral without referred_by (or referred_by without a referral), or an
    advocate that cannot be credited (see credits.credit_initial)."""
    cleaned = clean_fields(DEAL_FIELDS, data)
    _check_user("owner", owner)
    _check_referral(cleaned.get("source", Deal._meta.get_field("source").default), referred_by)
    now = timezone.now()
    created_at = cleaned.pop("created_at", None) or now
    deal = Deal(
        account=account,
        stage=stage,
        owner=owner,
        created_at=created_at,
        updated_at=now,
        **cleaned,
    )
    if stage.is_closed and deal.closed_at is None:
        deal.closed_at = now
    _save_unique(deal, {"external_id": ["is already used by another deal"]})
    DealStageChange.objects.create(
        deal=deal, from_stage=None, to_stage=stage, changed_at=created_at, changed_by=actor
    )
    referral = {}
    if referred_by is not None:
        _credit_first(deal, referred_by, introduction, now)
        referral["referred_by"] = _advocate_name(referred_by)
    activity_record(
        actor=actor,
        account=account,
        verb="deal.created",
        obj=deal,
        summary=f"Deal {deal.name} created in {stage.name}",
        after={**_snapshot(deal, [*cleaned, "owner"]), "stage": stage.name, **referral},
    )
    _handoff_if_won(actor, deal)
    return deal


def _advocate_name(referred_by: ReferredBy) -> str:
    return referred_by.email if isinstance(referred_by, Contact) else referred_by.name


def _check_referral(source: str, referred_by: ReferredBy | None) -> None:
    if source == DealSource.REFERRAL and referred_by is None:
        raise Invalid({"referred_by": [_NEEDS_ADVOCATE]})
    if source != DealSource.REFERRAL and referred_by is not None:
        raise Invalid({"referred_by": [_NOT_A_REFERRAL]})


def _check_source_change(deal: Deal, source: str, referred_by: ReferredBy | None) -> bool:
    """Whether the update makes the deal a referral (then referred_by is credited). A
    referral stays one here: taking it out of the referrals is a manager's credit change."""
    was_referral = deal.source == DealSource.REFERRAL
    if was_referral and source != DealSource.REFERRAL:
        raise Invalid({"source": [_STAYS_REFERRED]})
    if was_referral:
        if referred_by is not None:
            raise Invalid({"referred_by": ["the deal is credited already; a manager changes it"]})
        return False
    _check_referral(source, referred_by)
    return referred_by is not None


@transaction.atomic
def deal_update(
    *,
    actor: User | None,
    deal: Deal,
    data: dict[str, Any],
    owner: User | None = _UNSET,
    referred_by: ReferredBy | None = None,
) -> Deal:
    """Change fields other than the stage (use deal_move for that). A deal that becomes a
    referral needs `referred_by`, who is given all its credit; a referral deal keeps its
    source (credits.credits_clear takes it out, for managers). Raises Invalid."""
    cleaned = clean_fields(DEAL_FIELDS, data, partial=True)
    if owner is not _UNSET:
        _check_user("owner", owner)
        cleaned["owner"] = owner
    becomes_referral = _check_source_change(deal, cleaned.get("source", deal.source), referred_by)
    before, after = _changes(deal, cleaned)
    if not after:
        return deal
    for field, value in cleaned.items():
        setattr(deal, field, value)
    deal.updated_at = timezone.now()
    _save_unique(deal, {"external_id": ["is already used by another deal"]})
    if becomes_referral and referred_by is not None:
        _credit_first(deal, referred_by, None, deal.updated_at)
        after["referred_by"] = _advocate_name(referred_by)
    activity_record(
        actor=actor,
        account=deal.account,
        verb="deal.updated",
        obj=deal,
        summary=f"Deal {deal.name} changed: {', '.join(after)}",
        before=before,
        after=after,
    )
    return deal


@transaction.atomic
def deal_move(
    *, actor: User | None, deal: Deal, stage: Stage, at: dt.datetime | None = None
) -> Deal:
    """Move a deal to another stage, recording when. Entering a closed stage sets closed_at;
    leaving one (a reopened deal) clears it. Moving to the current stage changes nothing."""
    at = at or timezone.now()
    old_stage = deal.stage
    if old_stage.pk == stage.pk:
        return deal
    closed_at = (deal.closed_at or at) if stage.is_closed else None
    # Conditional update: only if the deal is still where the caller saw it.
    moved = Deal.objects.filter(pk=deal.pk, stage_id=old_stage.pk).update(
        stage=stage, closed_at=closed_at, updated_at=timezone.now()
    )
    if moved != 1:
        raise Invalid({"stage": ["the deal was moved by someone else meanwhile; reload"]})
    DealStageChange.objects.create(
        deal=deal, from_stage=old_stage, to_stage=stage, changed_at=at, changed_by=actor
    )
    deal.stage, deal.closed_at = stage, closed_at
    activity_record(
        actor=actor,
        account=deal.account,
        verb="deal.stage_changed",
        obj=deal,
        summary=f"Deal {deal.name} moved from {old_stage.name} to {stage.name}",
        before={"stage": old_stage.name},
        after={"stage": stage.name},
    )
    _handoff_if_won(actor, deal)
    return deal


def _handoff_if_won(actor: User | None, deal: Deal) -> None:
    """A new-business deal entering a won stage is handed to customer success, in the
    transaction that records the move (the handoff app decides; once per deal)."""
    from goodword.handoffs.services import handoff_for_won_deal

    handoff_for_won_deal(actor=actor, deal=deal, now=timezone.now())


# --- tasks ----------------------------------------------------------------------------


# The database allows one open referral ask per account (crm_task_one_open_ask_per_account).
_ONE_OPEN_ASK = {"account": ["already has an open referral ask"]}
SNOOZE_AT_MOST = dt.timedelta(days=365)
_NO_LONGER_OPEN = {"status": ["the task is no longer open"]}


def _task_links(
    account: Account | None, contact: Contact | None, deal: Deal | None
) -> Account | None:
    if contact is not None and account is not None and contact.account_id != account.pk:
        raise Invalid({"contact": ["belongs to another account"]})
    if deal is not None and account is not None and deal.account_id != account.pk:
        raise Invalid({"deal": ["belongs to another account"]})
    return account or (contact.account if contact else None) or (deal.account if deal else None)


@transaction.atomic
def task_create(
    *,
    actor: User | None,
    owner: User,
    data: dict[str, Any],
    account: Account | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
) -> Task:
    """Raises Invalid on a bad field, an inactive owner or links to different accounts."""
    cleaned = clean_fields(TASK_FIELDS, data)
    _check_user("owner", owner)
    account = _task_links(account, contact, deal)
    now = timezone.now()
    if cleaned.get("due_at") is None:
        cleaned["due_at"] = now
    task = Task(owner=owner, account=account, contact=contact, deal=deal, created_at=now, **cleaned)
    _save_unique(task, _ONE_OPEN_ASK)
    if task.status != TaskStatus.OPEN:
        task.completed_at = now
        task.save(update_fields=["completed_at"])
    if account is not None:
        activity_record(
            actor=actor,
            account=account,
            verb="task.created",
            obj=task,
            summary=f"Task {task.subject} for {owner} due {task.due_at:%Y-%m-%d}",
            after=_snapshot(task, [*cleaned, "owner"]),
        )
    return task


@transaction.atomic
def task_update(
    *, actor: User | None, task: Task, data: dict[str, Any], owner: User | None = _UNSET
) -> Task:
    cleaned = clean_fields(TASK_FIELDS, data, partial=True)
    if "due_at" in cleaned and cleaned["due_at"] is None:
        raise Invalid({"due_at": ["is required"]})
    if owner is not _UNSET:
        if owner is None:
            raise Invalid({"owner": ["is required"]})
        _check_user("owner", owner)
        cleaned["owner"] = owner
    before, after = _changes(task, cleaned)
    if not after:
        return task
    for field, value in cleaned.items():
        setattr(task, field, value)
    if "status" in after:
        task.completed_at = timezone.now() if task.status != TaskStatus.OPEN else None
    # Reopening an ask, or turning a task into one, may meet the account's open ask.
    _save_unique(task, _ONE_OPEN_ASK)
    if task.account is not None:
        activity_record(
            actor=actor,
            account=task.account,
            verb="task.updated",
            obj=task,
            summary=f"Task {task.subject} changed: {', '.join(after)}",
            before=before,
            after=after,
        )
    return task


@transaction.atomic
def task_complete(*, actor: User | None, task: Task, outcome: str = "", notes: str = "") -> Task:
    """Mark an open task done. Raises Invalid if it is no longer open (nothing changes)."""
    now = timezone.now()
    fields: dict[str, Any] = {"status": TaskStatus.DONE, "completed_at": now}
    if outcome:
        fields["outcome"] = outcome[:200]
    if notes:
        fields["notes"] = (task.notes + "\n\n" + notes).strip()
    return _task_change(
        task,
        actor=actor,
        fields=fields,
        verb="task.completed",
        summary=lambda t: f"Task {t.subject} done" + (f": {outcome}" if outcome else ""),
        before={"status": "open"},
        shown=["status", "outcome"],
    )


def _task_change(
    task: Task,
    *,
    actor: User | None,
    fields: dict[str, Any],
    verb: str,
    summary: Callable[[Task], str],
    before: dict[str, Any],
    shown: list[str],
    refused: dict[str, list[str]] = _NO_LONGER_OPEN,
    **also: Any,
) -> Task:
    """Set `fields` on `task` while it is still open (and matches `also`), in one UPDATE so
    a concurrent change cannot slip in between; raise Invalid(`refused`) when it is not.
    Then record the activity on its account, with the `shown` fields after."""
    changed = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN, **also).update(**fields)
    if changed != 1:
        raise Invalid(refused)
    task.refresh_from_db()
    if task.account is not None:
        activity_record(
            actor=actor,
            account=task.account,
            verb=verb,
            obj=task,
            summary=summary(task),
            before=before,
            after=_snapshot(task, shown),
        )
    return task


def _snooze_time(until: dt.datetime, now: dt.datetime) -> dt.datetime:
    if until.tzinfo is None:
        raise Invalid({"until": ["must have a time zone"]})
    if until <= now:
        raise Invalid({"until": ["must be in the future"]})
    if until > now + SNOOZE_AT_MOST:
        raise Invalid({"until": [f"must be at most {SNOOZE_AT_MOST.days} days ahead"]})
    return until.astimezone(dt.UTC)


@transaction.atomic
def task_snooze(*, actor: User | None, task: Task, until: dt.datetime) -> Task:
    """Put an open task of any kind off: it falls due again at `until`, which must be after
    now and at most 365 days ahead. Raises Invalid for a time outside that window, a naive
    time, or a task no longer open (nothing changes)."""
    until = _snooze_time(until, timezone.now())
    outcome = f"snoozed until {until:%Y-%m-%d}"
    shown = ["due_at", "snoozed_until", "outcome"]
    return _task_change(
        task,
        actor=actor,
        fields={"due_at": until, "snoozed_until": until, "outcome": outcome},
        verb="task.snoozed",
        summary=lambda t: f"Task {t.subject} {outcome}",
        before=_snapshot(task, shown),
        shown=shown,
    )


_REASON = {"reason": text(300, required=True)}


@transaction.atomic
def ask_not_appropriate(*, actor: User | None, task: Task, reason: str) -> Task:
    """Close an open referral ask as not appropriate, saying why (1 to 300 characters once
    stripped); the scan's cooldown counts such asks. Raises Invalid for a missing or long
    reason, another kind of task, or an ask no longer open (nothing changes)."""
    reason = clean_fields(_REASON, {"reason": reason})["reason"]
    if task.kind != TaskKind.REFERRAL_ASK:
        raise Invalid({"kind": ["only a referral ask can be closed as not appropriate"]})
    return _task_change(
        task,
        actor=actor,
        fields={
            "status": TaskStatus.CANCELLED,
            "outcome": NOT_APPROPRIATE,
            "reason": reason,
            "completed_at": timezone.now(),
        },
        verb="task.not_appropriate",
        summary=lambda t: f"Referral ask {t.subject} closed as not appropriate: {reason}",
        before={"status": "open"},
        shown=["status", "outcome", "reason"],
        refused={"status": ["the task is no longer an open referral ask"]},
        # The kind is in the condition too: an edit meanwhile may have made it another task.
        kind=TaskKind.REFERRAL_ASK,
    )
