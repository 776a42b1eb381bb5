"""The introduction's life through the services: from the ask to the referred deal, each
refusal leaving everything as it was, and the worker's reminders and expiry."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from goodword.crm.models import Account, Contact, Deal, Lifecycle, Stage, Task, TaskKind, TaskStatus
from goodword.crm.services import account_create, contact_create, task_create
from goodword.jobs.models import Job
from goodword.lib.errors import Invalid
from goodword.referrals import asks, services
from goodword.referrals.links import LinkProblem, LinkRefused, link_find
from goodword.referrals.models import (
    Consent,
    DealCredit,
    Introduction,
    IntroLink,
    LinkPurpose,
    Suppression,
)
from goodword.users.models import User

pytestmark = pytest.mark.django_db
VISITOR = services.Visitor(ip="203.0.113.9", user_agent="pytest")


def emails_to(address: str) -> list[dict[str, Any]]:
    return [
        j.payload
        for j in Job.objects.filter(kind="email.send").order_by("id")
        if address in j.payload["to"]
    ]


def key_in(payload: dict[str, Any], route: str) -> str:
    found = re.search(rf"/r/{route}/([A-Za-z0-9_.-]+)/", payload["body_text"])
    assert found, payload["body_text"]
    return found.group(1)


def live(key: str, purpose: LinkPurpose) -> IntroLink:
    return link_find(key=key, purpose=purpose, now=timezone.now())


@pytest.fixture
def agreed(rep: User, ask: Task, contact: Contact, stages: dict[str, Stage]) -> Introduction:
    recorded = asks.ask_record(
        actor=rep,
        ask=ask,
        channel="meeting",
        outcome="agreed",
        now=timezone.now(),
        person={"name": "Grace Hopper", "company": "Globex"},
    )
    assert recorded.introduction is not None
    return recorded.introduction


def name(
    intro: Introduction, *, send: bool = True, email: str = "grace@globex.com"
) -> tuple[Introduction, str | None]:
    key = key_in(emails_to("ada@acme.io")[-1], "advocate")
    data = {
        "name": "Grace Hopper",
        "email": email,
        "company": "Globex",
        "title": "CTO",
        "send": "1" if send else "",
    }
    return services.intro_name(link=live(key, LinkPurpose.ADVOCATE), data=data, now=timezone.now())


def consent_key(address: str = "grace@globex.com") -> str:
    return key_in(emails_to(address)[-1], "consent")


# --- the ask -------------------------------------------------------------------------------------


def test_an_agreed_ask_starts_an_introduction_and_emails_the_advocate_their_link(
    agreed: Introduction, ask: Task, contact: Contact
) -> None:
    ask.refresh_from_db()
    assert (agreed.state, agreed.person_name, agreed.person_company) == (
        "advocate_agreed",
        "Grace Hopper",
        "Globex",
    )
    assert [s.event for s in agreed.steps.all()] == ["start"]
    assert (ask.status, ask.outcome) == (TaskStatus.DONE, "agreed to introduce Grace Hopper")
    [invite] = emails_to("ada@acme.io")
    assert "Grace Hopper" in invite["subject"]
    link = live(key_in(invite, "advocate"), LinkPurpose.ADVOCATE)
    assert (link.introduction_id, link.email) == (agreed.pk, "ada@acme.io")
    assert agreed.due_at == agreed.waiting_since + dt.timedelta(days=5)


def test_no_answer_closes_the_ask_with_a_follow_up_task(rep: User, ask: Task) -> None:
    now = timezone.now()
    recorded = asks.ask_record(actor=rep, ask=ask, channel="call", outcome="no_answer", now=now)
    assert recorded.task.outcome == "no answer yet"
    assert recorded.follow_up is not None
    assert (recorded.follow_up.kind, recorded.follow_up.due_at) == (
        TaskKind.FOLLOW_UP,
        now + dt.timedelta(days=7),
    )
    assert not Introduction.objects.exists()


def test_a_contact_out_of_budget_cannot_be_asked_and_nothing_changes(
    rep: User, account: Account, contact: Contact, ask: Task
) -> None:
    now = timezone.now()
    for days in (200, 120, 40):
        done = task_create(
            actor=None,
            owner=rep,
            account=account,
            contact=contact,
            data={"kind": "review_ask", "subject": f"Review ask {days}", "status": "done"},
        )
        Task.objects.filter(pk=done.pk).update(completed_at=now - dt.timedelta(days=days))
    with pytest.raises(Invalid) as refused:
        asks.ask_record(actor=rep, ask=ask, channel="call", outcome="agreed", now=now)
    assert "3 asks of any kind in 365 days (budget 3)" in refused.value.errors["contact"][0]
    ask.refresh_from_db()
    assert ask.status == TaskStatus.OPEN
    assert not Introduction.objects.exists()
    assert not Job.objects.exists()


def test_the_ask_sent_by_email_carries_the_advocate_link(rep: User, ask: Task) -> None:
    recorded = asks.ask_email_send(
        actor=rep,
        ask=ask,
        subject="A favour?",
        body="Hi Ada,\n\nWho else should hear about this?",
        now=timezone.now(),
    )
    [sent] = emails_to("ada@acme.io")
    assert sent["subject"] == "A favour?"
    assert sent["body_text"].startswith("Hi Ada,\n\nWho else should hear about this?")
    assert recorded.introduction is not None
    link = live(key_in(sent, "advocate"), LinkPurpose.ADVOCATE)
    assert link.introduction_id == recorded.introduction.pk
    assert recorded.task.outcome == "asked by email"


# --- naming the person ---------------------------------------------------------------------------


def test_naming_sends_the_consent_request_in_the_advocates_name(agreed: Introduction) -> None:
    intro, url = name(agreed)
    assert url is None
    assert (intro.state, intro.person_email, intro.channel) == (
        "awaiting_consent",
        "grace@globex.com",
        "goodword",
    )
    [request] = emails_to("grace@globex.com")
    assert request["reply_to"] == ["ada@acme.io"]
    assert request["from_name"].startswith("Ada Lovelace via")
    assert live(consent_key(), LinkPurpose.CONSENT).introduction_id == intro.pk


def test_naming_to_forward_returns_the_consent_link_and_sends_nothing(agreed: Introduction) -> None:
    intro, url = name(agreed, send=False)
    assert url is not None
    assert not emails_to("grace@globex.com")
    key = url.rstrip("/").rsplit("/", 1)[1]
    assert live(key, LinkPurpose.CONSENT).email == "grace@globex.com"
    assert intro.channel == "forwarded"


def test_the_advocate_link_works_once(agreed: Introduction) -> None:
    key = key_in(emails_to("ada@acme.io")[-1], "advocate")
    name(agreed)
    with pytest.raises(LinkRefused) as refused:
        live(key, LinkPurpose.ADVOCATE)
    assert refused.value.problem == LinkProblem.USED


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("ada@acme.io", "that is your own address"),
        ("gone@globex.com", "asked never to be contacted"),
    ],
)
def test_a_refused_name_changes_nothing(agreed: Introduction, email: str, why: str) -> None:
    Suppression.objects.create(email="gone@globex.com", reason="test", at=timezone.now())
    key = key_in(emails_to("ada@acme.io")[-1], "advocate")
    with pytest.raises(Invalid) as refused:
        name(agreed, email=email)
    assert why in refused.value.errors["email"][0]
    agreed.refresh_from_db()
    assert agreed.state == "advocate_agreed"
    assert live(key, LinkPurpose.ADVOCATE).used_at is None


# --- the answer ----------------------------------------------------------------------------------


def test_accepting_introduces_everyone_and_opens_the_credited_deal(
    agreed: Introduction, rep: User
) -> None:
    intro, _ = name(agreed)
    link = live(consent_key(), LinkPurpose.CONSENT)
    services.intro_answer(link=link, decision="accept", visitor=VISITOR, now=timezone.now())
    intro.refresh_from_db()
    assert intro.state == "opportunity"
    assert [s.event for s in intro.steps.all()] == [
        "start",
        "name",
        "accept",
        "introduce",
        "open_opportunity",
    ]
    person, deal = intro.person_contact, intro.deal
    assert person is not None
    assert deal is not None
    assert (person.email, person.account.name, person.account.domain) == (
        "grace@globex.com",
        "Globex",
        "globex.com",
    )
    assert person.account.lifecycle == Lifecycle.PROSPECT
    assert (deal.source, deal.account_id, deal.owner) == ("referral", person.account_id, rep)
    assert deal.name == "Globex — referred by Ada Lovelace"
    [credit] = DealCredit.objects.filter(deal=deal)
    assert credit.advocate is not None
    assert (credit.advocate.email, credit.share, credit.introduction_id) == (
        "ada@acme.io",
        Decimal("100"),
        intro.pk,
    )
    [consent] = Consent.objects.all()
    assert (consent.decision, consent.ip, consent.channel) == (
        "accepted",
        "203.0.113.9",
        "goodword",
    )
    assert consent.text_shown == services.consent_text(intro)
    for address in ("grace@globex.com", "ada@acme.io", rep.email):
        assert any(
            e["subject"].startswith(("Introduction", "Grace Hopper accepted", "Referral accepted"))
            for e in emails_to(address)
        ), address


def test_a_prospect_with_an_owner_keeps_it(agreed: Introduction, other_rep: User) -> None:
    globex = account_create(
        actor=None,
        owner=other_rep,
        data={"name": "Globex Corp", "domain": "globex.com", "lifecycle": "prospect"},
    )
    name(agreed)
    services.intro_answer(
        link=live(consent_key(), LinkPurpose.CONSENT),
        decision="accept",
        visitor=VISITOR,
        now=timezone.now(),
    )
    agreed.refresh_from_db()
    assert agreed.person_contact is not None
    assert agreed.deal is not None
    assert (agreed.person_contact.account_id, agreed.deal.owner) == (globex.pk, other_rep)


def test_a_customer_is_flagged_not_given_a_second_deal(agreed: Introduction, rep: User) -> None:
    customer = account_create(
        actor=None,
        owner=rep,
        data={"name": "Globex", "domain": "globex.com", "lifecycle": "customer"},
    )
    contact_create(
        actor=None, account=customer, data={"first_name": "Grace", "email": "grace@globex.com"}
    )
    name(agreed)
    services.intro_answer(
        link=live(consent_key(), LinkPurpose.CONSENT),
        decision="accept",
        visitor=VISITOR,
        now=timezone.now(),
    )
    agreed.refresh_from_db()
    assert (agreed.state, agreed.deal) == ("introduced", None)
    assert agreed.flag.startswith("Globex is already a customer")
    assert not Deal.objects.filter(source="referral").exists()


def test_declining_closes_it_and_records_the_answer(agreed: Introduction) -> None:
    name(agreed)
    services.intro_answer(
        link=live(consent_key(), LinkPurpose.CONSENT),
        decision="decline",
        visitor=VISITOR,
        now=timezone.now(),
    )
    agreed.refresh_from_db()
    assert (agreed.state, agreed.deal, agreed.closed_at is not None) == ("declined", None, True)
    assert list(Consent.objects.values_list("decision", flat=True)) == ["declined"]
    assert not Suppression.objects.exists()


def test_never_again_suppresses_the_address_for_good(
    agreed: Introduction, account: Account
) -> None:
    grace = contact_create(
        actor=None, account=account, data={"first_name": "Grace", "email": "grace@globex.com"}
    )
    name(agreed)
    services.intro_answer(
        link=live(consent_key(), LinkPurpose.CONSENT),
        decision="suppress",
        visitor=VISITOR,
        now=timezone.now(),
    )
    assert Suppression.objects.filter(email="grace@globex.com").exists()
    grace.refresh_from_db()
    assert grace.opted_out_at is not None
    sent = Job.objects.count()
    from goodword.referrals.emails import email_outside

    assert (
        email_outside(
            "consent-request", introduction=agreed, to="Grace@Globex.com", now=timezone.now()
        )
        is False
    )
    assert Job.objects.count() == sent


def test_the_unsubscribe_link_declines_a_waiting_introduction(agreed: Introduction) -> None:
    name(agreed)
    key = key_in(emails_to("grace@globex.com")[-1], "unsubscribe")
    services.unsubscribe(
        link=live(key, LinkPurpose.UNSUBSCRIBE), visitor=VISITOR, now=timezone.now()
    )
    agreed.refresh_from_db()
    assert agreed.state == "declined"
    assert Suppression.objects.filter(email="grace@globex.com").exists()
    assert list(Consent.objects.values_list("decision", flat=True)) == ["suppressed"]


def test_a_used_consent_link_cannot_answer_twice(agreed: Introduction) -> None:
    name(agreed)
    link = live(consent_key(), LinkPurpose.CONSENT)
    services.intro_answer(link=link, decision="decline", visitor=VISITOR, now=timezone.now())
    with pytest.raises(LinkRefused):
        services.intro_answer(link=link, decision="accept", visitor=VISITOR, now=timezone.now())
    agreed.refresh_from_db()
    assert agreed.state == "declined"
    assert Consent.objects.count() == 1


# --- withdrawing, reminders and expiry ---------------------------------------------------------


def test_the_owner_withdraws_before_anyone_is_introduced(agreed: Introduction, rep: User) -> None:
    services.intro_withdraw(intro=agreed, actor=rep, note="changed our mind", now=timezone.now())
    assert agreed.state == "withdrawn"
    with pytest.raises(Invalid):
        services.intro_withdraw(intro=agreed, actor=rep, note="again", now=timezone.now())


def test_the_worker_reminds_once_at_day_five_and_expires_at_day_fourteen(
    agreed: Introduction,
) -> None:
    start = agreed.waiting_since
    assert services.intros_tend(now=start + dt.timedelta(days=5) - dt.timedelta(seconds=1)) == {
        "reminded": 0,
        "expired": 0,
    }
    assert services.intros_tend(now=start + dt.timedelta(days=5)) == {"reminded": 1, "expired": 0}
    assert services.intros_tend(now=start + dt.timedelta(days=6)) == {"reminded": 0, "expired": 0}
    invites = emails_to("ada@acme.io")
    assert len(invites) == 2
    assert invites[1]["subject"].startswith("Reminder:")
    live(key_in(invites[1], "advocate"), LinkPurpose.ADVOCATE)  # a fresh link that works
    assert services.intros_tend(now=start + dt.timedelta(days=14)) == {"reminded": 0, "expired": 1}
    agreed.refresh_from_db()
    assert (agreed.state, agreed.due_at) == ("expired", None)


# --- referrals logged by hand --------------------------------------------------------------------


def test_a_referral_given_in_person_opens_the_deal_at_once(
    rep: User, contact: Contact, stages: dict[str, Stage]
) -> None:
    intro = services.referral_log(
        actor=rep,
        advocate=contact,
        consent="in_person",
        now=timezone.now(),
        notes="met at the summit",
        data={"name": "Linus T", "email": "linus@kernel.example", "company": "Kernel Co"},
    )
    assert intro.state == "opportunity"
    [consent] = Consent.objects.all()
    assert (consent.channel, consent.recorded_by) == ("in_person", rep)
    assert DealCredit.objects.get(deal=intro.deal).advocate == contact


def test_a_referral_logged_with_email_consent_waits_for_the_answer(
    rep: User, contact: Contact
) -> None:
    intro = services.referral_log(
        actor=rep,
        advocate=contact,
        consent="email",
        now=timezone.now(),
        data={"name": "Linus T", "email": "linus@kernel.example"},
    )
    assert intro.state == "awaiting_consent"
    [request] = emails_to("linus@kernel.example")
    assert request["reply_to"] == [rep.email]


def test_a_referral_from_a_prospect_is_refused(rep: User, other_contact: Contact) -> None:
    with pytest.raises(Invalid) as refused:
        services.referral_log(
            actor=rep,
            advocate=other_contact,
            consent="email",
            now=timezone.now(),
            data={"name": "X", "email": "x@y.example"},
        )
    assert refused.value.errors == {"advocate": ["Zenith Logistics is not a customer"]}
    assert not Introduction.objects.exists()
