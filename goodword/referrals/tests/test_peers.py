"""Whom to ask for, from the records: relationships, mentions in the advocate account's words
and lookalikes, merged into one ranked list; customers, churned accounts and opted-out
people never in it, prospects someone works left out of the lookalikes or flagged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from goodword.crm.models import Account, Contact, Lifecycle, Stage
from goodword.crm.services import (
    account_create,
    account_update,
    contact_create,
    contact_update,
    deal_create,
    task_create,
)
from goodword.engine.peers import Suggestion
from goodword.moments.models import Moment
from goodword.referrals import peers
from goodword.referrals.peers import peers_cache_clear, peers_cache_wait, peers_for
from goodword.signals.models import EventWeek, Message, Ticket
from goodword.users.models import User

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
USAGE = "your advocate's success came from report created milestones"
NO_USAGE = (
    f"product usage not compared: no prospect has used the product in the last 8 weeks ({USAGE})"
)
SAME = "same industry (Software), same size (201\u2013500 staff), same country (US)"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    peers_cache_clear()
    yield
    peers_cache_clear()


def company(name: str, domain: str = "", lifecycle: str = "prospect", **data: Any) -> Account:
    fields = {"name": name, "domain": domain, "lifecycle": lifecycle, **data}
    return account_create(actor=None, data=fields)


def person(at: Account, first: str, last: str, **data: Any) -> Contact:
    email = f"{first.lower()}@{at.domain or 'example.com'}"
    fields = {"first_name": first, "last_name": last, "email": email, **data}
    return contact_create(actor=None, account=at, data=fields)


def message(at: Account, text: str, days_ago: int, channel: str = "email") -> None:
    when = NOW - dt.timedelta(days=days_ago)
    Message.objects.create(
        external_id=f"m-{Message.objects.count()}",
        account=at,
        received_at=when,
        channel=channel,
        text=text,
        praise=0.5,
        imported_at=when,
    )


def ticket(at: Account, text: str, days_ago: int) -> None:
    when = NOW - dt.timedelta(days=days_ago)
    Ticket.objects.create(
        external_id=f"t-{Ticket.objects.count()}",
        account=at,
        opened_at=when,
        text=text,
        praise=0.1,
        imported_at=when,
    )


def call_notes(owner: User, at: Account, subject: str, notes: str, days_ago: int) -> None:
    task = task_create(
        actor=None,
        owner=owner,
        account=at,
        data={"kind": "call", "subject": subject, "due_at": NOW.isoformat(), "notes": notes},
    )
    type(task).objects.filter(pk=task.pk).update(created_at=NOW - dt.timedelta(days=days_ago))


def milestone(at: Account, event: str) -> None:
    Moment.objects.create(
        account=at,
        rule_id="reports",
        kind="milestone",
        key="100",
        occurred_at=NOW - dt.timedelta(days=20),
        evidence=f"{event} reached 100",
        data={"threshold": "100", "event": event},
        found_at=NOW,
        updated_at=NOW,
    )


def open_deal(at: Account, owner: User, stage: Stage, name: str) -> None:
    deal_create(actor=None, account=at, owner=owner, stage=stage, data={"name": name})


def software(name: str, domain: str, employees: int = 300, country: str = "US") -> Account:
    return company(name, domain, industry="Software", employees=employees, country=country)


@pytest.fixture
def world(
    rep: User, other_rep: User, account: Account, contact: Contact, stages: dict[str, Stage]
) -> dict[str, Account]:
    """Acme Analytics (a US software customer of 250, whose report milestones made it
    successful) and Ada Lovelace there, who once worked at globex.com and initech.com."""
    found = {
        "globex": company("Globex Corp", "globex.com"),
        "initech": company("Initech", "initech.com", lifecycle="customer"),
        "soylent": company("Soylent Foods", "soylent.example", industry="Retail"),
        "cyberdyne": company("Cyberdyne Systems", "cyberdyne.example"),
        "umbrella": software("Umbrella Freight Corp", "umbrella.example"),
        "hooli": software("Hooli Health", "hooli.example"),
        "vandelay": company("Vandelay Imports", "vandelay.example"),
        "stark": software("Stark Software", "stark.example"),
        "tyrell": software("Tyrell Labs", "tyrell.example", employees=120, country="GB"),
        "wayne": software("Wayne Analytics", "wayne.example"),
        "oscorp": company(
            "Oscorp", "oscorp.example", "churned", industry="Software", employees=300, country="US"
        ),
        "nakatomi": software("Nakatomi Trading", "nakatomi.example", country="DE"),
    }
    person(found["soylent"], "Dana", "Lee", title="Head of IT", past_employers="acme.io")
    gone = person(found["cyberdyne"], "Miles", "Dyson", past_employers="acme.io")
    Contact.objects.filter(pk=gone.pk).update(opted_out_at=NOW)
    person(found["initech"], "Bill", "Lumbergh", past_employers="acme.io")
    ticket(account, "We told our friends at Umbrela Freight about the rollout.", days_ago=30)
    message(account, "Hooli Health saw our dashboards and loved them", days_ago=10)
    message(account, "Initech and Oscorp both asked how we did it", days_ago=5)
    message(account, "Back in 2024 Nakatomi Trading wanted the same", days_ago=400)
    call_notes(rep, account, "QBR", "Ada knows the CFO of Vandelay Imports well.", days_ago=60)
    open_deal(found["hooli"], other_rep, stages["Proposal/Price Quote"], "Hooli new")
    open_deal(found["wayne"], rep, stages["Prospecting"], "Wayne new")
    milestone(account, "report_created")
    return found


def test_whom_to_ask_for_ranks_the_three_sources_with_their_reasons(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # when the prospects to ask Ada about are listed
    found = peers_for(account=account, contact=contact, now=NOW)

    # then relationships and mentions lead, lookalikes follow, one line per prospect
    w = {key: a.pk for key, a in world.items()}
    dana = Contact.objects.get(email="dana@soylent.example")
    assert found == [
        Suggestion(
            w["umbrella"],
            "Umbrella Freight Corp",
            "Umbrella Freight Corp",
            "mention",
            3.309,  # a mention 30 days old, 2.459, and a lookalike, 0.85
            [
                "named in a support ticket on 11 February 2026: "
                "“We told our friends at Umbrela Freight about the rollout.”",
                SAME,
                NO_USAGE,
            ],
        ),
        Suggestion(
            w["globex"],
            "Globex Corp",
            "Globex Corp",
            "relationship",
            3.0,
            ["Ada Lovelace used to work at Globex Corp (globex.com)"],
        ),
        Suggestion(
            w["soylent"],
            "Dana Lee",
            "Soylent Foods",
            "relationship",
            2.5,
            ["Dana Lee (Head of IT) used to work at Acme Analytics (your advocate's company)"],
            dana.pk,
        ),
        Suggestion(
            w["hooli"],
            "Hooli Health",
            "Hooli Health",
            "mention",
            2.486,  # no lookalike points: it is in an open deal
            [
                "named in an email on 3 March 2026: "
                "“Hooli Health saw our dashboards and loved them”",
                "already being worked by Other.Rep (open deal at Proposal/Price Quote): "
                "talk to them first",
            ],
        ),
        Suggestion(
            w["vandelay"],
            "Vandelay Imports",
            "Vandelay Imports",
            "mention",
            2.418,
            [
                "named in the notes of the call “QBR” on 12 January 2026: "
                "“Ada knows the CFO of Vandelay Imports well.”"
            ],
        ),
        Suggestion(
            w["stark"], "Stark Software", "Stark Software", "lookalike", 0.85, [SAME, NO_USAGE]
        ),
        Suggestion(
            w["nakatomi"],
            "Nakatomi Trading",
            "Nakatomi Trading",
            "lookalike",
            0.65,
            ["same industry (Software), same size (201\u2013500 staff)", NO_USAGE],
        ),
        Suggestion(
            w["tyrell"],
            "Tyrell Labs",
            "Tyrell Labs",
            "lookalike",
            0.5,
            [
                "same industry (Software), similar size (51\u2013200 staff; your advocate's "
                "company: 201\u2013500 staff)",
                NO_USAGE,
            ],
        ),
    ]


def test_customers_churned_accounts_opted_out_people_and_taken_lookalikes_never_appear(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # when listed with room for everyone
    found = peers_for(account=account, contact=contact, now=NOW, limit=100)

    # then Initech (a customer, mentioned and Ada's past employer), Oscorp (churned),
    # Cyberdyne (its alumnus opted out), Wayne (a lookalike in an open deal), Acme itself and
    # Nakatomi's year-old mention are not there
    names = {s.company for s in found}
    assert names == {
        "Umbrella Freight Corp",
        "Globex Corp",
        "Soylent Foods",
        "Hooli Health",
        "Vandelay Imports",
        "Stark Software",
        "Nakatomi Trading",
        "Tyrell Labs",
    }
    assert not [s for s in found if s.company == "Nakatomi Trading" and s.kind != "lookalike"]


def test_the_limit_keeps_the_best(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    found = peers_for(account=account, contact=contact, now=NOW, limit=2)
    assert [s.company for s in found] == ["Umbrella Freight Corp", "Globex Corp"]


def test_a_deal_in_the_first_stage_or_the_asks_owners_own_is_flagged_without_a_warning(
    world: dict[str, Account],
    account: Account,
    contact: Contact,
    rep: User,
    other_rep: User,
    stages: dict[str, Stage],
) -> None:
    # given Globex in another rep's first-stage deal, Vandelay in the ask owner's later one
    open_deal(world["globex"], other_rep, stages["Prospecting"], "Globex new")
    open_deal(world["vandelay"], rep, stages["Negotiation/Review"], "Vandelay new")

    # when listed for the ask's owner
    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW, owner=rep)}

    # then both stay, with who owns the deal
    assert found["Globex Corp"].reasons[-1] == "in an open deal owned by Other.Rep (Prospecting)"
    assert found["Vandelay Imports"].reasons[-1] == (
        "in an open deal owned by Rep (Negotiation/Review)"
    )
    # and for another owner, Vandelay's later-stage deal is someone else's work
    theirs = peers_for(account=account, contact=contact, now=NOW, owner=other_rep)
    vandelay = next(s for s in theirs if s.company == "Vandelay Imports")
    assert vandelay.reasons[-1] == (
        "already being worked by Rep (open deal at Negotiation/Review): talk to them first"
    )


def test_product_usage_counts_for_lookalikes(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # given Tyrell trying the product these weeks, and Stark before the window
    monday = dt.date(2026, 3, 9)
    EventWeek.objects.create(account=world["tyrell"], week=monday, events=600)
    EventWeek.objects.create(
        account=world["tyrell"], week=monday - dt.timedelta(weeks=7), events=400
    )
    EventWeek.objects.create(
        account=world["stark"], week=monday - dt.timedelta(weeks=8), events=900
    )

    # when listed
    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}

    # then Tyrell's 1,000 events add 0.15, and every reason says what was compared
    assert found["Tyrell Labs"].score == 0.65
    assert found["Tyrell Labs"].reasons[1] == (
        f"already using the product: 1,000 events in the last 8 weeks ({USAGE})"
    )
    assert found["Stark Software"].score == 0.85
    assert found["Stark Software"].reasons[1] == f"no product usage in the last 8 weeks ({USAGE})"


def test_without_usage_moments_usage_is_not_mentioned(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    Moment.objects.filter(account=account).update(retracted_at=NOW)

    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}

    assert found["Stark Software"].reasons == [SAME]


def test_the_index_follows_new_and_converted_prospects(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # given the list once made (and the prospects' index with it)
    before = [s.company for s in peers_for(account=account, contact=contact, now=NOW)]
    assert "Acme Clone" not in before

    # when a lookalike prospect is added and Stark becomes a customer
    software("Acme Clone", "clone.example")
    Account.objects.filter(pk=world["stark"].pk).update(lifecycle=Lifecycle.CUSTOMER)
    after = [s.company for s in peers_for(account=account, contact=contact, now=NOW)]

    # then the next list has the one and not the other
    assert after[after.index("Vandelay Imports") + 1] == "Acme Clone"
    assert "Stark Software" not in after


def test_a_prospect_named_often_shows_its_newest_three_quotes(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # given Vandelay Imports named in four more emails, one of them dated after now
    for days_ago in (2, 4, 6, -1):
        message(account, f"Vandelay Imports again ({days_ago})", days_ago=days_ago)

    # when listed
    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}

    # then the newest mention sets the score, three quotes are shown, the rest counted
    vandelay = found["Vandelay Imports"]
    assert vandelay.score == 2.497
    assert vandelay.reasons == [
        "named in an email on 11 March 2026: “Vandelay Imports again (2)”",
        "named in an email on 9 March 2026: “Vandelay Imports again (4)”",
        "named in an email on 7 March 2026: “Vandelay Imports again (6)”",
        "and named 1 more time",
    ]


def test_nothing_to_go_on_is_an_empty_list(account: Account) -> None:
    assert peers_for(account=account, contact=None, now=NOW) == []


# --- the cached copies follow the records --------------------------------------------------


def alumni_names(account: Account, contact: Contact) -> list[str]:
    found = peers_for(account=account, contact=contact, now=NOW, limit=100)
    return sorted(s.name for s in found if s.contact_id is not None)


def test_the_cache_notices_a_contact_changed_or_added(
    world: dict[str, Account], account: Account, contact: Contact, rep: User
) -> None:
    # given the list once made (Dana Lee at Soylent, once at Acme, is its only alumna)
    assert alumni_names(account, contact) == ["Dana Lee"]

    # when Dana's past employers change, and someone at Vandelay who once worked at Acme
    # is added
    dana = Contact.objects.get(email="dana@soylent.example")
    contact_update(actor=rep, contact=dana, data={"past_employers": "globex.com"})
    person(world["vandelay"], "Art", "Vandelay", past_employers="initech.com; ACME.io")

    # then the next list has the newcomer and not Dana
    assert alumni_names(account, contact) == ["Art Vandelay"]


def test_a_renamed_prospect_is_found_by_its_new_name_only(
    world: dict[str, Account], account: Account, contact: Contact, rep: User
) -> None:
    # given the list once made, and a message naming a prospect by a name it will take
    message(account, "Ada says Initrode Partners are looking at tools", days_ago=3)
    before = {s.company for s in peers_for(account=account, contact=contact, now=NOW)}
    assert "Vandelay Imports" in before

    # when Vandelay Imports is renamed Initrode Partners through the services
    account_update(actor=rep, account=world["vandelay"], data={"name": "Initrode Partners"})
    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}

    # then the new name's mention counts, the old name's call notes no longer do
    assert "Vandelay Imports" not in found
    assert found["Initrode Partners"].reasons == [
        "named in an email on 10 March 2026: “Ada says Initrode Partners are looking at tools”"
    ]


def test_a_change_is_applied_over_the_copy_not_rebuilt(
    world: dict[str, Account], account: Account, contact: Contact, rep: User
) -> None:
    # given the copies made once
    peers_for(account=account, contact=contact, now=NOW)
    built = peers._cache["prospects"]

    # when Soylent moves into software, Acme's size, and starts using the product
    account_update(
        actor=rep,
        account=world["soylent"],
        data={"industry": "Software", "employees": 300, "country": "US"},
    )
    EventWeek.objects.create(account=world["soylent"], week=dt.date(2026, 3, 9), events=1000)
    found = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}

    # then the copy took the change over the same build, and Soylent now looks alike
    after = peers._cache["prospects"]
    assert after is not built
    assert after.mentions is built.mentions
    assert found["Soylent Foods"].score == 2.5 + 1.0
    assert found["Soylent Foods"].reasons[1:] == [
        SAME,
        f"already using the product: 1,000 events in the last 8 weeks ({USAGE})",
    ]


def test_a_prospect_that_becomes_a_customer_leaves_the_copy(
    world: dict[str, Account], account: Account, contact: Contact, rep: User
) -> None:
    # given the copies made once
    peers_for(account=account, contact=contact, now=NOW)
    assert peers._cache["prospects"].index.position(world["stark"].pk) is not None

    # when Stark becomes a customer through the services, and Acme's usage grows
    account_update(actor=rep, account=world["stark"], data={"lifecycle": "customer"})
    EventWeek.objects.create(account=account, week=dt.date(2026, 3, 9), events=50)
    found = [s.company for s in peers_for(account=account, contact=contact, now=NOW)]

    # then Stark is out of the index and the list; customers are not tracked as changed
    copy = peers._cache["prospects"]
    assert "Stark Software" not in found
    assert copy.index.position(world["stark"].pk) is None
    assert copy.changed[world["stark"].pk] == ""
    assert account.pk not in copy.changed
    assert world["initech"].pk not in copy.changed


def test_too_many_changes_or_a_new_usage_window_build_the_copy_afresh(
    world: dict[str, Account],
    account: Account,
    contact: Contact,
    rep: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the copies made once, and room to apply two changed accounts over them
    peers_for(account=account, contact=contact, now=NOW)
    built = peers._cache["prospects"]
    monkeypatch.setattr(peers, "REFRESH_AT_MOST", 2)

    # when a third account changes
    software("Acme Clone", "clone.example")
    found = [s.company for s in peers_for(account=account, contact=contact, now=NOW)]

    # then the copy is built again, and holds the newcomer
    rebuilt = peers._cache["prospects"]
    assert rebuilt.mentions is not built.mentions
    assert not rebuilt.changed
    assert "Acme Clone" in found
    # and a week later, when the usage window has moved on, once more
    peers_for(account=account, contact=contact, now=NOW + dt.timedelta(days=7))
    assert peers._cache["prospects"].mentions is not rebuilt.mentions


@pytest.mark.django_db(transaction=True)
def test_a_copy_built_afresh_is_built_in_a_thread_while_the_old_one_serves(
    world: dict[str, Account], account: Account, contact: Contact, settings: Any
) -> None:
    # given Stark's usage in the usage window's first week only, and the copies made once,
    # built afresh in the background from now on
    settings.PEERS_BUILD_IN_BACKGROUND = True
    EventWeek.objects.create(account=world["stark"], week=dt.date(2026, 1, 19), events=1000)
    using = f"already using the product: 1,000 events in the last 8 weeks ({USAGE})"
    stark = {s.company: s for s in peers_for(account=account, contact=contact, now=NOW)}
    assert using in stark["Stark Software"].reasons
    built = peers._cache["prospects"]

    # when a week later, that week having left the usage window, someone asks
    later = NOW + dt.timedelta(days=7)
    answer = {s.company: s for s in peers_for(account=account, contact=contact, now=later)}

    # then the old copy answers at once (Stark still counted as using the product) while a
    # thread builds the new copy
    assert using in answer["Stark Software"].reasons
    # and once built, the new copy serves, over the new window
    peers_cache_wait()
    fresh = peers._cache["prospects"]
    assert fresh is not built
    assert fresh.since == dt.date(2026, 1, 26)
    after = {s.company: s for s in peers_for(account=account, contact=contact, now=later)}
    assert using not in after["Stark Software"].reasons


@pytest.mark.django_db(transaction=True)
def test_a_starting_process_builds_the_copies_in_threads_for_its_first_ask(
    world: dict[str, Account], account: Account, contact: Contact
) -> None:
    # given a web process warming up: its copies are built in threads
    peers.peers_cache_warm()
    assert set(peers._building) <= {"prospects", "alumni"}
    peers_cache_wait()
    prospects, alumni = peers._cache["prospects"], peers._cache["alumni"]

    # when its first ask comes
    found = peers_for(account=account, contact=contact, now=timezone.now())

    # then it is answered from those copies, as copies built for it would answer
    assert peers._cache["prospects"] is prospects
    assert peers._cache["alumni"] is alumni
    peers_cache_clear()
    assert found
    assert peers_for(account=account, contact=contact, now=timezone.now()) == found


def test_many_alumni_are_read_a_chunk_at_a_time_and_the_first_by_name_kept(
    world: dict[str, Account], account: Account, contact: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given five more alumni of Acme at Stark, and three alumni kept at most
    for first in ("Eve", "Cy", "Bo", "Al", "Di"):
        person(world["stark"], first, "Stark", past_employers="acme.io")
    monkeypatch.setattr(peers, "ALUMNI", 3)
    in_one_query = peers._alumni(account, peers._alumni_index())

    # when their ids are sent to the database two at a time
    monkeypatch.setattr(peers, "IN_CHUNK", 2)
    in_chunks = peers._alumni(account, peers._alumni_index())

    # then both ways keep the first three by company and name
    assert [s.name for s in in_chunks] == ["Dana Lee", "Al Stark", "Bo Stark"]
    assert in_chunks == in_one_query
