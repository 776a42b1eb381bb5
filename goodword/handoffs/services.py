"""Every write to handoffs. Each function runs in one transaction, records an Activity row on
the deal's account (the audit: who, what, before and after), and raises `Invalid` (nothing
written) on bad input or `Forbidden` for an action the user's role may not take. Access is
checked before these are called, through selectors.handoff_get_for.

A handoff's goals become signals.Goal rows when the CSM accepts it, not while it is being
filled in: the `goal` rule counts a goal's events from its start and re-counts it whenever
it changes, so only goals the CSM has agreed to watch (and that no longer change: an
accepted handoff is read-only but for its checklist) are handed to it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from goodword.crm.cleaning import text
from goodword.crm.models import Account, Contact, Deal, DealKind, DealSource, TaskKind
from goodword.crm.services import activity_record, task_create
from goodword.engine.scores import parse_measure
from goodword.handoffs.models import (
    ChecklistItem,
    Handoff,
    HandoffGoal,
    HandoffSettings,
    HandoffStatus,
    Stakeholder,
    StakeholderRole,
)
from goodword.handoffs.rules import CHECKLIST_MAX, REQUIRABLE, accept_by
from goodword.handoffs.selectors import handoff_missing, settings_get
from goodword.lib.errors import Forbidden, Invalid
from goodword.lib.validators import clean_decimal, parse_date

if TYPE_CHECKING:
    from goodword.crm.models import Task
    from goodword.users.models import User

THANK_DUE = dt.timedelta(days=2)
GOALS_MAX = 20
_READ_ONLY = {"status": ["an accepted handoff is read-only, except its checklist"]}


def _record(actor: User | None, handoff: Handoff, verb: str, summary: str, **change: Any) -> None:
    activity_record(
        actor=actor,
        account=handoff.deal.account,
        verb=f"handoff.{verb}",
        obj=handoff,
        summary=summary,
        **change,
    )


# --- creation, when a deal is won ------------------------------------------------------


# A deal recorded as won longer ago than this (its closed_at) gets no handoff: importing a
# CRM's history must not hand years of customers to customer success again.
RECENT_WIN = dt.timedelta(days=30)


def handoff_for_won_deal(*, actor: User | None, deal: Deal, now: dt.datetime) -> Handoff | None:
    """Hand a new-business deal that has just entered a won stage to its account's CSM (or
    to no one, for a manager to assign). Call it in the transaction that records the move
    (crm.services does, for every deal_create and deal_move). Returns the new handoff, or
    None when the deal is of another kind, not won, won more than RECENT_WIN ago, or has its
    handoff already (a deal reopened and won again): the unique deal column decides, not a
    prior read."""
    if deal.kind != DealKind.NEW or not deal.stage.is_won:
        return None
    if deal.closed_at is not None and deal.closed_at < now - RECENT_WIN:
        return None  # a win from the CRM's history (an import, a sync): CS has it already
    csm = deal.account.csm
    handoff = Handoff(
        deal=deal,
        csm=csm if csm is not None and csm.is_active else None,
        created_at=now,
        updated_at=now,
        accept_by=accept_by(now),
    )
    try:
        with transaction.atomic():
            handoff.save()
    except IntegrityError:
        return None
    _start_checklist(handoff, settings_get().checklist)
    if deal.source == DealSource.REFERRAL:
        _name_advocate(actor, handoff, now)
    _record(
        actor,
        handoff,
        "created",
        f"Handoff of {deal.name} to {handoff.csm or 'a CSM yet to be assigned'}",
        after={
            "csm": handoff.csm.email if handoff.csm else None,
            "advocate": handoff.advocate.email if handoff.advocate else None,
            "accept_by": handoff.accept_by.isoformat(),
        },
    )
    return handoff


def _start_checklist(handoff: Handoff, labels: list[str]) -> None:
    ChecklistItem.objects.bulk_create(
        ChecklistItem(handoff=handoff, label=label, position=i)
        for i, label in enumerate(labels[:CHECKLIST_MAX], start=1)
    )


def _name_advocate(actor: User | None, handoff: Handoff, now: dt.datetime) -> None:
    """The referred deal's main advocate (largest share) on the handoff, and a task for the
    deal's owner to thank them, made here only, with the handoff: so once per deal."""
    from goodword.referrals.models import DealCredit

    credit = (
        DealCredit.objects.filter(deal=handoff.deal)
        .select_related("advocate", "advocate_account")
        .order_by("-share", "id")
        .first()
    )
    if credit is None:
        return
    handoff.advocate_account, handoff.advocate = credit.advocate_account, credit.advocate
    handoff.thank_task = _thank_task(actor, handoff, credit.advocate_account, now)
    handoff.save(update_fields=["advocate_account", "advocate", "thank_task"])


