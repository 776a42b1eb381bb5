"""The rates page through the client: admins check a file, then import it; managers read;
reps and CSMs get 404; the table's CSV export. A refusal changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from goodword.reports.models import Rate, RateImport
from goodword.users.models import User

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
GOOD = b"\xef\xbb\xbfday,currency,rate\n2026-01-05,EUR,1.085\n2026-01-05,GBP,1.27\n"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(content: bytes, name: str = "rates.csv") -> dict[str, Any]:
    return {"file": SimpleUploadedFile(name, content, content_type="text/csv")}


def text_of(response: Any) -> str:
    return str(response.content.decode())


def rows_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def rates() -> list[tuple[str, str, Decimal]]:
    return [(r.currency, r.day.isoformat(), r.rate) for r in Rate.objects.all()]


@pytest.fixture
def some_rates(db: Any) -> None:
    for currency, day, rate in [
        ("EUR", "2026-01-05", "1.085"),
        ("EUR", "2026-01-06", "1.09"),
        ("GBP", "2026-01-05", "1.27"),
    ]:
        Rate.objects.create(
            currency=currency, day=dt.date.fromisoformat(day), rate=rate, imported_at=NOW
        )


# --- admins import ------------------------------------------------------------------------


def test_an_admin_checks_a_file_then_imports_it(admin_user: User) -> None:
    client = client_for(admin_user)
    assert "Import rates" in text_of(client.get(reverse("rates")))

    # when the admin checks the file
    checked = client.post(reverse("rates-check"), upload(GOOD))

    # then nothing is written yet and the page offers the import of the file checked
    assert checked.status_code == 200
    page = text_of(checked)
    assert "importing it would add 2, update 0 and leave 0 unchanged" in page
    assert "Import 2 rates" in page
    assert checked.context["content"] == GOOD.decode("utf-8-sig")
    assert '<textarea name="content" hidden aria-hidden="true">\nday,currency,rate\n' in page
    assert not Rate.objects.exists()

    # when they import it
    imported = client.post(
        reverse("rates-import"),
        {"filename": "rates.csv", "content": checked.context["content"]},
        follow=True,
    )

    # then the rates are there, with who imported them, and the page says what happened
    assert imported.redirect_chain == [(reverse("rates"), 302)]
    assert rates() == [
        ("EUR", "2026-01-05", Decimal("1.0850000000")),
        ("GBP", "2026-01-05", Decimal("1.2700000000")),
    ]
    assert {r.imported_by for r in Rate.objects.all()} == {admin_user}
    assert "rates.csv: rates: 2 added, 0 updated, 0 unchanged" in text_of(imported)
    assert RateImport.objects.get().source == "rates.csv"


def test_a_bad_file_lists_its_errors_by_row_and_offers_no_import(admin_user: User) -> None:
    bad = b"day,currency,rate\n2026-01-05,EUR,1.085\n2026-01-06,USD,1\n2026-01-07,EUR,abc\n"

    checked = client_for(admin_user).post(reverse("rates-check"), upload(bad, "march.csv"))

    assert checked.status_code == 400
    page = text_of(checked)
    assert "Nothing was imported: 2 errors in 3 rows." in page
    assert (
        "<code>march.csv:3: currency: USD is the home currency: its rate is always 1</code>" in page
    )
    assert "<code>march.csv:4: rate: &#x27;abc&#x27; is not a number</code>" in page
    assert "Import 3 rates" not in page
    assert not Rate.objects.exists()


def test_an_import_of_a_file_changed_since_its_check_is_refused(admin_user: User) -> None:
    posted = client_for(admin_user).post(
        reverse("rates-import"),
        {"filename": "rates.csv", "content": "day,currency,rate\n2026-01-05,EUR,-1\n"},
    )

    assert posted.status_code == 400
    assert "rates.csv:2: rate: &#x27;-1&#x27; is not above 0" in text_of(posted)
    assert not Rate.objects.exists()
    assert not RateImport.objects.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "choose a CSV file with the columns day,currency,rate"),
        (b"day,currency,rate\n2026-01-05,EUR,1\xff\n", "rates.csv: is not UTF-8 text (byte 34)"),
    ],
)
def test_an_empty_or_unreadable_upload_is_refused(admin_user: User, content, reason) -> None:
    checked = client_for(admin_user).post(reverse("rates-check"), upload(content))

    assert checked.status_code == 400
    assert checked.context["refusals"] == [reason]


def test_a_file_too_large_for_the_page_points_to_the_command_line(admin_user, settings) -> None:
    big = b"day,currency,rate\n" + b"2026-01-05,EUR,1.085\n" * 100_000

    checked = client_for(admin_user).post(reverse("rates-check"), upload(big))

    assert checked.status_code == 400
    assert checked.context["refusals"] == [
        "rates.csv is larger than 2 MB: import it with `goodword rates import FILE`"
    ]


# --- managers read, reps do not -------------------------------------------------------------


def test_a_manager_reads_the_table_but_may_not_import(manager: User, some_rates: None) -> None:
    client = client_for(manager)

    page = client.get(reverse("rates"))
    assert page.status_code == 200
    assert [(r.currency, shown) for r, shown in page.context["rows"]] == [
        ("EUR", "1.085"),
        ("EUR", "1.09"),
        ("GBP", "1.27"),
    ]
    assert "Import rates" not in text_of(page)

    before = rates()
    assert client.post(reverse("rates-check"), upload(GOOD)).status_code == 403
    imported = client.post(reverse("rates-import"), {"content": GOOD.decode("utf-8-sig")})
    assert imported.status_code == 403
    assert rates() == before
    assert not RateImport.objects.exists()


@pytest.mark.parametrize("role", ["rep", "csm", "nobody"])
def test_reps_and_csms_find_no_rates(request, role: str, some_rates: None) -> None:
    client = client_for(request.getfixturevalue(role))
    before = rates()

    assert client.get(reverse("rates")).status_code == 404
    assert client.get(reverse("rates-export")).status_code == 404
    assert client.post(reverse("rates-check"), upload(GOOD)).status_code == 404
    assert client.post(reverse("rates-import"), {"content": "x"}).status_code == 404
    assert rates() == before


def test_the_pages_take_only_their_methods(admin_user: User) -> None:
    client = client_for(admin_user)

    assert client.post(reverse("rates")).status_code == 405
    assert client.get(reverse("rates-check")).status_code == 405
    assert client.get(reverse("rates-import")).status_code == 405


# --- the table and its export ---------------------------------------------------------------


def test_the_table_filters_by_currency(admin_user: User, some_rates: None) -> None:
    page = client_for(admin_user).get(reverse("rates"), {"currency": "gbp"})

    assert [(r.currency, r.day.isoformat()) for r, _ in page.context["rows"]] == [
        ("GBP", "2026-01-05")
    ]
    assert page.context["currencies"] == ["EUR", "GBP"]
    assert '<option value="GBP" selected>GBP</option>' in text_of(page)


def test_the_export_has_the_import_columns_and_follows_the_filter(
    manager: User, some_rates: None
) -> None:
    client = client_for(manager)

    everything = client.get(reverse("rates-export"))
    eur = client.get(reverse("rates-export"), {"currency": "EUR"})

    assert everything["Content-Disposition"] == 'attachment; filename="rates.csv"'
    assert rows_of(everything) == [
        ["day", "currency", "rate"],
        ["2026-01-05", "EUR", "1.085"],
        ["2026-01-06", "EUR", "1.09"],
        ["2026-01-05", "GBP", "1.27"],
    ]
    assert eur["Content-Disposition"] == 'attachment; filename="rates-EUR.csv"'
    assert rows_of(eur)[1:] == [["2026-01-05", "EUR", "1.085"], ["2026-01-06", "EUR", "1.09"]]


def test_an_export_imports_again_unchanged(admin_user: User, some_rates: None) -> None:
    client = client_for(admin_user)
    response: Any = client.get(reverse("rates-export"))
    exported = b"".join(response.streaming_content)

    checked = client.post(reverse("rates-check"), upload(exported))

    assert "importing it would add 0, update 0 and leave 3 unchanged" in text_of(checked)
