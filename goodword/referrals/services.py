"""Every write of an introduction's life: started from an ask, named by the advocate,
answered by the person, withdrawn, reminded and expired by the worker.

A transition is applied by `_apply`: a conditional UPDATE on the state the introduction was
read in, so of two requests racing on one introduction exactly one moves it; the loser gets
Invalid and nothing it wrote survives (each service is one transaction). Emails are written
to the outbox in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from goodword.crm.models import Contact, Task
from goodword.crm.services import activity_record, contact_opt_out
from goodword.engine.intros import (
    FINAL,
    WAITING,
    Due,
    IllegalTransition,
    IntroEvent,
    IntroState,
    Timing,
    due,
    next_due_at,
    transition,
)
from goodword.engine.programme import IntroConfig
from goodword.lib.errors import Invalid
from goodword.referrals import emails
from goodword.referrals.links import link_create, link_url, link_use
from goodword.referrals.models import (
    REMIND,
    START,
    Consent,
    ConsentChannel,
    ConsentDecision,
    Introduction,
    IntroductionStep,
    IntroLink,
    LinkPurpose,
    Suppression,
)
from goodword.referrals.people import Person, person_clean

if TYPE_CHECKING:
    from goodword.users.models import User

E, S = IntroEvent, IntroState


def intro_config() -> IntroConfig:
    from goodword.moments.programmes import programme_current

    return programme_current()[0].introductions


def _timing() -> Timing:
    config = intro_config()
    return Timing(config.remind_after_days, config.expire_after_days)


@dataclass(frozen=True)
class Visitor:
    """Who sent a request through an emailed link, as far as the request tells."""

    ip: str | None = None
    user_agent: str = ""


# --- applying a transition -----------------------------------------------------------------


def _apply(
    intro: Introduction,
    event: IntroEvent,
    *,
    by: str,
    now: dt.datetime,
    actor: User | None = None,
    note: str = "",
    **fields: Any,
) -> Introduction:
    """Move `intro` by `event` if it is still in the state it was read in; write the step.
    Raises Invalid when the event does not apply or another request moved it first."""
    before = IntroState(intro.state)
    try:
        after = transition(before, event)
    except IllegalTransition as refused:
        raise Invalid({"state": [str(refused)]}) from None
    values: dict[str, Any] = {"state": after.value, "updated_at": now, **fields}
    if after in WAITING and after != before:
        values.update(waiting_since=now, reminded_at=None)
    values["due_at"] = next_due_at(
        state=after,
        waiting_since=values.get("waiting_since", intro.waiting_since),
        reminded=values.get("reminded_at", intro.reminded_at) is not None,
        timing=_timing(),
    )
    if after in FINAL:
        values["closed_at"] = now
    moved = Introduction.objects.filter(pk=intro.pk, state=before.value).update(**values)
    if moved != 1:
        raise Invalid({"state": ["the introduction changed meanwhile: reload the page"]})
    for name, value in values.items():
        setattr(intro, name, value)
    _step(intro, event.value, before.value, after.value, by=by, actor=actor, note=note, now=now)
    return intro


def _step(
    intro: Introduction,
    event: str,
    before: str,
    after: str,
    *,
    by: str,
    now: dt.datetime,
    actor: User | None = None,
    note: str = "",
) -> None:
    IntroductionStep.objects.create(
        introduction=intro,
        event=event,
        from_state=before,
        to_state=after,
        by=by,
        actor=actor,
        note=note[:300],
        at=now,
    )


def _activity(intro: Introduction, actor: User | None, verb: str, summary: str) -> None:
    activity_record(
        actor=actor,
        account=intro.advocate_account,
        verb=f"introduction.{verb}",
        obj=intro,
        summary=summary[:300],
        after={"state": intro.state},
    )


def _expires(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=intro_config().expire_after_days)


# --- starting ------------------------------------------------------------------------------


def intro_create(
    *,
    actor: User | None,
    ask: Task | None,
    advocate: Contact,
    owner: User,
    state: IntroState,
    person: Person | None,
    why: str,
    now: dt.datetime,
    channel: str = "",
    notes: str = "",
) -> Introduction:
    """A new introduction in `state` (advocate_agreed, or awaiting_consent for a referral
    logged by hand), with its first step. Call inside the caller's transaction."""
    person = person or Person()
    intro = Introduction.objects.create(
        state=state.value,
        ask=ask,
        advocate_account=advocate.account,
        advocate=advocate,
        owner=owner,
        person_name=person.name,
        person_email=person.email,
        person_company=person.company,
        person_title=person.title,
        why=why[:500],
        channel=channel,
        notes=notes,
        waiting_since=now,
        due_at=next_due_at(state=state, waiting_since=now, reminded=False, timing=_timing()),
        created_at=now,
        updated_at=now,
    )
    _step(intro, START, "", state.value, by="owner", actor=actor, now=now)
    return intro


