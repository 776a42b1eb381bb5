"""What advocates earn for their introductions: admins' rules say what and when, rewards wait
out a hold and then a manager's approval, and fulfilment is recorded by hand (payment
providers are out of scope). No reward is due when the person introduced is the advocate's
colleague, already a customer, or was referred by someone first; a manager may override.

Services change state with a conditional UPDATE on the status they expect, so a stale double
click changes nothing and says so. Selectors are the access boundary: rules are the admins'
(404 for anyone else), the queue and the fulfilment list the managers' and admins', and an
advocate account's ledger is readable by whoever may see the account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When

from goodword.crm.cleaning import choice, clean_fields, text
from goodword.crm.models import Account, Lifecycle
from goodword.crm.selectors import account_get_for
from goodword.crm.services import activity_record
from goodword.engine.domains import company_domain, same_domain
from goodword.lib.errors import Forbidden, Invalid, NotFound
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
    from goodword.crm.models import Deal
    from goodword.users.models import User

# States in which an introduction counts as a referral made (the first one wins).
REFERRED = ("accepted", "introduced", "opportunity")
NOTE_MAX = 300
# RewardRule.value has 12 digits, two of them decimals.
VALUE_MAX = Decimal("9999999999.99")


# --- rules ---------------------------------------------------------------------------------


def _value(raw: Any) -> Decimal:
    value = clean_decimal(str(raw if raw not in (None, "") else "0"))
    if value > VALUE_MAX:
        raise ValueError(f"must be at most {VALUE_MAX}")
    return value


def _hold_days(raw: Any) -> int:
    try:
        days = int(str(raw if raw is not None else "").strip() or "0")
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number of days") from None
    if not 0 <= days <= 3650:
        raise ValueError("must be between 0 and 3650 days")
    return days


RULE_FIELDS = {
    "name": text(100, required=True),
    "trigger": choice(RewardTrigger),
    "kind": choice(RewardKind),
    "value": _value,
    "currency": lambda raw: clean_currency(str(raw or "")),
    "hold_days": _hold_days,
}


def _admin(actor: User) -> None:
    if not actor.is_admin_role:
        raise Forbidden("only admins define reward rules")


def _rule_data(data: dict[str, Any]) -> dict[str, Any]:
    return clean_fields(RULE_FIELDS, {field: data.get(field) for field in RULE_FIELDS})


@transaction.atomic
def rule_create(*, actor: User, data: dict[str, Any], now: dt.datetime) -> RewardRule:
    """A new active rule from `data` (name, trigger, kind, value, currency, hold_days).
    Raises Forbidden for anyone but an admin, Invalid naming each bad field."""
    _admin(actor)
    return RewardRule.objects.create(**_rule_data(data), active=True, created_at=now)


@transaction.atomic
def rule_update(*, actor: User, rule: RewardRule, data: dict[str, Any]) -> RewardRule:
    """Change a rule's fields (rewards already granted keep the values they were granted
    with); `active` in `data` switches it on or off. Raises as rule_create."""
    _admin(actor)
    cleaned = _rule_data(data)
    if "active" in data:
        cleaned["active"] = bool(data["active"])
    if RewardRule.objects.filter(pk=rule.pk).update(**cleaned) != 1:
        raise NotFound("reward rule")
    rule.refresh_from_db()
    return rule


@transaction.atomic
def rule_deactivate(*, actor: User, rule: RewardRule) -> RewardRule:
    """Stop a rule granting rewards (those granted stay). Raises Forbidden for anyone but an
    admin, Invalid when it is already inactive."""
    _admin(actor)
    if RewardRule.objects.filter(pk=rule.pk, active=True).update(active=False) != 1:
        raise Invalid({"active": ["this rule is already inactive; nothing was changed"]})
    rule.refresh_from_db()
    return rule


# --- granting ------------------------------------------------------------------------------


def _who(introduction: Introduction) -> str:
    return introduction.person_name or introduction.person_email


def _colleague(introduction: Introduction) -> str:
    person = company_domain(introduction.person_email)
    advocate = introduction.advocate_account.domain
    if person and advocate and same_domain(person, advocate):
        return f"{_who(introduction)} is a colleague of the advocate at {advocate}"
    return ""


def _customer(introduction: Introduction) -> str:
    """An account that was a customer before the introduction was made: one that became a
    customer since (by the referred deal itself, say) does not void the reward."""
    day = introduction.created_at.astimezone(dt.UTC).date()
    matches = Q(contacts__email__iexact=introduction.person_email)
    if introduction.person_contact_id is not None:
        matches |= Q(contacts__pk=introduction.person_contact_id)
    earlier = Q(customer_since__isnull=True) | Q(customer_since__lt=day)
    found = (
        Account.objects.filter(matches, earlier, lifecycle=Lifecycle.CUSTOMER)
        .order_by("id")
        .first()
    )
    return f"{_who(introduction)} is already a customer, at {found.name}" if found else ""


def _referred_before(introduction: Introduction) -> str:
    at, pk = introduction.created_at, introduction.pk
    earlier = (
        Introduction.objects.filter(
            person_email__iexact=introduction.person_email, state__in=REFERRED
        )
        .filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
        .select_related("advocate_account")
        .order_by("created_at", "id")
        .first()
    )
    if earlier is None:
        return ""
    day = earlier.created_at.astimezone(dt.UTC)
    when = f"{day.day} {day:%B %Y}"
    name = earlier.advocate_account.name
    return f"already referred by {name} on {when}; the first referral wins"


def ineligible_because(introduction: Introduction) -> str:
    """Why the introduction earns no reward, in plain words ('' when it does)."""
    if not introduction.person_email:
        return ""
    return _colleague(introduction) or _customer(introduction) or _referred_before(introduction)


def _reward_for(
    rule: RewardRule, introduction: Introduction, why: str, deal: Deal | None, now: dt.datetime
) -> Reward | None:
    status = RewardStatus.HELD if rule.hold_days else RewardStatus.PENDING
    try:
        # A savepoint: a concurrent grant's row makes this insert fail, not the caller's.
        with transaction.atomic():
            return Reward.objects.create(
                rule=rule,
                introduction=introduction,
                deal=deal or introduction.deal,
                advocate_account=introduction.advocate_account,
                advocate=introduction.advocate,
                kind=rule.kind,
                value=rule.value,
                currency=rule.currency,
                status=RewardStatus.INELIGIBLE if why else status,
                ineligible_because=why[:300],
                available_at=now + dt.timedelta(days=rule.hold_days),
                created_at=now,
            )
    except IntegrityError:
        return None


@transaction.atomic
def rewards_grant(
    *, introduction: Introduction, trigger: str, now: dt.datetime, deal: Deal | None = None
) -> list[Reward]:
    """The hook: one reward per active rule with `trigger` (accepted, opportunity or won),
    held for the rule's hold days (pending at once without any), or ineligible with the
    reason. Idempotent by the one-reward-per-rule-and-introduction constraint: a second call
    makes nothing. Returns the rewards made. Raises Invalid for an unknown trigger."""
    if trigger not in RewardTrigger.values:
        raise Invalid({"trigger": [f"{trigger!r} is not one of {', '.join(RewardTrigger.values)}"]})
    rules = list(RewardRule.objects.filter(trigger=trigger, active=True).order_by("id"))
    granted = set(
        Reward.objects.filter(introduction=introduction, rule__in=rules).values_list(
            "rule_id", flat=True
        )
    )
    todo = [rule for rule in rules if rule.pk not in granted]
    if not todo:
        return []
    why = ineligible_because(introduction)
    made = [_reward_for(rule, introduction, why, deal, now) for rule in todo]
    return [reward for reward in made if reward is not None]


def rewards_release(*, now: dt.datetime) -> int:
    """Held rewards whose hold has ended (available_at <= now) now wait for a manager's
    approval; returns how many. One conditional UPDATE: a reward decided meanwhile stays."""
    return Reward.objects.filter(status=RewardStatus.HELD, available_at__lte=now).update(
        status=RewardStatus.PENDING
    )


def rewards_for_won_deals(*, now: dt.datetime, limit: int = 500) -> int:
    """Grant the won rewards of introductions whose referred deal is won (up to `limit`
    introductions a run); returns how many rewards were made. Idempotent, so the worker
    may run it as often as it likes."""
    rule_ids = list(
        RewardRule.objects.filter(trigger=RewardTrigger.WON, active=True).values_list(
            "pk", flat=True
        )
    )
    if not rule_ids:
        return 0
    lacking = Q()
    for rule_id in rule_ids:
        lacking |= ~Q(pk__in=Reward.objects.filter(rule_id=rule_id).values("introduction_id"))
    intros = (
        Introduction.objects.filter(deal__stage__is_won=True)
        .filter(lacking)
        .select_related("advocate_account", "advocate", "deal")
        .order_by("id")[:limit]
    )
    made = 0
    for intro in intros:
        made += len(rewards_grant(introduction=intro, trigger="won", now=now, deal=intro.deal))
    return made


def _upkeep() -> None:
    from django.utils import timezone

    now = timezone.now()
    rewards_for_won_deals(now=now)
    rewards_release(now=now)


def register_upkeeps() -> None:
    """Have the worker grant won rewards and release held ones (call from AppConfig.ready)."""
    from goodword.jobs.services import upkeep

    upkeep("referrals.rewards", every=dt.timedelta(minutes=5), fn=_upkeep)


# --- decisions -----------------------------------------------------------------------------


def _manager(actor: User) -> None:
    if not (actor.is_manager or actor.is_admin_role):
        raise Forbidden("only managers and admins decide rewards")


def _note(note: str, *, required: bool) -> str:
    note = (note or "").strip()
    if required and not note:
        raise Invalid({"note": ["say why"]})
    if len(note) > NOTE_MAX:
        raise Invalid({"note": [f"is longer than {NOTE_MAX} characters"]})
    return note


def _label(status: str | None) -> str:
    return str(RewardStatus(status).label).lower() if status else "gone"


def _decide(
    reward: Reward, *, actor: User, frm: str, to: str, verb: str, note: str, **fields: Any
) -> Reward:
    if Reward.objects.filter(pk=reward.pk, status=frm).update(status=to, **fields) != 1:
        now_is = Reward.objects.filter(pk=reward.pk).values_list("status", flat=True).first()
        raise Invalid(
            {"status": [f"this reward is {_label(now_is)}, not {_label(frm)}; nothing was changed"]}
        )
    reward.refresh_from_db()
    activity_record(
        actor=actor,
        account=reward.advocate_account,
        verb=f"reward.{verb}",
        obj=reward,
        summary=f"Reward #{reward.pk} ({reward}) {verb}" + (f": {note}" if note else ""),
        before={"status": frm, "ineligible_because": reward.ineligible_because},
        after={"status": to, "note": note},
    )
    return reward


@transaction.atomic
def reward_approve(*, actor: User, reward: Reward, now: dt.datetime, note: str = "") -> Reward:
    """Approve a pending reward. Raises Forbidden for anyone but a manager or an admin, and
    Invalid for a note too long or a reward no longer pending (nothing changes)."""
    _manager(actor)
    note = _note(note, required=False)
    fields: dict[str, Any] = {"decided_by": actor, "decided_at": now, "decision_note": note}
    return _decide(
        reward, actor=actor, frm="pending", to="approved", verb="approved", note=note, **fields
    )


@transaction.atomic
def reward_reject(*, actor: User, reward: Reward, now: dt.datetime, note: str) -> Reward:
    """Reject a pending reward, saying why. Raises as reward_approve, and Invalid without a
    note."""
    _manager(actor)
    note = _note(note, required=True)
    fields: dict[str, Any] = {"decided_by": actor, "decided_at": now, "decision_note": note}
    return _decide(
        reward, actor=actor, frm="pending", to="rejected", verb="rejected", note=note, **fields
    )


@transaction.atomic
def reward_override(*, actor: User, reward: Reward, now: dt.datetime, note: str) -> Reward:
    """A manager's judgement that an ineligible reward is due after all: it waits for
    approval like any other, its reason kept, the override in the decision fields and the
    account's activity. Raises as reward_reject, and Invalid for a reward not ineligible."""
    _manager(actor)
    note = _note(note, required=True)
    fields: dict[str, Any] = {"decided_by": actor, "decided_at": now, "decision_note": note}
    return _decide(
        reward, actor=actor, frm="ineligible", to="pending", verb="overridden", note=note, **fields
    )


