from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from goodword.conftest import PASSWORD
from goodword.reports.catalogue import NAMES
from goodword.reports.tests.conftest import Book
from goodword.users.models import User

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.email, password=PASSWORD)
    return client


def test_the_pipeline_page_shows_headline_charts_and_tables(book: Book, manager: User) -> None:
    # given a manager
    client = logged_in(manager)

    # when they open the pipeline report
    response = client.get("/reports/pipeline/")

    # then it has the headline, a chart per table drawn as SVG, and the tables
    assert response.status_code == 200
    html = response.content.decode()
    assert "Referred deals are " in html
    assert html.count("<svg") == 2
    assert "Open pipeline by source" in html
    assert "Referred pipeline created per month" in html
    for svg in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")


def test_each_table_exports_to_csv(book: Book, manager: User) -> None:
    # when the manager exports the open pipeline table
    response = logged_in(manager).get("/reports/pipeline/?from=2026-01-01&export=open")

    # then it is CSV named after the report, the table and the period, a row per source
    assert response.status_code == 200
    today = timezone.now().date()
    assert response["Content-Disposition"] == (
        f'attachment; filename="pipeline-open-2026-01-01-{today}.csv"'
    )
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows[0][:4] == ["source", "label", "deals", "amount"]
    assert rows[-1][1] == "All sources"


def test_bad_filters_are_shown_and_the_report_covers_everything(book: Book, manager: User) -> None:
    response = logged_in(manager).get("/reports/pipeline/?from=yesterday")
    assert response.status_code == 400
    assert (
        "date_from: &#x27;yesterday&#x27; is not a date (YYYY-MM-DD)" in response.content.decode()
    )


def test_an_unknown_report_or_table_is_not_found(book: Book, manager: User) -> None:
    client = logged_in(manager)
    assert client.get("/reports/nothing/").status_code == 404
    assert client.get("/reports/pipeline/?export=nothing").status_code == 404


def test_the_reports_page_shows_every_headline(book: Book, rep: User) -> None:
    response = logged_in(rep).get("/reports/")
    assert response.status_code == 200
    assert 'data-testid="headline-pipeline"' in response.content.decode()


def test_reports_need_a_login(book: Book) -> None:
    response = Client().get("/reports/pipeline/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", NAMES)
def test_every_report_page_has_its_tables_exports_and_well_formed_charts(
    book: Book, manager: User, name: str
) -> None:
    # when a manager opens the report
    client = logged_in(manager)
    response = client.get(f"/reports/{name}/")

    # then it shows its headline and each table with a CSV export that answers
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="headline"' in html
    for svg in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")
    report = response.context["report"]
    for table in report.tables:
        assert f"export={table.name}" in html
        exported = client.get(f"/reports/{name}/?export={table.name}")
        assert exported.status_code == 200
        content = b"".join(exported.streaming_content).decode()  # type: ignore[attr-defined]
        assert content.splitlines()[0] == ",".join(c.key for c in table.columns)
        assert len(content.splitlines()) == len(table.rows) + 1


def test_a_managers_home_loads_every_headline(book: Book, manager: User, rep: User) -> None:
    # given a manager's home page, which loads the headlines after the page
    home = logged_in(manager).get("/")
    assert 'hx-get="/reports/headlines/"' in home.content.decode()

    # when the headlines load, then each report's headline is there
    html = logged_in(manager).get("/reports/headlines/").content.decode()
    for name in NAMES:
        assert f'data-testid="headline-{name}"' in html
    # and a rep's home does not ask for them (reps read the reports page)
    assert "/reports/headlines/" not in logged_in(rep).get("/").content.decode()
