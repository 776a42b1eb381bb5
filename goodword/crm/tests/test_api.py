"""The CRM API through Django's test client, with Bearer keys of the shared fixtures' users."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange, Stage, Task
from goodword.crm.services import account_create, deal_create, task_create
from goodword.users.models import User
from goodword.users.services import apikey_create

API = "/api/v1"
Call = Callable[..., Any]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(client: Client) -> Callable[[User], Call]:
    """api(user)(method, path, body=None, **query) with a read-write key of that user."""

    def for_user(user: User, scopes: tuple[str, ...] = ("read", "write")) -> Call:
        _, key = apikey_create(user=user, scopes=list(scopes))
        headers = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: Any = None, **query: Any) -> Any:
            send = getattr(client, method.lower())
            if body is None:
                return send(API + path, query or None, headers=headers)
            return send(API + path, body, content_type="application/json", headers=headers)

        return call

    return for_user


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every CRM row, to show that a refused request changed nothing."""
    models: list[type[Model]] = [Account, Contact, Deal, Task, Activity, DealStageChange]
    return {m.__name__: list(m._default_manager.order_by("pk").values()) for m in models}


# --- accounts -------------------------------------------------------------------------


def test_account_get_renders_amounts_as_strings_and_times_with_zone(
    api: Callable[[User], Call], rep: User, account: Account
) -> None:
    response = api(rep)("GET", f"/accounts/{account.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Acme Analytics"
    assert body["arr"] == "48000.00"
    assert body["currency"] == "USD"
    assert body["owner_email"] == "rep@example.com"
    assert body["csm_email"] == "csm@example.com"
    assert body["customer_since"] == "2025-01-15"
    assert dt.datetime.fromisoformat(body["created_at"]).tzinfo is not None


def test_account_create_with_owner_by_email(
    api: Callable[[User], Call], rep: User, csm: User
) -> None:
    body = {
        "name": "Globex",
        "domain": "globex.com",
        "arr": "1200.50",
        "currency": "EUR",
        "csm_email": "CSM@example.com",
        "lifecycle": "prospect",
    }

    response = api(rep)("POST", "/accounts", body)

    assert response.status_code == 201
    created = Account.objects.get(pk=response.json()["id"])
    assert (created.name, created.domain, created.arr, created.currency) == (
        "Globex",
        "globex.com",
        Decimal("1200.50"),
        "EUR",
    )
    assert created.owner == rep  # left out: the caller
    assert created.csm == csm
    assert Activity.objects.filter(account=created, verb="account.created").count() == 1


def test_account_patch_changes_only_the_fields_sent(
    api: Callable[[User], Call], rep: User, account: Account
) -> None:
    response = api(rep)("PATCH", f"/accounts/{account.pk}", {"industry": "Fintech"})

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.industry == "Fintech"
    assert account.name == "Acme Analytics"
    assert account.domain == "acme.io"
    assert response.json()["industry"] == "Fintech"


def test_account_patch_with_unknown_owner_is_400_on_owner_email(
    api: Callable[[User], Call], rep: User, account: Account
) -> None:
    before = snapshot()

    response = api(rep)(
        "PATCH", f"/accounts/{account.pk}", {"owner_email": "ghost@example.com", "name": "X"}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["owner_email"]
    assert snapshot() == before


def test_account_patch_with_null_owner_clears_it(
    api: Callable[[User], Call], admin_user: User, account: Account
) -> None:
    response = api(admin_user)("PATCH", f"/accounts/{account.pk}", {"owner_email": None})

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.owner is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "  "}, 422, "name"),
        ({"name": "Ok", "currency": "XXX"}, 422, "currency"),
        ({"name": "Ok", "arr": "-5"}, 422, "arr"),
        ({"name": "Ok", "arr": 5}, 422, "arr"),
        ({"name": "Ok", "employees": "12"}, 422, "employees"),
        ({"name": "Ok", "surprise": 1}, 422, "surprise"),
        ({"name": "Ok", "external_id": "ACC-1"}, 400, "external_id"),
        ({"name": "Ok", "owner_email": "nobody-here@example.com"}, 400, "owner_email"),
    ],
)
def test_account_create_refuses_a_bad_body_and_writes_nothing(
    api: Callable[[User], Call],
    rep: User,
    account: Account,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    before = snapshot()

    response = api(rep)("POST", "/accounts", body)

    assert response.status_code == status
    assert field in response.json()["errors"]
    assert response.json()["code"] == ("invalid" if status == 400 else "validation_error")
    assert snapshot() == before


def test_malformed_json_is_a_400(api: Callable[[User], Call], rep: User) -> None:
    before = snapshot()

    response = api(rep)("POST", "/accounts", "{not json")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert snapshot() == before


# --- lists: pagination and filters ----------------------------------------------------


@pytest.fixture
def five_accounts(admin_user: User) -> list[Account]:
    return [
        account_create(actor=admin_user, owner=admin_user, data={"name": f"Co {i}"})
        for i in range(5)
    ]


def test_accounts_list_is_paginated_with_count_and_links(
    api: Callable[[User], Call], admin_user: User, five_accounts: list[Account]
) -> None:
    call = api(admin_user)

    first = call("GET", "/accounts", limit=2).json()
    second = call("GET", "/accounts", limit=2, offset=2).json()
    last = call("GET", "/accounts", limit=2, offset=4).json()

    assert first["count"] == 5
    assert [a["name"] for a in first["items"]] == ["Co 0", "Co 1"]
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/accounts?limit=2&offset=2"
    assert [a["name"] for a in second["items"]] == ["Co 2", "Co 3"]
    assert second["previous"] == "http://testserver/api/v1/accounts?limit=2&offset=0"
    assert [a["name"] for a in last["items"]] == ["Co 4"]
    assert last["next"] is None


def test_next_link_keeps_the_filters(
    api: Callable[[User], Call], admin_user: User, five_accounts: list[Account]
) -> None:
    page = api(admin_user)("GET", "/accounts", q="co", limit=1).json()

    assert page["next"] == "http://testserver/api/v1/accounts?q=co&limit=1&offset=1"


@pytest.mark.parametrize("query", [{"limit": 201}, {"limit": 0}, {"offset": -1}])
def test_page_size_is_at_most_200(
    api: Callable[[User], Call], admin_user: User, query: dict[str, int]
) -> None:
    response = api(admin_user)("GET", "/accounts", **query)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [next(iter(query))]


def test_unknown_list_parameter_is_refused(api: Callable[[User], Call], admin_user: User) -> None:
    response = api(admin_user)("GET", "/accounts", lifecyle="customer")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["lifecyle"]


def _names(response: Any, key: str = "name") -> list[str]:
    assert response.status_code == 200, response.content
    return [item[key] for item in response.json()["items"]]


def test_account_filters(
    api: Callable[[User], Call], admin_user: User, account: Account, other_account: Account
) -> None:
    call = api(admin_user)

    assert _names(call("GET", "/accounts", q="acme")) == ["Acme Analytics"]
    assert _names(call("GET", "/accounts", q="zenith.example")) == ["Zenith Logistics"]
    assert _names(call("GET", "/accounts", lifecycle="prospect")) == ["Zenith Logistics"]
    assert _names(call("GET", "/accounts", owner_email="REP@example.com")) == ["Acme Analytics"]
    assert _names(call("GET", "/accounts", industry="software")) == ["Acme Analytics"]
    assert _names(call("GET", "/accounts", country="us")) == ["Acme Analytics"]
    assert _names(call("GET", "/accounts", external_id="ACC-2")) == ["Zenith Logistics"]
    assert _names(call("GET", "/accounts", external_id="ACC-9")) == []


def test_contact_filters(
    api: Callable[[User], Call],
    admin_user: User,
    contact: Contact,
    other_contact: Contact,
) -> None:
    call = api(admin_user)

    by_account = call("GET", "/contacts", account_id=contact.account_id)
    assert _names(by_account, "email") == ["ada@acme.io"]
    assert _names(call("GET", "/contacts", email="ZED@zenith.example"), "email") == [
        "zed@zenith.example"
    ]
    assert _names(call("GET", "/contacts", q="love"), "email") == ["ada@acme.io"]
    assert _names(call("GET", "/contacts"), "email") == ["ada@acme.io", "zed@zenith.example"]


@pytest.fixture
def won_deal(admin_user: User, other_account: Account, stages: dict[str, Stage]) -> Deal:
    return deal_create(
        actor=admin_user,
        account=other_account,
        owner=admin_user,
        stage=stages["Closed Won"],
        data={"name": "Zenith won", "amount": "900", "source": "event", "kind": "renewal"},
    )


def test_deal_filters(
    api: Callable[[User], Call],
    admin_user: User,
    deal: Deal,
    other_deal: Deal,
    won_deal: Deal,
    stages: dict[str, Stage],
) -> None:
    call = api(admin_user)

    assert sorted(_names(call("GET", "/deals", account_id=other_deal.account_id))) == [
        "Zenith new",
        "Zenith won",
    ]
    assert _names(call("GET", "/deals", stage=stages["Qualification"].pk)) == ["Acme expansion"]
    assert _names(call("GET", "/deals", source="inbound")) == ["Acme expansion"]
    assert _names(call("GET", "/deals", kind="renewal")) == ["Zenith won"]
    assert _names(call("GET", "/deals", owner_email="other.rep@example.com")) == ["Zenith new"]
    assert sorted(_names(call("GET", "/deals", open="true"))) == ["Acme expansion", "Zenith new"]
    assert _names(call("GET", "/deals", open="false")) == ["Zenith won"]
    assert _names(call("GET", "/deals", closed="true")) == ["Zenith won"]
    assert call("GET", "/deals", open="yes").status_code == 422


def test_task_filters(
    api: Callable[[User], Call], admin_user: User, task: Task, other_task: Task
) -> None:
    call = api(admin_user)
    Task.objects.filter(pk=other_task.pk).update(status="done")
    midpoint = (timezone.now() + dt.timedelta(hours=12)).isoformat()

    assert _names(call("GET", "/tasks", status="open"), "subject") == [task.subject]
    assert _names(call("GET", "/tasks", owner_email="other.rep@example.com"), "subject") == [
        other_task.subject
    ]
    assert _names(call("GET", "/tasks", account_id=task.account_id), "subject") == [task.subject]
    assert _names(call("GET", "/tasks", due_before=midpoint), "subject") == [other_task.subject]
    assert _names(call("GET", "/tasks", due_after=midpoint), "subject") == [task.subject]
    assert call("GET", "/tasks", due_after="2026-01-01T00:00:00").status_code == 422


def test_stages_are_listed_in_pipeline_order(
    api: Callable[[User], Call], rep: User, stages: dict[str, Stage]
) -> None:
    response = api(rep)("GET", "/stages")

    assert response.status_code == 200
    listed = response.json()
    assert [s["name"] for s in listed][:2] == ["Prospecting", "Qualification"]
    assert listed[-2]["name"] == "Closed Won"
    assert listed[-2]["probability"] == 100
    assert listed[-2]["is_won"] is True


# --- contacts, deals, tasks: get, create, update ---------------------------------------


def test_contact_get_create_and_update(
    api: Callable[[User], Call], rep: User, account: Account, contact: Contact
) -> None:
    call = api(rep)

    got = call("GET", f"/contacts/{contact.pk}").json()
    created = call(
        "POST",
        "/contacts",
        {
            "account_id": account.pk,
            "email": "Grace@Acme.io",
            "first_name": "Grace",
            "phone": "+14155550199",
            "past_employers": ["navy.mil"],
        },
    )
    updated = call("PATCH", f"/contacts/{contact.pk}", {"title": "COO"})

    assert got["past_employers"] == ["globex.com", "initech.com"]
    assert created.status_code == 201
    grace = Contact.objects.get(pk=created.json()["id"])
    assert (grace.email, grace.account_id, grace.past_employers) == (
        "grace@acme.io",
        account.pk,
        ["navy.mil"],
    )
    assert updated.status_code == 200
    contact.refresh_from_db()
    assert (contact.title, contact.first_name) == ("COO", "Ada")


def test_contact_with_a_duplicate_email_is_400_and_not_written(
    api: Callable[[User], Call], rep: User, account: Account, contact: Contact
) -> None:
    before = snapshot()

    response = api(rep)("POST", "/contacts", {"account_id": account.pk, "email": "ada@acme.io"})

    assert response.status_code == 400
    assert "email" in response.json()["errors"]
    assert snapshot() == before


def test_deal_get_create_and_move(
    api: Callable[[User], Call],
    rep: User,
    account: Account,
    deal: Deal,
    stages: dict[str, Stage],
) -> None:
    call = api(rep)

    got = call("GET", f"/deals/{deal.pk}").json()
    created = call(
        "POST",
        "/deals",
        {"account_id": account.pk, "name": "Acme renewal", "amount": "5000", "currency": "GBP"},
    )
    moved = call(
        "PATCH", f"/deals/{deal.pk}", {"stage_id": stages["Closed Won"].pk, "amount": "15000.5"}
    )

    assert (got["amount"], got["currency"], got["stage"]) == ("12000.00", "USD", "Qualification")
    assert created.status_code == 201
    new = Deal.objects.get(pk=created.json()["id"])
    assert (new.owner, new.stage.name, new.amount) == (rep, "Prospecting", Decimal("5000.00"))
    assert moved.status_code == 200
    assert moved.json()["stage"] == "Closed Won"
    assert moved.json()["amount"] == "15000.50"
    assert moved.json()["closed_at"] is not None
    assert list(deal.stage_changes.values_list("to_stage__name", flat=True)) == [
        "Qualification",
        "Closed Won",
    ]


def test_deal_with_unknown_stage_is_400_and_not_written(
    api: Callable[[User], Call], rep: User, account: Account, deal: Deal
) -> None:
    before = snapshot()

    created = api(rep)("POST", "/deals", {"account_id": account.pk, "name": "X", "stage_id": 999})
    patched = api(rep)("PATCH", f"/deals/{deal.pk}", {"name": "Renamed", "stage_id": 999})

    assert created.status_code == patched.status_code == 400
    assert list(created.json()["errors"]) == list(patched.json()["errors"]) == ["stage_id"]
    assert snapshot() == before


def test_task_get_create_and_update(
    api: Callable[[User], Call], rep: User, csm: User, account: Account, task: Task
) -> None:
    call = api(rep)

    got = call("GET", f"/tasks/{task.pk}").json()
    created = call(
        "POST",
        "/tasks",
        {
            "account_id": account.pk,
            "subject": "Send the QBR deck",
            "owner_email": "csm@example.com",
            "due_at": "2026-12-01T09:00:00+01:00",
        },
    )
    done = call("PATCH", f"/tasks/{task.pk}", {"status": "done", "outcome": "Reached"})

    assert got["owner_email"] == "rep@example.com"
    assert created.status_code == 201
    new = Task.objects.get(pk=created.json()["id"])
    assert (new.owner, new.account, new.due_at) == (
        csm,
        account,
        dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
    )
    assert done.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "Reached")
    assert task.completed_at is not None


