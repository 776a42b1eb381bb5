"""What happens once a person accepts: they and their company are found among the customer
records (by email, then by company domain) or added; the owner is chosen by routing; the
referred deal is opened with the advocate's credit, unless the person's company is a
customer already or in an open deal, which is flagged to the owner instead of opening a
duplicate. Then the introduction email goes to the person, the advocate and the owner.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When

from goodword.crm.models import Account, Contact, Deal, Lifecycle, Stage
from goodword.crm.services import account_create, account_update, contact_create, deal_create
from goodword.engine.domains import company_domain
from goodword.engine.intros import IntroEvent
from goodword.referrals import emails
from goodword.referrals.models import Introduction

if TYPE_CHECKING:
    from goodword.users.models import User


def person_find_or_create(intro: Introduction) -> tuple[Contact, bool]:
    """The person's contact record: one with their email (a prospect's first), else a new
    contact at the account with their company's email domain, else at a new prospect
    account. Returns the contact and whether it was created."""
    prospects_first = Case(
        When(account__lifecycle=Lifecycle.PROSPECT, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    found = (
        Contact.objects.filter(email__iexact=intro.person_email)
        .select_related("account", "account__owner")
        .order_by(prospects_first, "id")
        .first()
    )
    if found is not None:
        return found, False
    account = _company(intro)
    first, _, last = intro.person_name.partition(" ")
    contact = contact_create(
        actor=None,
        account=account,
        data={
            "first_name": first[:100],
            "last_name": last.strip()[:100],
            "email": intro.person_email,
            "title": intro.person_title,
        },
    )
    return contact, True


def _company(intro: Introduction) -> Account:
    domain = company_domain(intro.person_email)
    if domain:
        account = (
            Account.objects.filter(domain__iexact=domain)
            .select_related("owner")
            .order_by("id")
            .first()
        )
        if account is not None:
            return account
    name = intro.person_company or domain or f"{intro.person_name} (referred)"
    return account_create(
        actor=None,
        data={"name": name[:200], "domain": domain, "lifecycle": Lifecycle.PROSPECT},
    )


def why_not_a_deal(account: Account) -> str:
    """Why the referred company must not get a new deal ('' when it may)."""
    if account.lifecycle == Lifecycle.CUSTOMER:
        return f"{account.name} is already a customer: talk to its owner before opening a deal"
    open_deal = (
        Deal.objects.filter(account=account, closed_at__isnull=True)
        .exclude(stage__is_won=True)
        .exclude(stage__is_lost=True)
        .select_related("owner")
        .order_by("created_at", "id")
        .first()
    )
    if open_deal is not None:
        owner = f", owned by {open_deal.owner}" if open_deal.owner else ""
        return f"{account.name} is already in an open deal ({open_deal.name}{owner})"
    return ""


def route_owner(intro: Introduction, account: Account, route_to: str) -> User | None:
    """Who gets the referred deal: the prospect's own owner, else the advocate account's
    owner (prospect_owner); always the advocate account's owner (advocate_owner); or the
    owner of the introduction (ask_owner). An inactive user is passed over."""

    def active(user: User | None) -> User | None:
        return user if user is not None and user.is_active else None

    advocate_owner = active(intro.advocate_account.owner)
    if route_to == "ask_owner":
        order = [active(intro.owner), advocate_owner]
    elif route_to == "advocate_owner":
        order = [advocate_owner, active(intro.owner)]
    else:
        order = [active(account.owner), advocate_owner, active(intro.owner)]
    return next((user for user in order if user is not None), None)


def first_open_stage() -> Stage:
    stage = Stage.objects.filter(is_won=False, is_lost=False).order_by("position", "id").first()
    if stage is None:
        raise LookupError("the pipeline has no open stage: add one under Admin > Stages")
    return stage


def referred_deal(
    intro: Introduction, account: Account, owner: User | None, now: dt.datetime
) -> Deal:
    """The referred deal in the pipeline's first open stage, all its credit to the advocate
    (their account when the introduction names no contact), linked to the introduction."""
    advocate = intro.advocate.full_name if intro.advocate and intro.advocate.full_name else None
    name = f"{account.name} — referred by {advocate or intro.advocate_account.name}"
    deal = deal_create(
        actor=None,
        account=account,
        stage=first_open_stage(),
        data={
            "name": name[:200],
            "source": "referral",
            "kind": "new",
            "currency": settings.HOME_CURRENCY,
        },
        owner=owner,
        referred_by=intro.advocate or intro.advocate_account,
        introduction=intro,
    )
    return deal


def intro_introduce(intro: Introduction, *, now: dt.datetime) -> Introduction:
    """After the person accepted: match or create their records, route, open the deal or
    flag, and send the introduction emails. Call inside the acceptance's transaction."""
    from goodword.referrals.rewards import rewards_grant
    from goodword.referrals.services import _activity, _apply, intro_config

    contact, _ = person_find_or_create(intro)
    account = contact.account
    owner = route_owner(intro, account, intro_config().route_to)
    if account.owner_id is None and owner is not None:
        account = account_update(actor=None, account=account, data={}, owner=owner)
    flag = why_not_a_deal(account)
    _apply(intro, IntroEvent.INTRODUCE, by="worker", now=now, person_contact=contact, flag=flag)
    _introduction_emails(intro, owner, now=now)
    if flag:
        _activity(intro, None, "flagged", f"Referral of {intro.person_name} flagged: {flag}")
        return intro
    deal = referred_deal(intro, account, owner, now)
    _apply(intro, IntroEvent.OPEN_OPPORTUNITY, by="worker", now=now, deal=deal)
    rewards_grant(introduction=intro, trigger="opportunity", now=now, deal=deal)
    return intro


def _introduction_emails(intro: Introduction, owner: User | None, *, now: dt.datetime) -> None:
    routed = owner or intro.owner
    context = {
        "routed_name": (routed.get_full_name() or routed.email) if routed else "",
        "routed_email": routed.email if routed else "",
    }
    reply = [routed.email] if routed else None
    emails.email_outside(
        "introduction-person",
        introduction=intro,
        to=intro.person_email,
        now=now,
        context=context,
        reply_to=reply,
    )
    if intro.advocate is not None:
        emails.email_outside(
            "introduction-advocate",
            introduction=intro,
            to=intro.advocate.email,
            now=now,
            context=context,
            reply_to=reply,
        )
    for user in {u.pk: u for u in (routed, intro.owner) if u is not None}.values():
        emails.email_owner("introduction-owner", introduction=intro, to=user, context=context)
