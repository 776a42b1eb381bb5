"""The credit of referred deals where deals are written in the UI and by the import: the
"Referred by" picker, the deal page's credit table, a manager's override and its history,
their CSV exports, and the import's referred_by column."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from goodword.crm.io.exporting import export_lines
from goodword.crm.io.importing import ImportRefused, import_file
from goodword.crm.models import Account, Contact, Deal, Stage
from goodword.crm.services import deal_create
from goodword.referrals.models import CreditChange, DealCredit
from goodword.users.models import User


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def credits() -> list[tuple[str, str | None, Decimal]]:
    rows = DealCredit.objects.select_related("deal", "advocate").order_by("deal_id", "-share")
    return [(c.deal.name, c.advocate.email if c.advocate else None, c.share) for c in rows]


def csv_rows(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- the forms ------------------------------------------------------------------------


def test_adding_a_referral_deal_names_who_referred_it(
    client: Client, rep: User, prospect: Account, contact: Contact, stages: dict[str, Stage]
) -> None:
    login(client, rep)
    form = client.get(f"/accounts/{prospect.pk}/?form=deal_form").content.decode()
    assert "Referred by (the customer contact, for a referral)" in form
    assert f'<option value="{contact.pk}">Ada Lovelace &lt;ada@acme.io&gt; · Acme Analytics' in form
    post = {
        "name": "Globex via Ada",
        "currency": "USD",
        "kind": "new",
        "source": "referral",
        "stage": stages["Prospecting"].pk,
        "owner": rep.pk,
    }
    refused = client.post(f"/accounts/{prospect.pk}/deals/new/", post)
    assert refused.status_code == 400
    assert "a referred deal needs the customer who referred it" in refused.content.decode()
    assert not Deal.objects.filter(name="Globex via Ada").exists()
    done = client.post(f"/accounts/{prospect.pk}/deals/new/", {**post, "referred_by": contact.pk})
    assert done.status_code == 302
    assert credits() == [("Globex via Ada", "ada@acme.io", Decimal("100.00"))]


def test_the_edit_form_keeps_a_referral_a_referral(
    client: Client, rep: User, referred: Deal
) -> None:
    login(client, rep)
    page = client.get(f"/deals/{referred.pk}/").content.decode()
    assert 'name="referred_by"' not in page  # the credit is not a field of a referred deal
    post = {"name": "Globex new", "currency": "USD", "kind": "new", "source": "inbound"}
    refused = client.post(f"/deals/{referred.pk}/edit/", post)
    assert refused.status_code == 400
    assert "a referred deal keeps its source" in refused.content.decode()
    assert Deal.objects.get(pk=referred.pk).source == "referral"


# --- the deal page --------------------------------------------------------------------


def test_the_owner_sees_the_credit_without_the_override(
    client: Client, rep: User, referred: Deal
) -> None:
    page = login(client, rep).get(f"/deals/{referred.pk}/").content.decode()
    assert '<h2 id="credits-title">Referred by <span class="count">1</span></h2>' in page
    assert "<td>Acme Analytics</td>" in page
    assert "100.00 %" in page
    assert "logged by hand" in page
    assert 'id="credits-form"' not in page
    assert 'id="credit-history"' not in page


def test_a_deal_that_is_no_referral_shows_no_credit(
    client: Client, rep: User, prospect: Account, stages: dict[str, Stage]
) -> None:
    deal = deal_create(
        actor=rep, account=prospect, owner=rep, stage=stages["Prospecting"], data={"name": "Plain"}
    )
    page = login(client, rep).get(f"/deals/{deal.pk}/").content.decode()
    assert 'id="credits"' not in page


def test_a_manager_splits_the_credit_on_the_deal_page(
    client: Client, manager: User, referred: Deal, contact: Contact, other_contact: Contact
) -> None:
    login(client, manager)
    page = client.get(f"/deals/{referred.pk}/").content.decode()
    assert 'id="credits-form"' in page
    assert (
        f'<option value="c{contact.pk}" selected>Ada Lovelace &lt;ada@acme.io&gt;</option>' in page
    )
    response = client.post(
        f"/deals/{referred.pk}/edit/",
        {
            "form": "credits",
            "advocate": [f"c{contact.pk}", f"a{other_contact.account_id}", ""],
            "share": ["60", "40", ""],
            "reason": "Zenith's CFO introduced them too",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/deals/{referred.pk}/#credits"
    assert credits() == [
        ("Globex new", "ada@acme.io", Decimal("60.00")),
        ("Globex new", None, Decimal("40.00")),
    ]
    history = client.get(f"/deals/{referred.pk}/").content.decode()
    assert (
        "Zenith&#x27;s CFO introduced them too: ada@acme.io 100.00 % → "
        "ada@acme.io 60.00 %, Zenith Logistics 40.00 %" in history
    )


def test_a_refused_override_names_the_row_and_changes_nothing(
    client: Client, manager: User, referred: Deal, contact: Contact, other_contact: Contact
) -> None:
    login(client, manager)
    before = credits()
    response = client.post(
        f"/deals/{referred.pk}/edit/",
        {
            "form": "credits",
            "advocate": [f"c{contact.pk}", f"c{other_contact.pk}"],
            "share": ["60", "39.999"],
            "reason": "Split",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="credit-error-2">Row 2: share: has more than two decimals</small>' in page
    assert (credits(), CreditChange.objects.count()) == (before, 0)
    no_reason = client.post(
        f"/deals/{referred.pk}/edit/",
        {"form": "credits", "advocate": [f"c{contact.pk}"], "share": ["100"], "reason": ""},
    )
    assert no_reason.status_code == 400
    assert "say why the credit changes" in no_reason.content.decode()
    assert (credits(), CreditChange.objects.count()) == (before, 0)


def test_a_manager_takes_a_deal_out_of_the_referrals(
    client: Client, manager: User, referred: Deal
) -> None:
    response = login(client, manager).post(
        f"/deals/{referred.pk}/edit/",
        {"form": "credits-clear", "source": "inbound", "reason": "They found us first"},
    )
    assert response.status_code == 302
    assert (Deal.objects.get(pk=referred.pk).source, credits()) == ("inbound", [])


def test_a_rep_may_not_post_an_override(
    client: Client, rep: User, referred: Deal, contact: Contact
) -> None:
    before = credits()
    response = login(client, rep).post(
        f"/deals/{referred.pk}/edit/",
        {
            "form": "credits",
            "advocate": [f"a{contact.account_id}"],
            "share": ["100"],
            "reason": "x",
        },
    )
    assert response.status_code == 403
    assert credits() == before


@pytest.mark.parametrize(
    "path",
    ["/deals/{pk}/", "/deals/{pk}/?export=credits", "/deals/{pk}/?export=credit-history"],
)
def test_a_user_who_cannot_see_the_deal_gets_404(
    client: Client, other_rep: User, referred: Deal, path: str
) -> None:
    response = login(client, other_rep).get(path.format(pk=referred.pk))
    assert response.status_code == 404


def test_an_override_of_a_deal_not_visible_is_404_and_changes_nothing(
    client: Client, other_rep: User, referred: Deal, contact: Contact
) -> None:
    before = credits()
    response = login(client, other_rep).post(
        f"/deals/{referred.pk}/edit/",
        {"form": "credits", "advocate": [f"c{contact.pk}"], "share": ["100"], "reason": "x"},
    )
    assert (response.status_code, credits()) == (404, before)


def test_credits_and_their_history_export_as_csv(
    client: Client, manager: User, referred: Deal, contact: Contact, other_contact: Contact
) -> None:
    import datetime as dt

    from goodword.referrals.credits import CreditShare, credits_set

    credits_set(
        actor=manager,
        deal=referred,
        shares=[
            CreditShare(contact.account_id, contact.pk, "75"),
            CreditShare(other_contact.account_id, other_contact.pk, "25"),
        ],
        reason="=Both helped",
        now=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
    )
    login(client, manager)
    table = client.get(f"/deals/{referred.pk}/?export=credits")
    assert table["Content-Disposition"] == f'attachment; filename="deal-{referred.pk}-credits.csv"'
    assert csv_rows(table) == [
        ["advocate_email", "advocate_name", "advocate_account", "share", "introduction_id"],
        ["ada@acme.io", "Ada Lovelace", "Acme Analytics", "75.00", ""],
        ["zed@zenith.example", "Zed Zimmer", "Zenith Logistics", "25.00", ""],
    ]
    history = client.get(f"/deals/{referred.pk}/?export=credit-history")
    assert csv_rows(history) == [
        ["at", "actor_email", "reason", "before", "after"],
        [
            "2026-11-24T09:00:00+00:00",
            "manager@example.com",
            "'=Both helped",
            "ada@acme.io (Acme Analytics) 100.00",
            "ada@acme.io (Acme Analytics) 75.00; zed@zenith.example (Zenith Logistics) 25.00",
        ],
    ]


# --- the import -----------------------------------------------------------------------

HEADER = "external_id,account_external_id,name,stage,source,referred_by\n"


def write(tmp_path: Path, text: str, name: str = "deals.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def test_import_credits_referral_rows_by_email_or_domain(
    tmp_path: Path, prospect: Account, contact: Contact, other_contact: Contact, stages: Any
) -> None:
    path = write(
        tmp_path,
        "D-1,ACC-9,By Ada,Prospecting,referral,ADA@acme.io\n"
        "D-2,ACC-9,By Zenith,Prospecting,referral,https://www.zenith.example/\n"
        "D-3,ACC-9,Inbound,Prospecting,inbound,\n",
    )
    report = import_file("deals", path)
    assert (report.created, report.errors) == (3, [])
    assert credits() == [
        ("By Ada", "ada@acme.io", Decimal("100.00")),
        ("By Zenith", None, Decimal("100.00")),
    ]
    # then the export gives the column back, and re-importing it changes nothing
    exported = "".join(export_lines("deals")).splitlines()
    assert exported[0].endswith(",referred_by")
    assert exported[1].endswith(",ada@acme.io")
    assert exported[2].endswith(",zenith.example")
    again = import_file(
        "deals", write(tmp_path, "D-1,ACC-9,By Ada,Prospecting,referral,ada@acme.io\n", "again.csv")
    )
    assert (again.unchanged, again.errors, len(credits())) == (1, [], 2)


def test_import_refuses_bad_referral_rows_naming_file_row_and_field(
    tmp_path: Path, prospect: Account, contact: Contact, stages: Any
) -> None:
    path = write(
        tmp_path,
        "D-1,ACC-9,Fine,Prospecting,referral,ada@acme.io\n"
        "D-2,ACC-9,No advocate,Prospecting,referral,\n"
        "D-3,ACC-9,Unknown,Prospecting,referral,who@nowhere.example\n"
        "D-4,ACC-9,Not a referral,Prospecting,inbound,ada@acme.io\n"
        "D-5,ACC-1,Own account,Prospecting,referral,acme.io\n",
    )
    with pytest.raises(ImportRefused) as refused:
        import_file("deals", path)
    assert refused.value.report.errors == [
        f"{path}:3: referred_by: is required for a referral deal: the advocate's e-mail, "
        "or their account's domain",
        f"{path}:4: referred_by: no contact with e-mail who@nowhere.example (import it first)",
        f"{path}:5: referred_by: only a referral deal is referred by someone",
        f"{path}:6: referred_by: is the deal's own account, which cannot refer it",
    ]
    assert (Deal.objects.filter(external_id__startswith="D-").count(), credits()) == (0, [])
    # a dry run reports the same and checks the other rows
    report = import_file("deals", path, dry_run=True)
    assert (report.created, report.refused) == (1, 4)


def test_import_keeps_a_referral_and_credits_a_deal_becoming_one(
    tmp_path: Path,
    referred: Deal,
    rep: User,
    prospect: Account,
    other_contact: Contact,
    stages: Any,
) -> None:
    plain = deal_create(
        actor=rep,
        account=prospect,
        stage=stages["Prospecting"],
        data={"external_id": "DEAL-10", "name": "Plain", "source": "inbound"},
    )
    out = write(tmp_path, "DEAL-9,ACC-9,Globex new,Prospecting,inbound,\n", "out.csv")
    with pytest.raises(ImportRefused) as refused:
        import_file("deals", out)
    assert refused.value.report.errors == [
        f"{out}:2: source: a referral deal keeps its source; a manager takes it out of the "
        "referrals on its page"
    ]
    other = write(
        tmp_path, "DEAL-9,ACC-9,Globex new,Prospecting,referral,zed@zenith.example\n", "o.csv"
    )
    with pytest.raises(ImportRefused) as elsewhere:
        import_file("deals", other)
    assert elsewhere.value.report.errors == [
        f"{other}:2: referred_by: the deal is credited to someone else; a manager changes its "
        "credit on its page"
    ]
    becomes = write(
        tmp_path, "DEAL-10,ACC-9,Plain,Prospecting,referral,zed@zenith.example\n", "b.csv"
    )
    report = import_file("deals", becomes)
    assert (report.updated, report.errors) == (1, [])
    assert credits() == [
        ("Globex new", "ada@acme.io", Decimal("100.00")),
        ("Plain", "zed@zenith.example", Decimal("100.00")),
    ]
    assert Deal.objects.get(pk=plain.pk).source == "referral"
