"""What advocates earn for their introductions: rules say what and when, rewards wait out a
hold and then a manager's approval, and fulfilment is recorded by hand (payment providers
are out of scope). No reward is due when the person introduced is the advocate's colleague,
already a customer, or was referred by someone first (a manager may override)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from goodword.crm.cleaning import choice, clean_fields, text
from goodword.crm.models import Contact, Deal, Lifecycle
from goodword.crm.services import activity_record
from goodword.engine.domains import company_domain, same_domain
from goodword.lib.errors import Forbidden, Invalid
from goodword.lib.validators import clean_currency, clean_decimal
from goodword.referrals.models import (
    Introduction,
    Reward,
    RewardKind,
    RewardRule,
    RewardStatus,
    RewardTrigger,
)

if TYPE_CHECKING:
    from goodword.users.models import User

# States from which an introduction counts as a referral made (the first one wins).
REFERRED = ("accepted", "introduced", "opportunity")


# --- rules ---------------------------------------------------------------------------------


def _hold_days(value: Any) -> int:
    try:
        days = int(str(value).strip() or "0")
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number of days") from None
    if not 0 <= days <= 3650:
        raise ValueError("must be between 0 and 3650 days")
    return days


RULE_FIELDS = {
    "name": text(100, required=True),
    "trigger": choice(RewardTrigger),
    "kind": choice(RewardKind),
    "value": lambda v: clean_decimal(str(v if v not in (None, "") else "0")),
    "currency": lambda v: clean_currency(str(v or "USD")),
    "hold_days": _hold_days,
}


def _admin(actor: User) -> None:
    if not actor.is_admin_role:
        raise Forbidden("only admins define reward rules")


@transaction.atomic
def rule_create(*, actor: User, data: dict[str, Any], now: dt.datetime) -> RewardRule:
    """Raises Forbidden for non-admins and Invalid naming each bad field."""
    _admin(actor)
    cleaned = clean_fields(RULE_FIELDS, {k: data.get(k) for k in RULE_FIELDS})
    return RewardRule.objects.create(**cleaned, created_at=now)


@transaction.atomic
def rule_update(*, actor: User, rule: RewardRule, data: dict[str, Any]) -> RewardRule:
    """Change a rule (rewards already granted keep their values). Raises as rule_create."""
    _admin(actor)
    cleaned = clean_fields(RULE_FIELDS, {k: data.get(k) for k in RULE_FIELDS})
    cleaned["active"] = bool(data.get("active", rule.active))
    RewardRule.objects.filter(pk=rule.pk).update(**cleaned)
    rule.refresh_from_db()
    return rule


# --- granting ------------------------------------------------------------------------------


def ineligible_because(introduction: Introduction) -> str:
    """Why the introduction earns no reward ('' when it does)."""
    email = introduction.person_email.lower()
    advocate_domain = introduction.advocate_account.domain
    person_domain = company_domain(email)
    if person_domain and advocate_domain and same_domain(person_domain, advocate_domain):
        who = introduction.person_name or email
        return f"{who} is a colleague of the advocate at {advocate_domain}"
    customer = Contact.objects.filter(
        email__iexact=email, account__lifecycle=Lifecycle.CUSTOMER
    ).select_related("account")
    if (found := customer.first()) is not None:
        return f"{introduction.person_name or email} is already a customer ({found.account.name})"
    earlier = (
        Introduction.objects.filter(person_email__iexact=email, state__in=REFERRED)
        .exclude(pk=introduction.pk)
        .filter(created_at__lte=introduction.created_at)
        .select_related("advocate_account")
        .order_by("created_at", "id")
        .first()
    )
    if earlier is not None and (earlier.created_at, earlier.pk) < (
        introduction.created_at,
        introduction.pk,
    ):
        return (
            f"already referred by {earlier.advocate_account.name} on "
            f"{earlier.created_at:%d %b %Y}; the first referral wins"
        )
    return ""


def rewards_grant(
    *, introduction: Introduction, trigger: str, now: dt.datetime, deal: Deal | None = None
) -> list[Reward]:
    """One reward per active rule with `trigger` (accepted, opportunity or won), held for
    the rule's hold days, or ineligible with the reason. Idempotent: a rule rewards an
    introduction once. Call inside the transaction of the change that triggers it."""
    made = []
    why = None
    for rule in RewardRule.objects.filter(trigger=trigger, active=True):
        if why is None:
            why = ineligible_because(introduction)
        if Reward.objects.filter(rule=rule, introduction=introduction).exists():
            continue
        status = RewardStatus.INELIGIBLE if why else RewardStatus.HELD
        if not why and rule.hold_days == 0:
            status = RewardStatus.PENDING
        try:
            with transaction.atomic():
                made.append(
                    Reward.objects.create(
                        rule=rule,
                        introduction=introduction,
                        deal=deal or introduction.deal,
                        advocate_account=introduction.advocate_account,
                        advocate=introduction.advocate,
                        kind=rule.kind,
                        value=rule.value,
                        currency=rule.currency,
                        status=status,
                        ineligible_because=why,
                        available_at=now + dt.timedelta(days=rule.hold_days),
                        created_at=now,
                    )
                )
        except IntegrityError:
            continue  # another worker granted it meanwhile
    return made


def rewards_release(*, now: dt.datetime) -> int:
    """Held rewards whose hold has ended wait for a manager's approval; returns how many."""
    return Reward.objects.filter(status=RewardStatus.HELD, available_at__lte=now).update(
        status=RewardStatus.PENDING
    )


