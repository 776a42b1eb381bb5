from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.db import connection

from goodword.cli import main
from goodword.crm.io.importing import ImportFileError, ImportRefused, import_file
from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange
from goodword.users.models import User

UTC = dt.UTC

ACCOUNTS = (
    "external_id,name,domain,industry,employees,country,lifecycle,owner_email,csm_email,"
    "customer_since,arr,currency\n"
    """\
A-1,Globex,globex.com,Energy,1200,DE,customer,rep@example.com,csm@example.com,2024-03-01,90000,EUR
A-2,Initech,initech.com,,,,prospect,rep@example.com,,,,
"""
)

DEALS = (
    "external_id,account_external_id,name,amount,currency,stage,kind,source,owner_email,"
    "created_at,close_date,closed_at\n"
    "D-1,ACC-1,Acme renewal,15000.50,USD,qualification,renewal,partner,rep@example.com,"
    "2025-02-03T04:05:06Z,2025-06-30,\n"
    "D-2,ACC-1,Acme won,900,USD,Closed Won,new,inbound,,2025-01-01T00:00:00Z,2025-03-15,\n"
)


def write(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Account.objects.count(),
        Contact.objects.count(),
        Deal.objects.count(),
        DealStageChange.objects.count(),
        Activity.objects.count(),
    )


# --- happy paths, one per kind ---------------------------------------------------------


def test_users_import_creates_then_reimport_changes_nothing(db, tmp_path):
    # given a users file with a header in mixed case and an extra column
    path = write(
        tmp_path,
        "Email,First_Name,last_name,ROLE,team,shoe_size\n"
        "Mia@Example.com,Mia,Wong,manager,North,42\n"
        "leo@example.com,Leo,,,North,\n",
    )
    # when it is imported through the command
    result = CliRunner().invoke(main, ["import", "users", str(path), "-q"])
    # then both users exist, the extra column is reported, and a second run changes nothing
    assert result.exit_code == 0, result.output
    assert result.stdout == "users: 2 created, 0 updated, 0 unchanged, 0 refused\n"
    assert result.stderr == f"warning: {path}: ignored column(s): shoe_size\n"
    mia = User.objects.get(email="mia@example.com")
    assert (mia.role, mia.team.name if mia.team else None, mia.has_usable_password()) == (
        "manager",
        "North",
        False,
    )
    assert User.objects.get(email="leo@example.com").role == "rep"
    again = CliRunner().invoke(main, ["import", "users", str(path), "-q"])
    assert again.stdout == "users: 0 created, 0 updated, 2 unchanged, 0 refused\n"


def test_accounts_import_resolves_people_and_writes_the_timeline(rep, csm, tmp_path):
    report = import_file("accounts", write(tmp_path, ACCOUNTS))
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    globex = Account.objects.get(external_id="A-1")
    assert (globex.owner, globex.csm, globex.employees, globex.arr, globex.currency) == (
        rep,
        csm,
        1200,
        Decimal("90000.00"),
        "EUR",
    )
    assert globex.customer_since == dt.date(2024, 3, 1)
    initech = Account.objects.get(external_id="A-2")
    assert (initech.currency, initech.employees, initech.csm) == ("USD", None, None)
    imported = Activity.objects.filter(verb="account.imported", actor=None)
    assert set(imported.values_list("account__external_id", flat=True)) == {"A-1", "A-2"}


