"""Queuing referral asks after a scan: who is asked, by whom, when it is due, and why an
account was not asked."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from goodword.crm.models import Account, Activity, Contact, Task, TaskKind, TaskStatus
from goodword.engine.programme import NpsRule, Programme, ReadinessConfig
from goodword.moments.asks import ask_create, asks_create, verdicts
from goodword.moments.facts import gather, monday
from goodword.moments.models import Moment
from goodword.moments.scan import scan_run
from goodword.signals.models import EventWeek, NpsResponse
from goodword.users.models import User

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 19, 10, 0, tzinfo=dt.UTC)  # a Thursday
PROMOTER = NpsRule(id="promoter", kind="nps", weight=50, min_score=9)
PROGRAMME = Programme(rules=(PROMOTER,), readiness=ReadinessConfig(threshold=40))


@pytest.fixture
def account(rep: User) -> Account:
    """A customer for 200 days with steady usage: health 95 with a promoter answer."""
    acme = Account.objects.create(
        name="Acme",
        lifecycle="customer",
        customer_since=(NOW - dt.timedelta(days=200)).date(),
        owner=rep,
        created_at=NOW - dt.timedelta(days=400),
        updated_at=NOW,
    )
    this_week = monday(NOW.date())
    EventWeek.objects.bulk_create(
        EventWeek(account=acme, week=this_week - dt.timedelta(weeks=w), events=100)
        for w in range(1, 13)
    )
    return acme


@pytest.fixture
def jane(account: Account) -> Contact:
    return Contact.objects.create(
        account=account,
        first_name="Jane",
        last_name="Doe",
        email="jane@acme.example",
        created_at=NOW,
        updated_at=NOW,
    )


def answer(account: Account, contact: Contact | None, score: int, days_ago: float) -> None:
    NpsResponse.objects.create(
        external_id=f"nps-{NpsResponse.objects.count()}",
        account=account,
        contact=contact,
        contact_email=contact.email if contact else "",
        score=score,
        responded_at=NOW - dt.timedelta(days=days_ago),
        imported_at=NOW,
    )


def test_a_ready_healthy_account_gets_one_ask_for_its_owner(
    account: Account, jane: Contact, rep: User
) -> None:
    # Given a promoter answer from Jane yesterday (readiness 50 × 0.5^(1/14) ≈ 47.6 ≥ 40)
    answer(account, jane, 10, days_ago=1)
    # When the scan runs
    scan = scan_run(full=True, now=NOW, programme=PROGRAMME)
    # Then one ask is queued for the owner, naming Jane, due in 2 business days (Monday)
    ask = Task.objects.get(kind=TaskKind.REFERRAL_ASK)
    assert (ask.owner, ask.account, ask.contact, ask.status) == (rep, account, jane, "open")
    assert ask.due_at == dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    assert ask.subject == "Ask Jane Doe at Acme for a referral"
    assert ask.notes == ("promoter: NPS 10 from jane@acme.example on 2026-11-18; readiness 48 ≥ 40")
    assert list(Moment.objects.values_list("ask_id", flat=True)) == [ask.pk]
    assert scan.asks_created == 1
    # And a second scan queues no second ask: the open one blocks it
    again = scan_run(now=NOW + dt.timedelta(hours=1), programme=PROGRAMME)
    assert Task.objects.filter(kind=TaskKind.REFERRAL_ASK).count() == 1
    assert again.asks_created == 0
    assert again.blocked == {"open_ask": 1}


def test_an_unhealthy_account_is_not_asked_and_says_why(account: Account, jane: Contact) -> None:
    # Given a promoter answer, but no usage in the last 4 weeks (health drops below 70)
    answer(account, jane, 10, days_ago=1)
    EventWeek.objects.filter(week__gte=monday(NOW.date()) - dt.timedelta(weeks=4)).delete()
    # When the scan runs
    scan = scan_run(full=True, now=NOW, programme=PROGRAMME)
    # Then nothing is queued and the account's verdict names the health gate
    assert not Task.objects.filter(kind=TaskKind.REFERRAL_ASK).exists()
    assert scan.blocked == {"health": 1}
    verdict = verdicts(PROGRAMME, now=NOW, accounts=[account.pk])[account.pk]
    assert verdict.reasons == ["health 60 < 70"]


def test_a_recent_ask_starts_the_cooldown(account: Account, jane: Contact, rep: User) -> None:
    # Given an ask made 30 days ago, then a new promoter answer
    Task.objects.create(
        kind=TaskKind.REFERRAL_ASK,
        subject="earlier",
        owner=rep,
        account=account,
        contact=jane,
        due_at=NOW - dt.timedelta(days=32),
        status=TaskStatus.DONE,
        created_at=NOW - dt.timedelta(days=34),
        completed_at=NOW - dt.timedelta(days=30),
    )
    answer(account, jane, 9, days_ago=0.5)
    scan_run(full=True, now=NOW, programme=PROGRAMME)
    # Then no ask is queued, and the reason gives the date the cooldown ends
    assert Task.objects.filter(kind=TaskKind.REFERRAL_ASK).count() == 1
    reasons = verdicts(PROGRAMME, now=NOW, accounts=[account.pk])[account.pk].reasons
    assert reasons == ["asked on 20 Oct, cooldown until 18 Jan 2027"]


def test_a_low_readiness_is_a_reason(account: Account, jane: Contact) -> None:
    # Given a promoter answer 60 days ago: 50 × 0.5^(60/14) ≈ 2.6
    answer(account, jane, 10, days_ago=60)
    scan_run(full=True, now=NOW, programme=PROGRAMME)
    reasons = verdicts(PROGRAMME, now=NOW, accounts=[account.pk])[account.pk].reasons
    assert reasons == ["readiness 2.5 < 40"]


def test_the_database_refuses_a_second_open_ask(account: Account, jane: Contact) -> None:
    # Given the facts of a due account, an ask is created twice (two scans racing)
    answer(account, jane, 10, days_ago=1)
    scan_run(full=True, now=NOW, programme=replace(PROGRAMME, readiness=ReadinessConfig(999)))
    facts = gather([account.pk], PROGRAMME, now=NOW)[account.pk]
    first = ask_create(facts=facts, programme=PROGRAMME, now=NOW)
    second = ask_create(facts=facts, programme=PROGRAMME, now=NOW)
    # Then the second is refused by the unique constraint and nothing else changed
    assert first is not None
    assert second is None
    assert Task.objects.filter(kind=TaskKind.REFERRAL_ASK).count() == 1


def test_asks_made_together_leave_out_only_the_one_the_database_refuses(
    account: Account, jane: Contact, rep: User
) -> None:
    # Given two due accounts, one of which got an open ask meanwhile (another scan)
    other = Account.objects.create(
        name="Other",
        lifecycle="customer",
        customer_since=account.customer_since,
        owner=rep,
        created_at=NOW,
        updated_at=NOW,
    )
    bob = Contact.objects.create(
        account=other, first_name="Bob", email="bob@other.example", created_at=NOW, updated_at=NOW
    )
    answer(account, jane, 10, days_ago=1)
    answer(other, bob, 10, days_ago=1)
    scan_run(full=True, now=NOW, programme=replace(PROGRAMME, readiness=ReadinessConfig(999)))
    facts = gather([account.pk, other.pk], PROGRAMME, now=NOW)
    first = ask_create(facts=facts[account.pk], programme=PROGRAMME, now=NOW)
    assert first is not None
    # When both asks are made in one batch
    made = asks_create([facts[account.pk], facts[other.pk]], programme=PROGRAMME, now=NOW)
    # Then the batch falls back to one by one: Other's ask is made, with its moment and
    # timeline row, and Acme keeps its one open ask
    assert [t.account for t in made] == [other]
    assert Task.objects.filter(kind=TaskKind.REFERRAL_ASK, account=account).count() == 1
    assert list(Moment.objects.filter(account=other).values_list("ask_id", flat=True)) == [
        made[0].pk
    ]
    assert Activity.objects.filter(verb="ask.queued", object_id=made[0].pk).count() == 1


def test_asks_made_together_are_the_rows_one_at_a_time_makes(
    account: Account, jane: Contact
) -> None:
    # Given a due account's facts
    answer(account, jane, 10, days_ago=1)
    scan_run(full=True, now=NOW, programme=replace(PROGRAMME, readiness=ReadinessConfig(999)))
    facts = gather([account.pk], PROGRAMME, now=NOW)[account.pk]
    # When its ask is made in a batch, and again (after closing it) on its own
    (batched,) = asks_create([facts], programme=PROGRAMME, now=NOW)
    Task.objects.filter(pk=batched.pk).update(status=TaskStatus.DONE)
    single = ask_create(facts=facts, programme=PROGRAMME, now=NOW)
    assert single is not None
    # Then both wrote the same task and timeline row
    fields = ("kind", "subject", "owner_id", "account_id", "contact_id", "due_at", "notes")
    rows = Task.objects.filter(pk__in=[batched.pk, single.pk]).order_by("pk").values_list(*fields)
    assert rows[0] == rows[1]
    summaries = Activity.objects.filter(verb="ask.queued").order_by("pk")
    assert [a.summary for a in summaries] == [summaries[0].summary] * 2
    assert [a.object_id for a in summaries] == [batched.pk, single.pk]


def test_without_a_named_contact_the_most_engaged_one_is_asked(account: Account) -> None:
    # Given an anonymous promoter answer, and Sam who answered twice before while Jane did once
    sam = Contact.objects.create(
        account=account, first_name="Sam", email="sam@acme.example", created_at=NOW, updated_at=NOW
    )
    jane = Contact.objects.create(
        account=account, first_name="Jane", email="j@acme.example", created_at=NOW, updated_at=NOW
    )
    answer(account, sam, 8, days_ago=100)
    answer(account, sam, 8, days_ago=90)
    answer(account, jane, 8, days_ago=80)
    answer(account, None, 10, days_ago=1)
    scan_run(full=True, now=NOW, programme=PROGRAMME)
    assert Task.objects.get(kind=TaskKind.REFERRAL_ASK).contact == sam


def test_the_ready_accounts_are_those_whose_readiness_reaches_the_threshold(rep: User) -> None:
    # Given 60 accounts with moments of two rules at random ages (some retracted, some of a
    # rule no longer in the programme, some after now), and one exactly at the threshold
    import random

    from goodword.engine.programme import PraiseRule
    from goodword.moments.facts import moments_by_account, readiness_of, ready_moments

    praise = PraiseRule(id="praise", kind="praise", weight=15)
    programme = Programme(rules=(PROMOTER, praise), readiness=ReadinessConfig(threshold=40))
    rng = random.Random(7)
    accounts = [
        Account.objects.create(
            name=f"A{i}", lifecycle="customer", owner=rep, created_at=NOW, updated_at=NOW
        )
        for i in range(60)
    ]
    rows = []
    for account in accounts:
        for n in range(rng.randint(0, 6)):
            at = NOW - dt.timedelta(days=rng.uniform(-5, 200))
            rows.append(
                Moment(
                    account=account,
                    rule_id=rng.choice(["promoter", "praise", "praise", "gone"]),
                    kind="nps",
                    key=str(n),
                    occurred_at=at,
                    evidence="e",
                    found_at=NOW,
                    updated_at=NOW,
                    retracted_at=NOW if rng.random() < 0.1 else None,
                )
            )
    edge = Account.objects.create(
        name="Edge", lifecycle="customer", owner=rep, created_at=NOW, updated_at=NOW
    )
    # 50 × 0.5 + 15 × 0.5 + 15 × 0.5 = 40 exactly, all 14 days (one half-life) old
    rows += [
        Moment(
            account=edge,
            rule_id=rule_id,
            kind="nps",
            key=key,
            occurred_at=NOW - dt.timedelta(days=14),
            evidence="e",
            found_at=NOW,
            updated_at=NOW,
        )
        for rule_id, key in (("promoter", "1"), ("praise", "2"), ("praise", "3"))
    ]
    Moment.objects.bulk_create(rows)
    # When the ready accounts are found
    ready = ready_moments(programme, now=NOW)
    # Then they are exactly those whose readiness, computed from all their moments, reaches
    # the threshold, each with the moments moments_by_account gives it
    everything = moments_by_account(programme, now=NOW)
    expected = {a: ms for a, ms in everything.items() if readiness_of(ms, programme, NOW) >= 40}
    assert ready == expected
    assert edge.pk in ready
    assert readiness_of(ready[edge.pk], programme, NOW) == 40.0
    assert 0 < len(ready) < len(everything)


def test_reference_and_review_asks_spend_the_contacts_fatigue_budget(
    account: Account, jane: Contact, rep: User
) -> None:
    # Given Jane asked for a review 20 days ago and for a reference call 200 days ago (done),
    # an open review ask and a reference ask to someone else (neither counts)
    sam = Contact.objects.create(
        account=account, first_name="Sam", email="sam@acme.example", created_at=NOW, updated_at=NOW
    )

    def made(kind: str, who: Contact, days_ago: int, status: str = TaskStatus.DONE) -> None:
        at = NOW - dt.timedelta(days=days_ago)
        Task.objects.create(
            kind=kind, subject=kind, owner=rep, account=account, contact=who, status=status,
            created_at=at, due_at=at, completed_at=at if status == TaskStatus.DONE else None,
        )  # fmt: skip

    made(TaskKind.REVIEW_ASK, jane, 20)
    made(TaskKind.REFERENCE_ASK, jane, 200)
    made(TaskKind.REVIEW_ASK, jane, 5, status=TaskStatus.OPEN)
    made(TaskKind.REFERENCE_ASK, sam, 3)
    answer(account, jane, 10, days_ago=1)
    # When the verdicts are read
    verdict = verdicts(PROGRAMME, now=NOW, accounts=[account.pk])[account.pk]
    # Then only the fatigue gate holds the referral ask back: 30 days apart since 30 Oct
    assert sorted(verdict.facts.gate.contact_all_asks) == [
        NOW - dt.timedelta(days=200),
        NOW - dt.timedelta(days=20),
    ]
    assert [(b.gate, b.reason, b.until) for b in verdict.blocks] == [
        (
            "contact_fatigue",
            "Jane Doe: last asked on 30 Oct (asks 30 days apart), until 29 Nov",
            dt.date(2026, 11, 29),
        )
    ]
    # And the scan queues nothing, counting the block
    scan = scan_run(full=True, now=NOW, programme=PROGRAMME)
    assert not Task.objects.filter(kind=TaskKind.REFERRAL_ASK).exists()
    assert scan.blocked == {"contact_fatigue": 1}
