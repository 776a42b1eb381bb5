"""The pages people outside the company open from our emails: GET and HEAD never change
anything, one POST makes one transition, and every broken link gets a page that tells
nothing about any introduction."""

from __future__ import annotations

import datetime as dt
import html
import random
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from goodword.crm.models import Contact, Stage, Task
from goodword.jobs.models import Job
from goodword.referrals import asks, services
from goodword.referrals.links import MESSAGES, LinkProblem, link_create, link_url
from goodword.referrals.models import (
    Consent,
    Introduction,
    IntroductionStep,
    IntroLink,
    LinkPurpose,
    Suppression,
)
from goodword.referrals.tests.test_flow import emails_to, key_in
from goodword.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(rep: User, ask: Task, contact: Contact, stages: dict[str, Stage]) -> Introduction:
    """An introduction waiting on Grace's answer, with every kind of link out."""
    recorded = asks.ask_record(
        actor=rep, ask=ask, channel="call", outcome="agreed", now=timezone.now()
    )
    intro = recorded.introduction
    assert intro is not None
    key = key_in(emails_to("ada@acme.io")[-1], "advocate")
    from goodword.referrals.links import link_find

    link = link_find(key=key, purpose=LinkPurpose.ADVOCATE, now=timezone.now())
    data = {"name": "Grace Hopper", "email": "grace@globex.com", "company": "Globex", "send": "1"}
    services.intro_name(link=link, data=data, now=timezone.now())
    intro.refresh_from_db()
    return intro


def urls_of(intro: Introduction) -> dict[str, str]:
    now = timezone.now()
    later = now + dt.timedelta(days=3)
    made = {}
    for purpose, email in (
        (LinkPurpose.ADVOCATE, "ada@acme.io"),
        (LinkPurpose.CONSENT, "grace@globex.com"),
        (LinkPurpose.UNSUBSCRIBE, "grace@globex.com"),
    ):
        key = link_create(
            introduction=intro, purpose=purpose, email=email, now=now, expires_at=later
        )
        made[purpose.value] = link_url(purpose, key).removeprefix("http://127.0.0.1:8000")
    return made


def snapshot() -> tuple[Any, ...]:
    return (
        list(
            Introduction.objects.values_list("id", "state", "updated_at", "due_at", "person_email")
        ),
        list(IntroLink.objects.values_list("id", "used_at")),
        IntroductionStep.objects.count(),
        Consent.objects.count(),
        Suppression.objects.count(),
        Job.objects.count(),
    )


def test_ten_thousand_gets_and_heads_change_nothing_and_send_nothing(waiting: Introduction) -> None:
    # the advocate link of a fresh introduction, and the consent and unsubscribe links
    made = urls_of(waiting)
    urls = [made["consent"], made["unsubscribe"]]
    fresh = Introduction.objects.create(
        state="advocate_agreed",
        advocate_account=waiting.advocate_account,
        advocate=waiting.advocate,
        owner=waiting.owner,
        waiting_since=timezone.now(),
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    urls.append(urls_of(fresh)["advocate"])
    before = snapshot()
    client = Client()
    agents = ["Mozilla/5.0", "Microsoft Office Protection", "Slackbot-LinkExpanding 1.0", "curl/8"]
    rng = random.Random(7)
    statuses = set()
    for i in range(10_000):
        url = urls[i % len(urls)]
        method = client.get if i % 2 else client.head
        response = method(url, HTTP_USER_AGENT=rng.choice(agents))
        statuses.add(response.status_code)
    assert statuses == {200}
    assert snapshot() == before


def test_the_consent_page_shows_who_and_why_and_records_the_text_shown(
    waiting: Introduction,
) -> None:
    url = urls_of(waiting)["consent"]
    page = Client().get(url).content.decode()
    assert "Ada Lovelace would like to introduce you" in page
    text = services.consent_text(waiting)
    assert text.split(".")[0] in page
    response = Client().post(url, {"decision": "decline"})
    assert response.status_code == 200
    assert "Nobody will contact you" in response.content.decode()
    assert Consent.objects.get().text_shown == text
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"


def test_one_click_unsubscribe_needs_no_form_token(waiting: Introduction) -> None:
    url = urls_of(waiting)["unsubscribe"]
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Suppression.objects.filter(email="grace@globex.com").exists()


def test_the_consent_page_refuses_a_post_without_a_form_token(waiting: Introduction) -> None:
    url = urls_of(waiting)["consent"]
    before = snapshot()
    response = Client(enforce_csrf_checks=True).post(url, {"decision": "accept"})
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(
    ("problem", "status"),
    [
        (LinkProblem.DAMAGED, 404),
        (LinkProblem.UNKNOWN, 404),
        (LinkProblem.WRONG_PURPOSE, 404),
        (LinkProblem.EXPIRED, 410),
        (LinkProblem.USED, 410),
        (LinkProblem.CLOSED, 410),
    ],
)
def test_each_broken_link_gets_its_own_page_that_reveals_nothing(
    waiting: Introduction, problem: LinkProblem, status: int
) -> None:
    urls = urls_of(waiting)
    consent = urls["consent"]
    if problem == LinkProblem.DAMAGED:
        url = consent[:-6] + "/"
    elif problem == LinkProblem.UNKNOWN:
        url = link_url(LinkPurpose.CONSENT, _unstored_key()).removeprefix("http://127.0.0.1:8000")
    elif problem == LinkProblem.WRONG_PURPOSE:
        url = consent.replace("/r/consent/", "/r/advocate/")
    elif problem == LinkProblem.EXPIRED:
        IntroLink.objects.filter(purpose="consent").update(expires_at=timezone.now())
        url = consent
    elif problem == LinkProblem.USED:
        IntroLink.objects.filter(purpose="consent").update(used_at=timezone.now())
        url = consent
    else:
        Introduction.objects.filter(pk=waiting.pk).update(state="withdrawn")
        url = consent
    before = snapshot()
    response = Client().get(url)
    page = html.unescape(response.content.decode())
    assert response.status_code == status
    assert MESSAGES[problem][0] in page
    for secret in ("Grace", "Ada", "Acme", "Globex", "grace@globex.com"):
        assert secret not in page
    assert snapshot() == before


def _unstored_key() -> str:
    from goodword.referrals import links

    token = "A" * 43
    return f"{token}.{links._check(token)}"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_on_one_consent_link_make_one_transition(
    rep: User, ask: Task, contact: Contact, stages: dict[str, Stage]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database is not shared between threads")
    intro = _waiting_again(rep, ask)
    url = urls_of(intro)["consent"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def answer() -> None:
        barrier.wait()
        try:
            statuses.append(Client().post(url, {"decision": "accept"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 410]
    assert IntroductionStep.objects.filter(introduction=intro, event="accept").count() == 1
    assert Consent.objects.filter(introduction=intro).count() == 1
    intro.refresh_from_db()
    assert intro.state == "opportunity"


def _waiting_again(rep: User, ask: Task) -> Introduction:
    recorded = asks.ask_record(
        actor=rep, ask=ask, channel="call", outcome="agreed", now=timezone.now()
    )
    intro = recorded.introduction
    assert intro is not None
    Introduction.objects.filter(pk=intro.pk).update(
        state="awaiting_consent", person_name="Grace Hopper", person_email="grace@globex.com"
    )
    intro.refresh_from_db()
    return intro