def _thank_task(
    actor: User | None, handoff: Handoff, account: Account, now: dt.datetime
) -> Task | None:
    owner, advocate = handoff.deal.owner, handoff.advocate
    if owner is None or not owner.is_active:
        return None  # nobody to give it to; the handoff still names the advocate
    who = f"{advocate} of {account.name}" if advocate else account.name
    return task_create(
        actor=actor,
        owner=owner,
        account=account,
        contact=advocate,
        data={
            "kind": TaskKind.TODO,
            "subject": f"Thank {who} for referring {handoff.deal.account.name}"[:200],
            "due_at": (now + THANK_DUE).isoformat(),
            "notes": f"{handoff.deal.name} was won: they referred it.",
        },
    )


# --- filling it in ---------------------------------------------------------------------

_FIELDS = {"promised", "risks", "kickoff_on", "goals", "stakeholders"}
_PROMISED = text(10_000)


def _clean_goal(raw: Mapping[str, Any], handoff: Handoff) -> dict[str, Any]:
    """One goal; raises ValueError naming the part that is wrong."""
    unknown = set(raw) - {"name", "event", "measure", "target", "due_on"}
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(sorted(unknown))}")
    goal: dict[str, Any] = {}
    for part, size in (("name", 200), ("event", 200)):
        try:
            goal[part] = text(size, required=True)(raw.get(part))
        except ValueError as exc:
            raise ValueError(f"{part} {exc}") from None
    goal["measure"] = str(parse_measure(str(raw.get("measure") or "count")))
    try:
        target = clean_decimal(str(raw.get("target") or ""), minimum=None)
    except ValueError as exc:
        raise ValueError(f"target: {exc}") from None
    if target <= 0:
        raise ValueError("target must be a number above 0")
    goal["target"] = target
    goal["due_on"] = parse_date(raw.get("due_on") or None)
    if goal["due_on"] is not None and goal["due_on"] <= handoff.created_at.date():
        raise ValueError("due date must be after the deal was won")
    return goal


def _clean_goals(raw: Any, handoff: Handoff) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise Invalid({"goals": ["must be a list of goals"]})
    if len(raw) > GOALS_MAX:
        raise Invalid({"goals": [f"at most {GOALS_MAX} goals"]})
    goals, errors = [], []
    for i, item in enumerate(raw, start=1):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("must be an object")
            goals.append(_clean_goal(item, handoff))
        except ValueError as exc:
            errors.append(f"goal {i}: {exc}")
    if errors:
        raise Invalid({"goals": errors})
    return goals


