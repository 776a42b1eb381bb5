"""Referral asks on the CRM side: one open ask per account (a database constraint), snoozing
any task, closing an ask as not appropriate, and how the web UI and the API offer both."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from goodword.crm.models import Account, Activity, Task, TaskKind, TaskStatus
from goodword.crm.services import (
    ask_not_appropriate,
    task_complete,
    task_create,
    task_snooze,
    task_update,
)
from goodword.lib.errors import Invalid
from goodword.users.models import User
from goodword.users.services import apikey_create

HTMX = {"HX-Request": "true"}
API = "/api/v1"


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """The rows a refused action could have touched."""
    return {
        "tasks": list(Task.objects.order_by("pk").values_list()),
        "activities": list(Activity.objects.order_by("pk").values_list()),
    }


def _raw_task(account: Account, owner: User, kind: str, status: str = "open") -> Task:
    """A task written straight to the table, past every service check."""
    now = timezone.now()
    return Task.objects.create(
        account=account,
        owner=owner,
        kind=kind,
        status=status,
        subject=f"{kind} {status}",
        due_at=now,
        created_at=now,
    )


def _midnight(days: int) -> dt.datetime:
    today = timezone.now().astimezone(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=days), dt.time.min, tzinfo=dt.UTC)


# --- the constraint -------------------------------------------------------------------


def test_a_second_open_ask_for_an_account_is_refused_by_the_database(
    ask: Task, rep: User, account: Account
) -> None:
    # given an open ask for the account
    # when another open ask for the same account is written past the services
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_task(account, rep, TaskKind.REFERRAL_ASK)
    # then only the first exists
    assert list(Task.objects.filter(kind=TaskKind.REFERRAL_ASK).values_list("pk")) == [(ask.pk,)]


def test_closed_asks_do_not_block_a_new_open_one(rep: User, account: Account) -> None:
    # given a done and a cancelled ask for the account
    done = _raw_task(account, rep, TaskKind.REFERRAL_ASK, TaskStatus.DONE)
    cancelled = _raw_task(account, rep, TaskKind.REFERRAL_ASK, TaskStatus.CANCELLED)
    # when a new open ask is written
    new = _raw_task(account, rep, TaskKind.REFERRAL_ASK)
    # then all three exist
    statuses = Task.objects.order_by("pk").values_list("pk", "status")
    assert list(statuses) == [(done.pk, "done"), (cancelled.pk, "cancelled"), (new.pk, "open")]


def test_open_tasks_of_other_kinds_and_asks_of_other_accounts_are_not_limited(
    ask: Task, rep: User, account: Account, other_rep: User, other_account: Account
) -> None:
    # given an open ask for the account
    # when two open calls for it and an open ask for another account are written
    _raw_task(account, rep, TaskKind.CALL)
    _raw_task(account, rep, TaskKind.CALL)
    _raw_task(other_account, other_rep, TaskKind.REFERRAL_ASK)
    # then they all exist, open
    assert Task.objects.filter(status=TaskStatus.OPEN).count() == 4


def test_task_create_refuses_a_second_open_ask_and_writes_nothing(
    ask: Task, rep: User, account: Account
) -> None:
    before = snapshot()

    with pytest.raises(Invalid) as info:
        task_create(
            actor=rep,
            owner=rep,
            account=account,
            data={"kind": "referral_ask", "subject": "Ask again"},
        )

    assert info.value.errors == {"account": ["already has an open referral ask"]}
    assert snapshot() == before


def test_reopening_an_ask_while_another_is_open_is_refused(
    ask: Task, rep: User, account: Account
) -> None:
    # given a cancelled ask besides the open one
    old = _raw_task(account, rep, TaskKind.REFERRAL_ASK, TaskStatus.CANCELLED)
    before = snapshot()
    # when someone reopens the cancelled one
    with pytest.raises(Invalid) as info:
        task_update(actor=rep, task=old, data={"status": "open"})
    # then it is refused and nothing changed
    assert info.value.errors == {"account": ["already has an open referral ask"]}
    assert snapshot() == before


# --- task_snooze ----------------------------------------------------------------------


def test_snoozing_a_task_moves_its_due_time_and_records_it(
    task: Task, rep: User, account: Account
) -> None:
    # given an open call, due tomorrow
    old_due = task.due_at
    until = _midnight(10)
    # when the rep snoozes it for ten days
    task_snooze(actor=rep, task=task, until=until)
    # then it falls due then, still open, and the timeline says so
    task.refresh_from_db()
    assert (task.status, task.due_at, task.snoozed_until) == ("open", until, until)
    assert task.outcome == f"snoozed until {until:%Y-%m-%d}"
    activity = Activity.objects.get(verb="task.snoozed")
    assert (activity.account, activity.actor, activity.object_id) == (account, rep, task.pk)
    assert activity.summary == f"Task Call Ada about the rollout snoozed until {until:%Y-%m-%d}"
    assert activity.before == {"due_at": old_due.isoformat(), "snoozed_until": None, "outcome": ""}
    assert activity.after == {
        "due_at": until.isoformat(),
        "snoozed_until": until.isoformat(),
        "outcome": f"snoozed until {until:%Y-%m-%d}",
    }


def test_an_ask_may_be_snoozed_up_to_365_days_ahead(ask: Task, rep: User) -> None:
    until = timezone.now() + dt.timedelta(days=365) - dt.timedelta(minutes=1)

    task_snooze(actor=rep, task=ask, until=until)

    ask.refresh_from_db()
    assert (ask.status, ask.due_at) == ("open", until)


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        (lambda now: now - dt.timedelta(minutes=1), "must be in the future"),
        (lambda now: now - dt.timedelta(days=400), "must be in the future"),
        (lambda now: now + dt.timedelta(days=366), "must be at most 365 days ahead"),
        (lambda now: (now + dt.timedelta(days=1)).replace(tzinfo=None), "must have a time zone"),
    ],
    ids=["just-past", "long-past", "too-far", "naive"],
)
def test_snoozing_to_a_refused_time_changes_nothing(
    task: Task, rep: User, until: Callable[[dt.datetime], dt.datetime], reason: str
) -> None:
    before = snapshot()

    with pytest.raises(Invalid) as info:
        task_snooze(actor=rep, task=task, until=until(timezone.now()))

    assert info.value.errors == {"until": [reason]}
    assert snapshot() == before


def test_snoozing_a_task_that_is_no_longer_open_changes_nothing(task: Task, rep: User) -> None:
    # given a task someone completed since it was read
    stale = Task.objects.get(pk=task.pk)
    task_complete(actor=rep, task=task, outcome="Reached Ada")
    before = snapshot()
    # when the stale copy is snoozed
    with pytest.raises(Invalid) as info:
        task_snooze(actor=rep, task=stale, until=_midnight(3))
    # then it is refused and nothing changed
    assert info.value.errors == {"status": ["the task is no longer open"]}
    assert snapshot() == before


# --- ask_not_appropriate --------------------------------------------------------------


def test_closing_an_ask_as_not_appropriate(ask: Task, rep: User, account: Account) -> None:
    # when the owner closes the ask, saying why
    ask_not_appropriate(actor=rep, task=ask, reason="  Ada is on leave until March.  ")
    # then it is cancelled with the outcome and the stripped reason, and the timeline says so
    ask.refresh_from_db()
    assert (ask.status, ask.outcome, ask.reason) == (
        "cancelled",
        "not appropriate",
        "Ada is on leave until March.",
    )
    assert ask.completed_at is not None
    activity = Activity.objects.get(verb="task.not_appropriate")
    assert (activity.account, activity.actor, activity.object_id) == (account, rep, ask.pk)
    assert activity.summary == (
        "Referral ask Ask Ada for a referral closed as not appropriate: "
        "Ada is on leave until March."
    )
    assert activity.before == {"status": "open"}
    assert activity.after == {
        "status": "cancelled",
        "outcome": "not appropriate",
        "reason": "Ada is on leave until March.",
    }


def test_a_reason_of_300_characters_is_taken(ask: Task, rep: User) -> None:
    ask_not_appropriate(actor=rep, task=ask, reason="x" * 300)

    ask.refresh_from_db()
    assert (ask.status, ask.reason) == ("cancelled", "x" * 300)


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "is required"), ("   ", "is required"), ("x" * 301, "is longer than 300 characters")],
    ids=["empty", "blank", "too-long"],
)
def test_a_missing_or_long_reason_changes_nothing(
    ask: Task, rep: User, reason: str, message: str
) -> None:
    before = snapshot()

    with pytest.raises(Invalid) as info:
        ask_not_appropriate(actor=rep, task=ask, reason=reason)

    assert info.value.errors == {"reason": [message]}
    assert snapshot() == before


def test_only_a_referral_ask_can_be_not_appropriate(task: Task, rep: User) -> None:
    before = snapshot()

    with pytest.raises(Invalid) as info:
        ask_not_appropriate(actor=rep, task=task, reason="Not now")

    assert info.value.errors == {"kind": ["only a referral ask can be closed as not appropriate"]}
    assert snapshot() == before


def test_an_ask_no_longer_open_is_not_closed_again(ask: Task, rep: User) -> None:
    # given an ask completed since it was read
    stale = Task.objects.get(pk=ask.pk)
    task_complete(actor=rep, task=ask, outcome="Ada introduced us to Globex")
    before = snapshot()
    # when the stale copy is closed as not appropriate
    with pytest.raises(Invalid) as info:
        ask_not_appropriate(actor=rep, task=stale, reason="Not now")
    # then it is refused and nothing changed
    assert info.value.errors == {"status": ["the task is no longer an open referral ask"]}
    assert snapshot() == before


def test_a_done_ask_makes_room_for_the_next_one(ask: Task, rep: User, account: Account) -> None:
    # when the owner completes the ask
    task_complete(actor=rep, task=ask, outcome="Ada introduced us to Globex")
    # then it is done, and a new ask for the account may be opened
    ask.refresh_from_db()
    assert (ask.status, ask.outcome) == ("done", "Ada introduced us to Globex")
    new = task_create(
        actor=None, owner=rep, account=account, data={"kind": "referral_ask", "subject": "Next"}
    )
    assert new.status == "open"


# --- web UI ---------------------------------------------------------------------------


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_my_tasks_shows_the_ask_badge_and_its_actions(
    client: Client, rep: User, ask: Task, task: Task
) -> None:
    page = login(client, rep).get("/").content.decode()

    ask_row = page[page.index(f'id="task-{ask.pk}"') :].split("</tr>")[0]
    call_row = page[page.index(f'id="task-{task.pk}"') :].split("</tr>")[0]
    assert '<span class="badge referral-ask">Referral ask</span>' in ask_row
    assert f'hx-post="/tasks/{ask.pk}/done/"' in ask_row
    assert f'hx-post="/tasks/{ask.pk}/snooze/"' in ask_row
    assert f'hx-post="/tasks/{ask.pk}/not-appropriate/"' in ask_row
    assert 'name="until"' in ask_row
    assert 'name="reason"' in ask_row
    # a call may be snoozed too, but not closed as not appropriate
    assert "Referral ask" not in call_row
    assert f'hx-post="/tasks/{task.pk}/snooze/"' in call_row
    assert "not-appropriate" not in call_row


def test_task_page_of_an_ask_shows_the_badge_and_plain_forms(
    client: Client, rep: User, ask: Task
) -> None:
    page = login(client, rep).get(f"/tasks/{ask.pk}/").content.decode()

    assert '<span class="badge referral-ask">Referral ask</span>' in page
    assert f'action="/tasks/{ask.pk}/snooze/"' in page
    assert f'action="/tasks/{ask.pk}/not-appropriate/"' in page
    assert f'<input type="hidden" name="next" value="/tasks/{ask.pk}/">' in page
    assert "Rollout finished ahead of plan." in page  # the why-now


def test_snoozing_with_htmx_returns_the_row_with_its_new_due_date(
    client: Client, rep: User, ask: Task
) -> None:
    day = _midnight(5)

    response = login(client, rep).post(
        f"/tasks/{ask.pk}/snooze/", {"until": day.date().isoformat()}, headers=HTMX
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="task-{ask.pk}"')
    assert f"{day:%a} {day.day} {day:%b}, 00:00" in body
    ask.refresh_from_db()
    assert (ask.status, ask.due_at, ask.snoozed_until) == ("open", day, day)


def test_snoozing_without_js_redirects_back(client: Client, rep: User, task: Task) -> None:
    day = _midnight(1)

    response = login(client, rep).post(
        f"/tasks/{task.pk}/snooze/", {"until": day.date().isoformat(), "next": "/?kind=call"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/?kind=call"
    task.refresh_from_db()
    assert task.due_at == day


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("", "choose a day"),
        ("next week", "choose a day, YYYY-MM-DD"),
        (_midnight(0).date().isoformat(), "must be in the future"),
        (_midnight(400).date().isoformat(), "must be at most 365 days ahead"),
    ],
    ids=["missing", "malformed", "today", "too-far"],
)
def test_a_refused_snooze_shows_the_error_and_changes_nothing(
    client: Client, rep: User, task: Task, until: str, message: str
) -> None:
    login(client, rep)
    before = snapshot()

    swapped = client.post(f"/tasks/{task.pk}/snooze/", {"until": until}, headers=HTMX)
    plain = client.post(f"/tasks/{task.pk}/snooze/", {"until": until})

    assert swapped.status_code == plain.status_code == 400
    row = swapped.content.decode()
    assert row.strip().startswith(f'<tr id="task-{task.pk}"')
    assert f'<small class="error" role="alert">{message}</small>' in row
    page = plain.content.decode()
    assert f'<small class="error" role="alert">{message}</small>' in page
    assert "<h2>Details</h2>" in page  # the task's page, with the error by its form
    assert snapshot() == before


def test_closing_an_ask_with_htmx_returns_the_cancelled_row(
    client: Client, rep: User, ask: Task
) -> None:
    response = login(client, rep).post(
        f"/tasks/{ask.pk}/not-appropriate/", {"reason": "Churn risk this quarter"}, headers=HTMX
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert '<span class="badge cancelled">Cancelled</span>' in body
    assert "not appropriate" in body
    ask.refresh_from_db()
    assert (ask.status, ask.reason) == ("cancelled", "Churn risk this quarter")


def test_closing_an_ask_without_js_redirects_back(client: Client, rep: User, ask: Task) -> None:
    response = login(client, rep).post(
        f"/tasks/{ask.pk}/not-appropriate/", {"reason": "Churn risk", "next": f"/tasks/{ask.pk}/"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{ask.pk}/"
    ask.refresh_from_db()
    assert ask.status == "cancelled"


def test_closing_an_ask_without_a_reason_shows_the_error_and_changes_nothing(
    client: Client, rep: User, ask: Task
) -> None:
    login(client, rep)
    before = snapshot()

    swapped = client.post(f"/tasks/{ask.pk}/not-appropriate/", {"reason": "  "}, headers=HTMX)
    plain = client.post(f"/tasks/{ask.pk}/not-appropriate/", {})

    assert swapped.status_code == plain.status_code == 400
    for response in (swapped, plain):
        body = response.content.decode()
        assert '<small class="error" role="alert">is required</small>' in body
    assert snapshot() == before


def test_closing_a_call_as_not_appropriate_is_refused(
    client: Client, rep: User, task: Task
) -> None:
    login(client, rep)
    before = snapshot()

    response = client.post(f"/tasks/{task.pk}/not-appropriate/", {"reason": "No"}, headers=HTMX)

    assert response.status_code == 400
    assert "kind: only a referral ask can be closed as not appropriate" in response.content.decode()
    assert snapshot() == before


def test_acting_on_an_ask_that_is_no_longer_open_shows_why(
    client: Client, rep: User, ask: Task
) -> None:
    # given an ask completed in another tab
    task_complete(actor=rep, task=ask)
    login(client, rep)
    before = snapshot()
    # when the owner snoozes it or closes it from the stale row
    snoozed = client.post(
        f"/tasks/{ask.pk}/snooze/", {"until": _midnight(2).date().isoformat()}, headers=HTMX
    )
    closed = client.post(f"/tasks/{ask.pk}/not-appropriate/", {"reason": "Not now"})
    # then the row and the page say why, and nothing changed
    assert snoozed.status_code == closed.status_code == 400
    assert "status: the task is no longer open" in snoozed.content.decode()
    assert "status: the task is no longer an open referral ask" in closed.content.decode()
    assert snapshot() == before


def test_actions_on_a_task_the_user_cannot_see_are_404_and_change_nothing(
    client: Client, rep: User, other_rep: User, other_account: Account, other_task: Task
) -> None:
    other_ask = _raw_task(other_account, other_rep, TaskKind.REFERRAL_ASK)
    login(client, rep)
    before = snapshot()

    for url, data in [
        (f"/tasks/{other_task.pk}/snooze/", {"until": _midnight(2).date().isoformat()}),
        (f"/tasks/{other_ask.pk}/not-appropriate/", {"reason": "Mine now"}),
    ]:
        assert client.post(url, data).status_code == 404, url
        assert client.post(url, data, headers=HTMX).status_code == 404, url
    assert snapshot() == before


def test_a_manager_of_another_team_gets_403_and_nothing_changes(
    client: Client, other_manager: User, ask: Task
) -> None:
    login(client, other_manager)
    before = snapshot()

    snooze = client.post(f"/tasks/{ask.pk}/snooze/", {"until": _midnight(2).date().isoformat()})
    close = client.post(f"/tasks/{ask.pk}/not-appropriate/", {"reason": "Taken over"})

    assert client.get(f"/tasks/{ask.pk}/").status_code == 200
    assert snooze.status_code == close.status_code == 403
    assert snapshot() == before


def test_the_actions_take_only_post_with_a_csrf_token(rep: User, ask: Task) -> None:
    client = login(Client(enforce_csrf_checks=True), rep)
    before = snapshot()

    for url, data in [
        (f"/tasks/{ask.pk}/snooze/", {"until": _midnight(2).date().isoformat()}),
        (f"/tasks/{ask.pk}/not-appropriate/", {"reason": "Not now"}),
    ]:
        assert client.get(url, data).status_code == 405, url
        assert client.post(url, data).status_code == 403, url
    assert snapshot() == before


def test_my_tasks_filters_by_kind(client: Client, rep: User, ask: Task, task: Task) -> None:
    login(client, rep)

    def shown(query: str) -> list[int]:
        return [t.pk for g in client.get(f"/{query}").context["groups"] for t in g.tasks]

    assert shown("?kind=referral_ask") == [ask.pk]
    assert shown("?kind=call") == [task.pk]
    assert sorted(shown("?kind=nonsense")) == sorted([ask.pk, task.pk])  # ignored
    page = client.get("/?kind=referral_ask").content.decode()
    assert 'href="/tasks/export.csv?scope=mine&amp;status=open&amp;kind=referral_ask"' in page
    assert '<option value="referral_ask" selected>Referral ask</option>' in page


def test_tasks_export_has_the_ask_columns_and_honours_the_kind(
    client: Client, rep: User, ask: Task, task: Task
) -> None:
    login(client, rep)
    ask_not_appropriate(actor=rep, task=ask, reason="Ada is on leave")
    until = _midnight(3)
    task_snooze(actor=rep, task=task, until=until)

    rows = _csv_rows(client.get("/tasks/export.csv?kind=referral_ask"))

    assert list(rows[0]) == [
        "id",
        "kind",
        "subject",
        "owner_email",
        "account",
        "account_external_id",
        "due_at",
        "status",
        "outcome",
        "completed_at",
        "snoozed_until",
        "reason",
    ]
    assert [(r["id"], r["kind"], r["status"], r["reason"]) for r in rows] == [
        (str(ask.pk), "referral_ask", "cancelled", "Ada is on leave")
    ]
    calls = _csv_rows(client.get("/tasks/export.csv?kind=call"))
    assert [(r["id"], r["snoozed_until"], r["reason"]) for r in calls] == [
        (str(task.pk), until.isoformat(), "")
    ]


def _csv_rows(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- API ------------------------------------------------------------------------------


def _api(client: Client, user: User) -> Callable[[str, dict[str, Any]], Any]:
    _, key = apikey_create(user=user, scopes=["read", "write"])

    def post(path: str, body: dict[str, Any]) -> Any:
        return client.post(
            API + path,
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    return post


def test_api_snoozes_a_task(client: Client, rep: User, ask: Task) -> None:
    # given a time in another zone: it is stored in UTC
    until = _midnight(4) + dt.timedelta(hours=8)
    sent = until.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()

    response = _api(client, rep)(f"/tasks/{ask.pk}/snooze", {"until": sent})

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["reason"]) == (ask.pk, "open", "")
    assert dt.datetime.fromisoformat(body["due_at"]) == until
    assert dt.datetime.fromisoformat(body["snoozed_until"]) == until
    assert body["outcome"] == f"snoozed until {until:%Y-%m-%d}"
    ask.refresh_from_db()
    assert (ask.due_at, ask.snoozed_until) == (until, until)


def test_api_closes_an_ask_as_not_appropriate(client: Client, rep: User, ask: Task) -> None:
    response = _api(client, rep)(f"/tasks/{ask.pk}/not-appropriate", {"reason": "Ada left"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["outcome"], body["reason"]) == (
        "cancelled",
        "not appropriate",
        "Ada left",
    )
    assert body["completed_at"] is not None
    ask.refresh_from_db()
    assert (ask.status, ask.reason) == ("cancelled", "Ada left")


@pytest.mark.parametrize(
    ("path", "body", "status", "errors"),
    [
        ("snooze", {"until": "2001-01-01T00:00:00Z"}, 400, {"until": ["must be in the future"]}),
        ("snooze", {"until": "2001-01-01T00:00:00"}, 422, None),  # no zone
        ("snooze", {}, 422, None),
        ("not-appropriate", {"reason": "   "}, 422, None),
        ("not-appropriate", {"reason": "x" * 301}, 422, None),
    ],
    ids=["past", "naive", "missing", "blank", "too-long"],
)
def test_api_refuses_bad_input_and_changes_nothing(
    client: Client,
    rep: User,
    ask: Task,
    path: str,
    body: dict[str, Any],
    status: int,
    errors: dict[str, list[str]] | None,
) -> None:
    before = snapshot()

    response = _api(client, rep)(f"/tasks/{ask.pk}/{path}", body)

    assert response.status_code == status
    if errors is not None:
        assert response.json()["errors"] == errors
    assert snapshot() == before


def test_api_refuses_a_task_no_longer_open_or_of_another_kind(
    client: Client, rep: User, ask: Task, task: Task
) -> None:
    task_complete(actor=rep, task=ask)
    post = _api(client, rep)
    before = snapshot()

    snoozed = post(f"/tasks/{ask.pk}/snooze", {"until": _midnight(2).isoformat()})
    closed = post(f"/tasks/{ask.pk}/not-appropriate", {"reason": "Not now"})
    call = post(f"/tasks/{task.pk}/not-appropriate", {"reason": "Not now"})

    assert [r.status_code for r in (snoozed, closed, call)] == [400, 400, 400]
    assert snoozed.json() == {
        "code": "invalid",
        "message": "status: the task is no longer open",
        "errors": {"status": ["the task is no longer open"]},
    }
    assert closed.json()["errors"] == {"status": ["the task is no longer an open referral ask"]}
    assert call.json()["errors"] == {
        "kind": ["only a referral ask can be closed as not appropriate"]
    }
    assert snapshot() == before


def test_api_is_404_for_a_task_the_caller_cannot_see(
    client: Client, rep: User, other_rep: User, other_account: Account
) -> None:
    other_ask = _raw_task(other_account, other_rep, TaskKind.REFERRAL_ASK)
    post = _api(client, rep)
    before = snapshot()

    snoozed = post(f"/tasks/{other_ask.pk}/snooze", {"until": _midnight(2).isoformat()})
    closed = post(f"/tasks/{other_ask.pk}/not-appropriate", {"reason": "Mine now"})

    assert snoozed.status_code == closed.status_code == 404
    assert snoozed.json() == closed.json() == {"code": "not_found", "message": "Not found."}
    assert snapshot() == before


def test_api_is_403_for_a_manager_of_another_team(
    client: Client, other_manager: User, ask: Task
) -> None:
    post = _api(client, other_manager)
    before = snapshot()

    snoozed = post(f"/tasks/{ask.pk}/snooze", {"until": _midnight(2).isoformat()})
    closed = post(f"/tasks/{ask.pk}/not-appropriate", {"reason": "Taken over"})

    assert snoozed.status_code == closed.status_code == 403
    assert snoozed.json()["code"] == closed.json()["code"] == "forbidden"
    assert snapshot() == before