def test_accounts_update_changes_only_what_differs(rep, csm, tmp_path):
    import_file("accounts", write(tmp_path, ACCOUNTS))
    changed = ACCOUNTS.replace(
        "Initech,initech.com,,,,prospect", "Initech,initech.com,,80,,customer"
    )
    report = import_file("accounts", write(tmp_path, changed, "changed.csv"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    initech = Account.objects.get(external_id="A-2")
    # as account_update: becoming a customer without a date means since today
    assert (initech.employees, initech.lifecycle) == (80, "customer")
    assert initech.customer_since == report_day()
    activity = Activity.objects.get(verb="account.updated", account=initech)
    assert activity.after == {
        "employees": 80,
        "lifecycle": "customer",
        "customer_since": report_day().isoformat(),
    }
    # and importing the changed file again is a no-op
    again = import_file("accounts", write(tmp_path, changed, "changed.csv"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def report_day() -> dt.date:
    from django.utils import timezone

    return timezone.now().date()


def test_contacts_import_with_past_employers_and_opt_out(account, rep, tmp_path):
    path = write(
        tmp_path,
        "external_id,account_external_id,first_name,last_name,email,title,phone,"
        "past_employers,opted_out\n"
        "C-9,ACC-1,Grace,Hopper,Grace@acme.io,CTO,+1 (415) 555-0101,navy.mil;univac.com,yes\n",
    )
    report = import_file("contacts", path)
    assert (report.created, report.refused) == (1, 0)
    grace = Contact.objects.get(external_id="C-9")
    assert (grace.account, grace.email, grace.phone) == (account, "grace@acme.io", "+14155550101")
    assert grace.past_employers == ["navy.mil", "univac.com"]
    assert (grace.opted_out, grace.opted_out_how) == (True, "import")
    assert import_file("contacts", path).unchanged == 1


def test_deals_import_records_first_stage_and_close_time(account, rep, stages, tmp_path):
    report = import_file("deals", write(tmp_path, DEALS))
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    renewal = Deal.objects.get(external_id="D-1")
    assert (renewal.stage, renewal.kind, renewal.source, renewal.owner) == (
        stages["Qualification"],
        "renewal",
        "partner",
        rep,
    )
    assert (renewal.amount, renewal.closed_at) == (Decimal("15000.50"), None)
    assert renewal.created_at == dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    won = Deal.objects.get(external_id="D-2")
    # a closed stage without closed_at closes at midnight UTC of the close date
    assert won.closed_at == dt.datetime(2025, 3, 15, tzinfo=UTC)
    history = DealStageChange.objects.filter(deal=won).values_list(
        "from_stage_id", "to_stage__name", "changed_at"
    )
    assert list(history) == [(None, "Closed Won", dt.datetime(2025, 1, 1, tzinfo=UTC))]  # type: ignore[comparison-overlap]
    assert Activity.objects.filter(verb="deal.imported", actor=None).count() == 2


def test_deal_stage_change_on_reimport_adds_history(account, rep, stages, tmp_path):
    import_file("deals", write(tmp_path, DEALS))
    moved = DEALS.replace("qualification,renewal", "Closed Lost,renewal")
    report = import_file("deals", write(tmp_path, moved, "moved.csv"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    deal = Deal.objects.get(external_id="D-1")
    assert deal.stage == stages["Closed Lost"]
    assert deal.closed_at == dt.datetime(2025, 6, 30, tzinfo=UTC)
    history = DealStageChange.objects.filter(deal=deal).values_list(
        "from_stage__name", "to_stage__name"
    )
    assert list(history) == [(None, "Qualification"), ("Qualification", "Closed Lost")]
    activity = Activity.objects.get(verb="deal.updated", object_id=deal.pk)
    assert activity.before["stage"] == "Qualification"
    assert activity.after["stage"] == "Closed Lost"


# --- presets ---------------------------------------------------------------------------


def test_hubspot_preset(rep, stages, tmp_path):
    rep.first_name, rep.last_name = "Rita", "Rep"
    rep.save()
    companies = write(
        tmp_path,
        "Record ID,Company name,Company Domain Name,Industry,Number of Employees,"
        "Country/Region,Lifecycle Stage,Company owner,Became a Customer Date\n"
        "1001,Hooli,https://www.hooli.xyz/,COMPUTER_SOFTWARE,5000,United States,"
        "customer,Rita Rep,2023-07-01 10:00\n",
        "companies.csv",
    )
    deals = write(
        tmp_path,
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,Deal Type,"
        "Original Source Type,Associated Company IDs\n"
        "77,Hooli pilot,closedwon,25000,2024-02-01 00:00,2023-11-05 09:30,rep@example.com,"
        "newbusiness,ORGANIC_SEARCH,1001;1002\n"
        "78,Hooli next,appointmentscheduled,1000,,2024-03-01,Rita Rep,existingbusiness,"
        "OFFLINE,1001\n",
        "deals.csv",
    )
    assert import_file("accounts", companies, preset="hubspot").created == 1
    hooli = Account.objects.get(external_id="1001")
    assert (hooli.domain, hooli.country, hooli.lifecycle, hooli.owner) == (
        "hooli.xyz",
        "US",
        "customer",
        rep,
    )
    assert hooli.customer_since == dt.date(2023, 7, 1)
    assert import_file("deals", deals, preset="hubspot").created == 2
    pilot, following = Deal.objects.get(external_id="77"), Deal.objects.get(external_id="78")
    assert (pilot.account, pilot.stage.name, pilot.kind, pilot.source) == (
        hooli,
        "Closed Won",
        "new",
        "inbound",
    )
    assert pilot.created_at == dt.datetime(2023, 11, 5, 9, 30, tzinfo=UTC)
    assert (following.stage.name, following.kind, following.source, following.owner) == (
        "Prospecting",
        "expansion",
        "other",
        rep,
    )


def test_salesforce_preset(rep, stages, contact, tmp_path):
    accounts = write(
        tmp_path,
        "Id,Name,Website,Industry,NumberOfEmployees,BillingCountry,Type,Owner Email,"
        "CurrencyIsoCode\n"
        "001A,Umbrella,umbrella.example,Biotechnology,300,Germany,Customer - Direct,"
        "rep@example.com,EUR\n",
        "accounts.csv",
    )
    opportunities = write(
        tmp_path,
        "Id,AccountId,Name,Amount,CurrencyIsoCode,StageName,Type,LeadSource,Owner Email,"
        "CreatedDate,CloseDate,Referred_By__c\n"
        "006A,001A,Umbrella upsell,5000,EUR,Negotiation/Review,Existing Customer - Upgrade,"
        "External Referral,rep@example.com,2024-01-02T03:04:05.000+0000,3/31/2024,"
        "ada@acme.io\n"
        "006B,001A,Umbrella new,700,EUR,Prospecting,New Customer,Trade Show,,"
        "1/15/2024 4:30 PM,,\n",
        "opps.csv",
    )
    assert import_file("accounts", accounts, preset="salesforce").created == 1
    umbrella = Account.objects.get(external_id="001A")
    assert (umbrella.country, umbrella.lifecycle, umbrella.currency) == ("DE", "customer", "EUR")
    assert import_file("deals", opportunities, preset="salesforce").created == 2
    upsell, new = Deal.objects.get(external_id="006A"), Deal.objects.get(external_id="006B")
    assert (upsell.kind, upsell.source, upsell.close_date) == (
        "expansion",
        "referral",
        dt.date(2024, 3, 31),
    )
    assert upsell.created_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (new.kind, new.source, new.created_at) == (
        "new",
        "event",
        dt.datetime(2024, 1, 15, 16, 30, tzinfo=UTC),
    )


# --- refusals: nothing written --------------------------------------------------------


def test_bad_rows_write_nothing_and_name_file_row_and_column(account, rep, stages, tmp_path):
    bad = DEALS + (
        "D-3,ACC-404,Ghost,-1,XXX,Nowhere,old,,ghost@example.com,yesterday,,\n"
        "D-1,ACC-1,Twice,1,USD,Prospecting,new,other,,,,\n"
    )
    path = write(tmp_path, bad)
    before = counts()
    result = CliRunner().invoke(main, ["import", "deals", str(path), "-q"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:4: amount: '-1' is below 0",
        f"{path}:4: currency: 'XXX' is not an ISO 4217 currency code",
        f"{path}:4: kind: 'old' is not one of new, expansion, renewal",
        f"{path}:4: created_at: 'yesterday' is not a date-time (ISO 8601, e.g. "
        "2026-11-23T14:03:00Z)",
        f"{path}:4: account_external_id: no account with external_id 'ACC-404' in the "
        "database (import accounts first)",
        f"{path}:4: stage: 'Nowhere' is not one of Prospecting, Qualification, Needs Analysis, "
        "Value Proposition, Id. Decision Makers, Perception Analysis, Proposal/Price Quote, "
        "Negotiation/Review, Closed Won, Closed Lost",
        f"{path}:4: owner_email: no user with e-mail ghost@example.com (create the user first)",
        f"{path}:5: external_id: 'D-1' appears more than once in the file",
    ]
    assert result.stdout == "deals: nothing written; 2 created, 0 updated, 0 unchanged, 2 refused\n"
    assert counts() == before


def test_inactive_owner_and_duplicate_contact_email_are_refused(account, contact, rep, tmp_path):
    rep.is_active = False
    rep.save()
    path = write(
        tmp_path,
        "external_id,name,owner_email\nA-7,Hooli,rep@example.com\n",
        "accounts.csv",
    )
    with pytest.raises(ImportRefused) as info:
        import_file("accounts", path)
    assert info.value.report.errors == [
        f"{path}:2: owner_email: rep@example.com is not an active user"
    ]
    contacts = write(
        tmp_path,
        "external_id,account_external_id,email\nC-5,ACC-1,ADA@acme.io\n",
        "contacts.csv",
    )
    before = counts()
    with pytest.raises(ImportRefused) as info:
        import_file("contacts", contacts)
    assert info.value.report.errors == [
        f"{contacts}:2: email: another contact at this account has this e-mail address"
    ]
    assert counts() == before


def test_errors_across_chunks_are_all_reported(account, rep, stages, tmp_path):
    # given 5 deals read two at a time, the last one repeating the first
    rows = "".join(f"X-{i},ACC-1,Deal {i},1,USD,Prospecting,new,other,,,,\n" for i in range(4))
    path = write(
        tmp_path, DEALS.splitlines(keepends=True)[0] + rows + "X-0,ACC-1,Again,1,USD,Nope,,,,,,\n"
    )
    before = counts()
    with pytest.raises(ImportRefused) as info:
        import_file("deals", path, chunk_size=2)
    assert info.value.report.errors == [
        f"{path}:6: stage: 'Nope' is not one of Prospecting, Qualification, Needs Analysis, "
        "Value Proposition, Id. Decision Makers, Perception Analysis, Proposal/Price Quote, "
        "Negotiation/Review, Closed Won, Closed Lost",
        f"{path}:6: external_id: 'X-0' appears more than once in the file",
    ]
    assert counts() == before


def test_a_deals_import_of_many_chunks_writes_every_row_with_its_history(
    account, rep, stages, tmp_path
):
    # given 9 deals read two at a time (on PostgreSQL each chunk is written by a second
    # thread while the next is planned), then the same file with three deals moved
    header = DEALS.splitlines(keepends=True)[0]
    rows = [f"M-{i},ACC-1,Deal {i},{i}00,USD,Prospecting,new,inbound,,,,\n" for i in range(9)]
    first = import_file("deals", write(tmp_path, header + "".join(rows)), chunk_size=2)
    moved = [
        r.replace("Prospecting", "Closed Won") if i % 3 == 0 else r for i, r in enumerate(rows)
    ]
    second = import_file("deals", write(tmp_path, header + "".join(moved), "m.csv"), chunk_size=2)
    # then every deal, stage change and timeline row is written once, and the connection is
    # no longer shared with another thread
    assert (first.created, second.updated, second.unchanged) == (9, 3, 6)
    assert Deal.objects.filter(external_id__startswith="M-").count() == 9
    assert DealStageChange.objects.filter(deal__external_id__startswith="M-").count() == 12
    assert Activity.objects.filter(verb__in=["deal.imported", "deal.updated"]).count() == 12
    assert Deal.objects.filter(stage=stages["Closed Won"]).count() == 3
    assert not connection.allow_thread_sharing


def test_a_key_repeated_in_the_next_chunk_refuses_the_file(account, rep, stages, tmp_path):
    # given a deal whose key comes back in the very next chunk
    header = DEALS.splitlines(keepends=True)[0]
    rows = "".join(f"R-{i},ACC-1,Deal {i},1,USD,Prospecting,new,other,,,,\n" for i in range(3))
    path = write(tmp_path, header + rows + "R-1,ACC-1,Again,1,USD,Prospecting,new,other,,,,\n")
    before = counts()
    # when it is imported two rows at a time, then the repeat is reported and nothing written
    with pytest.raises(ImportRefused) as info:
        import_file("deals", path, chunk_size=2)
    assert f"{path}:5: external_id: 'R-1' appears more than once in the file" in (
        info.value.report.errors
    )
    assert counts() == before
    assert not connection.allow_thread_sharing


def test_missing_required_column_is_reported_on_row_1(db, tmp_path):
    path = write(tmp_path, "external_id,domain\nA-1,x.com\n")
    with pytest.raises(ImportRefused) as info:
        import_file("accounts", path)
    assert info.value.report.errors == [f"{path}:1: name: column is missing"]


def test_hubspot_errors_use_the_files_column_names(db, tmp_path):
    path = write(tmp_path, "Record ID,Company name,Number of Employees\n1,Hooli,many\n")
    with pytest.raises(ImportRefused) as info:
        import_file("accounts", path, preset="hubspot")
    assert info.value.report.errors == [
        f"{path}:2: Number of Employees: 'many' is not a whole number"
    ]


def test_dry_run_reports_and_writes_nothing(rep, csm, account, tmp_path):
    path = write(tmp_path, ACCOUNTS + "ACC-1,Acme Analytics renamed,,,,,,,,,,\nA-3,,,,,,,,,,,\n")
    before = counts()
    result = CliRunner().invoke(main, ["import", "accounts", str(path), "--dry-run", "-q"])
    assert result.exit_code == 1
    assert result.stdout == (
        "accounts (dry run, nothing written): 2 created, 1 updated, 0 unchanged, 1 refused\n"
    )
    assert result.stderr == f"{path}:5: name: is required\n"
    assert counts() == before
    report = import_file("accounts", write(tmp_path, ACCOUNTS, "ok.csv"), dry_run=True)
    assert (report.created, report.ok) == (2, True)
    assert counts() == before


# --- the command's edges ---------------------------------------------------------------


def test_missing_file_is_one_line_and_exit_1(db, tmp_path):
    result = CliRunner().invoke(main, ["import", "deals", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: No such file or directory\n"
    with pytest.raises(ImportFileError):
        import_file("deals", tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "args",
    [["import", "tasks", "x.csv"], ["import", "deals", "x.csv", "--preset", "pipedrive"]],
)
def test_unknown_kind_or_preset_is_a_usage_error(db, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr


def test_file_that_is_not_utf8_is_refused(db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email\nzoë@example.com\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["import", "users", str(path), "-q"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}: is not UTF-8 text (byte 8)\n"
    assert User.objects.count() == 0
