from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from goodword.reports.tests.conftest import Book
from goodword.users.models import User
from goodword.users.services import apikey_create

pytestmark = pytest.mark.django_db


def get(client: Client, user: User, path: str, **query: Any) -> Any:
    _, key = apikey_create(user=user, scopes=["read"])
    return client.get(f"/api/v1{path}", query, headers={"Authorization": f"Bearer {key}"})


def test_a_report_as_json_has_the_pages_figures(client: Client, book: Book, manager: User) -> None:
    # when a manager asks for the pipeline report of 2026 so far
    response = get(client, manager, "/reports/pipeline", date_from="2026-01-01", source="referral")

    # then it answers the page's headline, filters, period and tables; amounts are strings
    assert response.status_code == 200
    body = response.json()
    assert body["report"] == "pipeline"
    assert body["currency"] == "USD"
    assert body["filters"] == {"date_from": "2026-01-01", "source": "referral"}
    assert body["period"]["from"] == "2026-01-01"
    assert body["headline"].startswith("Referred deals are ")
    tables = {t["name"]: t for t in body["tables"]}
    assert set(tables) == {"open", "referred_per_month"}
    referral = next(r for r in tables["open"]["rows"] if r["source"] == "referral")
    assert Decimal(referral["amount"]) > 0
    assert tables["referred_per_month"]["rows"][0]["month"] == "2026-01"


def test_bad_parameters_are_named(client: Client, book: Book, manager: User) -> None:
    response = get(client, manager, "/reports/pipeline", colour="blue")
    assert response.status_code == 400
    assert response.json()["errors"] == {"colour": ["is not a parameter of this report"]}
    response = get(
        client, manager, "/reports/pipeline", date_from="2026-02-01", date_to="2026-01-01"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"date_to": ["is before the start date"]}
    assert get(client, manager, "/reports/forecasting").status_code == 422


def test_a_rep_gets_the_figures_of_what_they_may_see(
    client: Client, book: Book, nobody: User
) -> None:
    # given a rep who owns nothing, when they ask for the report
    response = get(client, nobody, "/reports/pipeline")

    # then every figure is zero
    assert response.status_code == 200
    total = response.json()["tables"][0]["rows"][-1]
    assert (total["deals"], total["amount"]) == (0, "0.00")


def test_the_api_names_every_report() -> None:
    from typing import get_args

    from goodword.reports.api import ReportName
    from goodword.reports.catalogue import NAMES

    assert get_args(ReportName) == NAMES
