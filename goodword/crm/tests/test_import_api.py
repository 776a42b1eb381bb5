"""Imports through the API: an admin uploads, the worker imports, the run keeps the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from goodword.crm.models import Account, ImportRun
from goodword.jobs.services import work_once
from goodword.signals.models import NpsResponse
from goodword.users.models import User
from goodword.users.services import apikey_create

NPS = b"""external_id,account_external_id,contact_email,score,comment,responded_at
N-1,ACC-1,ada@acme.io,10,Love it,2026-10-01T09:00:00Z
N-2,ACC-1,,6,,2026-10-02
"""


def upload(client: Client, user: User, path: str, name: str, content: bytes) -> Any:
    _, key = apikey_create(user=user, scopes=["read", "write"])
    return client.post(
        f"/api/v1{path}",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def get(client: Client, user: User, path: str) -> Any:
    _, key = apikey_create(user=user, scopes=["read"])
    return client.get(f"/api/v1{path}", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_admin_uploads_the_worker_imports_and_the_run_reports(
    client: Client, admin_user: User, account: Account
) -> None:
    # given an NPS file uploaded by an admin
    posted = upload(client, admin_user, "/imports/nps", "survey.csv", NPS)
    assert posted.status_code == 202, posted.content
    run_id = posted.json()["id"]
    assert (posted.json()["status"], NpsResponse.objects.count()) == ("queued", 0)
    # when the worker runs
    assert work_once() == 1
    # then the answers are in and the run says what happened; the upload is gone
    run = get(client, admin_user, f"/import-runs/{run_id}").json()
    assert run["status"] == "done"
    assert run["report"]["summary"] == "nps: 2 created, 0 updated, 0 unchanged, 0 refused"
    assert NpsResponse.objects.count() == 2
    assert not Path(ImportRun.objects.get().path).exists()


def test_a_file_with_bad_rows_is_refused_naming_the_uploaded_file(
    client: Client, admin_user: User, account: Account
) -> None:
    bad = NPS + b"N-3,ACC-1,,eleven,,2026-10-02\n"
    run_id = upload(client, admin_user, "/imports/nps", "survey.csv", bad).json()["id"]
    work_once()
    run = get(client, admin_user, f"/import-runs/{run_id}").json()
    assert run["status"] == "refused"
    assert run["report"]["errors"] == ["survey.csv:4: score: 'eleven' is not a number from 0 to 10"]
    assert NpsResponse.objects.count() == 0


def test_a_dry_run_reports_and_writes_nothing(
    client: Client, admin_user: User, account: Account
) -> None:
    posted = upload(client, admin_user, "/imports/nps?dry_run=true", "survey.csv", NPS)
    work_once()
    run = get(client, admin_user, f"/import-runs/{posted.json()['id']}").json()
    assert (run["status"], run["dry_run"], run["report"]["created"]) == ("done", True, 2)
    assert NpsResponse.objects.count() == 0


def test_an_unknown_kind_or_an_events_file_of_another_type_is_refused(
    client: Client, admin_user: User
) -> None:
    empty = upload(client, admin_user, "/imports/nps", "x.csv", b"")
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid")
    unknown = upload(client, admin_user, "/imports/invoices", "x.csv", b"a\n")
    wrong_type = upload(client, admin_user, "/imports/events", "events.xlsx", b"a\n")
    assert unknown.status_code == 422
    assert wrong_type.status_code == 400
    assert "events files end in .parquet" in wrong_type.json()["errors"]["file"][0]
    assert ImportRun.objects.count() == 0


def test_an_unreadable_file_fails_with_its_reason(client: Client, admin_user: User) -> None:
    posted = upload(client, admin_user, "/imports/nps", "survey.csv", b"\xff\xfe\x00bad")
    work_once()
    run = get(client, admin_user, f"/import-runs/{posted.json()['id']}").json()
    assert run["status"] == "failed"
    assert run["report"]["message"] == "survey.csv: is not UTF-8 text (byte 0)"
