"""The backtest: the asks a programme would have created in past weeks, the gates that held
accounts back (its own asks among them), other rules detected in memory, the command and
the admins' page; and in every case, that nothing was written."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from django.test import Client

from goodword.crm.models import Account, Activity, Contact, Task, TaskKind, TaskStatus
from goodword.engine.programme import MilestoneRule, ReadinessConfig
from goodword.engine.rules import parse_programme
from goodword.moments.backtest import backtest_run, week_ends
from goodword.moments.facts import monday
from goodword.moments.models import Moment, ProgrammeVersion, Scan
from goodword.moments.scan import scan_run
from goodword.signals import store
from goodword.signals.models import EventWeek, NpsResponse
from goodword.users.models import User

pytestmark = pytest.mark.django_db
UTC = dt.UTC
YAML = """\
rules:
  - {id: promoter, kind: nps, weight: 50}
readiness:
  threshold: 40
"""
PROGRAMME = parse_programme(YAML)
MARCH = (dt.date(2026, 3, 2), dt.date(2026, 3, 23))  # four week ends: 2, 9, 16 and 23 March
FRIDAY = dt.datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # 2.5 days before 9 March: 50 → 44.2


def counts() -> dict[str, int]:
    """Every table a backtest could write to, if it wrote."""
    models: list[Any] = [Moment, Scan, Task, Activity, ProgrammeVersion, NpsResponse]
    return {model.__name__: model.objects.count() for model in models}


def customer(name: str, owner: User, since: dt.date = dt.date(2025, 1, 1)) -> Account:
    """A customer with 100 events every week of 2025 and 2026 (full usage points)."""
    at = dt.datetime(2025, 1, 1, tzinfo=UTC)
    account = Account.objects.create(
        name=name, lifecycle="customer", customer_since=since, owner=owner,
        created_at=at, updated_at=at,
    )  # fmt: skip
    first = monday(dt.date(2025, 1, 6))
    EventWeek.objects.bulk_create(
        EventWeek(account=account, week=first + dt.timedelta(weeks=w), events=100)
        for w in range(104)
    )
    return account


def person(account: Account, first_name: str) -> Contact:
    at = dt.datetime(2025, 1, 1, tzinfo=UTC)
    email = f"{first_name.lower()}@{account.name.lower()}.example"
    return Contact.objects.create(
        account=account, first_name=first_name, email=email, created_at=at, updated_at=at
    )


def answer(contact: Contact, score: int, at: dt.datetime) -> None:
    NpsResponse.objects.create(
        external_id=f"nps-{NpsResponse.objects.count()}",
        account=contact.account,
        contact=contact,
        contact_email=contact.email,
        score=score,
        responded_at=at,
        imported_at=at,
    )


def ask(account: Account, owner: User, created: dt.datetime, completed: dt.datetime) -> Task:
    return Task.objects.create(
        kind=TaskKind.REFERRAL_ASK,
        subject="asked by hand",
        owner=owner,
        account=account,
        due_at=created,
        status=TaskStatus.DONE,
        created_at=created,
        completed_at=completed,
    )


@pytest.fixture
def march(rep: User, other_rep: User) -> dict[str, Account]:
    """Four customers with a promoter answer on Friday 6 March: Acme may be asked; Beta has
    been a customer for too short a time, Gamma had a detractor in January, and Delta's ask
    of February was open until 20 March (it is done today)."""
    accounts = {
        "acme": customer("Acme", rep),
        "beta": customer("Beta", rep, since=dt.date(2026, 2, 1)),
        "gamma": customer("Gamma", other_rep),
        "delta": customer("Delta", other_rep),
    }
    for account in accounts.values():
        answer(person(account, "Jane"), 10, FRIDAY)
    answer(person(accounts["gamma"], "Moe"), 3, dt.datetime(2026, 1, 10, tzinfo=UTC))
    ask(
        accounts["delta"],
        other_rep,
        created=dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC),
        completed=dt.datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
    )
    return accounts


def test_week_ends_are_the_mondays_in_the_range() -> None:
    assert week_ends(dt.date(2026, 3, 4), dt.date(2026, 3, 23)) == [
        dt.datetime(2026, 3, 9, tzinfo=UTC),
        dt.datetime(2026, 3, 16, tzinfo=UTC),
        dt.datetime(2026, 3, 23, tzinfo=UTC),
    ]
    assert week_ends(dt.date(2026, 3, 3), dt.date(2026, 3, 8)) == []


def test_the_asks_come_in_the_week_readiness_reaches_the_threshold_and_gates_are_counted(
    march: dict[str, Account], rep: User
) -> None:
    before = counts()
    # When March is replayed
    result = backtest_run(programme=PROGRAMME, start=MARCH[0], end=MARCH[1])
    # Then only the week ending 9 March has due accounts: Acme is asked, the others are held
    # back by one gate each (Delta's ask was open then, though it is done today)
    assert [(f"{w.at:%m-%d}", w.due, len(w.asks)) for w in result.weeks] == [
        ("03-02", 0, 0),
        ("03-09", 4, 1),
        ("03-16", 0, 0),
        ("03-23", 0, 0),
    ]
    assert result.weeks[1].blocked == {"customer_days": 1, "detractor": 1, "open_ask": 1}
    [asked] = result.asks
    assert (asked.account, asked.owner_email, asked.contact_email) == (
        "Acme",
        "rep@example.com",
        "jane@acme.example",
    )
    assert (round(asked.readiness, 1), asked.rule, asked.rules) == (44.2, "promoter", ("promoter",))
    assert result.sources == {"promoter": "detected"}
    assert result.by_owner == [("Rep", "rep@example.com", 1)]
    assert [(t.rule_id, t.led, t.behind) for t in result.by_rule] == [("promoter", 1, 1)]
    # And nothing was written
    assert counts() == before


def test_an_account_due_every_week_is_asked_then_held_by_cooldown_contact_limit_and_fatigue(
    rep: User,
) -> None:
    # Given Jane at Acme answering 10 every Sunday from February to August
    jane = person(customer("Acme", rep), "Jane")
    sunday = dt.datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    for week in range(28):
        answer(jane, 10, sunday + dt.timedelta(weeks=week))
    before = counts()
    # When 2 February to 10 August (28 week ends) are replayed
    result = backtest_run(programme=PROGRAMME, start=dt.date(2026, 2, 2), end=dt.date(2026, 8, 10))
    # Then Acme is due every week but asked twice: on 2 February, then on 4 May when the 90
    # days of cooldown after the backtest's own ask are over; after that Jane has been asked
    # twice within a year, the contact limit; the 4 weeks after each ask, her fatigue budget
    # (asks of any kind 30 days apart) holds her too
    assert len(result.weeks) == 28
    assert [f"{a.at:%Y-%m-%d}" for a in result.asks] == ["2026-02-02", "2026-05-04"]
    assert result.due == 28
    assert result.blocked == {"account_cooldown": 24, "contact_limit": 14, "contact_fatigue": 8}
    held = {f"{w.at:%m-%d}": dict(w.blocked) for w in result.weeks}
    assert held["03-02"] == {"account_cooldown": 1, "contact_fatigue": 1}
    assert held["03-09"] == {"account_cooldown": 1}
    assert held["04-27"] == {"account_cooldown": 1}
    assert held["05-11"] == {"account_cooldown": 1, "contact_limit": 1, "contact_fatigue": 1}
    assert held["08-03"] == {"contact_limit": 1}
    assert counts() == before


def test_other_rules_give_other_asks(march: dict[str, Account]) -> None:
    # Given a readiness threshold of 45 instead of 40 (Acme's readiness is 44.2)
    stricter = replace(PROGRAMME, readiness=ReadinessConfig(threshold=45))
    before = counts()
    # When March is replayed with it, then no account is due and nobody is asked
    result = backtest_run(programme=stricter, start=MARCH[0], end=MARCH[1])
    assert (result.asks, result.due, result.blocked) == ([], 0, {})
    # And with the promoter rule off, there is nothing to replay at all
    off = replace(PROGRAMME, rules=(replace(PROGRAMME.rules[0], enabled=False),))
    assert backtest_run(programme=off, start=MARCH[0], end=MARCH[1]).sources == {}
    assert counts() == before


def report_events(account: Account, times: list[dt.datetime]) -> None:
    rows = [
        {
            "message_id": f"m{n}",
            "account_id": account.pk,
            "user_id": "u1",
            "event": "report",
            "timestamp": at,
            "properties": "{}",
            "received_at": at,
        }
        for n, at in enumerate(times)
    ]
    store.append(pa.Table.from_pylist(rows, schema=store.SCHEMA))


def test_event_rules_the_scan_ran_use_its_moments_and_others_are_detected_in_memory(
    rep: User,
) -> None:
    # Given three reports at Acme, the third on Friday 6 March, and a scan that ran the
    # reports rule at 3 reports (with a threshold no account reaches, so it asks nobody)
    acme = customer("Acme", rep)
    person(acme, "Jane")
    report_events(acme, [FRIDAY - dt.timedelta(days=2), FRIDAY - dt.timedelta(days=1), FRIDAY])
    reports = MilestoneRule(
        id="reports", kind="milestone", weight=50, event="report", thresholds=(Decimal(3),)
    )
    programme = replace(PROGRAMME, rules=(reports,))
    quiet = replace(programme, readiness=ReadinessConfig(threshold=999))
    scan_run(full=True, now=dt.datetime(2026, 3, 30, tzinfo=UTC), programme=quiet)
    assert Moment.objects.get().occurred_at == FRIDAY
    before = counts()
    # When March is replayed with the rule the scan ran, its stored moment counts
    stored = backtest_run(programme=programme, start=MARCH[0], end=MARCH[1])
    assert stored.sources == {"reports": "stored"}
    assert [(f"{a.at:%m-%d}", a.rules) for a in stored.asks] == [("03-09", ("reports",))]
    # And with other thresholds, the rule is detected in memory: at 2 reports the moment is
    # on Thursday (3.5 days before 9 March: 50 → 42.0), at 4 there is none
    two = backtest_run(
        programme=replace(programme, rules=(replace(reports, thresholds=(Decimal(2),)),)),
        start=MARCH[0],
        end=MARCH[1],
    )
    assert two.sources == {"reports": "detected"}
    assert [(f"{a.at:%m-%d}", round(a.readiness, 1)) for a in two.asks] == [("03-09", 42.0)]
    four = backtest_run(
        programme=replace(programme, rules=(replace(reports, thresholds=(Decimal(4),)),)),
        start=MARCH[0],
        end=MARCH[1],
    )
    assert (four.sources, four.asks) == ({"reports": "detected"}, [])
    # And nothing was written: the stored moment is as the scan left it
    assert counts() == before
    assert Moment.objects.get().occurred_at == FRIDAY


# --- the command ------------------------------------------------------------------------


def run(*args: str) -> Result:
    from goodword.cli import main

    return CliRunner().invoke(main, ["backtest", *args])


def rules_file(tmp_path: Path, text: str = YAML) -> str:
    path = tmp_path / "programme.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_command_prints_weeks_owners_and_rules(
    march: dict[str, Account], tmp_path: Path
) -> None:
    before = counts()
    result = run("--from", "2026-03-02", "--to", "2026-03-23", "--rules", rules_file(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "backtest 2026-03-02 to 2026-03-23: 4 weeks, 1 ask, 4 due",
        "moments: promoter (detected)",
        "",
        "week end    due  asks  customer_days  detractor  open_ask",
        "2026-03-02    0     0              0          0         0",
        "2026-03-09    4     1              1          1         1",
        "2026-03-16    0     0              0          0         0",
        "2026-03-23    0     0              0          0         0",
        "",
        "asks by owner:",
        "  Rep <rep@example.com>  1",
        "",
        "asks by rule (led: added the most readiness; behind: added any):",
        "  rule      moments   led  behind",
        "  promoter  detected    1       1",
    ]
    assert counts() == before


def test_other_rules_in_a_file_change_the_result(march: dict[str, Account], tmp_path: Path) -> None:
    file = rules_file(tmp_path, YAML.replace("threshold: 40", "threshold: 45"))
    result = run("--from", "2026-03-02", "--to", "2026-03-23", "--rules", file)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "backtest 2026-03-02 to 2026-03-23: 4 weeks, 0 asks, 0 due"
    )
    assert "asks by owner: none" in result.stdout.splitlines()


def test_the_command_uses_the_programme_in_force_by_default(march: dict[str, Account]) -> None:
    ProgrammeVersion.objects.create(
        yaml=YAML, data={}, applied_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    result = run("--from", "2026-03-02", "--to", "2026-03-23")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "backtest 2026-03-02 to 2026-03-23: 4 weeks, 1 ask, 4 due",
        "moments: promoter (detected)",
    ]


def test_csv_has_one_row_per_simulated_ask_and_the_report_on_stderr(
    march: dict[str, Account], tmp_path: Path
) -> None:
    args = ("--from", "2026-03-02", "--to", "2026-03-23", "--rules", rules_file(tmp_path))
    result = run(*args, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["week_end", "account_external_id", "account", "owner", "owner_email", "contact",
         "contact_email", "readiness", "rule", "rules"],
        ["2026-03-09", "", "Acme", "Rep", "rep@example.com", "Jane", "jane@acme.example",
         "44.2", "promoter", "promoter"],
    ]  # fmt: skip
    assert result.stderr.startswith("backtest 2026-03-02 to 2026-03-23: 4 weeks, 1 ask, 4 due\n")


def test_json_has_the_totals_and_the_asks_and_o_writes_a_file(
    march: dict[str, Account], tmp_path: Path
) -> None:
    out = tmp_path / "backtest.json"
    args = ("--from", "2026-03-02", "--to", "2026-03-23", "--rules", rules_file(tmp_path))
    result = run(*args, "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["summary"]["asks"] == 1
    assert data["summary"]["blocked"] == {"customer_days": 1, "detractor": 1, "open_ask": 1}
    assert data["summary"]["weeks"][1] == {
        "week_end": "2026-03-09",
        "due": 4,
        "asks": 1,
        "blocked": {"customer_days": 1, "detractor": 1, "open_ask": 1},
    }
    assert data["summary"]["by_owner"] == [{"owner": "Rep", "email": "rep@example.com", "asks": 1}]
    assert data["summary"]["by_rule"] == [
        {"rule": "promoter", "moments": "detected", "led": 1, "behind": 1}
    ]
    assert [(a["account"], a["readiness"], a["rules"]) for a in data["asks"]] == [
        ("Acme", 44.2, "promoter")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-02-30", "--to", "2026-03-23"), "Invalid value for '--from'"),
        (("--from", "2026-03-23", "--to", "2026-03-02"), "the end 2026-03-02 is before the start"),
        (("--from", "2023-01-02", "--to", "2026-01-03"), "2023-01-02 to 2026-01-03 is more than 3"),
        (("--from", "2026-03-02", "--to", "2099-01-05"), "is after today"),
        (("--from", "2026-03-03", "--to", "2026-03-08"), "no week ends (a Monday)"),
    ],
)
def test_a_bad_range_is_a_usage_error(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_invalid_rules_file_names_its_problems_by_line(tmp_path: Path) -> None:
    file = rules_file(tmp_path, "rules:\n  - {id: promoter, kind: nps, weight: -1}\n")
    result = run("--from", "2026-03-02", "--to", "2026-03-23", "--rules", file)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{file}:2: rules[0].weight: must be at least 0, not -1\n"


# --- the page ---------------------------------------------------------------------------

URL = "/settings/programme/backtest/"
FORM = {"start": "2026-03-02", "end": "2026-03-23", "yaml": YAML}


def test_the_page_shows_the_form_with_the_programme_in_force(
    client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    page = client.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert '<textarea name="yaml"' in text
    assert "id: reports, kind: milestone" in text  # the built-in default is in force
    assert 'class="chart"' not in text
    assert 'href="/settings/programme/backtest/"' in client.get("/settings/programme/").text


def test_an_admin_runs_it_and_sees_the_chart_and_the_tables(
    client: Client, admin_user: User, march: dict[str, Account]
) -> None:
    client.force_login(admin_user)
    before = counts()
    page = client.post(URL, FORM)
    assert page.status_code == 200
    text = page.content.decode()
    assert '<figure class="chart">' in text
    assert 'data-label="2026-03-09" data-series="Asks" data-value="1"' in text
    assert 'data-label="2026-03-16" data-series="Asks" data-value="0"' in text
    owners = text.split('id="backtest-owners"')[1].split("</section>")[0]
    assert "<td>Rep <span" in owners
    assert '<td class="num">1</td>' in owners
    rules = text.split('id="backtest-rules"')[1].split("</section>")[0]
    assert '<td>promoter</td><td class="small">detected now</td>' in rules
    weeks = text.split('id="backtest-weeks"')[1].split("</section>")[0]
    assert '<th class="num">customer_days</th>' in weeks
    assert "<td>Acme</td>" in text.split('id="backtest-asks"')[1]
    assert counts() == before


def test_an_admin_exports_the_simulated_asks_as_csv(
    client: Client, admin_user: User, march: dict[str, Account]
) -> None:
    client.force_login(admin_user)
    response: Any = client.post(URL, {**FORM, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("week_end,account_external_id,account,owner")
    assert lines[1].startswith("2026-03-09,,Acme,Rep,rep@example.com,Jane")
    assert len(lines) == 2


def test_bad_input_is_shown_with_the_problems_and_runs_nothing(
    client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    broken = client.post(URL, {**FORM, "yaml": "rules:\n  - {id: x, kind: nope, weight: 1}\n"})
    assert broken.status_code == 400
    assert "line 2: rules[0].kind: &#x27;nope&#x27; is not a kind of rule" in broken.text
    backwards = client.post(URL, {**FORM, "start": "2026-03-23", "end": "2026-03-02"})
    assert backwards.status_code == 400
    assert "the end 2026-03-02 is before the start 2026-03-23" in backwards.text


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_anyone_but_an_admin_gets_404(
    client: Client, role: str, request: pytest.FixtureRequest, march: dict[str, Account]
) -> None:
    client.force_login(request.getfixturevalue(role))
    before = counts()
    assert client.get(URL).status_code == 404
    assert client.post(URL, FORM).status_code == 404
    assert client.post(URL, {**FORM, "format": "csv"}).status_code == 404
    assert counts() == before