def advocate_link(intro: Introduction, *, now: dt.datetime) -> str:
    """A fresh link for the advocate's page (valid until the introduction would expire)."""
    assert intro.advocate is not None
    key = link_create(
        introduction=intro,
        purpose=LinkPurpose.ADVOCATE,
        email=intro.advocate.email,
        now=now,
        expires_at=max(_expires(intro.waiting_since), now + dt.timedelta(days=1)),
    )
    return link_url(LinkPurpose.ADVOCATE, key)


def consent_link(intro: Introduction, *, now: dt.datetime) -> str:
    key = link_create(
        introduction=intro,
        purpose=LinkPurpose.CONSENT,
        email=intro.person_email,
        now=now,
        expires_at=max(_expires(intro.waiting_since), now + dt.timedelta(days=1)),
    )
    return link_url(LinkPurpose.CONSENT, key)


# --- the advocate names the person ---------------------------------------------------------


def _person_refusals(intro: Introduction, person: Person) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if emails.suppressed(person.email):
        errors["email"] = ["this person asked never to be contacted by us: please choose another"]
    elif intro.advocate is not None and person.email.lower() == intro.advocate.email.lower():
        errors["email"] = ["that is your own address: please give the address of the person"]
    return errors


@transaction.atomic
def intro_name(
    *,
    link: IntroLink,
    data: dict[str, Any],
    now: dt.datetime,
) -> tuple[Introduction, str | None]:
    """The advocate names the person (name, email, company, title), may adjust the blurb,
    and chooses whether Goodword sends the consent request in their name (`send` true) or
    they forward a link themselves. Returns the introduction and, when they forward it, the
    consent link to copy (shown once). Raises Invalid on a bad field, a suppressed or own
    address, or when the introduction no longer waits for a name; LinkRefused when another
    request used the link first. Nothing is written when it raises."""
    intro = link.introduction
    person = person_clean(data)
    refusals = _person_refusals(intro, person)
    if refusals:
        raise Invalid(refusals)
    send = bool(data.get("send"))
    blurb = str(data.get("blurb") or "").strip()[:4000]
    link_use(link=link, now=now)
    _apply(
        intro,
        E.NAME,
        by="advocate",
        now=now,
        person_name=person.name,
        person_email=person.email,
        person_company=person.company,
        person_title=person.title,
        blurb=blurb or intro.blurb,
        channel=ConsentChannel.GOODWORD if send else ConsentChannel.FORWARDED,
    )
    url = consent_link(intro, now=now)
    if send:
        _consent_request(intro, url, now=now)
    _activity(intro, None, "named", f"{_advocate_name(intro)} named {person.name} to introduce")
    return intro, None if send else url


def _advocate_name(intro: Introduction) -> str:
    advocate = intro.advocate
    return (advocate.full_name or advocate.email) if advocate else intro.advocate_account.name


