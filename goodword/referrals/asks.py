"""What the owner records on the ask page: that the ask was made (in a meeting, on a call or
by email) and what came of it, or the ask sent by email from Goodword. Each respects the
contact's ask budget (the same fatigue gate the scan applies)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from goodword.crm.cleaning import clean_fields, text
from goodword.crm.models import ASK_KINDS, NOT_APPROPRIATE, Contact, Task, TaskKind, TaskStatus
from goodword.crm.services import task_complete, task_create
from goodword.engine.gates import Block, fatigue
from goodword.engine.intros import IntroState
from goodword.lib.errors import Invalid
from goodword.lib.validators import clean_email
from goodword.referrals import emails
from goodword.referrals.models import Introduction
from goodword.referrals.people import Person
from goodword.referrals.services import advocate_link, intro_config, intro_create

if TYPE_CHECKING:
    from goodword.engine.peers import Suggestion
    from goodword.users.models import User

CHANNELS = {"meeting": "in a meeting", "call": "on a call", "email": "by email"}
OUTCOMES = {
    "agreed": "agreed to introduce someone",
    "declined": "declined",
    "no_answer": "no answer yet",
}


def asks_made_to(contact: Contact, *, now: dt.datetime) -> tuple[dt.datetime, ...]:
    """When each ask of any kind was made to `contact` (done, or closed as not appropriate)."""
    rows = Task.objects.filter(contact=contact, kind__in=ASK_KINDS, completed_at__lte=now).filter(
        status__in=[TaskStatus.DONE, TaskStatus.CANCELLED]
    )
    return tuple(
        t.completed_at
        for t in rows.only("status", "outcome", "completed_at")
        if t.completed_at is not None
        and (t.status == TaskStatus.DONE or t.outcome == NOT_APPROPRIATE)
    )


@dataclass(frozen=True)
class AskOverview:
    """What the ask page and the API show of an ask besides the task itself."""

    contacts: list[tuple[Contact, Block | None]]  # the account's, with why each may not be asked
    peers: list[Suggestion]  # whom to ask for, best first
    person: dict[str, str] | None  # the best of them, as the drafted intros name them


def ask_overview(task: Task, *, now: dt.datetime, limit: int = 10) -> AskOverview:
    """The account's contacts and whether each may be asked now, whom to ask for, and the
    person the drafts name (the first suggestion)."""
    from goodword.referrals.peers import peers_for

    contacts: list[Contact] = []
    peers: list[Suggestion] = []
    if task.account is not None:
        people = Contact.objects.filter(account=task.account)
        contacts = list(people.order_by("first_name", "last_name", "pk"))
        peers = peers_for(
            account=task.account, contact=task.contact, now=now, owner=task.owner, limit=limit
        )
    top = peers[0] if peers else None
    return AskOverview(
        contacts=[(c, contact_fatigue(c, now=now)) for c in contacts],
        peers=peers,
        person={"name": top.name, "company": top.company} if top is not None else None,
    )


def contact_fatigue(contact: Contact, *, now: dt.datetime) -> Block | None:
    """Why `contact` may not be asked now, and until when (None: they may)."""
    from goodword.moments.programmes import programme_current

    return fatigue(
        contact_name=contact.full_name or contact.email,
        asks=asks_made_to(contact, now=now),
        now=now,
        config=programme_current()[0].gates,
    )


def _askable(ask: Task, contact: Contact | None, now: dt.datetime) -> Contact:
    """The contact to ask, checked; raises Invalid saying why not."""
    if ask.kind != TaskKind.REFERRAL_ASK or ask.status != TaskStatus.OPEN:
        raise Invalid({"ask": ["this is no longer an open referral ask"]})
    contact = contact or ask.contact
    if contact is None:
        raise Invalid({"contact": ["choose the contact you asked"]})
    if contact.account_id != ask.account_id:
        raise Invalid({"contact": ["is not a contact of the ask's account"]})
    if contact.opted_out_at is not None:
        raise Invalid({"contact": [f"{contact} asked not to be asked for referrals"]})
    if emails.suppressed(contact.email):
        raise Invalid({"contact": [f"{contact} asked never to be contacted again"]})
    block = contact_fatigue(contact, now=now)
    if block is not None:
        raise Invalid({"contact": [f"not now: {block.reason}"]})
    if contact.pk != ask.contact_id:
        # The ask was made to someone else at the account: it counts against their budget.
        Task.objects.filter(pk=ask.pk).update(contact=contact)
        ask.contact = contact
    return contact


_PREFILL = {"name": text(200), "email": text(254), "company": text(200), "title": text(200)}


def person_prefill(data: dict[str, Any]) -> Person:
    """Whom the advocate mentioned, as far as the owner knows (every part optional); the
    advocate confirms or corrects it on their page. Raises Invalid on a bad field."""
    cleaned = clean_fields(_PREFILL, {k: data.get(k) for k in _PREFILL})
    if cleaned["email"]:
        try:
            cleaned["email"] = clean_email(cleaned["email"])
        except ValueError as bad:
            raise Invalid({"email": [str(bad)]}) from None
    return Person(**cleaned)


@dataclass(frozen=True)
class Recorded:
    task: Task
    introduction: Introduction | None = None
    follow_up: Task | None = None
    advocate_url: str = ""  # shown to the owner when they pass the link on themselves


@transaction.atomic
def ask_record(
    *,
    actor: User,
    ask: Task,
    channel: str,
    outcome: str,
    now: dt.datetime,
    contact: Contact | None = None,
    person: dict[str, Any] | None = None,
    note: str = "",
    email_link: bool = True,
) -> Recorded:
    """Record that the ask was made (`channel`: meeting, call or email) and its `outcome`:
    agreed (an introduction starts: the advocate gets a link to name the person, by email
    unless `email_link` is false, when the link is returned for the owner to pass on),
    declined, or no_answer (a follow-up task falls due after the programme's
    follow_up_days). Raises Invalid for an unknown channel or outcome, an ask no longer
    open, or a contact who may not be asked now (opted out, suppressed, out of budget)."""
    errors = {}
    if channel not in CHANNELS:
        errors["channel"] = [f"must be one of {', '.join(CHANNELS)}"]
    if outcome not in OUTCOMES:
        errors["outcome"] = [f"must be one of {', '.join(OUTCOMES)}"]
    if errors:
        raise Invalid(errors)
    contact = _askable(ask, contact, now)
    note = clean_fields({"note": text(2000)}, {"note": note})["note"]
    said = f"Asked {contact} {CHANNELS[channel]}: {OUTCOMES[outcome]}" + (
        f". {note}" if note else ""
    )
    if outcome == "agreed":
        return _agreed(actor, ask, contact, person or {}, said, now, email_link=email_link)
    done = task_complete(actor=actor, task=ask, outcome=OUTCOMES[outcome], notes=said)
    if outcome == "declined":
        return Recorded(task=done)
    days = intro_config().follow_up_days
    follow_up = task_create(
        actor=actor,
        owner=ask.owner,
        account=ask.account,
        contact=contact,
        data={
            "kind": TaskKind.FOLLOW_UP,
            "subject": f"Follow up on the referral ask to {contact}"[:200],
            "due_at": now + dt.timedelta(days=days),
            "notes": said,
        },
    )
    return Recorded(task=done, follow_up=follow_up)


def _agreed(
    actor: User,
    ask: Task,
    contact: Contact,
    person: dict[str, Any],
    said: str,
    now: dt.datetime,
    *,
    email_link: bool,
) -> Recorded:
    whom = person_prefill(person)
    intro = intro_create(
        actor=actor,
        ask=ask,
        advocate=contact,
        owner=ask.owner,
        state=IntroState.ADVOCATE_AGREED,
        person=whom,
        why=_why(ask),
        now=now,
    )
    url = advocate_link(intro, now=now)
    if email_link:
        emails.email_outside(
            "advocate-invite",
            introduction=intro,
            to=contact.email,
            now=now,
            context={"advocate_url": url, "reminder": False},
            from_name=_name(ask.owner),
        )
    outcome = "agreed to introduce" + (f" {whom.name}" if whom.name else " someone")
    done = task_complete(actor=actor, task=ask, outcome=outcome, notes=said)
    return Recorded(task=done, introduction=intro, advocate_url="" if email_link else url)


def _why(ask: Task) -> str:
    first = ask.notes.strip().splitlines()[0] if ask.notes.strip() else ""
    return first[:500]


def _name(user: User) -> str:
    return user.get_full_name() or user.email


_ASK_EMAIL = {"subject": text(200, required=True), "body": text(10_000, required=True)}


@transaction.atomic
def ask_email_send(
    *,
    actor: User,
    ask: Task,
    subject: str,
    body: str,
    now: dt.datetime,
    contact: Contact | None = None,
    person: dict[str, Any] | None = None,
) -> Recorded:
    """Send the ask by email from Goodword, in the owner's words (edited from the ask_email
    template): the email carries the link to the advocate's page, where they name the
    person or say they can't think of anyone. The ask counts as made; the introduction
    waits for the advocate (reminded once, then it expires). Raises Invalid for a missing
    subject or body, an ask no longer open or a contact who may not be asked now."""
    cleaned = clean_fields(_ASK_EMAIL, {"subject": subject, "body": body})
    contact = _askable(ask, contact, now)
    intro = intro_create(
        actor=actor,
        ask=ask,
        advocate=contact,
        owner=ask.owner,
        state=IntroState.ADVOCATE_AGREED,
        person=person_prefill(person or {}),
        why=_why(ask),
        now=now,
    )
    emails.email_outside(
        "ask",
        introduction=intro,
        to=contact.email,
        now=now,
        context={
            "subject": cleaned["subject"],
            "message": cleaned["body"],
            "advocate_url": advocate_link(intro, now=now),
        },
        from_name=_name(ask.owner),
    )
    done = task_complete(
        actor=actor,
        task=ask,
        outcome="asked by email",
        notes=f"Asked {contact} by email from Goodword: {cleaned['subject']}",
    )
    return Recorded(task=done, introduction=intro)