@transaction.atomic
def reward_fulfil(*, actor: User, reward: Reward, now: dt.datetime, note: str = "") -> Reward:
    """Record that an approved reward was handed over (gift card sent, credit applied...),
    with how in `note`. Raises as reward_approve, and Invalid for a reward not approved."""
    _manager(actor)
    note = _note(note, required=False)
    fields: dict[str, Any] = {"fulfilled_at": now, "fulfilment_note": note}
    return _decide(
        reward, actor=actor, frm="approved", to="fulfilled", verb="fulfilled", note=note, **fields
    )


# --- reads ---------------------------------------------------------------------------------


def _deciders_only(user: User) -> None:
    if not (user.is_manager or user.is_admin_role):
        raise NotFound("rewards")


def _rewards() -> QuerySet[Reward]:
    return Reward.objects.select_related(
        "rule", "advocate_account", "advocate", "introduction", "deal", "decided_by"
    )


def rules_for(user: User) -> QuerySet[RewardRule]:
    """Every rule, active ones first (admins only; NotFound for anyone else)."""
    if not user.is_admin_role:
        raise NotFound("reward rules")
    return RewardRule.objects.order_by("-active", "trigger", "name", "id")


def rule_get_for(*, user: User, rule_id: int) -> RewardRule:
    """Raises NotFound when the rule is missing or the user is not an admin."""
    rule = rules_for(user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("reward rule")
    return rule


def reward_get_for(*, user: User, reward_id: int) -> Reward:
    """A reward for a manager or admin to decide; NotFound for anyone else or none."""
    _deciders_only(user)
    reward = _rewards().filter(pk=reward_id).first()
    if reward is None:
        raise NotFound("reward")
    return reward


def rewards_visible_to(user: User) -> QuerySet[Reward]:
    """Every reward, for managers and admins (the programme's); NotFound for anyone else."""
    _deciders_only(user)
    return Reward.objects.all()


def rewards_queue(user: User) -> QuerySet[Reward]:
    """Rewards for a decision: the pending ones first, then the ineligible ones a manager
    may override, each oldest first (managers and admins; NotFound for anyone else)."""
    _deciders_only(user)
    pending_first = Case(
        When(status=RewardStatus.PENDING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        _rewards()
        .filter(status__in=[RewardStatus.PENDING, RewardStatus.INELIGIBLE])
        .order_by(pending_first, "created_at", "id")
    )


def rewards_held(user: User) -> QuerySet[Reward]:
    """Rewards still waiting out their hold, the soonest released first."""
    _deciders_only(user)
    return _rewards().filter(status=RewardStatus.HELD).order_by("available_at", "id")


def rewards_to_fulfil(user: User) -> QuerySet[Reward]:
    """Approved rewards not yet handed over, the longest approved first."""
    _deciders_only(user)
    return _rewards().filter(status=RewardStatus.APPROVED).order_by("decided_at", "id")


def rewards_settled(user: User) -> QuerySet[Reward]:
    """Approved and fulfilled rewards, for the fulfilment export, oldest first."""
    _deciders_only(user)
    statuses = [RewardStatus.APPROVED, RewardStatus.FULFILLED]
    return _rewards().filter(status__in=statuses).order_by("created_at", "id")


@dataclass(frozen=True)
class Total:
    currency: str
    status: str
    label: str
    count: int
    value: Decimal


@dataclass(frozen=True)
class Ledger:
    account: Account
    rewards: QuerySet[Reward]
    totals: list[Total]


def ledger_for(*, user: User, account_id: int) -> Ledger:
    """An advocate account's rewards, newest first, with their count and sum by currency and
    status. Raises NotFound when the user may not see the account."""
    account = account_get_for(user=user, account_id=account_id)
    rewards = _rewards().filter(advocate_account=account).order_by("-created_at", "-id")
    sums = (
        Reward.objects.filter(advocate_account=account)
        .values("currency", "status")
        .annotate(count=Count("id"), value=Sum("value"))
        .order_by("currency", "status")
    )
    totals = [
        Total(row["currency"], row["status"], _label(row["status"]), row["count"], row["value"])
        for row in sums
    ]
    return Ledger(account=account, rewards=rewards, totals=totals)