def test_task_without_subject_is_422_and_not_written(
    api: Callable[[User], Call], rep: User, account: Account
) -> None:
    before = snapshot()

    response = api(rep)("POST", "/tasks", {"account_id": account.pk})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["subject"]
    assert snapshot() == before


# --- who sees and changes what --------------------------------------------------------


def test_a_rep_lists_only_their_objects(
    api: Callable[[User], Call],
    rep: User,
    deal: Deal,
    task: Task,
    other_deal: Deal,
    other_task: Task,
    other_contact: Contact,
) -> None:
    call = api(rep)

    assert _names(call("GET", "/accounts")) == ["Acme Analytics"]
    assert _names(call("GET", "/contacts"), "email") == ["ada@acme.io"]
    assert _names(call("GET", "/deals")) == ["Acme expansion"]
    assert _names(call("GET", "/tasks"), "subject") == [task.subject]
    assert call("GET", "/accounts").json()["count"] == 1


@pytest.fixture
def foreign(
    other_account: Account, other_contact: Contact, other_deal: Deal, other_task: Task
) -> dict[str, int]:
    return {
        "accounts": other_account.pk,
        "contacts": other_contact.pk,
        "deals": other_deal.pk,
        "tasks": other_task.pk,
    }


PATCHES = {
    "accounts": {"name": "Mine now"},
    "contacts": {"title": "Mine now"},
    "deals": {"name": "Mine now"},
    "tasks": {"subject": "Mine now"},
}


