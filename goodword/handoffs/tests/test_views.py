"""The handoff pages through the test client: who may see and change a handoff, the owner's
form, the CSM's accept, the manager's assign, the checklist, the list's views and CSV, the
deal page's link and the admins' settings."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from goodword.crm.models import Contact
from goodword.handoffs.models import ChecklistItem, Handoff, HandoffSettings
from goodword.handoffs.services import handoff_update
from goodword.handoffs.tests.conftest import filled
from goodword.handoffs.tests.test_services import NOW, state
from goodword.handoffs.views import CSV_COLUMNS
from goodword.users.models import User


def _csv(answer: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))


def _form(champion: Contact) -> dict[str, Any]:
    return {
        "goal_rows": "3",
        "goal-0-name": "Weekly reports",
        "goal-0-event": "report_sent",
        "goal-0-measure": "count",
        "goal-0-target": "50",
        "goal-0-due_on": "",
        "goal-1-name": "",
        "goal-2-name": "",
        "stakeholder": [f"{champion.pk}:champion", f"{champion.pk}:user"],
        "promised": "SSO by January",
        "risks": "",
        "kickoff_on": "2099-01-05",
    }


@pytest.mark.parametrize("who", ["other_rep", "nobody"])
def test_a_rep_without_access_gets_404_everywhere(
    client: Client, handoff: Handoff, champion: Contact, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    before = state(handoff)
    item = handoff.checklist.first()
    assert item is not None
    urls = [
        reverse("handoff-detail", args=[handoff.pk]),
        reverse("handoff-accept", args=[handoff.pk]),
        reverse("handoff-assign", args=[handoff.pk]),
        reverse("handoff-checklist", args=[handoff.pk, item.pk]),
    ]
    assert client.get(urls[0]).status_code == 404
    assert client.get(reverse("deal-handoff", args=[handoff.deal_id])).status_code == 404
    for url in urls:
        assert client.post(url, {**_form(champion), "done": "1"}).status_code == 404, url
    assert state(handoff) == before
    listed = client.get(reverse("handoffs"))
    assert listed.status_code == 200
    assert b"Acme platform" not in listed.content


def test_the_owner_fills_the_handoff_in_from_the_deal_page_link(
    client: Client, rep: User, handoff: Handoff, champion: Contact
) -> None:
    client.force_login(rep)
    link = client.get(reverse("deal-handoff", args=[handoff.deal_id]))
    assert link["Location"] == reverse("handoff-detail", args=[handoff.pk])
    page = client.get(link["Location"])
    assert page.status_code == 200
    assert b"Still needed before it can be accepted" in page.content
    saved = client.post(link["Location"], _form(champion))
    assert saved.status_code == 302
    handoff.refresh_from_db()
    assert handoff.promised == "SSO by January"
    assert list(handoff.goals.values_list("name", "target")) == [
        ("Weekly reports", Decimal("50.0000"))
    ]
    assert sorted(handoff.stakeholders.values_list("role", flat=True)) == ["champion", "user"]


def test_a_bad_form_is_shown_again_with_its_errors_and_nothing_saved(
    client: Client, rep: User, handoff: Handoff, champion: Contact
) -> None:
    client.force_login(rep)
    before = state(handoff)
    answer = client.post(
        reverse("handoff-detail", args=[handoff.pk]),
        {**_form(champion), "goal-0-target": "lots"},
    )
    assert answer.status_code == 400
    assert b"Goals: goal 1: target: &#x27;lots&#x27; is not a number" in answer.content
    assert b'value="Weekly reports"' in answer.content
    assert state(handoff) == before


def test_the_csm_accepts_and_missing_fields_are_named(
    client: Client, rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    client.force_login(csm)
    url = reverse("handoff-accept", args=[handoff.pk])
    refused = client.post(url)
    assert refused.status_code == 400
    assert b"Kickoff date: is required: the kickoff date" in refused.content
    assert b"Champion: is required: a champion among the stakeholders" in refused.content
    assert Handoff.objects.get().status == "open"
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    assert client.post(url, {"send_welcome": "1"}).status_code == 302
    accepted = Handoff.objects.get()
    assert (accepted.status, accepted.accepted_by_id) == ("accepted", csm.pk)
    assert accepted.welcome_sent_at is not None
    # and the owner now sees it read-only: no form to save
    client.force_login(rep)
    page = client.get(reverse("handoff-detail", args=[handoff.pk]))
    assert b'id="handoff-form"' not in page.content
    assert b"Weekly reports: count of report_sent" in page.content


def test_the_rep_may_not_accept_their_own_deals_handoff(
    client: Client, rep: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    client.force_login(rep)
    before = state(handoff)
    assert client.post(reverse("handoff-accept", args=[handoff.pk])).status_code == 403
    assert state(handoff) == before


def test_a_manager_assigns_a_csm(
    client: Client, manager: User, handoff: Handoff, make_user: Any
) -> None:
    other = make_user("second.csm@example.com", "csm", "East")
    client.force_login(manager)
    answer = client.post(reverse("handoff-assign", args=[handoff.pk]), {"csm": str(other.pk)})
    assert answer.status_code == 302
    assert Handoff.objects.get().csm_id == other.pk


def test_the_checklist_is_ticked(client: Client, csm: User, handoff: Handoff) -> None:
    item = handoff.checklist.first()
    assert item is not None
    client.force_login(csm)
    url = reverse("handoff-checklist", args=[handoff.pk, item.pk])
    assert client.post(url, {"done": "1"}).status_code == 302
    assert ChecklistItem.objects.get(pk=item.pk).done_by_id == csm.pk
    assert client.post(url, {"done": "0"}).status_code == 302
    assert ChecklistItem.objects.get(pk=item.pk).done_at is None


def test_the_list_exports_its_table_as_csv(client: Client, manager: User, handoff: Handoff) -> None:
    client.force_login(manager)
    answer = client.get(reverse("handoffs-export") + "?view=unassigned")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="handoffs-unassigned.csv"'
    assert _csv(answer) == [CSV_COLUMNS]
    rows = _csv(client.get(reverse("handoffs-export")))
    assert rows[1:] == [
        [
            str(handoff.pk),
            "Acme platform",
            "Acme Analytics",
            "rep@example.com",
            "csm@example.com",
            "open",
            handoff.created_at.isoformat(),
            handoff.accept_by.isoformat(),
            "",
            "false",
        ]
    ]


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_the_settings_page_is_404_for_all_but_admins(
    client: Client, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("handoff-settings")).status_code == 404
    assert client.post(reverse("handoff-settings"), {"required": ["risks"]}).status_code == 404
    assert HandoffSettings.objects.filter(required=["risks"]).count() == 0


def test_an_admin_chooses_the_required_fields_and_the_checklist(
    client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    assert client.get(reverse("handoff-settings")).status_code == 200
    answer = client.post(
        reverse("handoff-settings"),
        {"required": ["risks", "goals"], "checklist": "Kickoff\n\nShare plan\n"},
    )
    assert answer.status_code == 302
    row = HandoffSettings.objects.get()
    assert (row.required, row.checklist, row.updated_by_id) == (
        ["goals", "risks"],
        ["Kickoff", "Share plan"],
        admin_user.pk,
    )
    refused = client.post(reverse("handoff-settings"), {"required": ["nonsense"]})
    assert refused.status_code == 400
    assert b"Required fields: unknown field(s): nonsense" in refused.content
