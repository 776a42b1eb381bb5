"""The handoff endpoints of /api/v1/ through Django's test client, with Bearer keys of the
shared fixtures' users. Each refusal is checked to leave every row as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from goodword.crm.models import Contact, Stage
from goodword.crm.services import deal_create
from goodword.handoffs.models import Handoff
from goodword.handoffs.tests.test_services import state
from goodword.users.models import User
from goodword.users.services import apikey_create

API = "/api/v1"
Call = Callable[..., Any]


@pytest.fixture
def api(client: Client) -> Callable[[User], Call]:
    """api(user)(method, path, body=None, **query) with a read-write key of that user."""

    def for_user(user: User) -> Call:
        _, key = apikey_create(user=user, scopes=["read", "write"])
        headers = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: Any = None, **query: Any) -> Any:
            send = getattr(client, method.lower())
            if method == "GET":
                return send(API + path, query or None, headers=headers)
            return send(API + path, body or {}, content_type="application/json", headers=headers)

        return call

    return for_user


def test_the_list_shows_what_the_caller_may_see_by_view(
    api: Callable[[User], Call],
    handoff: Handoff,
    rep: User,
    other_rep: User,
    other_account: Any,
    won: Stage,
    manager: User,
) -> None:
    # given a West handoff, unassigned (Zenith has no CSM)
    west = deal_create(
        actor=other_rep,
        account=other_account,
        owner=other_rep,
        stage=won,
        data={"name": "Zenith signed", "kind": "new"},
    )
    west_handoff = Handoff.objects.get(deal=west)
    # then the East rep lists only Acme's, and a manager filters to the unassigned one
    mine = api(rep)("GET", "/handoffs", view="mine").json()
    assert [(i["id"], i["deal_name"], i["csm_email"]) for i in mine["items"]] == [
        (handoff.pk, "Acme platform", "csm@example.com")
    ]
    assert api(other_rep)("GET", "/handoffs").json()["count"] == 1
    unassigned = api(manager)("GET", "/handoffs", view="unassigned").json()
    assert [i["id"] for i in unassigned["items"]] == [west_handoff.pk]
    assert api(manager)("GET", "/handoffs", view="overdue").json()["count"] == 0
    refused = api(manager)("GET", "/handoffs", view="late")
    assert refused.status_code == 422


def test_fill_in_then_accept(
    api: Callable[[User], Call], rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    url = f"/handoffs/{handoff.pk}"
    # the CSM cannot accept an empty handoff: each missing field is named
    before = state(handoff)
    refused = api(csm)("POST", f"{url}/accept", {"send_welcome": False})
    assert refused.status_code == 400
    assert sorted(refused.json()["errors"]) == ["champion", "goals", "kickoff_on"]
    assert state(handoff) == before
    # the owner fills it in
    body = {
        "promised": "SSO",
        "kickoff_on": "2099-01-05",
        "goals": [{"name": "Weekly reports", "event": "report_sent", "target": "50"}],
        "stakeholders": [{"contact_id": champion.pk, "role": "champion"}],
    }
    patched = api(rep)("PATCH", url, body)
    assert patched.status_code == 200, patched.content
    out = patched.json()
    assert out["missing"] == {}
    assert out["goals"] == [
        {
            "id": out["goals"][0]["id"],
            "name": "Weekly reports",
            "event": "report_sent",
            "measure": "count",
            "target": "50",
            "due_on": None,
            "signals_goal_id": None,
        }
    ]
    assert out["stakeholders"] == [
        {
            "contact_id": champion.pk,
            "email": "grace@acme.io",
            "name": "Grace Hopper",
            "role": "champion",
        }
    ]
    # the rep may not accept it; the CSM does
    assert api(rep)("POST", f"{url}/accept", {}).status_code == 403
    accepted = api(csm)("POST", f"{url}/accept", {"send_welcome": False}).json()
    assert (accepted["status"], accepted["missing"]) == ("accepted", {})
    assert accepted["goals"][0]["signals_goal_id"] is not None
    # and then it is read-only, but for the checklist
    assert api(rep)("PATCH", url, {"risks": "x"}).status_code == 400
    item = accepted["checklist"][0]["id"]
    ticked = api(csm)("PUT", f"{url}/checklist/{item}", {"done": True}).json()
    assert ticked["checklist"][0]["done"] is True


def test_a_manager_assigns_by_email(
    api: Callable[[User], Call], manager: User, rep: User, handoff: Handoff
) -> None:
    url = f"/handoffs/{handoff.pk}/assign"
    assert api(rep)("POST", url, {"csm_email": "manager@example.com"}).status_code == 403
    refused = api(manager)("POST", url, {"csm_email": "rep@example.com"})
    assert refused.json()["errors"] == {
        "csm_email": ["rep@example.com is not an active CSM, manager or admin"]
    }
    done = api(manager)("POST", url, {"csm_email": None}).json()
    assert done["csm_email"] is None


@pytest.mark.parametrize("who", ["other_rep", "nobody"])
def test_a_handoff_not_theirs_is_404_for_every_operation(
    api: Callable[[User], Call], handoff: Handoff, who: str, request: Any
) -> None:
    call = api(request.getfixturevalue(who))
    url = f"/handoffs/{handoff.pk}"
    item = handoff.checklist.values_list("pk", flat=True)[0]
    before = state(handoff)
    answers = [
        call("GET", url),
        call("PATCH", url, {"risks": "x"}),
        call("POST", f"{url}/accept", {}),
        call("POST", f"{url}/assign", {"csm_email": None}),
        call("PUT", f"{url}/checklist/{item}", {"done": True}),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "not_found")] * 5
    assert state(handoff) == before
