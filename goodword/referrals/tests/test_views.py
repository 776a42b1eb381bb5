"""The owner's pages: the ask page, an introduction's page and the referral log, each
reached only through the access functions."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from goodword.conftest import PASSWORD
from goodword.crm.models import Account, Contact, Stage, Task, TaskStatus
from goodword.crm.services import account_create
from goodword.jobs.models import Job
from goodword.referrals.models import Introduction
from goodword.users.models import User

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_the_ask_page_shows_why_whom_and_the_drafts(rep: User, ask: Task, contact: Contact) -> None:
    account_create(
        actor=None,
        data={"name": "Globex", "domain": "globex.com", "lifecycle": "prospect"},
    )
    page = html.unescape(client_for(rep).get(reverse("ask-page", args=[ask.pk])).content.decode())
    assert "Ask Ada Lovelace for an introduction" in page
    assert "Rollout finished ahead of plan." in page
    assert "Ada Lovelace used to work at Globex (globex.com)" in page
    assert "Forwardable blurb" in page
    assert "LinkedIn message" in page
    assert "Hi Ada," in page  # the ask email's draft
    exported = client_for(rep).get(reverse("ask-page", args=[ask.pk]), {"export": "peers"})
    lines = b"".join(exported.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "name,company,kind,reasons,account_id,contact_id"
    assert any("Ada Lovelace used to work at Globex (globex.com)" in line for line in lines[1:])


def test_someone_else_cannot_see_or_record_the_ask(other_rep: User, ask: Task) -> None:
    client = client_for(other_rep)
    assert client.get(reverse("ask-page", args=[ask.pk])).status_code == 404
    response = client.post(
        reverse("ask-record", args=[ask.pk]), {"channel": "call", "outcome": "declined"}
    )
    assert response.status_code == 404
    ask.refresh_from_db()
    assert ask.status == TaskStatus.OPEN


def test_recording_an_agreed_ask_opens_the_introduction(
    rep: User, ask: Task, stages: dict[str, Stage]
) -> None:
    response = client_for(rep).post(
        reverse("ask-record", args=[ask.pk]),
        {"channel": "meeting", "outcome": "agreed", "person_name": "Grace", "email_link": "1"},
    )
    intro = Introduction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("intro-detail", args=[intro.pk])
    assert intro.person_name == "Grace"
    assert Job.objects.filter(kind="email.send").count() == 1


def test_a_refused_record_shows_the_errors_and_changes_nothing(rep: User, ask: Task) -> None:
    response = client_for(rep).post(
        reverse("ask-record", args=[ask.pk]), {"channel": "smoke signal", "outcome": "agreed"}
    )
    assert response.status_code == 400
    assert "must be one of meeting, call, email" in response.content.decode()
    assert not Introduction.objects.exists()


def test_the_advocate_link_is_shown_once_when_the_owner_passes_it_on(rep: User, ask: Task) -> None:
    client = client_for(rep)
    client.post(reverse("ask-record", args=[ask.pk]), {"channel": "call", "outcome": "agreed"})
    url = reverse("intro-detail", args=[Introduction.objects.get().pk])
    assert "/r/advocate/" in client.get(url).content.decode()
    assert "/r/advocate/" not in client.get(url).content.decode()
    assert not Job.objects.exists()


def test_an_introduction_page_is_the_owners(rep: User, other_rep: User, ask: Task) -> None:
    client_for(rep).post(
        reverse("ask-record", args=[ask.pk]), {"channel": "call", "outcome": "agreed"}
    )
    url = reverse("intro-detail", args=[Introduction.objects.get().pk])
    assert client_for(rep).get(url).status_code == 200
    assert client_for(other_rep).get(url).status_code == 404
    withdraw = reverse("intro-withdraw", args=[Introduction.objects.get().pk])
    assert client_for(other_rep).post(withdraw, {"note": "x"}).status_code == 404
    assert Introduction.objects.get().state == "advocate_agreed"
    assert client_for(rep).post(withdraw, {"note": "not now"}).status_code == 302
    assert Introduction.objects.get().state == "withdrawn"


def test_logging_a_referral_in_person_opens_the_deal(
    rep: User, contact: Contact, account: Account, stages: dict[str, Stage]
) -> None:
    response = client_for(rep).post(
        reverse("referral-log"),
        {
            "advocate": str(contact.pk),
            "name": "Linus T",
            "email": "linus@kernel.example",
            "consent": "in_person",
        },
    )
    intro = Introduction.objects.get()
    assert response.status_code == 302
    assert intro.state == "opportunity"
    assert intro.deal is not None


def test_a_rep_cannot_log_a_referral_for_someone_elses_customer(
    other_rep: User, contact: Contact
) -> None:
    response = client_for(other_rep).post(
        reverse("referral-log"),
        {"advocate": str(contact.pk), "name": "L", "email": "l@k.example", "consent": "email"},
    )
    assert response.status_code == 400
    assert "choose the customer contact" in response.content.decode()
    assert not Introduction.objects.exists()
