"""The handoff's life through its services: made once when a new-business deal is won (by
any way of winning it), filled in, assigned, accepted with the required fields, its goals
handed to the `goal` rule, the advocate thanked once, and the 5-business-day deadline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from goodword.crm.models import Account, Activity, Contact, Deal, Stage, Task, TaskKind
from goodword.crm.services import account_update, deal_create, deal_move
from goodword.handoffs.models import ChecklistItem, Handoff, HandoffGoal, HandoffStatus
from goodword.handoffs.rules import DEFAULT_CHECKLIST, add_business_days
from goodword.handoffs.selectors import handoff_missing, handoffs_list, is_overdue, settings_get
from goodword.handoffs.services import (
    handoff_accept,
    handoff_assign,
    handoff_checklist_set,
    handoff_for_won_deal,
    handoff_update,
    settings_update,
)
from goodword.handoffs.tests.conftest import filled
from goodword.jobs.models import Job
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.models import Suppression
from goodword.signals.models import Goal
from goodword.users.models import User

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday
FRIDAY = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def state(handoff: Handoff) -> list[Any]:
    """Everything a refused handoff change must leave as it was."""
    return [
        list(Handoff.objects.filter(pk=handoff.pk).values()),
        list(HandoffGoal.objects.filter(handoff=handoff).order_by("pk").values()),
        list(handoff.stakeholders.order_by("pk").values()),
        list(ChecklistItem.objects.filter(handoff=handoff).order_by("pk").values()),
        list(Goal.objects.order_by("pk").values()),
        list(Job.objects.order_by("pk").values()),
        Activity.objects.filter(verb__startswith="handoff.").count(),
    ]


# --- made when a deal is won ---------------------------------------------------------------


def test_a_won_new_business_deal_is_handed_to_the_accounts_csm(
    rep: User, csm: User, new_deal: Deal, won: Stage
) -> None:
    # when the rep moves the deal to Closed Won
    deal_move(actor=rep, deal=new_deal, stage=won)
    # then one open handoff waits for Acme's CSM, with the default checklist
    handoff = Handoff.objects.get()
    assert (handoff.deal_id, handoff.csm_id, handoff.status) == (new_deal.pk, csm.pk, "open")
    assert handoff.accept_by == add_business_days(handoff.created_at, 5)
    assert list(handoff.checklist.values_list("label", flat=True)) == DEFAULT_CHECKLIST
    assert (handoff.advocate_id, handoff.thank_task_id) == (None, None)
    created = Activity.objects.get(verb="handoff.created")
    assert (created.actor_id, created.object_id, created.account_id) == (
        rep.pk,
        handoff.pk,
        new_deal.account_id,
    )
    assert created.after["csm"] == "csm@example.com"


def test_a_deal_created_won_is_handed_over_too(
    rep: User, account: Account, won: Stage, csm: User
) -> None:
    deal = deal_create(
        actor=rep, account=account, owner=rep, stage=won, data={"name": "Signed", "kind": "new"}
    )
    assert list(Handoff.objects.values_list("deal_id", "csm_id")) == [(deal.pk, csm.pk)]


def test_without_a_csm_the_handoff_waits_unassigned(
    rep: User, account: Account, new_deal: Deal, won: Stage, manager: User
) -> None:
    account_update(actor=rep, account=account, data={}, csm=None)
    deal_move(actor=rep, deal=new_deal, stage=won)
    handoff = Handoff.objects.get()
    assert handoff.csm_id is None
    assert list(handoffs_list(manager, view="unassigned", now=NOW)) == [handoff]


@pytest.mark.parametrize("kind", ["expansion", "renewal"])
def test_a_won_expansion_or_renewal_is_not_handed_over(
    rep: User, account: Account, stages: dict[str, Stage], won: Stage, kind: str
) -> None:
    deal = deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Qualification"],
        data={"name": f"Acme {kind}", "kind": kind},
    )
    deal_move(actor=rep, deal=deal, stage=won)
    assert Handoff.objects.count() == 0
    assert Activity.objects.filter(verb__startswith="handoff.").count() == 0


def test_a_lost_deal_is_not_handed_over(
    rep: User, new_deal: Deal, stages: dict[str, Stage]
) -> None:
    deal_move(actor=rep, deal=new_deal, stage=stages["Closed Lost"])
    assert Handoff.objects.count() == 0


def test_a_deal_reopened_and_won_again_keeps_its_one_handoff(
    rep: User, new_deal: Deal, won: Stage, stages: dict[str, Stage], champion: Contact
) -> None:
    # given a won deal whose handoff was filled in
    deal_move(actor=rep, deal=new_deal, stage=won)
    first = Handoff.objects.get()
    handoff_update(actor=rep, handoff=first, data={"promised": "SSO"}, now=NOW)
    # when it is reopened and won again
    deal_move(actor=rep, deal=new_deal, stage=stages["Negotiation/Review"])
    deal_move(actor=rep, deal=new_deal, stage=won)
    # then it still has that one handoff, as it was
    assert list(Handoff.objects.values_list("pk", "promised")) == [(first.pk, "SSO")]
    assert Activity.objects.filter(verb="handoff.created").count() == 1
    assert ChecklistItem.objects.count() == len(DEFAULT_CHECKLIST)


def test_a_referred_deal_names_its_advocate_and_the_owner_is_asked_to_thank_them_once(
    rep: User, referred: Deal, contact: Contact, account: Account, won: Stage, stages: Any
) -> None:
    # when Globex's referred deal is won, reopened and won again
    deal_move(actor=rep, deal=referred, stage=won)
    deal_move(actor=rep, deal=referred, stage=stages["Negotiation/Review"])
    deal_move(actor=rep, deal=referred, stage=won)
    # then the handoff names Ada of Acme, and the rep has one task to thank her
    handoff = Handoff.objects.get()
    assert (handoff.advocate_id, handoff.advocate_account_id) == (contact.pk, account.pk)
    task = Task.objects.get(kind=TaskKind.TODO)
    assert handoff.thank_task_id == task.pk
    assert (task.owner_id, task.account_id, task.contact_id, task.status) == (
        rep.pk,
        account.pk,
        contact.pk,
        "open",
    )
    assert task.subject == "Thank Ada Lovelace of Acme Analytics for referring Globex"


def test_a_deal_that_is_not_referred_gets_no_thank_task(handoff: Handoff) -> None:
    assert Task.objects.count() == 0


# --- filling it in ---------------------------------------------------------------------------


def test_the_owner_fills_in_goals_stakeholders_promises_risks_and_kickoff(
    rep: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    handoff.refresh_from_db()
    assert (handoff.promised, handoff.risks, handoff.kickoff_on) == (
        "SSO by January",
        "Small admin team",
        dt.date(2099, 1, 5),
    )
    goals = list(handoff.goals.values_list("name", "event", "measure", "target", "due_on"))
    assert goals == [
        ("Weekly reports", "report_sent", "count", Decimal("50.0000"), dt.date(2099, 3, 31)),
        ("Seats used", "seat_added", "sum:seats", Decimal("120.0000"), None),
    ]
    roles = list(handoff.stakeholders.order_by("role").values_list("contact_id", "role"))
    assert roles == [(champion.pk, "admin"), (champion.pk, "champion")]
    assert handoff_missing(handoff) == {}
    updated = Activity.objects.get(verb="handoff.updated")
    assert sorted(updated.after) == ["goals", "kickoff_on", "promised", "risks", "stakeholders"]


def test_bad_goals_and_stakeholders_are_refused_naming_them(
    rep: User, handoff: Handoff, other_contact: Contact, champion: Contact, contact: Contact
) -> None:
    before = state(handoff)
    with pytest.raises(Invalid) as refused:
        handoff_update(
            actor=rep,
            handoff=handoff,
            data={
                "goals": [
                    {"name": "", "event": "x", "target": "5"},
                    {"name": "A", "event": "x", "target": "0"},
                ],
                "stakeholders": [
                    {"contact_id": other_contact.pk, "role": "user"},
                    {"contact_id": champion.pk, "role": "champion"},
                    {"contact_id": contact.pk, "role": "champion"},
                ],
                "kickoff_on": "soon",
            },
            now=NOW,
        )
    assert refused.value.errors["goals"] == [
        "goal 1: name is required",
        "goal 2: target must be a number above 0",
    ]
    assert refused.value.errors["stakeholders"] == [
        f"contact {other_contact.pk} is not a contact of Acme Analytics",
        "name one champion only",
    ]
    assert refused.value.errors["kickoff_on"] == ["'soon' is not a date (YYYY-MM-DD)"]
    assert set(refused.value.errors) == {"goals", "stakeholders", "kickoff_on"}
    assert state(handoff) == before


# --- accepting -------------------------------------------------------------------------------


def test_accepting_needs_the_required_fields_each_named(csm: User, handoff: Handoff) -> None:
    before = state(handoff)
    with pytest.raises(Invalid) as refused:
        handoff_accept(actor=csm, handoff=handoff, send_welcome=False, now=NOW)
    assert refused.value.errors == {
        "goals": ["is required: at least one goal the customer bought the product for"],
        "champion": ["is required: a champion among the stakeholders"],
        "kickoff_on": ["is required: the kickoff date"],
    }
    assert state(handoff) == before


def test_admins_choose_what_is_required(
    admin_user: User, csm: User, rep: User, handoff: Handoff
) -> None:
    # given an admin who requires only what was promised
    settings_update(actor=admin_user, required=["promised"], checklist=["Call"], now=NOW)
    with pytest.raises(Invalid) as refused:
        handoff_accept(actor=csm, handoff=handoff, send_welcome=False, now=NOW)
    assert refused.value.errors == {"promised": ["is required: what was promised in the sale"]}
    # when the owner says what was promised, then the CSM can accept it
    handoff_update(actor=rep, handoff=handoff, data={"promised": "SSO"}, now=NOW)
    handoff_accept(actor=csm, handoff=handoff, send_welcome=False, now=NOW)
    assert Handoff.objects.get().status == HandoffStatus.ACCEPTED


def test_only_admins_change_the_settings(manager: User) -> None:
    with pytest.raises(Forbidden):
        settings_update(actor=manager, required=[], checklist=[], now=NOW)
    assert settings_get().required == ["goals", "champion", "kickoff_on"]


def test_accepted_goals_become_the_goals_the_goal_rule_watches(
    rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    # given a filled-in handoff: no signals goal yet
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    assert Goal.objects.count() == 0
    # when its CSM accepts it
    handoff_accept(actor=csm, handoff=handoff, send_welcome=False, now=NOW)
    # then each goal is a signals.Goal of Acme, counted from the win
    goals = list(
        Goal.objects.order_by("pk").values_list(
            "external_id", "account_id", "name", "event", "measure", "target", "starts_at", "due_at"
        )
    )
    ids = list(handoff.goals.order_by("pk").values_list("pk", flat=True))
    assert goals == [
        (
            f"handoff:{handoff.pk}:goal:{ids[0]}",
            handoff.deal.account_id,
            "Weekly reports",
            "report_sent",
            "count",
            Decimal("50.0000"),
            handoff.created_at,
            dt.datetime(2099, 3, 31, tzinfo=dt.UTC),
        ),
        (
            f"handoff:{handoff.pk}:goal:{ids[1]}",
            handoff.deal.account_id,
            "Seats used",
            "seat_added",
            "sum:seats",
            Decimal("120.0000"),
            handoff.created_at,
            None,
        ),
    ]
    assert list(handoff.goals.order_by("pk").values_list("goal_id", flat=True)) == list(
        Goal.objects.order_by("pk").values_list("pk", flat=True)
    )
    handoff.refresh_from_db()
    assert (handoff.status, handoff.accepted_at, handoff.accepted_by_id) == (
        "accepted",
        NOW,
        csm.pk,
    )
    assert Job.objects.count() == 0


def test_only_the_handoffs_csm_accepts_it(
    rep: User, manager: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    before = state(handoff)
    for someone in (rep, manager):
        with pytest.raises(Forbidden):
            handoff_accept(actor=someone, handoff=handoff, send_welcome=False, now=NOW)
    assert state(handoff) == before


def test_an_accepted_handoff_is_read_only_but_its_checklist(
    rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    handoff_accept(actor=csm, handoff=handoff, send_welcome=False, now=NOW)
    before = state(handoff)
    with pytest.raises(Invalid) as refused:
        handoff_update(actor=rep, handoff=handoff, data={"risks": "None"}, now=NOW)
    assert refused.value.errors == {
        "status": ["an accepted handoff is read-only, except its checklist"]
    }
    assert state(handoff) == before
    # the checklist still changes
    item = handoff.checklist.first()
    assert item is not None
    handoff_checklist_set(actor=csm, handoff=handoff, item_id=item.pk, done=True, now=NOW)
    item.refresh_from_db()
    assert (item.done, item.done_at, item.done_by_id) == (True, NOW, csm.pk)


def test_the_welcome_email_goes_to_the_champion_only_when_ticked(
    rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    handoff_accept(actor=csm, handoff=handoff, send_welcome=True, now=NOW)
    job = Job.objects.get()
    assert (job.kind, job.payload["to"], job.payload["reply_to"], job.owner_id) == (
        "email.send",
        ["grace@acme.io"],
        ["csm@example.com"],
        csm.pk,
    )
    assert job.payload["subject"].startswith("Welcome to ")
    assert "Weekly reports" in job.payload["body_text"]
    assert Handoff.objects.get().welcome_sent_at == NOW


def test_no_welcome_email_to_a_suppressed_champion(
    rep: User, csm: User, handoff: Handoff, champion: Contact
) -> None:
    handoff_update(actor=rep, handoff=handoff, data=filled(champion), now=NOW)
    Suppression.objects.create(email="grace@acme.io", reason="asked", at=NOW)
    before = state(handoff)
    with pytest.raises(Invalid) as refused:
        handoff_accept(actor=csm, handoff=handoff, send_welcome=True, now=NOW)
    assert refused.value.errors == {
        "send_welcome": ["grace@acme.io asked never to be contacted: untick it"]
    }
    assert state(handoff) == before


# --- assigning -------------------------------------------------------------------------------


def test_managers_assign_and_others_may_not(
    manager: User, rep: User, csm: User, handoff: Handoff, make_user: Any
) -> None:
    other_csm = make_user("second.csm@example.com", "csm", "East")
    before = state(handoff)
    with pytest.raises(Forbidden):
        handoff_assign(actor=rep, handoff=handoff, csm=rep, now=NOW)
    with pytest.raises(Invalid) as refused:
        handoff_assign(actor=manager, handoff=handoff, csm=rep, now=NOW)
    assert refused.value.errors == {
        "csm": ["rep@example.com is not an active CSM, manager or admin"]
    }
    assert state(handoff) == before
    handoff_assign(actor=manager, handoff=handoff, csm=other_csm, now=NOW)
    assert Handoff.objects.get().csm_id == other_csm.pk
    assigned = Activity.objects.get(verb="handoff.assigned")
    assert (assigned.before, assigned.after) == (
        {"csm": "csm@example.com"},
        {"csm": "second.csm@example.com"},
    )


# --- the deadline ----------------------------------------------------------------------------


def test_five_business_days_skip_the_weekend() -> None:
    assert add_business_days(FRIDAY, 5) == dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    saturday = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert add_business_days(saturday, 5) == dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    monday = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
    assert add_business_days(monday, 5) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def test_a_handoff_not_accepted_in_five_business_days_is_overdue(
    rep: User, manager: User, new_deal: Deal, won: Stage
) -> None:
    # given a handoff made on a Friday at 10:00 (the deal written won directly, so that the
    # service runs with that time)
    Deal.objects.filter(pk=new_deal.pk).update(stage=won)
    new_deal.refresh_from_db()
    handoff = handoff_for_won_deal(actor=rep, deal=new_deal, now=FRIDAY)
    assert handoff is not None

    def overdue(now: dt.datetime) -> list[Handoff]:
        return list(handoffs_list(manager, view="overdue", now=now))

    # then five calendar days later (Wednesday: three business days) it is not overdue
    assert overdue(FRIDAY + dt.timedelta(days=5)) == []
    # nor a minute before the fifth business day ends, the next Friday at 10:00
    assert overdue(dt.datetime(2026, 11, 27, 9, 59, tzinfo=dt.UTC)) == []
    assert not is_overdue(handoff, dt.datetime(2026, 11, 27, 9, 59, tzinfo=dt.UTC))
    # and then it is
    assert overdue(dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)) == [handoff]
    assert is_overdue(handoff, dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC))


def test_a_deals_import_hands_over_recent_wins_only(
    tmp_path: Any, rep: User, account: Account, stages: dict[str, Stage]
) -> None:
    # given a file of new-business deals: one won last week, one won two years ago, one open
    from django.utils import timezone

    from goodword.crm.io.importing import import_file

    last_week = (timezone.now() - dt.timedelta(days=7)).isoformat()
    path = tmp_path / "deals.csv"
    path.write_text(
        "external_id,account_external_id,name,stage,kind,closed_at\n"
        f"D-1,ACC-1,Won lately,Closed Won,new,{last_week}\n"
        "D-2,ACC-1,Won long ago,Closed Won,new,2024-03-01T10:00:00+00:00\n"
        "D-3,ACC-1,Still open,Prospecting,new,\n",
        encoding="utf-8",
    )

    # when it is imported
    report = import_file("deals", path)

    # then only the recent win is handed to customer success (its account's CSM)
    assert (report.created, report.errors) == (3, [])
    handoffs = list(Handoff.objects.select_related("deal", "csm"))
    assert [(h.deal.name, h.csm) for h in handoffs] == [("Won lately", account.csm)]