def _clean_stakeholders(raw: Any, handoff: Handoff) -> list[tuple[Contact, str]]:
    if not isinstance(raw, list):
        raise Invalid({"stakeholders": ["must be a list of contact and role"]})
    wanted: dict[tuple[int, str], None] = {}
    errors: list[str] = []
    for item in raw:
        contact_id = item.get("contact_id") if isinstance(item, Mapping) else None
        role = item.get("role") if isinstance(item, Mapping) else None
        if role not in StakeholderRole.values:
            errors.append(f"{role!r} is not one of {', '.join(StakeholderRole.values)}")
        elif not isinstance(contact_id, int) or isinstance(contact_id, bool):
            errors.append("each stakeholder needs a contact_id")
        else:
            wanted[(contact_id, role)] = None
    contacts = Contact.objects.in_bulk({c for c, _ in wanted})
    for contact_id, _ in wanted:
        found = contacts.get(contact_id)
        if found is None or found.account_id != handoff.deal.account_id:
            errors.append(f"contact {contact_id} is not a contact of {handoff.deal.account.name}")
    if sum(role == StakeholderRole.CHAMPION for _, role in wanted) > 1:
        errors.append("name one champion only")
    if errors:
        raise Invalid({"stakeholders": errors})
    return [(contacts[c], role) for c, role in wanted]


def _clean_update(data: Mapping[str, Any], handoff: Handoff) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        errors["__all__"] = [f"unknown field(s): {', '.join(unknown)}"]
    cleaned: dict[str, Any] = {}
    cleaners: dict[str, Any] = {
        "promised": _PROMISED,
        "risks": _PROMISED,
        "kickoff_on": lambda v: parse_date(v or None),
        "goals": lambda v: _clean_goals(v, handoff),
        "stakeholders": lambda v: _clean_stakeholders(v, handoff),
    }
    for field in _FIELDS & set(data):
        try:
            cleaned[field] = cleaners[field](data[field])
        except ValueError as exc:
            errors.setdefault(field, []).append(str(exc))
        except Invalid as exc:
            for name, reasons in exc.errors.items():
                errors.setdefault(name, []).extend(reasons)
    if errors:
        raise Invalid(errors)
    return cleaned


def _goals_view(handoff: Handoff) -> list[str]:
    return [
        f"{g.name}: {g.measure} of {g.event} ≥ {g.target.normalize()}" for g in handoff.goals.all()
    ]


def _stakeholders_view(handoff: Handoff) -> list[str]:
    return [f"{s.contact.email}: {s.role}" for s in handoff.stakeholders.select_related("contact")]


def _state(handoff: Handoff) -> dict[str, Any]:
    return {
        "promised": handoff.promised,
        "risks": handoff.risks,
        "kickoff_on": handoff.kickoff_on.isoformat() if handoff.kickoff_on else None,
        "goals": _goals_view(handoff),
        "stakeholders": _stakeholders_view(handoff),
    }


def _hold_open(handoff: Handoff, now: dt.datetime) -> None:
    """Claim the row while it is open (a conditional UPDATE): an edit and an accept that
    race cannot both pass, and an accepted handoff stays as it was accepted."""
    if Handoff.objects.filter(pk=handoff.pk, status=HandoffStatus.OPEN).update(updated_at=now) != 1:
        raise Invalid(_READ_ONLY)
    handoff.updated_at = now


