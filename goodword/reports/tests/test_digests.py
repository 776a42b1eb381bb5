"""The weekly digests: who gets which (managers the reports, owners their week; opted-out,
inactive and idle people nothing), what they say for a small world pinned to Monday 11 May
2026 07:00 UTC, the outbox rows written once a week however often the worker asks, the
upkeep's schedule, and the opt-out page (GET changes nothing, anonymous users are sent to log
in)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from goodword.crm.models import Account, Contact, Deal, Stage, Task
from goodword.crm.services import deal_move, task_create
from goodword.engine.intros import IntroState
from goodword.jobs.models import Job, JobStatus
from goodword.jobs.services import HANDLERS, UPKEEP
from goodword.referrals.models import Introduction
from goodword.reports import digests
from goodword.reports.catalogue import NAMES, report_build
from goodword.reports.filters import Filters
from goodword.reports.report import Column, Report, Table
from goodword.users.models import User
from goodword.users.services import user_digests_set

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 11, 7, 0, tzinfo=dt.UTC)  # a Monday, the digest hour
SITE = "http://testserver"
DAY = dt.timedelta(days=1)
EMPTY_BAR = " " * 24  # a text chart's zero: two spaces, 20 of no bar, two spaces


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE


@dataclass
class World:
    rep: User
    other_rep: User
    manager: User
    overdue: Task
    due: Task
    consent: Introduction
    agreed: Introduction
    referral: Deal


def ask(owner: User, account: Account, contact: Contact, kind: str, subject: str, due: Any) -> Task:
    return task_create(
        actor=None,
        owner=owner,
        account=account,
        contact=contact,
        data={"kind": kind, "subject": subject, "due_at": due.isoformat()},
    )


def intro(
    advocate: Contact, owner: User, state: IntroState, since: dt.datetime, **fields: Any
) -> Introduction:
    return Introduction.objects.create(
        state=state.value,
        advocate_account=advocate.account,
        advocate=advocate,
        owner=owner,
        waiting_since=since,
        created_at=since,
        updated_at=since,
        **fields,
    )


def deal(
    account: Account,
    owner: User,
    stage: Stage,
    name: str,
    amount: str,
    source: str,
    created: dt.datetime,
) -> Deal:
    return Deal.objects.create(
        account=account, owner=owner, stage=stage, name=name, amount=Decimal(amount),
        currency="USD", source=source, created_at=created, updated_at=created,
    )  # fmt: skip


@pytest.fixture
def world(
    rep: User,
    other_rep: User,
    manager: User,
    csm: User,
    account: Account,
    contact: Contact,
    other_account: Account,
    other_contact: Contact,
    stages: dict[str, Stage],
) -> World:
    """rep: an ask overdue, one due this week, one due next week, one done, and a call due;
    two introductions under way and one declined; a referred deal moved twice (once within
    the week) and an inbound deal moved this week. other_rep: an introduction under way."""
    overdue = ask(
        rep,
        account,
        contact,
        "referral_ask",
        "Ask Ada for a referral",
        NOW - 3 * DAY - dt.timedelta(hours=2),
    )
    due = ask(rep, account, contact, "review_ask", "Ask Ada for a review", NOW + 2 * DAY)
    ask(rep, account, contact, "reference_ask", "Ask Ada for a reference call", NOW + 8 * DAY)
    done = ask(rep, account, contact, "reference_ask", "Ask Ada to speak at the event", NOW - DAY)
    Task.objects.filter(pk=done.pk).update(status="done", completed_at=NOW - DAY)
    ask(rep, account, contact, "call", "Call Ada about the rollout", NOW - DAY)
    consent = intro(
        contact,
        rep,
        IntroState.AWAITING_CONSENT,
        NOW - 3 * DAY,
        person_name="Grace Hopper",
        person_company="Globex",
    )
    agreed = intro(contact, rep, IntroState.ADVOCATE_AGREED, NOW - dt.timedelta(hours=5))
    intro(
        contact,
        rep,
        IntroState.DECLINED,
        NOW - 2 * DAY,
        person_name="Alan Turing",
        closed_at=NOW - 2 * DAY,
    )
    intro(
        other_contact,
        other_rep,
        IntroState.AWAITING_CONSENT,
        NOW - 6 * DAY,
        person_name="Edsger Dijkstra",
    )
    referral = deal(
        account, rep, stages["Prospecting"], "Acme referral", "30000", "referral", NOW - 20 * DAY
    )
    deal_move(actor=rep, deal=referral, stage=stages["Qualification"], at=NOW - 10 * DAY)
    deal_move(actor=rep, deal=referral, stage=stages["Proposal/Price Quote"], at=NOW - 2 * DAY)
    inbound = deal(
        account, rep, stages["Prospecting"], "Acme expansion", "12000", "inbound", NOW - 40 * DAY
    )
    deal_move(actor=rep, deal=inbound, stage=stages["Qualification"], at=NOW - DAY)
    deal(
        other_account,
        other_rep,
        stages["Negotiation/Review"],
        "Zenith renewal",
        "8000",
        "outbound",
        NOW - 50 * DAY,
    )
    return World(rep, other_rep, manager, overdue, due, consent, agreed, referral)  # fmt: skip


def digest_emails() -> dict[str, dict[str, Any]]:
    """The digests in the outbox by recipient."""
    rows = Job.objects.filter(kind="email.send", key__startswith="digest-email:")
    return {row.payload["to"][0]: row.payload for row in rows}


def run_digest_jobs() -> None:
    for job in Job.objects.filter(kind="reports.digest", status=JobStatus.QUEUED):
        HANDLERS["reports.digest"](job.payload)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE)


# --- who gets which ------------------------------------------------------------------------


def test_managers_get_the_reports_and_owners_their_week(world: World, csm: User) -> None:
    # given the world, where the CSM and the manager own nothing
    # when the upkeep runs at the digest hour and the worker runs the jobs
    assert digests.digests_tend(now=NOW) == 3
    run_digest_jobs()
    # then the manager gets the manager digest, each rep an owner digest, the CSM nothing
    emails = digest_emails()
    assert sorted(emails) == sorted([world.manager.email, world.rep.email, world.other_rep.email])
    assert emails[world.manager.email]["subject"] == "Goodword weekly digest: week of 11 May 2026"
    assert emails[world.rep.email]["subject"] == (
        "Your week in Goodword: 1 ask overdue, 1 ask due, 2 introductions waiting, "
        "1 referred deal moved"
    )
    assert emails[world.other_rep.email]["subject"] == (
        "Your week in Goodword: 1 introduction waiting"
    )
    keys = set(Job.objects.filter(kind="reports.digest").values_list("key", flat=True))
    assert keys == {
        f"digest:2026-05-11:manager:{world.manager.pk}",
        f"digest:2026-05-11:owner:{world.rep.pk}",
        f"digest:2026-05-11:owner:{world.other_rep.pk}",
    }
    # the outbox row says whom to tell if it bounces, and it is internal (no unsubscribe)
    row = Job.objects.get(key=f"digest-email:2026-05-11:owner:{world.rep.pk}")
    assert (row.owner_id, row.about) == (
        world.rep.pk,
        "weekly owner digest to rep@example.com (week of 2026-05-11)",
    )
    assert row.payload["unsubscribe_url"] == ""
    assert row.payload["body_html"].startswith("<!doctype html>")


def test_opted_out_and_inactive_people_get_nothing(world: World, other_manager: User) -> None:
    # given one manager and one rep who opted out, and a manager no longer active
    user_digests_set(user=world.manager, receive=False, now=NOW - DAY)
    user_digests_set(user=world.rep, receive=False, now=NOW - DAY)
    User.objects.filter(pk=other_manager.pk).update(is_active=False)
    # when the digests go out
    digests.digests_tend(now=NOW)
    run_digest_jobs()
    # then only the other rep gets one
    assert list(digest_emails()) == [world.other_rep.email]


def test_an_opt_out_after_the_job_was_queued_still_stops_the_email(world: World) -> None:
    # given the week's jobs queued
    digests.digests_tend(now=NOW)
    # when the rep opts out before the worker runs them
    user_digests_set(user=world.rep, receive=False, now=NOW)
    run_digest_jobs()
    # then the rep gets nothing
    assert world.rep.email not in digest_emails()


def test_nothing_to_say_means_no_email(manager: User, rep: User, stages: dict[str, Stage]) -> None:
    # given a company without deals, asks or introductions
    # when the manager's and the rep's digests are built and sent
    assert digests.manager_digest(manager, now=NOW) is None
    assert digests.owner_digest(rep, now=NOW) is None
    assert digests.digest_send(user=manager, kind="manager", now=NOW) is False
    assert digests.digest_send(user=rep, kind="owner", now=NOW) is False
    # then nothing is written to the outbox
    assert not Job.objects.filter(kind="email.send").exists()


def test_an_owner_with_only_closed_work_is_not_a_recipient(world: World, csm: User) -> None:
    # given a week later: the asks are still open and overdue, but nothing else is new
    later = NOW + 7 * DAY
    Task.objects.filter(owner=world.rep).update(status="done")
    Introduction.objects.filter(owner=world.rep).update(state="withdrawn")
    # when the recipients are chosen
    recipients = digests.digest_recipients(now=later)
    # then the rep, whose referred deal has not moved in seven days, is not among the owners
    assert world.rep.pk not in recipients["owner"]
    assert world.other_rep.pk in recipients["owner"]
    assert recipients["manager"] == [world.manager.pk]


# --- what they say -------------------------------------------------------------------------


def test_the_owner_digest_lists_asks_introductions_and_moves(world: World) -> None:
    # given the world
    # when the rep's digest is sent
    assert digests.digest_send(user=world.rep, kind="owner", now=NOW) is True
    # then its text says, line by line, what is due, waiting and moved, with links
    text = digest_emails()[world.rep.email]["body_text"]
    assert text.splitlines() == [
        "Hi Rep, your week in Goodword (11 May 2026):",
        "",
        "Asks overdue",
        "- Ask Ada for a referral (Acme Analytics), due Fri 8 May, 3 days overdue",
        f"  {SITE}/tasks/{world.overdue.pk}/",
        "",
        "Asks due this week",
        "- Ask Ada for a review (Acme Analytics), due Wed 13 May",
        f"  {SITE}/tasks/{world.due.pk}/",
        "",
        "Introductions waiting",
        "- Grace Hopper (Globex), introduced by Acme Analytics: "
        "awaiting contact consent for 3 days",
        f"  {SITE}/introductions/{world.consent.pk}/",
        "- A person not yet named, introduced by Acme Analytics: "
        "advocate agreed for less than a day",
        f"  {SITE}/introductions/{world.agreed.pk}/",
        "",
        "Referred deals that moved this week",
        "- Acme referral (Acme Analytics): Qualification → Proposal/Price Quote on Sat 9 May",
        f"  {SITE}/deals/{world.referral.pk}/",
        "",
        "--",
        "You get this digest because you own asks, introductions or referred deals. "
        f"To stop it: {SITE}/account/digests/",
    ]


def test_the_owner_digest_html_links_each_line_and_the_opt_out(world: World) -> None:
    digests.digest_send(user=world.rep, kind="owner", now=NOW)
    html = digest_emails()[world.rep.email]["body_html"]
    assert (
        f'<li><a href="{SITE}/tasks/{world.overdue.pk}/" style="color:#1d2330">Ask Ada for a '
        "referral (Acme Analytics), due Fri 8 May, 3 days overdue</a></li>"
    ) in html
    assert f'<a href="{SITE}/account/digests/" style="color:#5b6475">Stop these digests</a>' in html


def test_a_long_section_lists_twenty_and_links_the_rest(
    rep: User, account: Account, contact: Contact
) -> None:
    # given 23 review asks overdue
    for i in range(23):
        ask(
            rep,
            account,
            contact,
            "review_ask",
            f"Review ask {i:02}",
            NOW - DAY - i * dt.timedelta(minutes=1),
        )
    # when the digest is built
    digest = digests.owner_digest(rep, now=NOW)
    # then it lists 20 and says how many more, and the subject counts all of them
    assert digest is not None
    [section] = digest.sections
    assert (len(section.lines), section.more, section.more_url) == (20, 3, f"{SITE}/")
    assert digest.subject_parts == ["23 asks overdue"]


def test_the_manager_digest_has_each_report_headline_and_text_charts(world: World) -> None:
    # given the world
    # when the manager's digest is sent
    assert digests.digest_send(user=world.manager, kind="manager", now=NOW) is True
    text = digest_emails()[world.manager.email]["body_text"]
    # then every report's headline is there
    for name in NAMES:
        report = report_build(name, user=world.manager, filters=Filters(), today=NOW.date())
        assert f"\n{report.headline}\n" in text
    # and the pipeline's section reads, line by line
    lines = text.splitlines()
    start = lines.index("Pipeline and forecast by source")
    end = lines.index(f"Full report: {SITE}/reports/pipeline/")
    assert lines[start : end + 1] == [
        "Pipeline and forecast by source",
        "Referred deals are 1 of 3 open deals and 60 % of the open amount (USD 30k of USD 50k; "
        "USD 22.5k weighted); USD 0 referred is expected to close this quarter.",
        "",
        "Open amount by source (USD)",
        "  Referral  ####################  USD 30k",
        "  Inbound   ########              USD 12k",
        "  Outbound  #####                 USD 8k",
        "",
        "Referred amount created per month (USD)",
        f"  2025-06{EMPTY_BAR}USD 0",
        f"  2025-07{EMPTY_BAR}USD 0",
        f"  2025-08{EMPTY_BAR}USD 0",
        f"  2025-09{EMPTY_BAR}USD 0",
        f"  2025-10{EMPTY_BAR}USD 0",
        f"  2025-11{EMPTY_BAR}USD 0",
        f"  2025-12{EMPTY_BAR}USD 0",
        f"  2026-01{EMPTY_BAR}USD 0",
        f"  2026-02{EMPTY_BAR}USD 0",
        f"  2026-03{EMPTY_BAR}USD 0",
        "  2026-04  ####################  USD 30k",
        f"  2026-05{EMPTY_BAR}USD 0",
        "",
        f"Full report: {SITE}/reports/pipeline/",
    ]
    assert lines[-2:] == [
        "--",
        f"You get this digest as a manager. To stop it: {SITE}/account/digests/",
    ]


def test_the_manager_digest_html_draws_bars_as_table_cells_not_svg(world: World) -> None:
    digests.digest_send(user=world.manager, kind="manager", now=NOW)
    html = digest_emails()[world.manager.email]["body_html"]
    assert "<svg" not in html
    assert '<td style="width:40%;height:12px;background:#3b6fd8;font-size:0;line-height:0">' in html
    assert (
        f'<a href="{SITE}/reports/pipeline/" style="color:#3b6fd8">Open the full report</a>' in html
    )


def test_a_report_without_chosen_charts_gets_one_per_table() -> None:
    # given a report the digests know nothing about, with a label and a count column
    table = Table(
        "by_rep",
        "Deals by rep",
        [Column("rep", "Rep"), Column("deals", "Deals", "count"), Column("note", "Note")],
        [{"rep": "Ann <b>", "deals": 4, "note": ""}, {"rep": "Bob", "deals": 1, "note": ""}],
    )
    report = Report("reps", "Reps", Filters(), "USD", (NOW.date(), NOW.date()), "", [table])
    # when its charts are drawn
    [chart] = digests.report_charts(report)
    # then the first count column is drawn against the text column before it
    assert chart.title == "Deals by rep: Deals"
    assert [(b.label, b.value, b.share) for b in chart.bars] == [
        ("Ann <b>", "4", 100),
        ("Bob", "1", 25),
    ]


def test_a_rep_sees_only_their_own_in_the_owner_digest(world: World) -> None:
    # given the world, where other_rep owns an introduction from another account
    # when each rep's digest is built
    mine = digests.owner_digest(world.rep, now=NOW)
    theirs = digests.owner_digest(world.other_rep, now=NOW)
    # then neither lists the other's records
    assert mine is not None
    assert theirs is not None
    assert "Edsger" not in " ".join(line.text for s in mine.sections for line in s.lines)
    assert [line.text for s in theirs.sections for line in s.lines] == [
        "Edsger Dijkstra, introduced by Zenith Logistics: awaiting contact consent for 6 days"
    ]


# --- once a week ---------------------------------------------------------------------------


def test_sending_twice_in_a_week_sends_once(world: World) -> None:
    # given the week's digests sent
    digests.digests_tend(now=NOW)
    run_digest_jobs()
    first = Job.objects.filter(kind="email.send").count()
    # when the upkeep runs again later that day, and a retried job runs again
    assert digests.digests_tend(now=NOW + dt.timedelta(hours=5)) == 0
    assert (
        digests.digest_send(user=world.rep, kind="owner", now=NOW + dt.timedelta(hours=1)) is False
    )
    # then no second e-mail is written
    assert first == 3
    assert Job.objects.filter(kind="email.send").count() == 3


def test_the_next_week_sends_again(world: World) -> None:
    digests.digests_tend(now=NOW)
    run_digest_jobs()
    # when the next Monday comes (the overdue ask still open)
    assert digests.digests_tend(now=NOW + 7 * DAY) == 3
    run_digest_jobs()
    assert Job.objects.filter(key__startswith="digest-email:2026-05-18:").count() == 3


@pytest.mark.parametrize(
    ("at", "runs"),
    [
        (dt.datetime(2026, 5, 11, 6, 59, tzinfo=dt.UTC), False),  # Monday, before the hour
        (dt.datetime(2026, 5, 11, 7, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 5, 11, 23, 50, tzinfo=dt.UTC), True),  # catching up the same day
        (dt.datetime(2026, 5, 12, 7, 0, tzinfo=dt.UTC), False),  # Tuesday
        (dt.datetime(2026, 5, 10, 7, 0, tzinfo=dt.UTC), False),  # Sunday
        (
            dt.datetime(2026, 5, 11, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))),
            False,
        ),  # 06:00 UTC
    ],
)
def test_the_upkeep_queues_digests_on_the_weekday_from_the_hour_only(
    world: World, at: dt.datetime, runs: bool
) -> None:
    queued = digests.digests_tend(now=at)
    assert (queued > 0) is runs
    assert Job.objects.filter(kind="reports.digest").exists() is runs


def test_the_upkeep_is_registered_for_the_worker() -> None:
    assert UPKEEP["reports.digests"].every == dt.timedelta(minutes=10)
    assert "reports.digest" in HANDLERS


def test_the_digest_week_is_named_by_its_monday() -> None:
    assert digests.digest_week(dt.datetime(2026, 5, 17, 23, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 5, 11
    )
    assert digests.digest_week(NOW) == dt.date(2026, 5, 11)


# --- the opt-out page ----------------------------------------------------------------------


def test_get_shows_the_form_and_changes_nothing(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.get(reverse("account-digests"))
    assert response.status_code == 200
    assert b'name="digests" value="stop"' in response.content
    rep.refresh_from_db()
    assert rep.digest_opt_out_at is None


def test_post_stops_and_resumes_the_digests(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.post(reverse("account-digests"), {"digests": "stop"})
    assert (response.status_code, response["Location"]) == (302, reverse("account-digests"))
    rep.refresh_from_db()
    stopped = rep.digest_opt_out_at
    assert stopped is not None
    # a second stop keeps the first time
    client.post(reverse("account-digests"), {"digests": "stop"})
    rep.refresh_from_db()
    assert rep.digest_opt_out_at == stopped
    assert b'name="digests" value="resume"' in client.get(reverse("account-digests")).content
    client.post(reverse("account-digests"), {"digests": "resume"})
    rep.refresh_from_db()
    assert rep.digest_opt_out_at is None


def test_post_without_a_choice_is_refused(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.post(reverse("account-digests"), {"digests": "maybe"})
    assert response.status_code == 400
    rep.refresh_from_db()
    assert rep.digest_opt_out_at is None


def test_anonymous_users_are_sent_to_log_in(client: Client, rep: User) -> None:
    for response in (
        client.get(reverse("account-digests")),
        client.post(reverse("account-digests"), {"digests": "stop"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    rep.refresh_from_db()
    assert rep.digest_opt_out_at is None
