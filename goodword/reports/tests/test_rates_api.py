"""GET /api/v1/rates and POST /api/v1/rates/import with Bearer keys of the shared fixtures'
users: managers and admins list, only admins import, everyone else finds nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from goodword.reports.models import Rate, RateImport
from goodword.users.models import User
from goodword.users.services import apikey_create

API = "/api/v1"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
Call = Callable[..., Any]


@pytest.fixture
def api(client: Client) -> Callable[[User], Call]:
    """api(user)(method, path, body=None, **query) with a read-write key of that user."""

    def for_user(user: User) -> Call:
        _, key = apikey_create(user=user, scopes=["read", "write"])
        headers = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: Any = None, **query: Any) -> Any:
            if method == "GET":
                return client.get(API + path, query or None, headers=headers)
            return client.post(API + path, body, content_type="application/json", headers=headers)

        return call

    return for_user


@pytest.fixture
def some_rates(admin_user: User) -> None:
    for currency, day, rate in [
        ("EUR", "2026-01-05", "1.085"),
        ("EUR", "2026-01-06", "1.09"),
        ("EUR", "2026-01-07", "1.1"),
        ("GBP", "2026-01-05", "1.27"),
    ]:
        Rate.objects.create(
            currency=currency,
            day=dt.date.fromisoformat(day),
            rate=rate,
            imported_by=admin_user if currency == "EUR" else None,
            imported_at=NOW,
        )


def stored() -> list[tuple[str, str, Decimal]]:
    return [(r.currency, r.day.isoformat(), r.rate) for r in Rate.objects.all()]


def body(*rows: tuple[str, str, str], dry_run: bool | None = None) -> dict[str, Any]:
    sent: dict[str, Any] = {"rows": [{"day": d, "currency": c, "rate": r} for d, c, r in rows]}
    if dry_run is not None:
        sent["dry_run"] = dry_run
    return sent


# --- the list -----------------------------------------------------------------------------


def test_a_manager_lists_the_rates_a_page_at_a_time(api, manager, some_rates) -> None:
    response = api(manager)("GET", "/rates", limit=2)

    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 4
    assert page["next"] == "http://testserver/api/v1/rates?limit=2&offset=2"
    assert page["previous"] is None
    assert page["items"] == [
        {
            "currency": "EUR",
            "day": "2026-01-05",
            "rate": "1.085",
            "imported_by_email": "admin@example.com",
            "imported_at": "2026-03-02T09:30:00Z",
        },
        {
            "currency": "EUR",
            "day": "2026-01-06",
            "rate": "1.09",
            "imported_by_email": "admin@example.com",
            "imported_at": "2026-03-02T09:30:00Z",
        },
    ]


def test_the_list_filters_by_currency_and_days(api, admin_user, some_rates) -> None:
    call = api(admin_user)

    eur = call("GET", "/rates", currency="EUR", since="2026-01-06", until="2026-01-06").json()
    gbp = call("GET", "/rates", currency="GBP").json()

    assert [(i["currency"], i["day"]) for i in eur["items"]] == [("EUR", "2026-01-06")]
    assert [(i["day"], i["imported_by_email"]) for i in gbp["items"]] == [("2026-01-05", None)]


def test_a_misspelt_filter_is_refused(api, admin_user, some_rates) -> None:
    response = api(admin_user)("GET", "/rates", from_day="2026-01-06")

    assert response.status_code == 400
    assert response.json()["errors"] == {"from_day": ["is not a parameter of this list"]}


@pytest.mark.parametrize("role", ["rep", "csm", "nobody"])
def test_reps_and_csms_find_no_rates(request, api, role, some_rates) -> None:
    call = api(request.getfixturevalue(role))
    before = stored()

    listed = call("GET", "/rates")
    imported = call("POST", "/rates/import", body(("2026-01-08", "EUR", "1.2")))

    assert (listed.status_code, listed.json()["code"]) == (404, "not_found")
    assert (imported.status_code, imported.json()["code"]) == (404, "not_found")
    assert stored() == before


# --- the import ---------------------------------------------------------------------------


def test_an_admin_imports_rows(api, admin_user, some_rates) -> None:
    sent = body(
        ("2026-01-05", "EUR", "1.085"),
        ("2026-01-06", "EUR", "1.2"),
        ("2026-01-08", "JPY", "0.0064"),
    )

    response = api(admin_user)("POST", "/rates/import", sent)

    assert response.status_code == 200
    assert response.json() == {
        "dry_run": False,
        "rows": 3,
        "added": 1,
        "updated": 1,
        "unchanged": 1,
        "summary": "rates: 1 added, 1 updated, 1 unchanged",
    }
    assert Rate.objects.get(currency="EUR", day="2026-01-06").rate == Decimal("1.2")
    assert Rate.objects.get(currency="JPY").imported_by == admin_user
    audit = RateImport.objects.get()
    assert (audit.actor, audit.source, audit.rows) == (admin_user, "api", 3)


def test_a_dry_run_counts_and_writes_nothing(api, admin_user, some_rates) -> None:
    before = stored()

    response = api(admin_user)(
        "POST", "/rates/import", body(("2026-01-08", "EUR", "1.2"), dry_run=True)
    )

    assert response.status_code == 200
    assert (response.json()["dry_run"], response.json()["added"]) == (True, 1)
    assert stored() == before
    assert not RateImport.objects.exists()


@pytest.mark.parametrize("dry_run", [False, True])
def test_bad_rows_are_a_400_naming_each_and_nothing_is_written(
    api, admin_user, some_rates, dry_run
) -> None:
    before = stored()
    sent = body(
        ("2026-01-08", "EUR", "1.2"),
        ("2026-01-08", "USD", "1"),
        ("2026-01-09", "GBP", "0"),
        ("2026-01-08", "EUR", "1.3"),
        dry_run=dry_run,
    )

    response = api(admin_user)("POST", "/rates/import", sent)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == {
        "rows[1].currency": ["USD is the home currency: its rate is always 1"],
        "rows[2].rate": ["'0' is not above 0"],
        "rows[3].day": ["EUR on 2026-01-08 is already on row 0"],
    }
    assert stored() == before
    assert not RateImport.objects.exists()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"day": "08/01/2026", "currency": "EUR", "rate": "1"}, "rows.0.day"),
        ({"day": "2026-01-08", "currency": "XYZ", "rate": "1"}, "rows.0.currency"),
        ({"day": "2026-01-08", "currency": "EUR", "rate": "1.5e3"}, "rows.0.rate"),
        ({"day": "2026-01-08", "currency": "EUR", "rate": 1.5}, "rows.0.rate"),
    ],
)
def test_rows_the_schema_refuses_are_a_422(api, admin_user, row, field) -> None:
    response = api(admin_user)("POST", "/rates/import", {"rows": [row]})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert not Rate.objects.exists()


def test_dry_run_must_be_true_or_false(api, admin_user) -> None:
    sent = {**body(("2026-01-08", "EUR", "1.2")), "dry_run": "yes"}

    response = api(admin_user)("POST", "/rates/import", sent)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["dry_run"]
    assert not Rate.objects.exists()


def test_a_manager_may_list_but_not_import(api, manager, some_rates) -> None:
    before = stored()

    response = api(manager)("POST", "/rates/import", body(("2026-01-08", "EUR", "1.2")))

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert stored() == before