@transaction.atomic
def handoff_update(
    *, actor: User, handoff: Handoff, data: Mapping[str, Any], now: dt.datetime
) -> Handoff:
    """Change what the seller fills in: promised, risks, kickoff_on, goals (the whole list:
    name, event, measure, target, due_on) and stakeholders (the whole list: contact_id and
    role, contacts of the deal's account, one champion at most). Raises Invalid for a bad
    field or an accepted handoff."""
    cleaned = _clean_update(data, handoff)
    before = _state(handoff)
    _hold_open(handoff, now)
    for field in ("promised", "risks", "kickoff_on"):
        if field in cleaned:
            setattr(handoff, field, cleaned[field])
    handoff.save(update_fields=["promised", "risks", "kickoff_on"])
    if "goals" in cleaned:
        handoff.goals.all().delete()
        HandoffGoal.objects.bulk_create(HandoffGoal(handoff=handoff, **g) for g in cleaned["goals"])
    if "stakeholders" in cleaned:
        handoff.stakeholders.all().delete()
        Stakeholder.objects.bulk_create(
            Stakeholder(handoff=handoff, contact=c, role=r) for c, r in cleaned["stakeholders"]
        )
    after = _state(handoff)
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        _record(
            actor,
            handoff,
            "updated",
            f"Handoff of {handoff.deal.name} changed: {', '.join(changed)}",
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return handoff


# --- assigning and accepting -------------------------------------------------------------


@transaction.atomic
def handoff_assign(*, actor: User, handoff: Handoff, csm: User | None, now: dt.datetime) -> Handoff:
    """A manager's (or an admin's) choice of who accepts an open handoff; None unassigns it.
    Raises Forbidden for anyone else, Invalid for an inactive user or a rep, or an accepted
    handoff."""
    from goodword.users.models import Role

    if not (actor.is_manager or actor.is_admin_role):
        raise Forbidden("only managers assign handoffs")
    if csm is not None and (not csm.is_active or csm.role == Role.REP):
        raise Invalid({"csm": [f"{csm.email} is not an active CSM, manager or admin"]})
    before = handoff.csm.email if handoff.csm else None
    _hold_open(handoff, now)
    handoff.csm = csm
    handoff.save(update_fields=["csm"])
    _record(
        actor,
        handoff,
        "assigned",
        f"Handoff of {handoff.deal.name} assigned to {csm or 'nobody'}",
        before={"csm": before},
        after={"csm": csm.email if csm else None},
    )
    return handoff


def _champion(handoff: Handoff) -> Contact | None:
    found = handoff.stakeholders.filter(role=StakeholderRole.CHAMPION).select_related("contact")
    first = found.first()
    return first.contact if first is not None else None


def _check_welcome(handoff: Handoff) -> Contact:
    from goodword.referrals.emails import suppressed

    champion = _champion(handoff)
    if champion is None:
        raise Invalid({"send_welcome": ["name a champion to send the welcome email to"]})
    if suppressed(champion.email):
        raise Invalid(
            {"send_welcome": [f"{champion.email} asked never to be contacted: untick it"]}
        )
    return champion


@transaction.atomic
def handoff_accept(
    *, actor: User, handoff: Handoff, send_welcome: bool, now: dt.datetime
) -> Handoff:
    """The CSM takes the customer on: the required fields (HandoffSettings) must be there,
    its goals become signals.Goal rows for the `goal` rule, and with `send_welcome` the
    champion gets a welcome email from the CSM (through the outbox). Raises Forbidden for
    anyone but the handoff's CSM, Invalid naming each missing field (or a handoff without a
    CSM, already accepted, or a welcome email that cannot go)."""
    if handoff.csm_id is None:
        raise Invalid({"csm": ["assign a CSM before the handoff is accepted"]})
    if handoff.csm_id != actor.pk:
        raise Forbidden("only the handoff's CSM accepts it")
    if handoff.is_accepted:
        raise Invalid({"status": ["the handoff is accepted already"]})
    missing = handoff_missing(handoff)
    champion = _check_welcome(handoff) if send_welcome else None
    if missing:
        raise Invalid(missing)
    accepted = Handoff.objects.filter(pk=handoff.pk, status=HandoffStatus.OPEN).update(
        status=HandoffStatus.ACCEPTED, accepted_at=now, accepted_by=actor, updated_at=now
    )
    if accepted != 1:
        raise Invalid({"status": ["the handoff was accepted meanwhile; reload"]})
    handoff.refresh_from_db()
    goals = _goals_to_signals(handoff, now)
    if champion is not None:
        _welcome(handoff, champion, actor)
        handoff.welcome_sent_at = now
        handoff.save(update_fields=["welcome_sent_at"])
    _record(
        actor,
        handoff,
        "accepted",
        f"Handoff of {handoff.deal.name} accepted by {actor}",
        before={"status": HandoffStatus.OPEN},
        after={"status": HandoffStatus.ACCEPTED, "goals": goals, "welcome": champion is not None},
    )
    return handoff


def _goals_to_signals(handoff: Handoff, now: dt.datetime) -> list[int]:
    """Write (or rewrite, by external id) a signals.Goal per handoff goal, counted from the
    win; returns their ids."""
    from goodword.signals.models import Goal

    ids = []
    for item in handoff.goals.all():
        due = item.due_on
        goal, _ = Goal.objects.update_or_create(
            external_id=f"handoff:{handoff.pk}:goal:{item.pk}",
            defaults={
                "account_id": handoff.deal.account_id,
                "name": item.name,
                "event": item.event,
                "measure": item.measure,
                "target": item.target,
                "starts_at": handoff.created_at,
                "due_at": dt.datetime.combine(due, dt.time(), tzinfo=dt.UTC) if due else None,
                "imported_at": now,
            },
        )
        item.goal = goal
        item.save(update_fields=["goal"])
        ids.append(goal.pk)
    return ids


def _welcome(handoff: Handoff, champion: Contact, csm: User) -> None:
    """A one-to-one email from the CSM to the champion, written to the outbox in this
    transaction; replies go to the CSM."""
    from goodword.jobs.services import email_enqueue

    company = settings.COMPANY_NAME or "Goodword"
    context = {
        "handoff": handoff,
        "champion_first_name": champion.first_name or champion.full_name,
        "csm_name": csm.get_full_name() or csm.email,
        "csm_email": csm.email,
        "company": company,
        "product": settings.PRODUCT_NAME,
        "goals": list(handoff.goals.all()),
    }
    base = "handoffs/emails/welcome"
    email_enqueue(
        to=[champion.email],
        subject=" ".join(render_to_string(f"{base}-subject.html", context).split()),
        body_text=render_to_string(f"{base}-body-text.html", context).strip() + "\n",
        body_html=render_to_string(f"{base}-body-html.html", context),
        reply_to=[csm.email],
        owner_id=csm.pk,
        about=f"welcome email to {champion.email} (handoff #{handoff.pk})",
        from_name=f"{context['csm_name']} via {company}",
    )


# --- the checklist -------------------------------------------------------------------------


@transaction.atomic
def handoff_checklist_set(
    *, actor: User, handoff: Handoff, item_id: int, done: bool, now: dt.datetime
) -> ChecklistItem:
    """Tick or untick one checklist item (allowed on an accepted handoff too). Raises
    Invalid for an item of another handoff."""
    item = ChecklistItem.objects.filter(pk=item_id, handoff=handoff).first()
    if item is None:
        raise Invalid({"item": ["is not on this handoff's checklist"]})
    if item.done == done:
        return item
    item.done_at, item.done_by = (now, actor) if done else (None, None)
    item.save(update_fields=["done_at", "done_by"])
    _record(
        actor,
        handoff,
        "checklist_changed",
        f"Handoff of {handoff.deal.name}: {item.label} {'done' if done else 'not done'}",
        before={item.label: not done},
        after={item.label: done},
    )
    return item


# --- the admins' settings --------------------------------------------------------------------


@transaction.atomic
def settings_update(
    *, actor: User, required: list[str], checklist: list[str], now: dt.datetime
) -> HandoffSettings:
    """Admins only (Forbidden otherwise). `required` names fields of rules.REQUIRABLE;
    `checklist` is the list a new handoff starts with (blank lines dropped). Handoffs made
    before keep their own checklist."""
    if not actor.is_admin_role:
        raise Forbidden("only admins change the handoff settings")
    errors: dict[str, list[str]] = {}
    unknown = [name for name in required if name not in REQUIRABLE]
    if unknown:
        errors["required"] = [f"unknown field(s): {', '.join(unknown)}"]
    labels = [label.strip() for label in checklist if label.strip()]
    if len(labels) > CHECKLIST_MAX or any(len(label) > 200 for label in labels):
        errors["checklist"] = [f"at most {CHECKLIST_MAX} items of at most 200 characters"]
    if errors:
        raise Invalid(errors)
    row = settings_get()
    row.required = [name for name in REQUIRABLE if name in required]
    row.checklist = list(dict.fromkeys(labels))
    row.updated_at, row.updated_by = now, actor
    row.save()
    return row