def _consent_request(
    intro: Introduction, url: str, *, now: dt.datetime, reminder: bool = False
) -> bool:
    """The consent request, in the advocate's name and answered to them; for a referral
    logged by hand (no advocate page), in the owner's."""
    advocate = intro.advocate
    logged = intro.ask_id is None and intro.owner is not None
    sender = intro.owner if logged else None
    return emails.email_outside(
        "consent-request",
        introduction=intro,
        to=intro.person_email,
        now=now,
        context={"consent_url": url, "reminder": reminder, "logged": logged},
        reply_to=[sender.email] if sender else [advocate.email] if advocate else None,
        from_name=(sender.get_full_name() or sender.email) if sender else _advocate_name(intro),
    )


# --- the person answers --------------------------------------------------------------------


def consent_text(intro: Introduction) -> str:
    """What the consent page says the person agrees to: shown on the page and stored with
    their answer word for word, as proof of what they were told."""
    from django.conf import settings

    company = settings.COMPANY_NAME or "the company"
    owner = intro.owner.get_full_name() or intro.owner.email if intro.owner else "our team"
    held = ", ".join(
        part
        for part, value in (
            ("your name", intro.person_name),
            ("email address", intro.person_email),
            ("company", intro.person_company),
            ("job title", intro.person_title),
        )
        if value
    )
    return (
        f"{_advocate_name(intro)} of {intro.advocate_account.name} suggested introducing you "
        f"to {owner} at {company}. If you accept, we will send one email introducing you to "
        f"each other, and {company} will keep {held or 'your details'} to follow up with "
        f"you about this introduction. If you decline, nobody will contact you about it. "
        f"You can ask us at any time to stop contacting you and to remove your details."
    )


def _consent(
    intro: Introduction,
    decision: ConsentDecision,
    *,
    link: IntroLink | None,
    visitor: Visitor,
    now: dt.datetime,
    recorded_by: User | None = None,
    channel: str = "",
    email: str = "",
) -> Consent:
    return Consent.objects.create(
        introduction=intro,
        email=(email or intro.person_email).lower(),
        name=intro.person_name,
        decision=decision,
        purpose=f"introduction to {intro.owner or 'our team'} (introduction #{intro.pk})",
        text_shown=consent_text(intro),
        channel=channel or intro.channel or ConsentChannel.GOODWORD,
        link=link,
        recorded_by=recorded_by,
        ip=visitor.ip,
        user_agent=visitor.user_agent[:300],
        at=now,
    )


@transaction.atomic
def intro_answer(
    *, link: IntroLink, decision: str, visitor: Visitor, now: dt.datetime
) -> Introduction:
    """The person's answer from the consent page: accept, decline or suppress ("please
    don't contact me again": declines and blocks the address for good). Accepting
    introduces them (see matching.intro_introduce). Raises Invalid for an unknown decision
    or an introduction no longer waiting for them; LinkRefused when another request used
    the link first (then nothing is written)."""
    if decision not in {"accept", "decline", "suppress"}:
        raise Invalid({"decision": ["must be accept, decline or suppress"]})
    intro = link.introduction
    link_use(link=link, now=now)
    if decision == "accept":
        _apply(intro, E.ACCEPT, by="contact", now=now)
        _consent(intro, ConsentDecision.ACCEPTED, link=link, visitor=visitor, now=now)
        _activity(intro, None, "accepted", f"{intro.person_name} accepted the introduction")
        _accepted(intro, now=now)
        return intro
    _apply(intro, E.DECLINE, by="contact", now=now, note=decision)
    if decision == "suppress":
        _suppress(link.email, why=f"asked on the consent page of introduction #{intro.pk}", now=now)
        _consent(intro, ConsentDecision.SUPPRESSED, link=link, visitor=visitor, now=now)
    else:
        _consent(intro, ConsentDecision.DECLINED, link=link, visitor=visitor, now=now)
    _activity(intro, None, "declined", f"{intro.person_name} declined the introduction")
    return intro


