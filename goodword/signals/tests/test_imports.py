"""CSV imports of NPS answers, tickets, messages and goals: upsert by external_id, the
contact linked by e-mail, CSAT normalised, praise scored, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from goodword.cli import main
from goodword.crm.io.exporting import export_lines
from goodword.crm.io.importing import ImportRefused, import_file
from goodword.engine import praise
from goodword.signals.models import Goal, Message, NpsResponse, Ticket

UTC = dt.UTC

NPS = """external_id,account_external_id,contact_email,score,comment,responded_at
N-1,ACC-1,ADA@acme.io,10,"Best reporting tool we have used, the team loves it",2026-10-01T09:00:00Z
N-2,ACC-1,someone@elsewhere.org,7,,2026-10-02
N-3,ACC-1,,3,Too slow,2026-10-03T10:00:00+02:00
"""

TICKETS = (
    "external_id,account_external_id,contact_email,opened_at,closed_at,priority,escalated,"
    "csat,csat_scale,text\n"
    "T-1,ACC-1,ada@acme.io,2026-09-01T08:00:00Z,2026-09-01T12:00:00Z,high,yes,5,1-5,"
    '"Thank you so much, fixed in an hour. Brilliant support!"\n'
    "T-2,ACC-1,,2026-09-02T08:00:00Z,,,,,,How do I export a dashboard?\n"
    "T-3,ACC-1,,2026-09-03T08:00:00Z,2026-09-04T08:00:00Z,urgent,no,7,1-10,"
    "The sync is broken again and we are losing data\n"
    "T-4,ACC-1,,2026-09-05T08:00:00Z,2026-09-05T09:00:00Z,low,false,Good,good-bad,Thanks\n"
)

MESSAGES = """external_id,account_external_id,contact_email,received_at,channel,text
M-1,ACC-1,ada@acme.io,2026-11-02T15:30:00Z,email,"Automations saved us hours a week, thank you!"
M-2,ACC-1,,2026-11-03T15:30:00Z,review,"Great tool, but the export has been broken for a week."
"""

GOALS = """external_id,account_external_id,name,event,measure,target,starts_at,due_at
G-1,ACC-1,Weekly reporting automated,report_created,count,100,2026-01-01,2026-06-30
G-2,ACC-1,Hours saved,automation_run,sum:minutes_saved,6000,2026-01-01T00:00:00Z,
"""


def write(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_nps_import_links_contacts_by_email_and_derives_the_category(contact, tmp_path):
    # given an NPS file naming a known contact (in another case), a stranger, and nobody
    report = import_file("nps", write(tmp_path, NPS))
    # then every answer is stored with its account, and the known contact is linked
    assert (report.created, report.refused) == (3, 0)
    rows = {r.external_id: r for r in NpsResponse.objects.all()}
    assert rows["N-1"].contact_id == contact.pk
    assert rows["N-1"].contact_email == "ada@acme.io"
    assert rows["N-2"].contact_id is None
    assert rows["N-2"].contact_email == "someone@elsewhere.org"
    assert [rows[k].category for k in ("N-1", "N-2", "N-3")] == [
        "promoter",
        "passive",
        "detractor",
    ]
    assert rows["N-3"].responded_at == dt.datetime(2026, 10, 3, 8, 0, tzinfo=UTC)
    assert rows["N-2"].responded_at == dt.datetime(2026, 10, 2, tzinfo=UTC)


def test_reimporting_the_same_file_changes_nothing_and_a_changed_row_updates(contact, tmp_path):
    # given an imported NPS file
    import_file("nps", write(tmp_path, NPS))
    # when it is imported again, then with one score changed
    again = import_file("nps", write(tmp_path, NPS))
    changed = import_file("nps", write(tmp_path, NPS.replace(",7,,", ",8,,")))
    # then the first re-import changes nothing and the second updates one row
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert NpsResponse.objects.get(external_id="N-2").score == 8
    assert NpsResponse.objects.get(external_id="N-2").category == "passive"
    assert NpsResponse.objects.count() == 3


def test_tickets_keep_the_raw_rating_and_its_scale_with_a_normalised_value(account, tmp_path):
    report = import_file("tickets", write(tmp_path, TICKETS))
    assert (report.created, report.refused) == (4, 0)
    rows = {t.external_id: t for t in Ticket.objects.all()}
    got = {k: (t.csat_raw, t.csat_scale, t.csat) for k, t in rows.items()}
    assert got == {
        "T-1": ("5", "1-5", 1.0),
        "T-2": ("", "", None),
        "T-3": ("7", "1-10", pytest.approx(6 / 9)),
        "T-4": ("Good", "good-bad", 1.0),
    }
    assert (rows["T-1"].priority, rows["T-1"].escalated) == ("high", True)
    assert (rows["T-2"].priority, rows["T-2"].escalated, rows["T-2"].closed_at) == (
        "normal",
        False,
        None,
    )


def test_ticket_and_message_texts_are_scored_for_praise(account, tmp_path):
    import_file("tickets", write(tmp_path, TICKETS))
    import_file("messages", write(tmp_path, MESSAGES, "messages.csv"))
    tickets = {t.external_id: t.praise for t in Ticket.objects.all()}
    messages = {m.external_id: m.praise for m in Message.objects.all()}
    # the stored score is the scorer's, and it tells praise from a complaint or a question
    assert tickets["T-1"] == praise.score(Ticket.objects.get(external_id="T-1").text)
    assert tickets["T-1"] >= praise.THRESHOLD
    assert tickets["T-2"] < praise.THRESHOLD
    assert tickets["T-3"] < praise.THRESHOLD
    assert messages["M-1"] >= praise.THRESHOLD
    assert messages["M-2"] < praise.THRESHOLD


def test_goals_import_with_count_and_sum_measures(account, tmp_path):
    report = import_file("goals", write(tmp_path, GOALS))
    assert (report.created, report.refused) == (2, 0)
    rows = {g.external_id: g for g in Goal.objects.all()}
    assert (rows["G-1"].measure, rows["G-1"].target) == ("count", Decimal("100"))
    assert rows["G-1"].due_at == dt.datetime(2026, 6, 30, tzinfo=UTC)
    assert (rows["G-2"].measure, rows["G-2"].due_at) == ("sum:minutes_saved", None)


@pytest.mark.parametrize(
    ("kind", "text", "errors"),
    [
        (
            "nps",
            "external_id,account_external_id,score,responded_at\n"
            "N-1,ACC-1,11,2026-10-01\nN-2,NOPE,5,2026-10-01\nN-3,ACC-1,5,yesterday\n",
            [
                "file.csv:2: score: '11' is not a whole number from 0 to 10",
                "file.csv:3: account_external_id: no account with external_id 'NOPE' in the "
                "database (import accounts first)",
                "file.csv:4: responded_at: 'yesterday' is not a date-time (ISO 8601, e.g. "
                "2026-11-23T14:03:00Z)",
            ],
        ),
        (
            "tickets",
            "external_id,account_external_id,opened_at,closed_at,priority,csat,csat_scale\n"
            "T-1,ACC-1,2026-09-02,2026-09-01,,,\n"
            "T-2,ACC-1,2026-09-02,,critical,,\n"
            "T-3,ACC-1,2026-09-02,,,4,\n"
            "T-4,ACC-1,2026-09-02,,,9,1-5\n",
            [
                "file.csv:2: closed_at: is before opened_at",
                "file.csv:3: priority: 'critical' is not one of low, normal, high, urgent",
                "file.csv:4: csat_scale: is required with a csat (1-5, 1-10 or good-bad)",
                "file.csv:5: csat: '9' is outside the 1-5 scale",
            ],
        ),
        (
            "messages",
            "external_id,account_external_id,received_at,channel,text\n"
            "M-1,ACC-1,2026-11-02,fax,Hello\nM-2,ACC-1,2026-11-02,email,\n",
            [
                "file.csv:2: channel: 'fax' is not one of email, chat, review, call, social, "
                "survey, other",
                "file.csv:3: text: is required",
            ],
        ),
        (
            "goals",
            "external_id,account_external_id,name,event,measure,target,starts_at,due_at\n"
            "G-1,ACC-1,Reports,report_created,avg:x,10,2026-01-01,\n"
            "G-2,ACC-1,Reports,report_created,count,0,2026-01-01,\n"
            "G-3,ACC-1,Reports,report_created,count,5,2026-01-01,2025-01-01\n",
            [
                "file.csv:2: measure: 'avg:x' is not a measure: use count or sum:<property>",
                "file.csv:3: target: '0' is not a positive number",
                "file.csv:4: due_at: is not after starts_at",
            ],
        ),
    ],
)
def test_bad_rows_write_nothing_and_name_row_and_column(account, tmp_path, kind, text, errors):
    # given a file of which every row is bad in one way
    path = write(tmp_path, text)
    # when it is imported, then nothing is written and each problem is named
    with pytest.raises(ImportRefused) as refused:
        import_file(kind, path)
    assert [e.replace(f"{tmp_path}/", "") for e in refused.value.report.errors] == errors
    assert NpsResponse.objects.count() + Ticket.objects.count() == 0
    assert Message.objects.count() + Goal.objects.count() == 0


def test_one_bad_row_keeps_the_good_ones_out_too(account, tmp_path):
    text = MESSAGES + "M-3,ACC-1,,not a date,email,Hi\n"
    with pytest.raises(ImportRefused):
        import_file("messages", write(tmp_path, text))
    assert Message.objects.count() == 0


def test_the_cli_imports_signals_and_exports_them_back(account, tmp_path):
    # given a tickets file imported from the command line
    path = write(tmp_path, TICKETS)
    result = CliRunner().invoke(main, ["import", "tickets", str(path)])
    assert result.exit_code == 0, result.output
    assert "tickets: 4 created, 0 updated, 0 unchanged, 0 refused" in result.output
    # when it is exported, then the export imports again unchanged (the raw rating travels)
    exported = write(tmp_path, "".join(export_lines("tickets")), "export.csv")
    again = import_file("tickets", exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_a_dry_run_reports_and_writes_nothing(account, tmp_path):
    report = import_file("goals", write(tmp_path, GOALS), dry_run=True)
    assert (report.created, report.dry_run) == (2, True)
    assert Goal.objects.count() == 0


def test_a_rep_exports_only_the_signals_of_accounts_they_may_see(
    account, other_account, other_rep, tmp_path
):
    import_file("nps", write(tmp_path, NPS))
    lines = list(export_lines("nps", user=other_rep))
    assert "".join(lines).count("\n") == 1  # the header only


def test_the_cli_imports_events_into_the_store_and_counts_their_weeks(account, tmp_path):
    from goodword.signals import store
    from goodword.signals.models import EventWeek

    # given a JSONL file of two events and a repeat of the first
    lines = [
        '{"message_id": "e1", "account_external_id": "ACC-1", "user_id": "u1", '
        '"event": "report_created", "timestamp": "2026-11-02T10:00:00Z", "properties": {}}',
        '{"message_id": "e2", "account_external_id": "ACC-1", "user_id": "u2", '
        '"event": "automation_run", "timestamp": "2026-11-03T10:00:00Z", '
        '"properties": {"minutes_saved": 12}}',
    ]
    path = write(tmp_path, "\n".join(lines) + "\n", "events.jsonl")
    # when it is imported twice from the command line
    first = CliRunner().invoke(main, ["import", "events", str(path)])
    again = CliRunner().invoke(main, ["import", "events", str(path)])
    # then the store holds each event once, and its week is counted once
    assert first.exit_code == again.exit_code == 0, first.output + again.output
    with store.connect() as opened:
        assert opened.events().count().execute() == 2
    assert list(EventWeek.objects.values_list("week", "events")) == [(dt.date(2026, 11, 2), 2)]