@pytest.mark.parametrize("kind", ["accounts", "contacts", "deals", "tasks"])
def test_a_rep_gets_404_for_another_reps_object_and_nothing_changes(
    api: Callable[[User], Call], rep: User, foreign: dict[str, int], kind: str
) -> None:
    call = api(rep)
    before = snapshot()

    got = call("GET", f"/{kind}/{foreign[kind]}")
    patched = call("PATCH", f"/{kind}/{foreign[kind]}", PATCHES[kind])

    assert got.status_code == patched.status_code == 404
    assert got.json() == patched.json() == {"code": "not_found", "message": "Not found."}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("contacts", {"email": "spy@example.com"}),
        ("deals", {"name": "Poached"}),
        ("tasks", {"subject": "Poach"}),
    ],
)
def test_a_rep_cannot_create_on_a_foreign_account(
    api: Callable[[User], Call],
    rep: User,
    foreign: dict[str, int],
    kind: str,
    body: dict[str, Any],
) -> None:
    before = snapshot()

    response = api(rep)("POST", f"/{kind}", {**body, "account_id": foreign["accounts"]})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize(("field", "key"), [("contact_id", "contacts"), ("deal_id", "deals")])
def test_a_rep_cannot_hang_a_task_on_a_foreign_contact_or_deal(
    api: Callable[[User], Call], rep: User, foreign: dict[str, int], field: str, key: str
) -> None:
    before = snapshot()

    response = api(rep)("POST", "/tasks", {"subject": "Poach", field: foreign[key]})

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["accounts", "contacts", "deals", "tasks"])
def test_a_manager_of_another_team_sees_but_gets_403_on_patch(
    api: Callable[[User], Call],
    other_manager: User,
    account: Account,
    contact: Contact,
    deal: Deal,
    task: Task,
    kind: str,
) -> None:
    ids = {"accounts": account.pk, "contacts": contact.pk, "deals": deal.pk, "tasks": task.pk}
    call = api(other_manager)
    before = snapshot()

    got = call("GET", f"/{kind}/{ids[kind]}")
    patched = call("PATCH", f"/{kind}/{ids[kind]}", PATCHES[kind])

    assert got.status_code == 200
    assert patched.status_code == 403
    assert patched.json()["code"] == "forbidden"
    assert snapshot() == before