def _accepted(intro: Introduction, *, now: dt.datetime) -> None:
    from goodword.referrals.matching import intro_introduce
    from goodword.referrals.rewards import rewards_grant

    rewards_grant(introduction=intro, trigger="accepted", now=now)
    intro_introduce(intro, now=now)


# --- never again ---------------------------------------------------------------------------


def _suppress(email: str, *, why: str, now: dt.datetime) -> bool:
    """Block `email` for good and opt its contacts out; False when it already was."""
    email = email.strip().lower()
    _, created = Suppression.objects.get_or_create(
        email=email, defaults={"reason": why[:300], "at": now}
    )
    for contact in Contact.objects.filter(email__iexact=email, opted_out_at__isnull=True):
        contact_opt_out(actor=None, contact=contact, how="asked never to be contacted again")
    return created


@transaction.atomic
def unsubscribe(*, link: IntroLink, visitor: Visitor, now: dt.datetime) -> None:
    """Someone used the unsubscribe link of one of our emails (the page's button, or their
    mail program's one-click POST): their address is blocked for good, a waiting
    introduction that depended on them is closed, and the request is recorded as proof.
    Raises LinkRefused when the link was used already (the first use did it all)."""
    link_use(link=link, now=now)
    intro = link.introduction
    _suppress(link.email, why=f"unsubscribed from an email of introduction #{intro.pk}", now=now)
    _consent(
        intro, ConsentDecision.SUPPRESSED, link=link, visitor=visitor, now=now, email=link.email
    )
    state = IntroState(intro.state)
    if state == S.AWAITING_CONSENT and link.email == intro.person_email.lower():
        _apply(intro, E.DECLINE, by="contact", now=now, note="unsubscribed")
    elif state in WAITING and intro.advocate and link.email == intro.advocate.email.lower():
        _apply(intro, E.WITHDRAW, by="advocate", now=now, note="the advocate unsubscribed")


# --- calling it off ------------------------------------------------------------------------


@transaction.atomic
def intro_withdraw(
    *,
    intro: Introduction,
    actor: User | None,
    note: str,
    now: dt.datetime,
    link: IntroLink | None = None,
) -> Introduction:
    """The owner (actor) or the advocate (through their link) calls the introduction off
    before anyone is introduced. Raises Invalid once it is too late (nothing changes)."""
    if link is not None:
        link_use(link=link, now=now)
    by = "advocate" if link is not None else "owner"
    _apply(intro, E.WITHDRAW, by=by, actor=actor, note=note, now=now)
    _activity(
        intro,
        actor,
        "withdrawn",
        f"Introduction of {intro.person_name or 'someone'} withdrawn by the {by}",
    )
    return intro


# --- the worker's upkeep -------------------------------------------------------------------


def intros_tend(*, now: dt.datetime, limit: int = 500) -> dict[str, int]:
    """Remind and expire the waiting introductions that are due at `now`; returns how many
    of each. Safe to run from several workers: each change is a conditional UPDATE."""
    done = {"reminded": 0, "expired": 0}
    timing = _timing()
    rows = Introduction.objects.filter(due_at__lte=now).select_related(
        "advocate", "advocate_account", "owner"
    )
    for intro in rows.order_by("due_at", "id")[:limit]:
        owed = due(
            state=IntroState(intro.state),
            waiting_since=intro.waiting_since,
            reminded=intro.reminded_at is not None,
            now=now,
            timing=timing,
        )
        try:
            with transaction.atomic():
                if owed == Due.EXPIRE:
                    _apply(intro, E.EXPIRE, by="worker", now=now, note="nobody answered in time")
                    done["expired"] += 1
                elif owed == Due.REMIND and _remind(intro, timing=timing, now=now):
                    done["reminded"] += 1
                elif owed is None:
                    _reschedule(intro, timing)
        except Invalid:
            continue  # another worker or a person moved it meanwhile
    return done


