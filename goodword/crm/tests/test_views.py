"""The web UI through Django's test client: who sees which page, what each POST changes, what
refused requests leave unchanged, CSV exports, and query counts that do not grow with data."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from goodword.crm.models import (
    Account,
    Activity,
    Contact,
    Deal,
    DealStageChange,
    Stage,
    Task,
    TaskStatus,
)
from goodword.crm.services import account_create, deal_create, task_create
from goodword.users.models import User

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every CRM row that a refused request could have touched."""
    tables: dict[str, QuerySet[Any]] = {
        "accounts": Account.objects.order_by("pk"),
        "contacts": Contact.objects.order_by("pk"),
        "deals": Deal.objects.order_by("pk"),
        "changes": DealStageChange.objects.order_by("pk"),
        "tasks": Task.objects.order_by("pk"),
        "activities": Activity.objects.order_by("pk"),
    }
    return {name: list(qs.values_list()) for name, qs in tables.items()}


def csv_rows(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- pages render ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rep", "csm", "manager", "admin_user", "nobody"])
def test_every_list_page_renders_for_each_role(
    client: Client, request: pytest.FixtureRequest, who: str, deal: Deal, task: Task
) -> None:
    # given a user of each role
    login(client, request.getfixturevalue(who))
    # when they open each list page, then it renders
    for url in ["/", "/accounts/", "/deals/", "/deals/board/"]:
        response = client.get(url)
        assert response.status_code == 200, url


def test_detail_pages_render_for_the_owner(
    client: Client, rep: User, account: Account, deal: Deal, task: Task, contact: Contact
) -> None:
    login(client, rep)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Acme Analytics" in page
    assert "Ada Lovelace" in page
    assert "Acme expansion" in page
    assert "Call Ada about the rollout" in page
    assert "Account Acme Analytics created" in page  # the timeline
    assert "48,000.00 USD" in page
    deal_page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Created in <strong>Qualification</strong>" in deal_page
    assert client.get(f"/tasks/{task.pk}/").status_code == 200


def test_nav_shows_admin_only_to_staff(client: Client, rep: User, admin_user: User) -> None:
    assert 'href="/admin/"' not in login(client, rep).get("/").content.decode()
    assert 'href="/admin/"' in login(client, admin_user).get("/").content.decode()


def test_anonymous_user_is_sent_to_login(client: Client, account: Account) -> None:
    response = client.get(f"/accounts/{account.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- access: 404 for what is not yours, 403 for what you may only see ---------------------


def test_rep_gets_404_for_another_reps_pages(
    client: Client, rep: User, other_account: Account, other_deal: Deal, other_task: Task
) -> None:
    login(client, rep)
    for url in [
        f"/accounts/{other_account.pk}/",
        f"/deals/{other_deal.pk}/",
        f"/tasks/{other_task.pk}/",
    ]:
        assert client.get(url).status_code == 404, url


def test_rep_gets_404_for_posts_to_another_reps_records_and_nothing_changes(
    client: Client,
    rep: User,
    other_account: Account,
    other_deal: Deal,
    other_task: Task,
    stages: dict[str, Stage],
) -> None:
    # given a rep and another rep's records
    login(client, rep)
    before = snapshot()
    a, d, t = other_account.pk, other_deal.pk, other_task.pk
    posts: list[tuple[str, dict[str, Any]]] = [
        (f"/accounts/{a}/edit/", {"name": "Hacked", "currency": "USD", "lifecycle": "prospect"}),
        (f"/accounts/{a}/contacts/new/", {"email": "x@example.com"}),
        (
            f"/accounts/{a}/deals/new/",
            {"name": "X", "currency": "USD", "kind": "new", "source": "other"},
        ),
        (f"/accounts/{a}/tasks/new/", {"subject": "X", "kind": "todo", "owner": rep.pk}),
        (f"/deals/{d}/edit/", {"name": "Hacked", "currency": "USD", "kind": "new"}),
        (f"/deals/{d}/move/", {"stage": stages["Closed Won"].pk}),
        (f"/tasks/{t}/done/", {"outcome": "done by someone else"}),
        (f"/tasks/{t}/edit/", {"subject": "Hacked", "kind": "todo", "owner": rep.pk}),
    ]
    # when they POST to each, then each answers 404
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
        assert client.post(url, data, **HTMX).status_code == 404, url  # type: ignore[arg-type]
    # and nothing changed
    assert snapshot() == before


def test_manager_of_another_team_may_view_but_not_change_a_deal(
    client: Client, other_manager: User, deal: Deal, task: Task, stages: dict[str, Stage]
) -> None:
    # given a manager of the West team and a deal of the East team
    login(client, other_manager)
    before = snapshot()
    # when they view it, then they can
    assert client.get(f"/deals/{deal.pk}/").status_code == 200
    assert client.get(f"/accounts/{deal.account_id}/").status_code == 200
    # when they try to change it, then 403
    move = client.post(f"/deals/{deal.pk}/move/", {"stage": stages["Closed Won"].pk})
    assert move.status_code == 403
    edit = client.post(
        f"/deals/{deal.pk}/edit/",
        {"name": "Taken", "currency": "USD", "kind": "new", "source": "other"},
    )
    assert edit.status_code == 403
    assert client.post(f"/tasks/{task.pk}/done/", {}).status_code == 403
    # and nothing changed
    assert snapshot() == before


def test_manager_of_the_team_may_move_the_deal(
    client: Client, manager: User, deal: Deal, stages: dict[str, Stage]
) -> None:
    login(client, manager)
    response = client.post(f"/deals/{deal.pk}/move/", {"stage": stages["Negotiation/Review"].pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == stages["Negotiation/Review"]


def test_get_on_a_write_url_changes_nothing(
    client: Client, rep: User, deal: Deal, task: Task, stages: dict[str, Stage]
) -> None:
    login(client, rep)
    before = snapshot()
    assert (
        client.get(f"/deals/{deal.pk}/move/", {"stage": stages["Closed Won"].pk}).status_code == 405
    )
    assert client.get(f"/tasks/{task.pk}/done/").status_code == 405
    assert snapshot() == before


# --- moving deals ---------------------------------------------------------------------


def test_moving_a_deal_records_a_stage_change(
    client: Client, rep: User, deal: Deal, stages: dict[str, Stage]
) -> None:
    # given a deal in Qualification
    login(client, rep)
    target = stages["Proposal/Price Quote"]
    # when the rep moves it from the board with htmx
    response = client.post(
        f"/deals/{deal.pk}/move/",
        {"stage": target.pk, "next": "/deals/board/?source=referral"},
        **HTMX,  # type: ignore[arg-type]
    )
    # then the board (with the same filters) is loaded again and the move is recorded
    assert response.status_code == 302
    assert response["Location"] == "/deals/board/?source=referral"
    deal.refresh_from_db()
    assert deal.stage == target
    change = DealStageChange.objects.filter(deal=deal).order_by("-id").first()
    assert change is not None
    assert (change.from_stage, change.to_stage, change.changed_by) == (
        stages["Qualification"],
        target,
        rep,
    )
    assert Activity.objects.filter(verb="deal.stage_changed", object_id=deal.pk).count() == 1


def test_moving_to_an_unknown_stage_is_refused_and_nothing_changes(
    client: Client, rep: User, deal: Deal
) -> None:
    login(client, rep)
    before = snapshot()
    plain = client.post(f"/deals/{deal.pk}/move/", {"stage": 999999})
    assert plain.status_code == 400
    assert "there is no such stage" in plain.content.decode()
    swapped = client.post(f"/deals/{deal.pk}/move/", {"stage": "x"}, **HTMX)  # type: ignore[arg-type]
    assert swapped.status_code == 400
    assert swapped["HX-Retarget"] == "#flash"
    assert snapshot() == before


def test_move_ignores_a_next_url_on_another_host(
    client: Client, rep: User, deal: Deal, stages: dict[str, Stage]
) -> None:
    login(client, rep)
    response = client.post(
        f"/deals/{deal.pk}/move/",
        {"stage": stages["Negotiation/Review"].pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == f"/deals/{deal.pk}/"


# --- tasks ----------------------------------------------------------------------------


def test_completing_a_task_with_htmx_returns_the_done_row(
    client: Client, rep: User, task: Task
) -> None:
    login(client, rep)
    response = client.post(f"/tasks/{task.pk}/done/", {"outcome": "Booked a demo"}, **HTMX)  # type: ignore[arg-type]
    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="task-{task.pk}"')
    assert "Booked a demo" in body
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.outcome == "Booked a demo"
    assert task.completed_at is not None


def test_completing_a_task_without_js_redirects_back(
    client: Client, rep: User, task: Task, account: Account
) -> None:
    login(client, rep)
    response = client.post(f"/tasks/{task.pk}/done/", {"next": f"/accounts/{account.pk}/"})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_completing_a_done_task_again_is_refused(client: Client, rep: User, task: Task) -> None:
    login(client, rep)
    client.post(f"/tasks/{task.pk}/done/", {"outcome": "first"})
    before = snapshot()
    response = client.post(f"/tasks/{task.pk}/done/", {"outcome": "second"})
    assert response.status_code == 400
    assert "no longer open" in response.content.decode()
    assert snapshot() == before


def test_my_tasks_groups_by_due_date_in_utc(
    client: Client, rep: User, other_rep: User, account: Account
) -> None:
    # given tasks due yesterday, today and next week, and someone else's task
    now = timezone.now()
    today = dt.datetime.combine(now.date(), dt.time(12), tzinfo=dt.UTC)
    for subject, due in [
        ("Yesterday's call", today - dt.timedelta(days=1)),
        ("Today's call", today),
        ("Next week's call", today + dt.timedelta(days=7)),
    ]:
        task_create(
            actor=rep,
            owner=rep,
            account=account,
            data={"subject": subject, "due_at": due.isoformat()},
        )
    task_create(
        actor=other_rep, owner=other_rep, data={"subject": "Not mine", "due_at": today.isoformat()}
    )
    # when the rep opens My tasks
    groups = login(client, rep).get("/").context["groups"]
    # then each task is in its group, and only theirs
    assert {g.key: [t.subject for t in g.tasks] for g in groups} == {
        "overdue": ["Yesterday's call"],
        "today": ["Today's call"],
        "upcoming": ["Next week's call"],
    }


def test_manager_switches_to_the_teams_tasks(
    client: Client, manager: User, rep: User, other_rep: User, task: Task, other_task: Task
) -> None:
    login(client, manager)
    mine = [t for g in client.get("/").context["groups"] for t in g.tasks]
    team = [t for g in client.get("/?scope=team").context["groups"] for t in g.tasks]
    assert mine == []
    assert team == [task]  # rep is in the manager's team; other_rep is not


def test_rep_cannot_switch_to_team_scope(client: Client, rep: User, csm: User, task: Task) -> None:
    task_create(
        actor=csm, owner=csm, data={"subject": "CSM's own", "due_at": timezone.now().isoformat()}
    )
    response = login(client, rep).get("/?scope=team")
    assert response.context["scope"] == "mine"
    assert [t.subject for g in response.context["groups"] for t in g.tasks] == [task.subject]


def test_editing_a_task_with_a_bad_date_shows_the_error_and_writes_nothing(
    client: Client, rep: User, task: Task
) -> None:
    login(client, rep)
    before = snapshot()
    response = client.post(
        f"/tasks/{task.pk}/edit/",
        {"subject": "New", "kind": "call", "owner": rep.pk, "status": "open", "due_at": "soon"},
    )
    assert response.status_code == 400
    assert "is not a date-time" in response.content.decode()
    assert snapshot() == before


# --- account page writes --------------------------------------------------------------


def test_editing_an_account(client: Client, rep: User, csm: User, account: Account) -> None:
    login(client, rep)
    response = client.post(
        f"/accounts/{account.pk}/edit/",
        {
            "name": "Acme Analytics GmbH",
            "external_id": "ACC-1",
            "domain": "acme.io",
            "lifecycle": "customer",
            "customer_since": "2025-01-15",
            "arr": "50000",
            "currency": "EUR",
            "country": "de",
            "owner": rep.pk,
            "csm": csm.pk,
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.arr, account.currency, account.country) == (
        "Acme Analytics GmbH",
        Decimal("50000.00"),
        "EUR",
        "DE",
    )
    assert Activity.objects.filter(verb="account.updated", account=account).count() == 1


def test_invalid_account_edit_rerenders_with_errors_and_writes_nothing(
    client: Client, rep: User, account: Account
) -> None:
    login(client, rep)
    before = snapshot()
    response = client.post(
        f"/accounts/{account.pk}/edit/",
        {"name": "Acme", "lifecycle": "customer", "currency": "XXX", "domain": "not a domain"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "is not an ISO 4217 currency code" in body
    assert "is not a domain name" in body
    assert response.context["open_form"] == "account_form"
    assert snapshot() == before


def test_adding_a_contact_deal_and_task_on_the_account_page(
    client: Client, rep: User, account: Account, stages: dict[str, Stage]
) -> None:
    login(client, rep)
    url = f"/accounts/{account.pk}"
    contact = client.post(
        f"{url}/contacts/new/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "GRACE@acme.io", "phone": ""},
    )
    deal = client.post(
        f"{url}/deals/new/",
        {
            "name": "Acme renewal",
            "amount": "9000",
            "currency": "USD",
            "kind": "renewal",
            "source": "partner",
            "stage": stages["Prospecting"].pk,
            "owner": rep.pk,
        },
    )
    task = client.post(
        f"{url}/tasks/new/",
        {
            "subject": "Send renewal quote",
            "kind": "email",
            "owner": rep.pk,
            "due_at": "2030-01-02T09:30",
        },
    )
    assert [contact.status_code, deal.status_code, task.status_code] == [302, 302, 302]
    assert account.contacts.get().email == "grace@acme.io"
    new_deal = account.deals.get()
    assert (new_deal.name, new_deal.stage, new_deal.owner) == (
        "Acme renewal",
        stages["Prospecting"],
        rep,
    )
    assert DealStageChange.objects.filter(deal=new_deal).count() == 1
    assert account.tasks.get().due_at == dt.datetime(2030, 1, 2, 9, 30, tzinfo=dt.UTC)


def test_adding_a_duplicate_contact_is_refused(
    client: Client, rep: User, account: Account, contact: Contact
) -> None:
    login(client, rep)
    before = snapshot()
    response = client.post(f"/accounts/{account.pk}/contacts/new/", {"email": "ada@acme.io"})
    assert response.status_code == 400
    assert "another contact at this account has this e-mail address" in response.content.decode()
    assert snapshot() == before


def test_editing_a_deal(client: Client, rep: User, deal: Deal) -> None:
    login(client, rep)
    response = client.post(
        f"/deals/{deal.pk}/edit/",
        {
            "name": "Acme expansion (EU)",
            "amount": "15000",
            "currency": "EUR",
            "kind": "expansion",
            "source": "inbound",
            "external_id": "DEAL-1",
            "owner": rep.pk,
        },
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.currency) == (
        "Acme expansion (EU)",
        Decimal("15000.00"),
        "EUR",
    )


# --- search, filters, export ----------------------------------------------------------


@pytest.fixture
def three_accounts(rep: User, other_rep: User) -> list[Account]:
    rows = [
        ("ACC-10", "Globex", "globex.com", "Retail", "DE", "customer"),
        ("ACC-11", '=HYPERLINK("http://x")', "initech.com", "Software", "US", "prospect"),
        ("ACC-12", "Umbrella", "umbrella.example", "Pharma", "GB", "churned"),
    ]
    return [
        account_create(
            actor=rep,
            owner=rep,
            data={
                "external_id": ext,
                "name": name,
                "domain": domain,
                "industry": industry,
                "country": country,
                "lifecycle": lifecycle,
            },
        )
        for ext, name, domain, industry, country, lifecycle in rows
    ]


def _names(client: Client, query: str) -> list[str]:
    return [a.name for a in client.get(f"/accounts/?{query}").context["page"].object_list]


def test_accounts_search_and_filters(
    client: Client, rep: User, account: Account, other_account: Account, three_accounts: Any
) -> None:
    login(client, rep)
    assert _names(client, "q=glob") == ["Globex"]
    assert _names(client, "q=initech.com") == ['=HYPERLINK("http://x")']
    assert _names(client, "q=acc-12") == ["Umbrella"]
    assert _names(client, "lifecycle=customer") == ["Acme Analytics", "Globex"]
    assert _names(client, "industry=pharma") == ["Umbrella"]
    assert _names(client, "country=de") == ["Globex"]
    assert _names(client, f"owner={rep.pk}&sort=-name") == [
        "Umbrella",
        "Globex",
        "Acme Analytics",
        '=HYPERLINK("http://x")',
    ]
    assert "Zenith Logistics" not in _names(client, "q=zenith")


def test_accounts_export_has_only_visible_rows_with_neutralised_formulas(
    client: Client, rep: User, account: Account, other_account: Account, three_accounts: Any
) -> None:
    login(client, rep)
    response = client.get("/accounts/export.csv")
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    assert [r["name"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "Acme Analytics",
        "Globex",
        "Umbrella",
    ]
    assert rows[1]["owner_email"] == "rep@example.com"
    assert rows[1]["csm_email"] == "csm@example.com"
    filtered = csv_rows(client.get("/accounts/export.csv?lifecycle=churned"))
    assert [r["external_id"] for r in filtered] == ["ACC-12"]


def test_deals_table_filters_and_export(
    client: Client,
    rep: User,
    deal: Deal,
    other_deal: Deal,
    account: Account,
    stages: dict[str, Stage],
) -> None:
    # given a second deal of the rep's, whose name looks like a formula
    deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Closed Won"],
        data={
            "name": "-1+1",
            "amount": "100",
            "currency": "USD",
            "kind": "new",
            "source": "inbound",
        },
    )
    login(client, rep)

    def names(query: str) -> list[str]:
        return [d.name for d in client.get(f"/deals/?{query}").context["page"].object_list]

    assert sorted(names("")) == ["-1+1", "Acme expansion"]
    assert names("status=won") == ["-1+1"]
    assert names("status=open") == ["Acme expansion"]
    assert sorted(names("source=inbound")) == ["-1+1", "Acme expansion"]
    assert names(f"stage={stages['Qualification'].pk}") == ["Acme expansion"]
    rows = csv_rows(client.get("/deals/export.csv?sort=name"))
    assert [(r["name"], r["stage"], r["amount"]) for r in rows] == [
        ("'-1+1", "Closed Won", "100.00"),
        ("Acme expansion", "Qualification", "12000.00"),
    ]


def test_tasks_and_contacts_exports_have_only_visible_rows(
    client: Client,
    rep: User,
    task: Task,
    other_task: Task,
    contact: Contact,
    other_contact: Contact,
) -> None:
    login(client, rep)
    tasks = csv_rows(client.get("/tasks/export.csv?scope=all"))
    assert [r["subject"] for r in tasks] == ["Call Ada about the rollout"]
    contacts = csv_rows(client.get("/contacts/export.csv"))
    assert [r["email"] for r in contacts] == ["ada@acme.io"]
    assert contacts[0]["phone"] == "'+14155550100"  # a leading + is neutralised


# --- the board ------------------------------------------------------------------------


def test_board_totals_are_per_currency_and_weighted(
    client: Client,
    manager: User,
    rep: User,
    account: Account,
    deal: Deal,
    other_deal: Deal,
    stages: dict[str, Stage],
) -> None:
    # given a second Qualification deal in EUR and a deal lost long ago
    deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Qualification"],
        data={
            "name": "EU arm",
            "amount": "3000",
            "currency": "EUR",
            "kind": "new",
            "source": "event",
        },
    )
    deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Closed Lost"],
        data={
            "name": "Old loss",
            "amount": "1",
            "currency": "USD",
            "kind": "new",
            "source": "event",
            "closed_at": "2020-01-01T00:00:00Z",
        },
    )
    # when the manager opens the board
    columns = {
        c.stage.name: c for c in login(client, manager).get("/deals/board/").context["columns"]
    }
    # then Qualification has both deals, totals kept apart by currency, weighted at 10 %
    qual = columns["Qualification"]
    assert qual.count == 2
    assert [(t.currency, t.total, t.weighted) for t in qual.totals] == [
        ("EUR", Decimal("3000.00"), Decimal("300.00")),
        ("USD", Decimal("12000.00"), Decimal("1200.00")),
    ]
    assert columns["Prospecting"].count == 1  # other_deal
    assert columns["Closed Lost"].count == 0  # lost outside the window


def test_board_filters(client: Client, rep: User, deal: Deal, stages: dict[str, Stage]) -> None:
    login(client, rep)
    by_source = client.get("/deals/board/?source=outbound").context["columns"]
    assert sum(c.count for c in by_source) == 0
    by_kind = client.get("/deals/board/?kind=expansion").context["columns"]
    assert [d.name for c in by_kind for d in c.cards] == ["Acme expansion"]


@pytest.mark.parametrize("window_limit", [0, 20_000])
def test_board_cards_are_the_newest_per_column_by_either_query(
    client: Client,
    manager: User,
    rep: User,
    account: Account,
    stages: dict[str, Stage],
    monkeypatch: pytest.MonkeyPatch,
    window_limit: int,
) -> None:
    # given more deals in one stage than a column shows, and one recently won deal
    from goodword.crm import board

    monkeypatch.setattr(board, "BOARD_CARDS", 2)
    monkeypatch.setattr(board, "WINDOW_LIMIT", window_limit)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i, stage in enumerate(["Prospecting"] * 3 + ["Closed Won"]):
        d = deal_create(
            actor=rep,
            account=account,
            owner=rep,
            stage=stages[stage],
            data={"name": f"D{i}", "amount": "1", "currency": "USD", "kind": "new"},
        )
        Deal.objects.filter(pk=d.pk).update(created_at=base + dt.timedelta(days=i))
    # when the board is built with the window query (small boards) or per-stage LIMITs
    columns = {
        c.stage.name: c for c in login(client, manager).get("/deals/board/").context["columns"]
    }
    # then each column shows its newest cards, newest first, and says how many more there are
    assert [d.name for d in columns["Prospecting"].cards] == ["D2", "D1"]
    assert columns["Prospecting"].more == 1
    assert [d.name for d in columns["Closed Won"].cards] == ["D3"]
    assert columns["Qualification"].cards == []


def test_owner_picker_marks_the_owner_and_escapes_addresses(
    client: Client, rep: User, account: Account
) -> None:
    # given a user whose e-mail address holds markup
    User.objects.create_user("<b>x</b>@example.com", password="pw-1234567")
    # when the rep loads the edit form of their account
    html = login(client, rep).get(
        f"/accounts/{account.pk}/?form=account_form", headers={"HX-Request": "true"}
    )
    body = html.content.decode()
    # then the owner <select> has the rep selected and the address escaped
    owner = body[body.index('name="owner"') :]
    owner = owner[: owner.index("</select>")]
    assert f'<option value="{rep.pk}" selected>{rep.email}</option>' in owner
    assert "&lt;b&gt;x&lt;/b&gt;@example.com" in owner
    assert "<b>x</b>" not in body


def test_board_cards_escape_every_value(
    client: Client, rep: User, stages: dict[str, Stage]
) -> None:
    # given a deal whose name, account name and owner address hold markup and quotes
    owner = User.objects.create_user('<i>o"wner</i>@example.com', password="pw-1234567")
    account = account_create(actor=rep, owner=rep, data={"name": "<b>Acme</b> & 'Co'"})
    deal_create(
        actor=rep,
        account=account,
        owner=owner,
        stage=stages["Prospecting"],
        data={"name": '<script>alert("x")</script>', "amount": "1234.40", "currency": "EUR"},
    )
    # when the rep opens the board
    body = login(client, rep).get("/deals/board/?source=&kind=").content.decode()
    # then every value is escaped, in text and in attributes
    card = body[body.index('class="deal-card"') :]
    card = card[: card.index("</article>")]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in card
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; &#x27;Co&#x27;" in card
    assert "&lt;i&gt;o&quot;wner&lt;/i&gt;@example.com" in card
    for raw in ("<script>alert", "<b>Acme", "<i>o"):
        assert raw not in body
    assert '1,234 <span class="muted">EUR</span>' in card
    assert 'name="next" value="/deals/board/?source=&amp;kind="' in card


@pytest.mark.parametrize(
    ("name", "form_id"),
    [("account_form", "account-form"), ("deal_form", "deal-form"), ("task_form", "task-form")],
)
def test_account_page_forms_load_when_opened(
    client: Client, rep: User, account: Account, name: str, form_id: str
) -> None:
    login(client, rep)
    url = f"/accounts/{account.pk}/"
    # given the account page: the form is not there, a link to load it is
    page = client.get(url).content.decode()
    assert f'id="{form_id}"' not in page
    assert f'hx-get="{url}?form={name}"' in page
    assert f'href="{url}?form={name}#{form_id}"' in page
    # when htmx asks for the form, then only the form comes back
    fragment = client.get(f"{url}?form={name}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.content.decode().strip().startswith('<form method="post"')
    assert f'id="{form_id}"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    # when a browser without script follows the link, then the whole page has the form open
    full = client.get(f"{url}?form={name}")
    assert full.context["open_form"] == name
    assert f'id="{form_id}"' in full.content.decode()
    assert "<html" in full.content.decode()


def test_account_page_form_of_a_hidden_account_is_404(
    client: Client, rep: User, other_account: Account
) -> None:
    login(client, rep)
    response = client.get(
        f"/accounts/{other_account.pk}/?form=account_form", headers={"HX-Request": "true"}
    )
    assert response.status_code == 404


# --- query counts ---------------------------------------------------------------------


def _bulk(rep: User, csm: User, other_rep: User, n: int) -> None:
    """n accounts (half the rep's, half another rep's), each with one deal in a spread of
    stages and currencies, and one task: written in bulk, as only the reads are measured."""
    now = timezone.now()
    stages = list(Stage.objects.all())
    accounts = Account.objects.bulk_create(
        Account(
            name=f"Bulk {i:03}",
            domain=f"bulk{i}.example",
            owner=rep if i % 2 else other_rep,
            csm=csm,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    )
    Deal.objects.bulk_create(
        Deal(
            account=a,
            name=f"Deal {i}",
            amount=Decimal(1000 + i),
            currency=["USD", "EUR", "GBP"][i % 3],
            stage=stages[i % len(stages)],
            owner=a.owner,
            created_at=now,
            updated_at=now,
            closed_at=now if stages[i % len(stages)].is_closed else None,
        )
        for i, a in enumerate(accounts)
    )
    Task.objects.bulk_create(
        Task(subject=f"Task {i}", owner=rep, account=a, due_at=now, created_at=now)
        for i, a in enumerate(accounts)
    )


@pytest.mark.parametrize("size", [5, 60])
@pytest.mark.parametrize("who", ["rep", "manager"])
def test_list_pages_stay_under_50_queries(
    client: Client,
    request: pytest.FixtureRequest,
    django_assert_max_num_queries: Callable[[int], Any],
    rep: User,
    csm: User,
    other_rep: User,
    manager: User,
    who: str,
    size: int,
) -> None:
    # given `size` accounts with deals and tasks
    _bulk(rep, csm, other_rep, size)
    login(client, request.getfixturevalue(who))
    account = Account.objects.filter(owner=rep).first()
    assert account is not None
    # when each heavy page is opened, then it needs fewer than 50 queries
    for url in ["/accounts/", "/deals/board/", "/deals/", "/", f"/accounts/{account.pk}/"]:
        with django_assert_max_num_queries(50):
            assert client.get(url).status_code == 200
    # and the rep sees only the accounts they own, 50 to a page
    visible = size if who == "manager" else size // 2
    page = client.get("/accounts/").context["page"]
    assert (page.paginator.count, len(page.object_list)) == (visible, min(50, visible))


# --- the back office ------------------------------------------------------------------


def test_admin_pages_render_for_an_admin(
    client: Client, admin_user: User, rep: User, deal: Deal, task: Task, contact: Contact
) -> None:
    from goodword.users.services import apikey_create

    key, _ = apikey_create(user=rep, scopes=["read"])
    login(client, admin_user)
    urls = [
        "/admin/",
        "/admin/crm/account/",
        f"/admin/crm/account/{deal.account_id}/change/",
        "/admin/crm/contact/",
        "/admin/crm/stage/",
        "/admin/crm/deal/",
        f"/admin/crm/deal/{deal.pk}/change/",
        "/admin/crm/task/",
        "/admin/crm/activity/",
        "/admin/users/user/",
        "/admin/users/user/add/",
        f"/admin/users/user/{rep.pk}/change/",
        "/admin/users/team/",
        "/admin/users/apikey/",
        f"/admin/users/apikey/{key.pk}/change/",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    # the stage history is shown on the deal and the key's hash never is
    assert "Qualification" in client.get(f"/admin/crm/deal/{deal.pk}/change/").content.decode()
    assert (
        key.hashed_key not in client.get(f"/admin/users/apikey/{key.pk}/change/").content.decode()
    )
    # keys are not added here, and timeline rows are not added or changed
    assert client.get("/admin/users/apikey/add/").status_code == 403
    assert client.get("/admin/crm/activity/add/").status_code == 403


def test_admin_adds_a_user_by_email(client: Client, admin_user: User) -> None:
    login(client, admin_user)
    response = client.post(
        "/admin/users/user/add/",
        {
            "email": "New.Person@Example.com",
            "role": "csm",
            "team": "",
            "password1": "a-long-enough-passphrase-77",
            "password2": "a-long-enough-passphrase-77",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert (user.username, user.role, user.check_password("a-long-enough-passphrase-77")) == (
        "new.person@example.com",
        "csm",
        True,
    )


def test_admin_stage_list_edits_probability(
    client: Client, admin_user: User, stages: dict[str, Stage]
) -> None:
    login(client, admin_user)
    ordered = list(Stage.objects.order_by("position", "id"))
    data: dict[str, Any] = {
        "form-TOTAL_FORMS": len(ordered),
        "form-INITIAL_FORMS": len(ordered),
        "_save": "Save",
    }
    for i, stage in enumerate(ordered):
        data[f"form-{i}-id"] = stage.pk
        data[f"form-{i}-position"] = stage.position
        data[f"form-{i}-probability"] = 15 if stage.name == "Qualification" else stage.probability
    assert client.post("/admin/crm/stage/", data).status_code == 302
    assert Stage.objects.get(name="Qualification").probability == 15


def test_admin_is_closed_to_non_staff(client: Client, rep: User) -> None:
    response = login(client, rep).get("/admin/crm/account/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
