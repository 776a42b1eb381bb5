"""The targets page and the programme costs and spend page through the client, and their
services: who may read and write what, the audit rows each change writes, the CSV exports;
a refusal changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import include, path, reverse

from goodword.lib.errors import Forbidden, Invalid
from goodword.reports import services, settings_views
from goodword.reports.models import ProgrammeCosts, RepTarget, SettingsChange, SourceSpend
from goodword.users.models import User

# The lead adds these pages to the project's paths; until then this module's paths are the
# project's with the pages in front (as they must be: /reports/<name>/ would take them).
urlpatterns = [*settings_views.urlpatterns, path("", include("goodword.urls"))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

NOW = dt.datetime(2026, 5, 14, 9, 30, tzinfo=dt.UTC)
Q2 = dt.date(2026, 4, 1)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(response: Any) -> str:
    return str(response.content.decode())


def rows_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def targets() -> set[tuple[str, str, str, Decimal]]:
    return {
        (t.user.email, t.quarter.isoformat(), t.metric, t.value)
        for t in RepTarget.objects.select_related("user")
    }


def audit() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    return [(c.kind, c.summary, c.before, c.after) for c in SettingsChange.objects.order_by("id")]


# --- quarters -------------------------------------------------------------------------------


def test_quarters_are_read_from_a_label_or_a_day() -> None:
    assert services.quarter_parse("2026-q2") == Q2
    assert services.quarter_parse("2026-05-14") == Q2
    assert services.quarter_end(dt.date(2026, 10, 1)) == dt.date(2026, 12, 31)
    assert services.quarter_label(dt.date(2026, 10, 1)) == "2026-Q4"
    with pytest.raises(Invalid) as refused:
        services.quarter_parse("2026-Q5")
    assert refused.value.errors == {"quarter": ["'2026-Q5' is not a quarter (e.g. 2026-Q2)"]}


# --- targets: the service -------------------------------------------------------------------


def test_a_manager_sets_changes_and_removes_their_teams_targets(manager: User, rep: User) -> None:
    # given a manager of the East team, and rep in it
    # when they set two targets, then change one and remove the other
    first = services.targets_set(
        actor=manager,
        quarter=dt.date(2026, 5, 2),
        values={(rep.pk, "asks_made"): "30", (rep.pk, "revenue_won"): "150,000.50"},
        now=NOW,
    )
    later = NOW + dt.timedelta(hours=1)
    second = services.targets_set(
        actor=manager,
        quarter=Q2,
        values={
            (rep.pk, "asks_made"): "35",
            (rep.pk, "revenue_won"): "",
            (rep.pk, "introductions"): None,
        },
        now=later,
    )

    # then the quarter holds the change, and each change has its audit row
    assert (first, second) == (
        services.TargetsResult(added=2),
        services.TargetsResult(changed=1, removed=1),
    )
    assert targets() == {("rep@example.com", "2026-04-01", "asks_made", Decimal("35.00"))}
    key = {"user": "rep@example.com", "quarter": "2026-Q2"}
    assert audit() == [
        ("target", "Target Asks made of rep@example.com for 2026-Q2 set to 30.00", {},
         {**key, "metric": "asks_made", "value": "30.00"}),
        ("target", "Target Referred revenue won of rep@example.com for 2026-Q2 set to 150000.50",
         {}, {**key, "metric": "revenue_won", "value": "150000.50"}),
        ("target", "Target Asks made of rep@example.com for 2026-Q2 changed from 30.00 to 35.00",
         {**key, "metric": "asks_made", "value": "30.00"},
         {**key, "metric": "asks_made", "value": "35.00"}),
        ("target", "Target Referred revenue won of rep@example.com for 2026-Q2 removed "
         "(was 150000.50)", {**key, "metric": "revenue_won", "value": "150000.50"}, {}),
    ]  # fmt: skip
    assert RepTarget.objects.get().set_at == later


def test_a_manager_may_not_set_another_teams_targets(manager: User, other_rep: User) -> None:
    with pytest.raises(Forbidden) as refused:
        services.targets_set(
            actor=manager, quarter=Q2, values={(other_rep.pk, "asks_made"): "3"}, now=NOW
        )
    assert str(refused.value) == (
        "a manager sets the targets of their own team only, not of other.rep@example.com"
    )
    assert targets() == set()
    assert audit() == []


def test_an_admin_sets_anyones_target_and_reps_set_none(
    admin_user: User, other_rep: User, rep: User
) -> None:
    services.targets_set(
        actor=admin_user, quarter=Q2, values={(other_rep.pk, "introductions"): "4"}, now=NOW
    )
    assert targets() == {("other.rep@example.com", "2026-04-01", "introductions", Decimal(4))}
    with pytest.raises(Forbidden):
        services.targets_set(actor=rep, quarter=Q2, values={(rep.pk, "asks_made"): "3"}, now=NOW)


def test_bad_cells_are_named_and_nothing_is_written(manager: User, rep: User) -> None:
    with pytest.raises(Invalid) as refused:
        services.targets_set(
            actor=manager,
            quarter=Q2,
            values={
                (rep.pk, "asks_made"): "2.5",
                (rep.pk, "introductions"): "-1",
                (rep.pk, "pipeline_created"): "lots",
                (rep.pk, "overdue"): "3",
                (manager.pk, "revenue_won"): "100",
            },
            now=NOW,
        )
    assert refused.value.errors == {
        f"{rep.pk}-asks_made": ["'2.5' is not a whole number"],
        f"{rep.pk}-introductions": ["'-1' is below 0"],
        f"{rep.pk}-pipeline_created": ["'lots' is not a number"],
        f"{rep.pk}-overdue": ["one of asks_made, introductions, pipeline_created, revenue_won"],
    }
    assert targets() == set()
    assert audit() == []


def test_setting_the_same_value_writes_nothing(manager: User, rep: User) -> None:
    services.targets_set(actor=manager, quarter=Q2, values={(rep.pk, "asks_made"): "3"}, now=NOW)
    again = services.targets_set(
        actor=manager, quarter=Q2, values={(rep.pk, "asks_made"): "3.00"}, now=NOW
    )
    assert again == services.TargetsResult()
    assert len(audit()) == 1


# --- targets: the page ------------------------------------------------------------------------


def test_a_manager_fills_the_grid_of_their_team(manager: User, rep: User, other_rep: User) -> None:
    client = client_for(manager)
    page = client.get(reverse("report-targets"), {"quarter": "2026-Q2"})
    assert page.status_code == 200
    html = text_of(page)
    assert "Targets for 2026-Q2" in html
    assert f'name="t-{rep.pk}-asks_made"' in html
    assert f'name="t-{other_rep.pk}-asks_made"' not in html  # West is not their team

    # when they save the grid
    saved = client.post(
        reverse("report-targets") + "?quarter=2026-Q2",
        {"quarter": "2026-Q2", f"t-{rep.pk}-asks_made": "12", f"t-{rep.pk}-revenue_won": ""},
    )

    # then the target is set and the page says so
    assert saved.status_code == 302
    assert saved["Location"] == "/reports/targets/?quarter=2026-Q2"
    assert targets() == {("rep@example.com", "2026-04-01", "asks_made", Decimal(12))}
    after = text_of(client.get(saved["Location"]))
    assert "Targets for 2026-Q2: 1 set, 0 changed, 0 removed" in after
    assert f'name="t-{rep.pk}-asks_made" id="t-{rep.pk}-asks_made" value="12"' in after


def test_a_bad_grid_comes_back_with_its_reasons(manager: User, rep: User) -> None:
    response = client_for(manager).post(
        reverse("report-targets"),
        {"quarter": "2026-Q2", f"t-{rep.pk}-asks_made": "many", f"t-{rep.pk}-introductions": "3"},
    )
    assert response.status_code == 400
    html = text_of(response)
    assert "&#x27;many&#x27; is not a number" in html
    assert 'value="many"' in html  # what was typed stays
    assert targets() == set()


def test_a_manager_posting_for_another_team_gets_403(manager: User, other_rep: User) -> None:
    response = client_for(manager).post(
        reverse("report-targets"), {"quarter": "2026-Q2", f"t-{other_rep.pk}-asks_made": "5"}
    )
    assert response.status_code == 403
    assert targets() == set()


def test_a_rep_reads_their_own_targets_and_may_not_set_any(
    manager: User, rep: User, other_rep: User, admin_user: User
) -> None:
    services.targets_set(
        actor=admin_user,
        quarter=Q2,
        values={(rep.pk, "introductions"): "7", (other_rep.pk, "introductions"): "9"},
        now=NOW,
    )
    client = client_for(rep)
    page = client.get(reverse("report-targets"), {"quarter": "2026-Q2"})
    assert page.status_code == 200
    html = text_of(page)
    assert "Your targets" in html
    assert '<td>Introductions</td><td class="num">7.00</td>' in html
    assert "9.00" not in html
    assert "<input" not in html.split("Your targets")[1]

    refused = client.post(
        reverse("report-targets"), {"quarter": "2026-Q2", f"t-{rep.pk}-asks_made": "99"}
    )
    assert refused.status_code == 403
    assert len(targets()) == 2

    # and the export holds their own targets only
    export = client.get(reverse("report-targets-export"), {"quarter": "2026-Q2"})
    assert rows_of(export) == [
        ["quarter", "user", "team", "metric", "value"],
        ["2026-Q2", "rep@example.com", "East", "introductions", "7.00"],
    ]
    everyone = client_for(manager).get(reverse("report-targets-export"), {"quarter": "2026-Q2"})
    assert [r[1] for r in rows_of(everyone)[1:]] == ["other.rep@example.com", "rep@example.com"]
    assert export["Content-Disposition"] == 'attachment; filename="targets-2026-Q2.csv"'


def test_a_bad_quarter_is_refused(manager: User) -> None:
    client = client_for(manager)
    assert client.get(reverse("report-targets"), {"quarter": "soon"}).status_code == 400
    assert client.get(reverse("report-targets-export"), {"quarter": "soon"}).status_code == 400


# --- programme costs ------------------------------------------------------------------------


def test_the_defaults_until_an_admin_sets_the_costs(admin_user: User) -> None:
    defaults = services.programme_costs()
    assert (defaults.minutes_per_ask, defaults.hourly_cost, defaults.currency) == (
        10, Decimal(60), "USD",
    )  # fmt: skip
    client = client_for(admin_user)
    assert "These are the defaults" in text_of(client.get(reverse("report-costs")))

    saved = client.post(
        reverse("report-costs-save"),
        {"minutes_per_ask": "15", "hourly_cost": "80.50", "currency": "eur"},
    )

    assert saved.status_code == 302
    costs = ProgrammeCosts.objects.get()
    assert (costs.pk, costs.minutes_per_ask, costs.hourly_cost, costs.currency) == (
        1, 15, Decimal("80.50"), "EUR",
    )  # fmt: skip
    assert costs.updated_by == admin_user
    assert audit() == [
        ("costs", "Programme costs set to 15 min per ask at 80.50 EUR/h", {},
         {"minutes_per_ask": 15, "hourly_cost": "80.50", "currency": "EUR"}),
    ]  # fmt: skip
    export = client.get(reverse("report-costs-export"))
    assert rows_of(export)[1][:3] == ["15", "80.50", "EUR"]


def test_changing_the_costs_keeps_before_and_after(admin_user: User) -> None:
    services.costs_set(
        actor=admin_user, minutes_per_ask=10, hourly_cost="60", currency="USD", now=NOW
    )
    services.costs_set(
        actor=admin_user, minutes_per_ask=10, hourly_cost="60", currency="USD", now=NOW
    )
    services.costs_set(
        actor=admin_user, minutes_per_ask=12, hourly_cost="60", currency="USD", now=NOW
    )
    changes = audit()
    assert len(changes) == 2
    assert changes[1][2:] == (
        {"minutes_per_ask": 10, "hourly_cost": "60.00", "currency": "USD"},
        {"minutes_per_ask": 12, "hourly_cost": "60.00", "currency": "USD"},
    )


def test_bad_costs_are_named(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("report-costs-save"),
        {"minutes_per_ask": "2000", "hourly_cost": "-5", "currency": "XX"},
    )
    assert response.status_code == 400
    assert response.context["costs_errors"] == {
        "minutes_per_ask": ["'2000' is not a whole number from 0 to 1440"],
        "hourly_cost": ["'-5' is below 0"],
        "currency": ["'XX' is not an ISO 4217 currency code"],
    }
    assert not ProgrammeCosts.objects.exists()
    assert audit() == []


def test_managers_read_the_costs_and_reps_get_404(manager: User, rep: User, csm: User) -> None:
    client = client_for(manager)
    page = client.get(reverse("report-costs"))
    assert page.status_code == 200
    assert "10 minutes per ask at USD 60" in text_of(page)
    assert 'name="minutes_per_ask"' not in text_of(page)
    posted = client.post(
        reverse("report-costs-save"),
        {"minutes_per_ask": "1", "hourly_cost": "1", "currency": "USD"},
    )
    assert posted.status_code == 403
    spend = client.post(
        reverse("report-spend-save"),
        {"source": "inbound", "month": "2026-04", "amount": "5", "currency": "USD"},
    )
    assert spend.status_code == 403
    assert not ProgrammeCosts.objects.exists()
    assert not SourceSpend.objects.exists()
    for user in (rep, csm):
        other = client_for(user)
        for name in ("report-costs", "report-costs-export", "report-spend-export"):
            assert other.get(reverse(name)).status_code == 404, (user.role, name)
        assert other.post(reverse("report-costs-save"), {}).status_code == 404


# --- spend per source -------------------------------------------------------------------------


def test_an_admin_enters_replaces_and_removes_a_months_spend(admin_user: User) -> None:
    client = client_for(admin_user)
    entry = {"source": "event", "month": "2026-04", "amount": "12,500", "currency": "EUR"}
    assert client.post(reverse("report-spend-save"), entry).status_code == 302
    assert (
        client.post(reverse("report-spend-save"), {**entry, "amount": "13000"}).status_code == 302
    )
    spend = SourceSpend.objects.get()
    assert (spend.source, spend.month, spend.amount, spend.currency) == (
        "event", Q2, Decimal("13000.00"), "EUR",
    )  # fmt: skip
    page = text_of(client.get(reverse("report-costs")))
    assert "EUR 13000.00" in page
    export = client.get(reverse("report-spend-export"))
    assert rows_of(export) == [
        ["month", "source", "amount", "currency", "entered_by"],
        ["2026-04", "event", "13000.00", "EUR", "admin@example.com"],
    ]

    # when the amount is emptied, the month goes
    assert client.post(reverse("report-spend-save"), {**entry, "amount": ""}).status_code == 302
    assert not SourceSpend.objects.exists()
    assert [c[1] for c in audit()] == [
        "Spend on event in 2026-04 set to 12500.00 EUR",
        "Spend on event in 2026-04 set to 13000.00 EUR",
        "Spend on event in 2026-04 removed (was 13000.00 EUR)",
    ]
    assert audit()[1][2:] == (
        {"source": "event", "month": "2026-04", "amount": "12500.00", "currency": "EUR"},
        {"source": "event", "month": "2026-04", "amount": "13000.00", "currency": "EUR"},
    )


def test_referral_spend_and_bad_fields_are_refused(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("report-spend-save"),
        {"source": "referral", "month": "April", "amount": "x", "currency": "EUR"},
    )
    assert response.status_code == 400
    assert response.context["spend_errors"] == {
        "source": [
            "one of inbound, outbound, partner, event, other "
            "(referrals cost their rewards and time)"
        ],
        "month": ["'April' is not a month (e.g. 2026-04)"],
        "amount": ["'x' is not a number"],
    }
    assert 'value="April"' in text_of(response)
    assert not SourceSpend.objects.exists()
    assert audit() == []