def rewards_for_won_deals(*, now: dt.datetime) -> int:
    """Grant the won-deal rewards of introductions whose deal is now won; returns how many
    were made. Idempotent, so the worker may run it as often as it likes."""
    won_rules = RewardRule.objects.filter(trigger=RewardTrigger.WON, active=True)
    if not won_rules.exists():
        return 0
    intros = (
        Introduction.objects.filter(deal__stage__is_won=True)
        .exclude(rewards__rule__trigger=RewardTrigger.WON)
        .select_related("advocate_account", "advocate", "deal")
    )
    made = 0
    for intro in intros[:1000]:
        with transaction.atomic():
            made += len(rewards_grant(introduction=intro, trigger="won", now=now))
    return made


# --- decisions -----------------------------------------------------------------------------


def _manager(actor: User) -> None:
    if not (actor.is_manager or actor.is_admin_role):
        raise Forbidden("only managers and admins decide rewards")


def _decide(
    reward: Reward,
    *,
    actor: User,
    frm: str,
    to: str,
    note: str,
    now: dt.datetime,
    verb: str,
    **also: Any,
) -> Reward:
    changed = Reward.objects.filter(pk=reward.pk, status=frm).update(status=to, **also)
    if changed != 1:
        reward.refresh_from_db()
        raise Invalid({"status": [f"the reward is {reward.get_status_display().lower()} now"]})
    reward.refresh_from_db()
    activity_record(
        actor=actor,
        account=reward.advocate_account,
        verb=f"reward.{verb}",
        obj=reward,
        summary=f"Reward {reward} {verb}" + (f": {note}" if note else ""),
        before={"status": frm},
        after={"status": to, "note": note},
    )
    return reward


def _note(note: str, *, required: bool) -> str:
    note = note.strip()
    if required and not note:
        raise Invalid({"note": ["say why"]})
    if len(note) > 300:
        raise Invalid({"note": ["is longer than 300 characters"]})
    return note


@transaction.atomic
def reward_approve(*, actor: User, reward: Reward, now: dt.datetime, note: str = "") -> Reward:
    """Approve a pending reward. Raises Forbidden for reps and CSMs, Invalid when it is no
    longer pending (nothing changes)."""
    _manager(actor)
    note = _note(note, required=False)
    return _decide(
        reward,
        actor=actor,
        frm=RewardStatus.PENDING,
        to=RewardStatus.APPROVED,
        note=note,
        now=now,
        verb="approved",
        decided_by=actor,
        decided_at=now,
        decision_note=note,
    )


@transaction.atomic
def reward_reject(*, actor: User, reward: Reward, now: dt.datetime, note: str) -> Reward:
    """Reject a pending reward, saying why. Raises as reward_approve, and Invalid without a note."""
    _manager(actor)
    note = _note(note, required=True)
    return _decide(
        reward,
        actor=actor,
        frm=RewardStatus.PENDING,
        to=RewardStatus.REJECTED,
        note=note,
        now=now,
        verb="rejected",
        decided_by=actor,
        decided_at=now,
        decision_note=note,
    )


@transaction.atomic
def reward_override(*, actor: User, reward: Reward, now: dt.datetime, note: str) -> Reward:
    """Make an ineligible reward pending after all (a manager's judgement, with the reason
    kept). Raises as reward_reject."""
    _manager(actor)
    note = _note(note, required=True)
    return _decide(
        reward,
        actor=actor,
        frm=RewardStatus.INELIGIBLE,
        to=RewardStatus.PENDING,
        note=note,
        now=now,
        verb="overridden",
        decided_by=actor,
        decided_at=now,
        decision_note=f"override: {note}",
    )


@transaction.atomic
def reward_fulfil(*, actor: User, reward: Reward, now: dt.datetime, note: str = "") -> Reward:
    """Record that an approved reward was handed over (gift card sent, credit applied...)."""
    _manager(actor)
    note = _note(note, required=False)
    return _decide(
        reward,
        actor=actor,
        frm=RewardStatus.APPROVED,
        to=RewardStatus.FULFILLED,
        note=note,
        now=now,
        verb="fulfilled",
        fulfilled_at=now,
        fulfilment_note=note,
    )


# --- reads ---------------------------------------------------------------------------------


def rewards_queue() -> QuerySet[Reward]:
    """Rewards waiting for a decision, oldest first; then the ineligible ones to review."""
    return (
        Reward.objects.filter(status__in=[RewardStatus.PENDING, RewardStatus.INELIGIBLE])
        .select_related("rule", "advocate_account", "advocate", "introduction", "deal")
        .order_by("status", "created_at", "id")
    )


def ledger(account_id: int) -> tuple[QuerySet[Reward], dict[tuple[str, str], Decimal]]:
    """An advocate account's rewards, newest first, and their totals by (status, currency)."""
    rows = (
        Reward.objects.filter(advocate_account_id=account_id)
        .select_related("rule", "advocate", "introduction")
        .order_by("-created_at", "-id")
    )
    totals: dict[tuple[str, str], Decimal] = {}
    for reward in rows:
        key = (reward.status, reward.currency)
        totals[key] = totals.get(key, Decimal(0)) + reward.value
    return rows, totals


def register_upkeeps() -> None:
    from django.utils import timezone

    from goodword.jobs.services import upkeep

    upkeep(
        "referrals.rewards",
        every=dt.timedelta(minutes=5),
        fn=lambda: (rewards_for_won_deals(now=timezone.now()), rewards_release(now=timezone.now())),
    )