def _reschedule(intro: Introduction, timing: Timing) -> None:
    """A row whose due_at was set under other timing settings: set it again."""
    at = next_due_at(
        state=IntroState(intro.state),
        waiting_since=intro.waiting_since,
        reminded=intro.reminded_at is not None,
        timing=timing,
    )
    Introduction.objects.filter(pk=intro.pk, due_at=intro.due_at).update(due_at=at)


def _remind(intro: Introduction, *, timing: Timing, now: dt.datetime) -> bool:
    at = next_due_at(
        state=IntroState(intro.state),
        waiting_since=intro.waiting_since,
        reminded=True,
        timing=timing,
    )
    claimed = Introduction.objects.filter(
        pk=intro.pk, state=intro.state, reminded_at__isnull=True
    ).update(reminded_at=now, due_at=at, updated_at=now)
    if claimed != 1:
        return False
    intro.reminded_at, intro.due_at = now, at
    if intro.state == S.ADVOCATE_AGREED and intro.advocate is not None:
        emails.email_outside(
            "advocate-invite",
            introduction=intro,
            to=intro.advocate.email,
            now=now,
            context={"advocate_url": advocate_link(intro, now=now), "reminder": True},
        )
    elif intro.state == S.AWAITING_CONSENT and intro.channel == ConsentChannel.GOODWORD:
        _consent_request(intro, consent_link(intro, now=now), now=now, reminder=True)
    elif intro.state == S.AWAITING_CONSENT and intro.advocate is not None:
        # The advocate forwarded the link themselves: remind them, with a fresh one to pass on.
        emails.email_outside(
            "forward-reminder",
            introduction=intro,
            to=intro.advocate.email,
            now=now,
            context={"consent_url": consent_link(intro, now=now)},
        )
    _step(intro, REMIND, intro.state, intro.state, by="worker", now=now)
    return True


# --- a referral logged by hand -------------------------------------------------------------


@transaction.atomic
def referral_log(
    *,
    actor: User,
    advocate: Contact,
    data: dict[str, Any],
    consent: str,
    now: dt.datetime,
    notes: str = "",
) -> Introduction:
    """Record a referral a customer made in person: `advocate` named the person in `data`
    (name, email, company, title). With consent "in_person" the person already agreed in
    front of the owner: it is recorded as such and they are introduced at once (deal and
    credit as for any introduction); with "email" Goodword asks them first, in the owner's
    name. Raises Invalid on a bad field, an advocate who is not at a customer, a suppressed
    or the advocate's own address, or an unknown consent (nothing is written)."""
    from goodword.crm.models import Lifecycle

    if consent not in {"in_person", "email"}:
        raise Invalid({"consent": ["must be in_person or email"]})
    person = person_clean(data)
    errors: dict[str, list[str]] = {}
    if advocate.account.lifecycle != Lifecycle.CUSTOMER:
        errors["advocate"] = [f"{advocate.account.name} is not a customer"]
    if emails.suppressed(person.email):
        errors["email"] = ["this person asked never to be contacted by us"]
    elif person.email == advocate.email.lower():
        errors["email"] = ["is the advocate's own address"]
    if errors:
        raise Invalid(errors)
    channel = ConsentChannel.IN_PERSON if consent == "in_person" else ConsentChannel.GOODWORD
    intro = intro_create(
        actor=actor,
        ask=None,
        advocate=advocate,
        owner=actor,
        state=S.AWAITING_CONSENT,
        person=person,
        why="logged by hand",
        now=now,
        channel=channel,
        notes=notes[:10_000],
    )
    _activity(
        intro, actor, "logged", f"Referral of {person.name} by {_advocate_name(intro)} logged"
    )
    if consent == "email":
        _consent_request(intro, consent_link(intro, now=now), now=now)
        return intro
    _apply(intro, E.ACCEPT, by="owner", actor=actor, now=now, note="consent given in person")
    _consent(
        intro,
        ConsentDecision.ACCEPTED,
        link=None,
        visitor=Visitor(),
        now=now,
        recorded_by=actor,
        channel=ConsentChannel.IN_PERSON,
    )
    _accepted(intro, now=now)
    return intro
