from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from goodword.cli import main
from goodword.crm.io.exporting import export_lines
from goodword.crm.io.importing import import_file
from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange
from goodword.crm.services import account_create, contact_create
from goodword.users.models import User

FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture
def tricky(rep, account, contact, deal):
    """Records whose text a spreadsheet would run as a formula."""
    formula = account_create(
        actor=rep, owner=rep, data={"external_id": "ACC-F", "name": FORMULA, "industry": "@risk"}
    )
    contact_create(
        actor=rep,
        account=formula,
        data={"external_id": "CON-F", "email": "f@formula.example", "title": "+1 555"},
    )
    return formula


def export(*args: str) -> str:
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_accounts_csv_uses_the_import_columns_and_neutralises_formulas(tricky, csm):
    assert export("accounts").splitlines() == [
        "external_id,name,domain,industry,employees,country,lifecycle,owner_email,csm_email,"
        "customer_since,arr,currency",
        "ACC-1,Acme Analytics,acme.io,Software,250,US,customer,rep@example.com,csm@example.com,"
        "2025-01-15,48000.00,USD",
        "ACC-F,'=cmd|' /C calc'!A0,,'@risk,,,prospect,rep@example.com,,,0.00,USD",
    ]


def test_contacts_deals_and_tasks_csv(tricky, task):
    contacts = export("contacts").splitlines()
    assert contacts[0] == (
        "external_id,account_external_id,first_name,last_name,email,title,phone,"
        "past_employers,opted_out"
    )
    assert contacts[1] == (
        "CON-1,ACC-1,Ada,Lovelace,ada@acme.io,VP Operations,'+14155550100,"
        "globex.com;initech.com,false"
    )
    assert contacts[2] == "CON-F,ACC-F,,,f@formula.example,'+1 555,,,false"
    deals = export("deals").splitlines()
    assert deals[1].startswith(
        "DEAL-1,ACC-1,Acme expansion,12000.00,USD,Qualification,expansion,inbound,rep@example.com,"
    )
    assert deals[0].endswith(",close_date,closed_at,referred_by")
    assert deals[1].endswith(",2026-12-31,,")  # no close time, referred by no one
    tasks = export("tasks").splitlines()
    assert tasks[0] == (
        "id,kind,subject,owner_email,account_external_id,contact_email,deal_external_id,"
        "due_at,status,outcome,notes"
    )
    assert tasks[1].startswith(
        f"{task.pk},call,Call Ada about the rollout,rep@example.com,ACC-1,ada@acme.io,,"
    )
    assert tasks[1].endswith(",open,,")


def test_json_is_one_array_with_raw_values(tricky):
    rows = json.loads(export("accounts", "--format", "json"))
    assert [r["name"] for r in rows] == ["Acme Analytics", FORMULA]
    assert rows[0]["arr"] == "48000.00"
    assert rows[0]["employees"] == 250
    contacts = json.loads(export("contacts", "--format", "json"))
    assert contacts[0]["past_employers"] == ["globex.com", "initech.com"]
    assert contacts[0]["opted_out"] is False
    assert json.loads(export("tasks", "--format", "json")) == []


def test_export_to_a_file(tricky, tmp_path):
    target = tmp_path / "accounts.csv"
    result = CliRunner().invoke(main, ["export", "accounts", "-o", str(target), "-q"])
    assert result.exit_code == 0
    assert result.stderr == f"accounts: 2 exported to {target}\n"
    assert target.read_bytes().count(b"\r\n") == 3


@pytest.mark.parametrize("kind", ["users", "accounts", "contacts", "deals"])
def test_export_then_import_changes_nothing(tricky, other_deal, kind, tmp_path):
    # given everything exported, including cells that look like formulas
    path = tmp_path / f"{kind}.csv"
    path.write_text(export(kind), encoding="utf-8", newline="")
    before = (
        Account.objects.count(),
        Contact.objects.count(),
        Deal.objects.count(),
        DealStageChange.objects.count(),
        Activity.objects.count(),
        User.objects.count(),
    )
    # when the export is imported again
    result = CliRunner().invoke(main, ["import", kind, str(path), "-q"])
    # then every record is unchanged and nothing was written
    n = {"users": 3, "accounts": 3, "contacts": 2, "deals": 2}[kind]
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{kind}: 0 created, 0 updated, {n} unchanged, 0 refused\n"
    assert Account.objects.get(external_id="ACC-F").name == FORMULA
    assert Contact.objects.get(external_id="CON-F").title == "+1 555"
    after = (
        Account.objects.count(),
        Contact.objects.count(),
        Deal.objects.count(),
        DealStageChange.objects.count(),
        Activity.objects.count(),
        User.objects.count(),
    )
    assert after == before


def test_round_trip_into_an_empty_database_restores_the_text(tricky, tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(export("accounts"), encoding="utf-8", newline="")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(export("contacts"), encoding="utf-8", newline="")
    Account.objects.all().delete()
    assert import_file("accounts", accounts).created == 2
    assert import_file("contacts", contacts).created == 2
    assert Account.objects.get(external_id="ACC-F").industry == "@risk"
    assert Contact.objects.get(external_id="CON-F").title == "+1 555"
    assert Contact.objects.get(external_id="CON-1").phone == "+14155550100"


def test_export_for_a_user_shows_only_what_they_see(account, other_account, rep):
    lines = list(export_lines("accounts", user=rep))
    assert [line.split(",")[0] for line in lines] == ["external_id", "ACC-1"]


def test_unknown_kind_or_format_is_a_usage_error(db):
    assert CliRunner().invoke(main, ["export", "stages"]).exit_code == 2
    assert CliRunner().invoke(main, ["export", "deals", "--format", "xml"]).exit_code == 2
