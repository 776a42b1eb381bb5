"""The signals pages through the client: an account's activity chart, NPS, tickets, messages
and goals; their CSV exports; who may see them; the intake's status for admins; and query
counts that do not grow with the rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goodword.crm.io.importing import import_file
from goodword.crm.models import Account
from goodword.engine import praise
from goodword.signals.models import Event, EventState, EventWeek, Message, NpsResponse, Ticket
from goodword.signals.selectors import week_start
from goodword.signals.services import ingest_log_write, writekey_create, writekey_revoke
from goodword.users.models import User

HOSTILE = '<script>alert("nps")</script> Love it'

NPS = f"""external_id,account_external_id,contact_email,score,comment,responded_at
N-1,ACC-1,ada@acme.io,10,"{HOSTILE.replace('"', '""')}",2026-10-03T09:00:00Z
N-2,ACC-1,someone@elsewhere.org,7,,2026-10-02T09:00:00Z
N-3,ACC-1,,3,Too slow,2026-10-01T09:00:00Z
N-9,ACC-2,zed@zenith.example,9,Zenith secret comment,2026-10-04T09:00:00Z
"""
TICKETS = (
    "external_id,account_external_id,contact_email,opened_at,closed_at,priority,escalated,"
    "csat,csat_scale,text\n"
    "T-1,ACC-1,ada@acme.io,2026-09-02T08:00:00Z,2026-09-02T12:00:00Z,high,yes,5,1-5,"
    '"Thank you so much, fixed in an hour. Brilliant support!"\n'
    "T-2,ACC-1,,2026-09-01T08:00:00Z,,urgent,no,2,1-5,"
    "The sync is broken again and we are losing data\n"
    "T-9,ACC-2,,2026-09-03T08:00:00Z,,low,no,,,Zenith ticket text\n"
)
MESSAGES = """external_id,account_external_id,contact_email,received_at,channel,text
M-1,ACC-1,ada@acme.io,2026-11-02T15:30:00Z,email,"Automations saved us hours a week, thank you!"
M-2,ACC-1,,2026-11-01T15:30:00Z,review,"The export has been broken for a week and nobody answers."
M-9,ACC-2,,2026-11-03T15:30:00Z,chat,Zenith message text
"""
GOALS = """external_id,account_external_id,name,event,measure,target,starts_at,due_at
G-1,ACC-1,Weekly reporting automated,report_created,count,100,2026-01-01,2026-06-30
G-9,ACC-2,Zenith goal,shipment_sent,count,5,2026-01-01,
"""
FILES = {"nps": NPS, "tickets": TICKETS, "messages": MESSAGES, "goals": GOALS}
IDS = {
    "nps": ({"N-1", "N-2", "N-3"}, {"N-9"}),
    "tickets": ({"T-1", "T-2"}, {"T-9"}),
    "messages": ({"M-1", "M-2"}, {"M-9"}),
    "goals": ({"G-1"}, {"G-9"}),
}


def load(tmp_path: Path, kind: str, text: str) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_text(text, encoding="utf-8")
    report = import_file(kind, path)
    assert report.refused == 0


def load_rows(tmp_path: Path, kind: str, rows: list[str]) -> None:
    """Import rows written in the columns of FILES[kind]."""
    load(tmp_path, kind, "\n".join([FILES[kind].splitlines()[0], *rows, ""]))


@pytest.fixture
def signals(tmp_path: Path, contact: Any, account: Account, other_account: Account) -> None:
    """Acme (ACC-1, the rep's) and Zenith (ACC-2, another team's) each with every kind."""
    for kind, text in FILES.items():
        load(tmp_path, kind, text)


def this_monday() -> dt.date:
    return week_start(timezone.now().date())


@pytest.fixture
def weeks(account: Account, other_account: Account) -> None:
    monday = this_monday()
    EventWeek.objects.create(account=account, week=monday, events=12)
    EventWeek.objects.create(account=account, week=monday - dt.timedelta(weeks=3), events=30)
    EventWeek.objects.create(account=account, week=monday - dt.timedelta(weeks=30), events=99)
    EventWeek.objects.create(account=other_account, week=monday, events=500)


def page(client: Client, user: User, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def section(html: str, element_id: str) -> str:
    """From the element with this id to the end of the first section it holds or is."""
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.bars: list[dict[str, str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self.cell = []
        elif tag == "rect":
            self.bars.append({k: v or "" for k, v in attrs})
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parts(html: str) -> _Parts:
    parser = _Parts()
    parser.feed(html)
    return parser


def table(html: str, element_id: str) -> list[list[str]]:
    return parts(section(html, element_id)).rows


# --- the account page -------------------------------------------------------------------


def test_account_page_shows_each_kind_of_signal(
    client: Client, rep: User, account: Account, signals: None
) -> None:
    # given tickets and messages that are clearly praise and clearly a complaint
    scores = {t.external_id: t.praise for t in Ticket.objects.all()}
    scores |= {m.external_id: m.praise for m in Message.objects.all()}
    assert scores["T-1"] >= praise.THRESHOLD > scores["T-2"]
    assert scores["M-1"] >= praise.THRESHOLD > scores["M-2"]
    # when the rep opens the account
    html = page(client, rep, f"/accounts/{account.pk}/")
    # then the latest NPS answer, the mix and each table are there, newest first
    nps = section(html, "signals-nps")
    assert '<strong class="nps-score">10</strong>' in nps
    assert '<span class="badge promoter">Promoter</span>' in nps
    assert "NPS <strong>0</strong>" in nps  # one promoter, one passive, one detractor
    assert table(html, "signals-nps-card")[1:] == [
        ["3 Oct 2026", "10", "Promoter", "Ada Lovelace", HOSTILE],
        ["2 Oct 2026", "7", "Passive", "someone@elsewhere.org", "—"],
        ["1 Oct 2026", "3", "Detractor", "—", "Too slow"],
    ]
    assert 'href="mailto:ada@acme.io">Ada Lovelace</a>' in html
    tickets = table(html, "signals-tickets-card")
    assert [row[:4] for row in tickets[1:]] == [
        ["2 Sep 2026 closed 2 Sep", "High", "Escalated", "5 (1 to 5) · 100%"],
        ["1 Sep 2026", "Urgent", "No", "2 (1 to 5) · 25%"],
    ]
    assert [row[:3] for row in table(html, "signals-messages-card")[1:]] == [
        ["2 Nov 2026", "Email", "Ada Lovelace"],
        ["1 Nov 2026", "Review", "—"],
    ]
    assert table(html, "signals-goals-card")[1:] == [
        [
            "Weekly reporting automated",
            "report_created",
            "count",
            "100",
            "1 Jan 2026",
            "30 Jun 2026",
        ]
    ]
    # and nothing of the other team's account
    assert "Zenith" not in html


def test_praise_is_marked_on_tickets_and_messages_at_or_over_the_threshold(
    client: Client, rep: User, account: Account, signals: None
) -> None:
    # given tickets and messages scored on import; when the account page is opened
    html = page(client, rep, f"/accounts/{account.pk}/")
    cards = (
        (Ticket, "ticket", "signals-tickets-card"),
        (Message, "message", "signals-messages-card"),
    )
    for model, prefix, card in cards:
        shown_card = section(html, card)
        for row in model.objects.filter(account=account):
            start = shown_card.index(f'id="{prefix}-{row.pk}"')
            shown = shown_card[start : shown_card.index("</tr>", start)]
            # then each shows its score, and those at the threshold or over it are marked
            assert f'data-praise="{row.praise:.4f}"' in shown
            assert ("is-praise" in shown) == (row.praise >= praise.THRESHOLD), row.external_id


def test_activity_chart_has_a_bar_for_each_of_the_last_26_weeks(
    client: Client, rep: User, account: Account, weeks: None
) -> None:
    html = page(client, rep, f"/accounts/{account.pk}/")
    activity = section(html, "signals-activity")
    bars = parts(activity).bars
    # then there are 26 weeks, Monday to Monday, the empty ones at 0, the older one left out
    monday = this_monday()
    expected = {(monday - dt.timedelta(weeks=n)).isoformat(): 0 for n in range(26)}
    expected[monday.isoformat()] = 12
    expected[(monday - dt.timedelta(weeks=3)).isoformat()] = 30
    assert [b["data-label"] for b in bars] == sorted(expected)
    assert {b["data-label"]: int(b["data-value"]) for b in bars} == expected
    # and the heights are in proportion to the counts
    height = {b["data-label"]: float(b["height"]) for b in bars}
    assert height[monday.isoformat()] / height[
        (monday - dt.timedelta(weeks=3)).isoformat()
    ] == pytest.approx(12 / 30, abs=0.01)
    assert sum(1 for h in height.values() if h == 0) == 24
    # and the chart is labelled and its numbers are in a table too
    assert 'role="img" aria-label="Events per week, last 26 weeks"' in activity
    assert "42 events in the last 26 weeks" in activity
    assert table(html, "signals-activity")[-1] == [monday.isoformat(), "12"]


def test_an_account_without_signals_says_so_in_words(
    client: Client, rep: User, account: Account
) -> None:
    html = page(client, rep, f"/accounts/{account.pk}/")
    for words in [
        "No product events from this account in the last 26 weeks.",
        "No NPS answers from this account yet.",
        "No NPS answers yet.",
        "No support tickets yet.",
        "No messages yet.",
        "No goals yet.",
    ]:
        assert words in html
    assert "<svg" not in html
    assert "Show all" not in html


def test_a_hostile_comment_is_shown_as_text(
    client: Client, rep: User, account: Account, signals: None
) -> None:
    for url in [f"/accounts/{account.pk}/", f"/signals/nps/?account={account.pk}"]:
        html = page(client, rep, url)
        assert "&lt;script&gt;alert(&quot;nps&quot;)&lt;/script&gt; Love it" in html
        assert "<script>alert" not in html


def test_latest_twenty_are_shown_with_a_way_to_all(
    client: Client, rep: User, account: Account, tmp_path: Path
) -> None:
    # given 23 messages
    rows = [f"M-{i},ACC-1,,2026-11-01T{i:02d}:00:00Z,chat,Note {i}" for i in range(23)]
    load_rows(tmp_path, "messages", rows)
    # when the account page is opened, then it shows the newest 20 and says there are more
    html = page(client, rep, f"/accounts/{account.pk}/")
    card = table(html, "signals-messages-card")
    assert [row[-1] for row in card[1:]] == [f"Note {i}" for i in range(22, 2, -1)]
    assert "The latest 20 of 23." in html
    assert f'href="/signals/messages/?account={account.pk}">Show all 23</a>' in html
    # and the list page shows all 23
    listed = page(client, rep, f"/signals/messages/?account={account.pk}")
    assert len(parts(listed).rows) == 24
    assert "23 in all · page 1 of 1" in listed


# --- CSV exports ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(IDS))
def test_export_has_exactly_the_accounts_rows(
    client: Client, rep: User, admin_user: User, account: Account, signals: None, kind: str
) -> None:
    ours, theirs = IDS[kind]
    client.force_login(rep)
    of_account = csv_rows(client.get(f"/signals/{kind}/export.csv?account={account.pk}"))
    assert {row["external_id"] for row in of_account} == ours
    assert {row["account_external_id"] for row in of_account} == {"ACC-1"}
    # without an account: every row the user may see; an admin sees both teams'
    assert {r["external_id"] for r in csv_rows(client.get(f"/signals/{kind}/export.csv"))} == ours
    client.force_login(admin_user)
    everything = csv_rows(client.get(f"/signals/{kind}/export.csv"))
    assert {row["external_id"] for row in everything} == ours | theirs


def test_export_cells_are_the_stored_values_with_formulas_neutralised(
    client: Client, rep: User, account: Account, tmp_path: Path
) -> None:
    load(
        tmp_path,
        "nps",
        "external_id,account_external_id,score,comment,responded_at\n"
        'N-1,ACC-1,8,=HYPERLINK("x"),2026-10-01T09:00:00Z\n',
    )
    client.force_login(rep)
    rows = csv_rows(client.get(f"/signals/nps/export.csv?account={account.pk}"))
    assert rows == [
        {
            "external_id": "N-1",
            "account_external_id": "ACC-1",
            "contact_email": "",
            "score": "8",
            "comment": '\'=HYPERLINK("x")',
            "responded_at": "2026-10-01T09:00:00+00:00",
        }
    ]


def test_weeks_export_has_the_charts_weeks(
    client: Client, rep: User, admin_user: User, account: Account, weeks: None
) -> None:
    client.force_login(rep)
    rows = csv_rows(client.get(f"/signals/weeks/export.csv?account={account.pk}"))
    monday = this_monday()
    assert len(rows) == 26
    assert rows[-1] == {
        "account_external_id": "ACC-1",
        "account": "Acme Analytics",
        "week": monday.isoformat(),
        "events": "12",
    }
    assert sum(int(r["events"]) for r in rows) == 42
    # without an account: every stored week of every account the user may see
    mine = csv_rows(client.get("/signals/weeks/export.csv"))
    assert [(r["account_external_id"], r["events"]) for r in mine] == [
        ("ACC-1", "99"),
        ("ACC-1", "30"),
        ("ACC-1", "12"),
    ]
    client.force_login(admin_user)
    assert len(csv_rows(client.get("/signals/weeks/export.csv"))) == 4


def test_a_rep_cannot_see_or_export_another_teams_signals(
    client: Client, rep: User, other_account: Account, signals: None, weeks: None
) -> None:
    client.force_login(rep)
    # when the rep names the other team's account, then every page and export is 404
    for url in [
        f"/accounts/{other_account.pk}/",
        f"/signals/weeks/export.csv?account={other_account.pk}",
        *(f"/signals/{kind}/?account={other_account.pk}" for kind in IDS),
        *(f"/signals/{kind}/export.csv?account={other_account.pk}" for kind in IDS),
        "/signals/nps/export.csv?account=x",
        "/signals/nps/?account=999999",
    ]:
        assert client.get(url).status_code == 404, url
    # and the lists of everything the rep may see leave the other team's rows out
    for kind in IDS:
        assert "Zenith" not in page(client, rep, f"/signals/{kind}/")


# --- the intake's status --------------------------------------------------------------


@pytest.fixture
def intake(db: Any) -> dict[str, Any]:
    """This hour and 30 hours ago logged, two write keys (one revoked), one held event."""
    now = timezone.now()
    ingest_log_write(
        at=now, received=10, stored=7, duplicates=2, held=1, rejected={"invalid userId": 3}
    )
    ingest_log_write(at=now - dt.timedelta(hours=30), received=5, stored=5)
    ingest_log_write(at=now - dt.timedelta(hours=30), rejected={"over the rate limit": 4})
    live, secret = writekey_create(name="web <app>", rate_limit=10)
    old, _ = writekey_create(name="old app")
    writekey_revoke(prefix=old.prefix)
    Event.objects.create(
        message_id="held-1",
        type="track",
        event="Report Created",
        user_key="user:u-1",
        timestamp=now,
        received_at=now,
        state=EventState.HELD,
    )
    return {"live": live, "secret": secret, "old": old}


@pytest.mark.parametrize("who", ["rep", "csm", "manager", "nobody"])
def test_intake_page_does_not_exist_for_anyone_but_admins(
    client: Client, request: pytest.FixtureRequest, who: str, intake: dict[str, Any]
) -> None:
    client.force_login(request.getfixturevalue(who))
    for url in ["/intake/", "/intake/?export=keys"]:
        assert client.get(url).status_code == 404
    assert 'href="/intake/"' not in client.get("/").content.decode()


def test_intake_page_shows_an_admin_the_figures(
    client: Client, admin_user: User, intake: dict[str, Any]
) -> None:
    html = page(client, admin_user, "/intake/")
    assert 'href="/intake/" class="active" aria-current="page">Intake</a>' in html
    assert table(html, "intake-totals") == [
        ["Events", "Last 24 hours", "All time"],
        ["Received", "10", "15"],
        ["Stored", "7", "12"],
        ["Duplicates dropped", "2", "2"],
        ["Held on arrival (account not known yet)", "1", "1"],
        ["Rejected", "3", "7"],
        ["Waiting for an account now", "—", "1"],
    ]
    assert table(html, "intake-rejected") == [
        ["Reason", "Last 24 hours", "All time"],
        ["over the rate limit", "0", "4"],
        ["invalid userId", "3", "3"],
    ]
    keys = table(html, "intake-keys")
    live, old = intake["live"], intake["old"]
    assert [row[:3] for row in keys[1:]] == [
        [f"{old.prefix}…", "old app", "2,000 / s"],
        [f"{live.prefix}…", "web <app>", "10 / s"],
    ]
    assert keys[1][5].startswith("Revoked")
    assert keys[2][4:] == ["never", "Active"]
    assert intake["secret"] not in html
    assert live.hashed_key not in html
    assert "web &lt;app&gt;" in html


def test_intake_chart_has_received_and_stored_for_each_of_48_hours(
    client: Client, admin_user: User, intake: dict[str, Any]
) -> None:
    html = page(client, admin_user, "/intake/")
    bars = parts(section(html, "intake-hours")).bars
    assert len(bars) == 96
    values = [(b["data-series"], int(b["data-value"])) for b in bars]
    assert values[-2:] == [("Received", 10), ("Stored", 7)]
    thirty_ago = 2 * (47 - 30)
    assert values[thirty_ago : thirty_ago + 2] == [("Received", 5), ("Stored", 5)]
    assert sum(v for _, v in values) == 10 + 7 + 5 + 5


def test_intake_tables_export_as_csv(
    client: Client, admin_user: User, intake: dict[str, Any]
) -> None:
    client.force_login(admin_user)
    totals = csv_rows(client.get("/intake/?export=totals"))
    assert totals[0] == {"measure": "Received", "last_24_hours": "10", "all_time": "15"}
    assert totals[-1] == {
        "measure": "Waiting for an account now",
        "last_24_hours": "",
        "all_time": "1",
    }
    hours = csv_rows(client.get("/intake/?export=hours"))
    assert len(hours) == 48
    assert {k: v for k, v in hours[-1].items() if k != "hour"} == {
        "received": "10",
        "stored": "7",
        "duplicates": "2",
        "rejected": "3",
    }
    assert csv_rows(client.get("/intake/?export=rejected")) == [
        {"reason": "over the rate limit", "last_24_hours": "0", "all_time": "4"},
        {"reason": "invalid userId", "last_24_hours": "3", "all_time": "3"},
    ]
    keys = csv_rows(client.get("/intake/?export=keys"))
    assert list(keys[0]) == [
        "prefix",
        "name",
        "rate_limit",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    assert [(k["prefix"], k["name"], k["rate_limit"]) for k in keys] == [
        (intake["old"].prefix, "old app", "2000"),
        (intake["live"].prefix, "web <app>", "10"),
    ]
    assert client.get("/intake/?export=secrets").status_code == 404


def test_an_empty_intake_says_so(client: Client, admin_user: User) -> None:
    html = page(client, admin_user, "/intake/")
    assert "No events arrived in the last 48 hours." in html
    assert "Nothing has been rejected." in html
    assert "No write keys yet." in html


# --- speed ------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_account_page_queries_do_not_grow_with_signals(
    client: Client,
    rep: User,
    account: Account,
    contact: Any,
    tmp_path: Path,
    django_assert_max_num_queries: Callable[[int], Any],
) -> None:
    # given an account with one row of each kind
    load(tmp_path, "nps", NPS.replace("N-9,ACC-2", "N-9,ACC-1"))
    client.force_login(rep)
    url = f"/accounts/{account.pk}/"
    few = _queries(client, url)
    # when it gets 30 NPS answers, tickets and messages, each from a known contact
    many = range(30)
    load_rows(tmp_path, "nps", [f"NX-{i},ACC-1,ada@acme.io,{i % 11},Fine,2026-08-01" for i in many])
    load_rows(
        tmp_path, "tickets", [f"TX-{i},ACC-1,ada@acme.io,2026-08-01,,,,4,1-5,Ok" for i in many]
    )
    load_rows(tmp_path, "messages", [f"MX-{i},ACC-1,ada@acme.io,2026-08-01,chat,Hi" for i in many])
    assert NpsResponse.objects.filter(account=account).count() == 34
    # then the page makes the same number of queries, plus one count per capped table
    with django_assert_max_num_queries(few + 3):
        assert client.get(url).status_code == 200
    assert few <= 25, few
    # and each list of everything stays as few queries with its 30 rows and their contacts
    for kind in ("nps", "tickets", "messages"):
        with django_assert_max_num_queries(8):
            assert client.get(f"/signals/{kind}/?account={account.pk}").status_code == 200
