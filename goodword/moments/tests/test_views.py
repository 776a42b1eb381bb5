"""The moments pages through the client: readiness on the account, the programme settings
for admins, the scans for admins and managers, and the CSV exports, each with its 404 for
someone who may not see it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from goodword.crm.models import Account
from goodword.engine.rules import DEFAULT_YAML
from goodword.moments.models import Moment, ProgrammeVersion, Scan
from goodword.moments.scan import scan_run
from goodword.users.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def moment(account: Account, evidence: str = "report reached 100") -> Moment:
    now = timezone.now()
    return Moment.objects.create(
        account=account,
        rule_id="reports",
        kind="milestone",
        key="100",
        occurred_at=now - dt.timedelta(days=1),
        evidence=evidence,
        found_at=now,
        updated_at=now,
    )


def test_the_owner_sees_health_moments_and_why_not_asked(
    client: Client, rep: User, account: Account
) -> None:
    moment(account)
    page = login(client, rep).get(f"/accounts/{account.pk}/readiness/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Health <strong>" in text
    assert "report reached 100" in text
    assert "Not asked now" in text
    # The reason names the readiness shortfall (30 × 0.5^(1/14) < 40)
    assert "readiness 28.5 &lt; 40" in text


def test_htmx_gets_the_readiness_card_alone(client: Client, rep: User, account: Account) -> None:
    page = login(client, rep).get(f"/accounts/{account.pk}/readiness/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"<html" not in page.content
    assert b'id="readiness"' in page.content


def test_someone_who_cannot_see_the_account_gets_404(
    client: Client, other_rep: User, account: Account
) -> None:
    assert login(client, other_rep).get(f"/accounts/{account.pk}/readiness/").status_code == 404


def test_the_moments_export_holds_only_visible_accounts(
    client: Client, rep: User, account: Account, other_account: Account
) -> None:
    moment(account, "=HYPERLINK(evil)")
    moment(other_account, "not yours")
    response: Any = login(client, rep).get("/moments/export.csv")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("account_external_id,account,rule_id,kind,key,occurred_at")
    assert len(lines) == 2
    assert "ACC-1" in lines[1]
    assert "'=HYPERLINK(evil)" in lines[1]
    assert "not yours" not in body


def test_an_admin_checks_and_applies_the_programme(client: Client, admin_user: User) -> None:
    login(client, admin_user)
    assert client.get("/settings/programme/").status_code == 200
    bad = client.post(
        "/settings/programme/",
        {"yaml": "rules:\n  - {id: x, kind: nope, weight: 1}\n", "action": "apply"},
    )
    assert bad.status_code == 400
    assert "line 2" in bad.content.decode()
    assert not ProgrammeVersion.objects.exists()
    checked = client.post("/settings/programme/", {"yaml": DEFAULT_YAML, "action": "check"})
    assert checked.status_code == 200
    assert not ProgrammeVersion.objects.exists()
    applied = client.post(
        "/settings/programme/", {"yaml": DEFAULT_YAML, "action": "apply", "note": "first"}
    )
    assert applied.status_code == 302
    version = ProgrammeVersion.objects.get()
    assert (version.applied_by, version.note, version.yaml) == (admin_user, "first", DEFAULT_YAML)


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_only_admins_reach_the_programme(client: Client, make_user: object, role: str) -> None:
    user = make_user(f"{role}2@example.com", role)  # type: ignore[operator]
    login(client, user)
    assert client.get("/settings/programme/").status_code == 404
    posted = client.post("/settings/programme/", {"yaml": DEFAULT_YAML, "action": "apply"})
    assert posted.status_code == 404
    assert not ProgrammeVersion.objects.exists()


def test_managers_see_the_scans_and_reps_do_not(client: Client, manager: User, rep: User) -> None:
    scan_run(full=True)
    page = login(client, manager).get("/scans/")
    assert page.status_code == 200
    assert b"Full" in page.content
    export: Any = client.get("/scans/?export=csv")
    rows = b"".join(export.streaming_content).decode().strip().splitlines()
    assert rows[0].startswith("id,mode,status")
    assert len(rows) == 1 + Scan.objects.count()
    assert login(Client(), rep).get("/scans/").status_code == 404


def test_the_api_says_why_an_account_is_not_asked(
    client: Client, rep: User, account: Account
) -> None:
    from goodword.users.services import apikey_create

    moment(account)
    _, key = apikey_create(user=rep, scopes=["read"])
    response = client.get(
        f"/api/v1/accounts/{account.pk}/readiness", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["due"] is False
    assert body["reasons"][0] == "readiness 28.5 < 40"
    assert [c["key"] for c in body["health"]["components"]] == [
        "usage", "nps", "csat", "escalations", "renewal",
    ]  # fmt: skip
    assert [m["evidence"] for m in body["moments"]] == ["report reached 100"]
    listed = client.get(
        f"/api/v1/moments?account_id={account.pk}", HTTP_AUTHORIZATION=f"Bearer {key}"
    ).json()
    assert (listed["count"], listed["items"][0]["rule_id"]) == (1, "reports")
