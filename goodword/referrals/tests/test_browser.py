"""The whole referral motion in a real browser, against a real SMTP server on loopback: the
owner sends the ask; the advocate opens their link from the received email and names a
contact; the consent email arrives; the contact accepts; the introduction email reaches all
three; the referred deal is in the owner's pipeline, credited to the advocate. The external
pages are checked on a phone-sized screen with axe: no serious or critical violations."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings

from goodword.conftest import log_in
from goodword.crm.models import Contact, Deal, Stage, Task
from goodword.jobs.services import work_once
from goodword.jobs.tests.test_worker import _free_port
from goodword.referrals.models import DealCredit, Introduction
from goodword.users.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
AXE = Path(django_settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def inbox(settings: Any, live_server: Any) -> Iterator[Inbox]:
    box = Inbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.SITE_URL = live_server.url
    yield box
    controller.stop()


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def link_in(message: Message, route: str) -> str:
    found = re.search(rf"(http://\S+/r/{route}/\S+/)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "() => axe.run().then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    return list(found)


def test_from_the_ask_to_the_referred_deal(
    page: Any,
    chromium: Any,
    live_server: Any,
    inbox: Inbox,
    rep: User,
    ask: Task,
    contact: Contact,
    stages: dict[str, Stage],
) -> None:
    base = live_server.url
    # given the owner on the ask page, who sends the ask by email
    log_in(page, base, rep)
    page.goto(f"{base}/asks/{ask.pk}/")
    page.click("button:has-text('Send the ask')")
    page.wait_for_url(re.compile(r"/introductions/\d+/$"))
    assert work_once() == 1
    [asked] = inbox.to("ada@acme.io")
    assert asked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # when the advocate opens their link on a phone and names a contact
    outside = chromium.new_context(viewport=PHONE)
    phone = outside.new_page()
    phone.goto(link_in(asked, "advocate"))
    assert serious_violations(phone) == []
    phone.fill("#id_name", "Grace Hopper")
    phone.fill("#id_email", "grace@globex.com")
    phone.fill("#id_company", "Globex")
    phone.click("button[value=name]")
    phone.wait_for_selector("text=We've emailed Grace Hopper")
    assert work_once() == 1

    # then the consent email arrives; the contact accepts on the consent page
    [request] = inbox.to("grace@globex.com")
    assert "Ada Lovelace" in request["From"]
    phone.goto(link_in(request, "consent"))
    assert serious_violations(phone) == []
    phone.click("button[value=accept]")
    phone.wait_for_selector("text=You're introduced")
    outside.close()
    work_once()

    # and the introduction email reaches all three
    for address in ("grace@globex.com", "ada@acme.io", rep.email):
        subjects = [m["Subject"] for m in inbox.to(address)]
        assert any("accepted" in s or s.startswith("Introduction") for s in subjects), subjects
    # and the deal is in the owner's pipeline as referred, credited to the advocate
    intro = Introduction.objects.get()
    deal = Deal.objects.get(source="referral")
    assert (intro.state, intro.deal_id, deal.owner) == ("opportunity", deal.pk, rep)
    credit = DealCredit.objects.get(deal=deal)
    assert (credit.advocate_id, credit.share) == (contact.pk, Decimal(100))
    page.goto(f"{base}/deals/?source=referral")
    assert deal.name in page.inner_text("main")
    page.goto(f"{base}/introductions/{intro.pk}/")
    assert "Ada Lovelace" in page.inner_text("main")
    assert page.js_errors == []
