"""The introductions board and an advocate account's page, through the client: grouping by
state in flow order with counts, ages and overdue flags, the filters and the CSV, who sees
what (an East rep never sees the West team's introductions, accounts or e-mails), the e-mails
that could not be sent, the advocate page's numbers, and a query count that does not grow
with the number of introductions."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from goodword.crm.models import Account, Contact, Deal, Stage, Task
from goodword.crm.services import (
    account_create,
    contact_create,
    contact_opt_out,
    deal_create,
    deal_move,
    task_complete,
)
from goodword.engine.intros import IntroState, Timing
from goodword.jobs.models import Job, JobStatus
from goodword.jobs.services import email_enqueue
from goodword.moments.models import Moment
from goodword.referrals import board, board_views
from goodword.referrals.credits import CreditShare, credits_set
from goodword.referrals.models import Introduction
from goodword.users.models import User

pytestmark = pytest.mark.django_db
S = IntroState
DAY = dt.timedelta(days=1)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def text_of(response: Any) -> str:
    return str(response.content.decode())


def intro(
    advocate: Contact,
    *,
    state: S = S.AWAITING_CONSENT,
    name: str = "Grace Hopper",
    email: str = "grace@globex.com",
    owner: User | None = None,
    age: dt.timedelta = DAY,
    created: dt.timedelta | None = None,
    **fields: Any,
) -> Introduction:
    """An introduction that has been in `state` for `age` (as the services leave it: a wait
    starts waiting_since, a final state sets closed_at)."""
    now = timezone.now()
    entered = now - age
    return Introduction.objects.create(
        state=state.value,
        advocate_account=advocate.account,
        advocate=advocate,
        owner=owner if owner is not None else advocate.account.owner,
        person_name=name,
        person_email=email,
        waiting_since=entered,
        updated_at=entered,
        closed_at=entered if state in {S.OPPORTUNITY, S.DECLINED, S.EXPIRED, S.WITHDRAWN} else None,
        created_at=now - (created if created is not None else age),
        **fields,
    )


def board_of(user: User, **query: str) -> Any:
    return client_for(user).get(reverse("intro-board"), query)


def counts_of(response: Any) -> list[tuple[str, int]]:
    return [(c.state.value, c.count) for c in response.context["columns"]]


def card_ids(response: Any) -> set[int]:
    return {card.pk for column in response.context["columns"] for card in column.cards}


# --- the board's words, without a database ------------------------------------------------


def test_age_words_say_how_long_an_introduction_has_been_in_its_state() -> None:
    assert board.age_words(S.AWAITING_CONSENT, dt.timedelta(days=6, hours=5)) == "waiting 6 days"
    assert board.age_words(S.ADVOCATE_AGREED, dt.timedelta(hours=3)) == ("waiting less than a day")
    assert board.age_words(S.INTRODUCED, DAY) == "1 day in this state"
    assert board.age_words(S.OPPORTUNITY, dt.timedelta(days=2)) == "deal opened 2 days ago"
    assert board.age_words(S.DECLINED, dt.timedelta(days=9)) == "closed 9 days ago"
    assert board.age_words(S.EXPIRED, dt.timedelta(hours=1)) == "closed today"


def test_a_wait_is_overdue_once_past_its_reminder_and_an_acceptance_after_a_day() -> None:
    timing = Timing(remind_after_days=5, expire_after_days=14)
    waited = dt.timedelta(days=5)
    assert board.alert_words(S.AWAITING_CONSENT, waited - dt.timedelta(seconds=1), timing) == ""
    assert board.alert_words(S.AWAITING_CONSENT, waited, timing) == (
        "no answer since the day-5 reminder: a word from you may help; expires in 9 days"
    )
    assert board.alert_words(S.ADVOCATE_AGREED, dt.timedelta(days=14), timing) == (
        "overdue: past the day-14 expiry"
    )
    assert board.alert_words(S.ACCEPTED, dt.timedelta(hours=23), timing) == ""
    assert board.alert_words(S.ACCEPTED, DAY, timing) == "overdue: accepted but not introduced yet"
    assert board.alert_words(S.INTRODUCED, dt.timedelta(days=400), timing) == ""
    assert board.alert_words(S.DECLINED, dt.timedelta(days=400), timing) == ""


def test_an_introduction_enters_its_state_when_its_wait_began_or_it_closed() -> None:
    wait, change, close = (dt.datetime(2026, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3))
    times = {"waiting_since": wait, "updated_at": change}
    assert board.entered_at(S.AWAITING_CONSENT, closed_at=None, **times) == wait
    assert board.entered_at(S.INTRODUCED, closed_at=None, **times) == change
    assert board.entered_at(S.WITHDRAWN, closed_at=close, **times) == close


# --- grouping and counts -------------------------------------------------------------------


def test_the_board_groups_introductions_by_state_in_flow_order_with_counts(
    rep: User, contact: Contact
) -> None:
    # given introductions in five states, two of them awaiting consent
    made = {
        S.EXPIRED: intro(contact, state=S.EXPIRED),
        S.INTRODUCED: intro(contact, state=S.INTRODUCED),
        S.ADVOCATE_AGREED: intro(contact, state=S.ADVOCATE_AGREED),
        S.OPPORTUNITY: intro(contact, state=S.OPPORTUNITY),
    }
    waiting = [intro(contact, age=dt.timedelta(days=d)) for d in (2, 6)]
    # when the owner opens the board
    response = board_of(rep)
    # then every state has its column in the flow's order, with its count
    assert response.status_code == 200
    assert counts_of(response) == [
        ("advocate_agreed", 1),
        ("awaiting_consent", 2),
        ("accepted", 0),
        ("introduced", 1),
        ("opportunity", 1),
        ("declined", 0),
        ("expired", 1),
        ("withdrawn", 0),
    ]
    assert response.context["total"] == 6
    columns = {c.state: c for c in response.context["columns"]}
    for state, made_intro in made.items():
        assert [card.pk for card in columns[state].cards] == [made_intro.pk]
    # the longest wait comes first, and is flagged as past its reminder
    older, newer = columns[S.AWAITING_CONSENT].cards
    assert [older.pk, newer.pk] == [waiting[1].pk, waiting[0].pk]
    assert (older.age, older.alert) == (
        "waiting 6 days",
        "no answer since the day-5 reminder: a word from you may help; expires in 8 days",
    )
    assert (newer.age, newer.alert) == ("waiting 2 days", "")
    page = text_of(response)
    assert page.index('id="column-advocate_agreed"') < page.index('id="column-withdrawn"')
    assert "waiting 6 days" in page
    assert "no answer since the day-5 reminder" in page
    assert reverse("intro-detail", args=[older.pk]) in page
    assert reverse("account-advocacy", args=[contact.account_id]) in page


def test_a_card_shows_the_person_advocate_account_and_owner(rep: User, contact: Contact) -> None:
    made = intro(contact, name="Grace Hopper", person_company="Globex", state=S.INTRODUCED)
    [card] = [c for col in board_of(rep).context["columns"] for c in col.cards]
    assert (card.pk, card.person, card.company) == (made.pk, "Grace Hopper", "Globex")
    assert (card.advocate, card.account, card.owner) == (
        "Ada Lovelace",
        "Acme Analytics",
        "rep@example.com",
    )


def test_a_state_shows_its_first_cards_and_links_to_the_rest_paged(
    rep: User, contact: Contact
) -> None:
    # given more declined introductions than a column shows
    many = board.BOARD_CARDS + 7
    made = [
        intro(contact, state=S.DECLINED, age=dt.timedelta(hours=i + 1), name=f"Person {i}")
        for i in range(many)
    ]
    response = board_of(rep)
    [declined] = [c for c in response.context["columns"] if c.state == S.DECLINED]
    # then the column shows the newest BOARD_CARDS and says how many more there are
    assert declined.count == many
    assert [c.pk for c in declined.cards] == [i.pk for i in made[: board.BOARD_CARDS]]
    assert declined.more == 7
    assert "7 more…" in text_of(response)
    assert f"{reverse('intro-board')}?state=declined" in text_of(response)
    # and the board filtered on the state lists them all, newest first
    filtered = board_of(rep, state="declined")
    assert counts_of(filtered) == [("declined", many)]
    assert [c.pk for c in filtered.context["state_cards"]] == [i.pk for i in made]
    assert "Person 31" in text_of(filtered)


def test_a_columns_overdue_count_covers_all_its_introductions_not_only_those_shown(
    rep: User, contact: Contact
) -> None:
    # given more overdue waits than a column shows, and introductions either side of the line
    minute = dt.timedelta(minutes=1)
    late = [intro(contact, age=5 * DAY + minute) for _ in range(board.BOARD_CARDS + 2)]
    intro(contact, age=5 * DAY - minute)
    intro(contact, state=S.ADVOCATE_AGREED, age=14 * DAY + minute)
    stuck = intro(contact, state=S.ACCEPTED, age=DAY + minute)
    intro(contact, state=S.ACCEPTED, age=DAY - minute)
    intro(contact, state=S.INTRODUCED, age=400 * DAY)
    # when the owner opens the board
    columns = {c.state: c for c in board_of(rep).context["columns"]}
    # then each column counts its overdue introductions, as its cards flag them
    overdue = {state: (c.count, c.overdue) for state, c in columns.items() if c.count}
    assert overdue == {
        S.ADVOCATE_AGREED: (1, 1),
        S.AWAITING_CONSENT: (board.BOARD_CARDS + 3, board.BOARD_CARDS + 2),
        S.ACCEPTED: (2, 1),
        S.INTRODUCED: (1, 0),
    }
    flagged = {card.pk for c in columns.values() for card in c.cards if card.overdue}
    shown_late = {i.pk for i in late[: board.BOARD_CARDS - 1]}
    assert shown_late < flagged
    assert stuck.pk in flagged
    assert len(flagged) == board.BOARD_CARDS + 2  # 25 waits shown, 1 agreed, 1 accepted


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def beta(rep: User) -> Contact:
    """A second East customer with its own advocate."""
    account = account_create(
        actor=rep,
        owner=rep,
        data={"name": "Beta Bikes", "domain": "beta.example", "lifecycle": "customer"},
    )
    return contact_create(
        actor=rep, account=account, data={"first_name": "Bea", "email": "bea@beta.example"}
    )


def test_filters_narrow_the_board_by_owner_account_state_and_creation_day(
    rep: User, csm: User, contact: Contact, beta: Contact
) -> None:
    mine = intro(contact, owner=rep, created=dt.timedelta(days=3))
    theirs = intro(contact, owner=csm, state=S.INTRODUCED, created=dt.timedelta(days=3))
    old = intro(beta, owner=rep, created=dt.timedelta(days=40))
    assert card_ids(board_of(rep)) == {mine.pk, theirs.pk, old.pk}
    assert card_ids(board_of(rep, owner=str(csm.pk))) == {theirs.pk}
    assert card_ids(board_of(rep, account=str(beta.account_id))) == {old.pk}
    assert card_ids(board_of(rep, account="acme")) == {mine.pk, theirs.pk}
    assert counts_of(board_of(rep, state="introduced")) == [("introduced", 1)]
    since = (timezone.now() - dt.timedelta(days=10)).date().isoformat()
    assert card_ids(board_of(rep, since=since)) == {mine.pk, theirs.pk}
    combined = board_of(rep, owner=str(rep.pk), account="Beta", since="2000-01-01")
    assert card_ids(combined) == {old.pk}


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"since": "last tuesday"}, "since: Enter a valid date."),
        ({"state": "lost"}, "state: Select a valid choice. lost is not one of the"),
        ({"owner": "999999"}, "owner: Select a valid choice."),
    ],
)
def test_a_bad_filter_is_refused_with_its_reason(
    rep: User, contact: Contact, query: dict[str, str], said: str
) -> None:
    intro(contact)
    response = board_of(rep, **query)
    assert response.status_code == 400
    assert said in text_of(response)
    assert response.context["columns"] == []
    export = board_of(rep, export="csv", **query)
    assert export.status_code == 400
    assert "These filters cannot be used" in text_of(export)


def test_an_unknown_export_is_refused(rep: User) -> None:
    response = board_of(rep, export="xlsx")
    assert response.status_code == 400
    assert "Export one of: csv, failed." in text_of(response)


def test_the_csv_has_the_filtered_introductions(rep: User, contact: Contact, beta: Contact) -> None:
    # given two introductions of Acme, one with a deal, and one of Beta
    first = intro(contact, name="Grace Hopper", person_company="Globex", created=3 * DAY)
    second = intro(contact, state=S.INTRODUCED, name="Alan Turing", email="alan@initech.com")
    intro(beta, name="Not Acme")
    # when the owner exports Acme's
    response = board_of(rep, account=str(contact.account_id), export="csv")
    # then the CSV has exactly those, newest first
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = rows_of(response)
    assert header == board.EXPORT_HEADER
    for row, made in zip(rows, [second, first], strict=True):
        assert row == [
            str(made.pk),
            made.state,
            made.person_name,
            made.person_email,
            made.person_company,
            "ada@acme.io",
            "Acme Analytics",
            "rep@example.com",
            made.created_at.isoformat(),
            made.updated_at.isoformat(),
            "",
        ]


# --- who sees what -------------------------------------------------------------------------


@pytest.fixture
def east_and_west(contact: Contact, other_contact: Contact) -> tuple[Introduction, Introduction]:
    east = intro(contact, name="East Person", email="east.person@example.com")
    west = intro(other_contact, name="West Secret", email="west.secret@example.com")
    return east, west


def test_an_east_rep_sees_only_introductions_of_accounts_they_may_see(
    rep: User, csm: User, nobody: User, east_and_west: tuple[Introduction, Introduction]
) -> None:
    east, west = east_and_west
    for user in (rep, csm):
        response = board_of(user)
        assert card_ids(response) == {east.pk}
        assert "West Secret" not in text_of(response)
        assert "Zenith Logistics" not in text_of(response)
        header, *rows = rows_of(board_of(user, export="csv"))
        assert header == board.EXPORT_HEADER
        assert [row[0] for row in rows] == [str(east.pk)]
        # a filter naming the West account finds nothing rather than its introductions
        by_id = board_of(user, account=str(west.advocate_account_id))
        assert (card_ids(by_id), by_id.context["total"]) == (set(), 0)
    assert card_ids(board_of(nobody)) == set()


def test_managers_and_admins_see_every_team(
    manager: User, other_manager: User, admin_user: User, east_and_west: Any
) -> None:
    east, west = east_and_west
    for user in (manager, other_manager, admin_user):
        assert card_ids(board_of(user)) == {east.pk, west.pk}


def test_a_rep_sees_an_introduction_they_own_at_an_account_of_another_team(
    rep: User, other_contact: Contact
) -> None:
    owned = intro(other_contact, owner=rep, name="Routed To Rep")
    assert card_ids(board_of(rep)) == {owned.pk}


# --- e-mails that could not be sent --------------------------------------------------------


def failed_email(owner: User, to: str, subject: str, failure: str) -> Job:
    """An e-mail written to the outbox, then failed for good as the worker fails it."""
    job = email_enqueue(
        to=[to], subject=subject, body_text="Hello", owner_id=owner.pk, about="consent request"
    )
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, failure=failure, finished_at=timezone.now(), attempts=1
    )
    job.refresh_from_db()
    return job


def test_the_board_lists_only_the_users_own_emails_that_could_not_be_sent(
    rep: User, other_rep: User
) -> None:
    # given one failed e-mail of the rep's, one of another rep's, and one of the rep's sent
    said = "the recipient's mail server refused the address (550 5.1.1 no such user)"
    mine = failed_email(rep, "gone@globex.com", "Would you like to meet Acme?", said)
    failed_email(other_rep, "west@zenith.example", "West subject", "550 west")
    email_enqueue(to=["fine@globex.com"], subject="Delivered", body_text="x", owner_id=rep.pk)
    # when the rep opens the board
    response = board_of(rep)
    # then only their failed e-mail is shown, with the server's words
    [shown] = response.context["failed"]
    assert (shown.pk, shown.to, shown.subject, shown.failure, shown.about) == (
        mine.pk,
        "gone@globex.com",
        "Would you like to meet Acme?",
        said,
        "consent request",
    )
    assert response.context["failed_count"] == 1
    page = text_of(response)
    assert "(550 5.1.1 no such user)" in page
    assert "West subject" not in page
    assert "Delivered" not in page
    # and the CSV has the same row
    header, *rows = rows_of(board_of(rep, export="failed"))
    assert header == ["id", "to", "subject", "failed_at", "failure", "about"]
    assert rows == [
        [
            str(mine.pk),
            "gone@globex.com",
            "Would you like to meet Acme?",
            mine.finished_at.isoformat() if mine.finished_at else "",
            said,
            "consent request",
        ]
    ]


def test_with_no_failed_emails_the_board_says_so(rep: User) -> None:
    response = board_of(rep)
    assert response.context["failed"] == []
    assert "Every email was sent." in text_of(response)


# --- query count ---------------------------------------------------------------------------


def many_introductions(contact: Contact, per_state: int) -> None:
    now = timezone.now()
    Introduction.objects.bulk_create(
        Introduction(
            state=state.value,
            advocate_account=contact.account,
            advocate=contact,
            owner=contact.account.owner,
            person_name=f"Person {state.value} {i}",
            waiting_since=now - dt.timedelta(hours=i),
            updated_at=now - dt.timedelta(hours=i),
            closed_at=now - dt.timedelta(hours=i),
            created_at=now - dt.timedelta(hours=i),
        )
        for state in board.FLOW
        for i in range(per_state)
    )


def queries_of(user: User, **query: str) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("intro-board"), query).status_code == 200
    return len(captured)


@pytest.mark.parametrize("role", ["rep", "admin_user"])
def test_the_boards_queries_do_not_grow_with_the_introductions(
    role: str, request: pytest.FixtureRequest, contact: Contact, django_assert_max_num_queries: Any
) -> None:
    user = request.getfixturevalue(role)
    failed_email(user, "gone@globex.com", "Hi", "550")
    many_introductions(contact, per_state=2)
    few = queries_of(user)
    Introduction.objects.all().delete()
    many_introductions(contact, per_state=60)
    assert queries_of(user) == few
    client = client_for(user)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("intro-board"))
    assert sum(c.count for c in response.context["columns"]) == 8 * 60
    with django_assert_max_num_queries(10):
        paged = client.get(reverse("intro-board"), {"state": "expired", "page": "2"})
    assert len(paged.context["state_cards"]) == 10


# --- an advocate account's page ------------------------------------------------------------


def advocacy_of(user: User, account: Account, **query: str) -> Any:
    return client_for(user).get(reverse("account-advocacy", args=[account.pk]), query)


@pytest.fixture
def globex(rep: User) -> Account:
    return account_create(actor=rep, owner=rep, data={"name": "Globex", "domain": "globex.com"})


def referred(
    globex: Account, advocate: Contact, stage: Stage, name: str, amount: str, currency: str = "USD"
) -> Deal:
    return deal_create(
        actor=None,
        account=globex,
        owner=globex.owner,
        stage=stage,
        data={"name": name, "amount": amount, "currency": currency, "source": "referral"},
        referred_by=advocate,
    )


def test_won_referred_revenue_counts_the_accounts_share_of_won_deals_by_currency(
    rep: User,
    manager: User,
    contact: Contact,
    beta: Contact,
    globex: Account,
    stages: dict[str, Stage],
) -> None:
    # given a won deal split 60/40 between Acme and Beta, a won deal in euros all Acme's,
    # and an open and a lost deal of Acme's
    won, lost, open_ = stages["Closed Won"], stages["Closed Lost"], stages["Prospecting"]
    split = referred(globex, contact, stages["Prospecting"], "Globex platform", "10000.00")
    credits_set(
        actor=manager,
        deal=split,
        shares=[
            CreditShare(contact.account_id, contact.pk, "60"),
            CreditShare(beta.account_id, beta.pk, "40"),
        ],
        reason="Bea joined the call",
        now=timezone.now(),
    )
    deal_move(actor=rep, deal=split, stage=won)
    euros = referred(globex, contact, open_, "Globex EU", "2500.50", currency="EUR")
    deal_move(actor=rep, deal=euros, stage=won)
    referred(globex, contact, open_, "Globex pilot", "5000.00")
    gone = referred(globex, contact, open_, "Globex lost", "1000.00")
    deal_move(actor=rep, deal=gone, stage=lost)
    # when the rep opens Acme's advocate page
    response = advocacy_of(rep, contact.account)
    # then Acme's won referred revenue is 60 % of the split deal, and the euro deal apart
    assert response.status_code == 200
    revenue = [(r.currency, r.amount, r.deals) for r in response.context["revenue"]]
    assert revenue == [("EUR", Decimal("2500.50"), 1), ("USD", Decimal("6000.00"), 1)]
    assert response.context["deals_open"] == 1
    credits = {c.deal_name: (c.share, c.status, c.credited) for c in response.context["credits"]}
    assert credits == {
        "Globex platform": (Decimal("60.00"), "won", Decimal("6000.00")),
        "Globex EU": (Decimal("100.00"), "won", Decimal("2500.50")),
        "Globex pilot": (Decimal("100.00"), "open", Decimal("5000.00")),
        "Globex lost": (Decimal("100.00"), "lost", Decimal("1000.00")),
    }
    page = text_of(response)
    assert "6,000.00 USD" in page
    assert "2,500.50 EUR" in page
    # and Beta's page counts its 40 %
    beta_revenue = advocacy_of(rep, beta.account).context["revenue"]
    assert [(r.currency, r.amount) for r in beta_revenue] == [("USD", Decimal("4000.00"))]
    # and the credits' CSV has each deal with its credited amount
    header, *rows = rows_of(advocacy_of(rep, contact.account, export="credits"))
    assert header[:3] == ["deal_id", "deal", "deal_account"]
    by_name = {row[1]: row for row in rows}
    assert by_name["Globex platform"][4:] == [
        "60.00",
        "Closed Won",
        "won",
        "10000.00",
        "USD",
        "6000.00",
        split.closed_at.isoformat() if split.closed_at else "",
    ]
    assert len(rows) == 4


def test_won_revenue_rounds_the_sum_once_to_the_cent() -> None:
    def row(amount: str, share: str) -> board.CreditRow:
        return board.CreditRow(
            deal_id=1,
            deal_name="d",
            deal_account="a",
            advocate="",
            share=Decimal(share),
            stage="Closed Won",
            status="won",
            amount=Decimal(amount),
            currency="USD",
            credited=Decimal(0),
            closed_at=None,
        )

    # 3 × 33.335 = 100.005: rounding each share first would give 100.02
    rows = [row("100.00", "33.335")] * 3
    assert board.won_revenue(rows) == [board.Revenue("USD", Decimal("100.01"), 3)]


def test_a_credited_deal_of_another_team_counts_but_is_not_named(
    rep: User, contact: Contact, other_account: Account, stages: dict[str, Stage]
) -> None:
    # given Ada referred a deal of the West team's account, now won
    deal = referred(other_account, contact, stages["Prospecting"], "Zenith new", "3000.00")
    deal_move(actor=None, deal=deal, stage=stages["Closed Won"])
    response = advocacy_of(rep, contact.account)
    [credit] = response.context["credits"]
    assert (credit.deal_name, credit.deal_account, credit.credited) == (
        None,
        None,
        Decimal("3000.00"),
    )
    assert [(r.currency, r.amount) for r in response.context["revenue"]] == [
        ("USD", Decimal("3000.00"))
    ]
    assert "Zenith" not in text_of(response)
    assert "a deal of another team" in text_of(response)


def test_the_advocate_page_lists_moments_asks_and_introductions_of_the_account(
    rep: User, contact: Contact, other_contact: Contact, ask: Task
) -> None:
    now = timezone.now()
    moment = Moment.objects.create(
        account=contact.account,
        rule_id="promoter",
        kind="nps",
        key="nps:1",
        occurred_at=now - DAY,
        contact=contact,
        evidence="NPS 10 from Ada Lovelace",
        found_at=now,
        updated_at=now,
    )
    Moment.objects.create(
        account=contact.account,
        rule_id="usage",
        kind="usage",
        key="w1",
        occurred_at=now,
        evidence="Retracted peak",
        found_at=now,
        updated_at=now,
        retracted_at=now,
    )
    Moment.objects.create(
        account=other_contact.account,
        rule_id="promoter",
        kind="nps",
        key="nps:1",
        occurred_at=now,
        evidence="NPS 10 from a West customer",
        found_at=now,
        updated_at=now,
    )
    made = intro(contact, name="Grace Hopper", ask=ask)
    intro(other_contact, name="West Secret")
    response = advocacy_of(rep, contact.account)
    assert [m.pk for m in response.context["moments"]] == [moment.pk]
    assert [t.pk for t in response.context["asks"]] == [ask.pk]
    assert [i.pk for i in response.context["intros"]] == [made.pk]
    page = text_of(response)
    assert "NPS 10 from Ada Lovelace" in page
    assert "Ask Ada for a referral" in page
    assert "Grace Hopper" in page
    for hidden in ("Retracted peak", "West customer", "West Secret"):
        assert hidden not in page
    assert reverse("rewards-ledger", args=[contact.account_id]) in page
    header, *rows = rows_of(advocacy_of(rep, contact.account, export="moments"))
    assert header == ["id", "occurred_at", "kind", "rule", "evidence", "contact_email", "found_at"]
    assert [(row[0], row[4], row[5]) for row in rows] == [
        (str(moment.pk), "NPS 10 from Ada Lovelace", "ada@acme.io")
    ]
    header, *rows = rows_of(advocacy_of(rep, contact.account, export="asks"))
    assert header[:5] == ["id", "subject", "contact_email", "owner_email", "status"]
    assert [(row[0], row[1], row[4]) for row in rows] == [
        (str(ask.pk), "Ask Ada for a referral", "open")
    ]
    header, *rows = rows_of(advocacy_of(rep, contact.account, export="introductions"))
    assert header[:4] == ["id", "state", "person", "email"]
    assert [(row[0], row[2], row[3]) for row in rows] == [
        (str(made.pk), "Grace Hopper", "grace@globex.com")
    ]


def test_each_contact_shows_when_last_asked_and_when_they_may_be_asked_again(
    rep: User, contact: Contact, ask: Task
) -> None:
    # given Ada was asked three days ago, Bo never, and Cy opted out
    task_complete(actor=rep, task=ask, outcome="declined")
    asked_at = timezone.now() - 3 * DAY
    Task.objects.filter(pk=ask.pk).update(completed_at=asked_at)
    bo = contact_create(
        actor=rep, account=contact.account, data={"first_name": "Bo", "email": "bo@acme.io"}
    )
    cy = contact_create(
        actor=rep, account=contact.account, data={"first_name": "Cy", "email": "cy@acme.io"}
    )
    contact_opt_out(actor=rep, contact=cy, how="asked on a call")
    # when the rep opens the advocate page
    response = advocacy_of(rep, contact.account)
    budgets = {b.contact.pk: b for b in response.context["budgets"]}
    # then Ada may be asked again 30 days (the default gap) after the day she was asked
    ada = budgets[contact.pk]
    next_day = asked_at.astimezone(dt.UTC).date() + dt.timedelta(days=30)
    assert (ada.last_asked, ada.next_ask, ada.may_ask_now) == (asked_at, next_day, False)
    assert ada.block is not None
    assert ada.block.gate == "contact_fatigue"
    assert (budgets[bo.pk].last_asked, budgets[bo.pk].may_ask_now) == (None, True)
    assert (budgets[cy.pk].may_ask_now, budgets[cy.pk].next_words) == (
        False,
        "never: opted out of referral asks",
    )
    page = text_of(response)
    assert f"from {next_day.day} {next_day:%b %Y}" in page
    assert "never: opted out of referral asks" in page
    header, *rows = rows_of(advocacy_of(rep, contact.account, export="contacts"))
    assert header == [
        "id",
        "name",
        "email",
        "last_asked_at",
        "next_ask_on",
        "may_ask_now",
        "opted_out",
        "why_not_now",
    ]
    by_email = {row[2]: row for row in rows}
    assert by_email["ada@acme.io"][3:7] == [
        asked_at.isoformat(),
        next_day.isoformat(),
        "false",
        "false",
    ]
    assert by_email["bo@acme.io"][3:7] == ["", "", "true", "false"]
    assert by_email["cy@acme.io"][3:7] == ["", "", "false", "true"]


def advocacy_queries(user: User, account: Account) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("account-advocacy", args=[account.pk])).status_code == 200
    return len(captured)


def test_the_advocate_pages_queries_grow_only_with_a_page_of_contacts(
    rep: User, contact: Contact, stages: dict[str, Stage], globex: Account
) -> None:
    # given more contacts than a page shows
    for i in range(board_views.CONTACTS_PAGE + 5):
        contact_create(actor=rep, account=contact.account, data={"email": f"c{i}@acme.io"})
    referred(globex, contact, stages["Prospecting"], "One", "10")
    many_introductions(contact, per_state=1)
    few = advocacy_queries(rep, contact.account)
    # when there are many more introductions, credits and contacts
    for i in range(20):
        referred(globex, contact, stages["Prospecting"], f"Deal {i}", "10")
        contact_create(actor=rep, account=contact.account, data={"email": f"more{i}@acme.io"})
    many_introductions(contact, per_state=30)
    # then the page makes as many queries as before
    assert advocacy_queries(rep, contact.account) == few


def test_an_unknown_table_export_is_refused(rep: User, account: Account) -> None:
    response = advocacy_of(rep, account, export="deals")
    assert response.status_code == 400
    assert "moments, asks, introductions, credits, contacts" in text_of(response)


def test_the_advocate_page_is_404_for_an_account_the_user_may_not_see(
    rep: User, csm: User, nobody: User, other_account: Account, account: Account
) -> None:
    for user in (rep, csm, nobody):
        assert advocacy_of(user, other_account).status_code == 404
        assert advocacy_of(user, other_account, export="credits").status_code == 404
    assert advocacy_of(nobody, account).status_code == 404
    missing = client_for(rep).get(reverse("account-advocacy", args=[987654]))
    assert missing.status_code == 404
    assert client_for(rep).post(reverse("account-advocacy", args=[account.pk])).status_code == 405