def test_a_manager_of_another_team_cannot_create_a_deal_on_its_account(
    api: Callable[[User], Call], other_manager: User, account: Account
) -> None:
    before = snapshot()

    response = api(other_manager)("POST", "/deals", {"account_id": account.pk, "name": "X"})

    assert response.status_code == 403
    assert snapshot() == before


def test_a_manager_edits_their_teams_records(
    api: Callable[[User], Call], manager: User, deal: Deal
) -> None:
    response = api(manager)("PATCH", f"/deals/{deal.pk}", {"name": "Acme expansion 2"})

    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.name == "Acme expansion 2"


def test_a_task_for_someone_else_stays_visible_to_its_owner(
    api: Callable[[User], Call], rep: User, other_rep: User
) -> None:
    task_create(actor=other_rep, owner=rep, data={"subject": "Handed over"})

    assert _names(api(rep)("GET", "/tasks"), "subject") == ["Handed over"]


# --- the API's own surface ------------------------------------------------------------


def test_openapi_schema_is_public(client: Client) -> None:
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths) == {
        f"{API}/accounts",
        f"{API}/accounts/{{account_id}}",
        f"{API}/contacts",
        f"{API}/contacts/{{contact_id}}",
        f"{API}/deals",
        f"{API}/deals/{{deal_id}}",
        f"{API}/tasks",
        f"{API}/tasks/{{task_id}}",
        f"{API}/tasks/{{task_id}}/snooze",
        f"{API}/tasks/{{task_id}}/not-appropriate",
        f"{API}/stages",
        f"{API}/imports/{{kind}}",
        f"{API}/import-runs/{{run_id}}",
        f"{API}/accounts/{{account_id}}/readiness",
        f"{API}/moments",
        f"{API}/asks/{{task_id}}",
        f"{API}/asks/{{task_id}}/record",
        f"{API}/asks/{{task_id}}/email",
        f"{API}/introductions",
        f"{API}/introductions/{{introduction_id}}",
        f"{API}/introductions/{{introduction_id}}/withdraw",
        f"{API}/referrals",
        f"{API}/deals/{{deal_id}}/credits",
        f"{API}/reward-rules",
        f"{API}/reward-rules/{{rule_id}}",
        f"{API}/reward-rules/{{rule_id}}/deactivate",
        f"{API}/rewards",
        f"{API}/rewards/{{reward_id}}/{{action}}",
        f"{API}/accounts/{{account_id}}/rewards",
        f"{API}/intro-templates",
        f"{API}/intro-templates/{{kind}}",
        f"{API}/intro-templates/{{kind}}/preview",
        f"{API}/rates",
        f"{API}/rates/import",
        f"{API}/reports/{{name}}",
        f"{API}/handoffs",
        f"{API}/handoffs/{{handoff_id}}",
        f"{API}/handoffs/{{handoff_id}}/accept",
        f"{API}/handoffs/{{handoff_id}}/assign",
        f"{API}/handoffs/{{handoff_id}}/checklist/{{item_id}}",
    }
    assert set(paths[f"{API}/accounts/{{account_id}}"]["patch"]["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "422",
    }


def test_docs_page_never_loads_from_a_cdn(client: Client) -> None:
    response = client.get(f"{API}/docs")

    # Either ninja serves Swagger from its own static files or the page is not there.
    if response.status_code == 200:
        html = response.content.decode()
        assert "cdn" not in html.lower()
        assert "ninja/swagger-ui-bundle" in html
    else:
        assert response.status_code == 404


def test_a_browser_session_does_not_authenticate_the_api(client: Client, rep: User) -> None:
    client.force_login(rep)

    response = client.get(f"{API}/accounts")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_unknown_urls_and_methods_answer_json(
    api: Callable[[User], Call], rep: User, account: Account
) -> None:
    call = api(rep)

    missing = call("GET", "/nothing-here")
    not_allowed = call("DELETE", f"/accounts/{account.pk}")

    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Not found."}
    assert not_allowed.status_code == 405
    assert not_allowed.json()["code"] == "method_not_allowed"
    assert not_allowed["Allow"] == "GET, PATCH"
    assert Account.objects.filter(pk=account.pk).exists()


def test_times_are_stored_in_utc_and_an_unrepresentable_one_is_400(
    api: Callable[[User], Call], rep: User, task: Task
) -> None:
    call = api(rep)
    before = snapshot()

    far = call("GET", "/tasks", due_before="0898-09-15T14:13:01+22:46")
    refused = call("PATCH", f"/tasks/{task.pk}", {"due_at": "0001-01-01T00:00:00+01:00"})

    assert far.status_code == 200
    assert far.json()["count"] == 0
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["due_at"]
    assert snapshot() == before
