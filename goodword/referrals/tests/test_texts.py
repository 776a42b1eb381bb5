"""The intro texts filled in from an ask or an introduction, and the admins' templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from goodword.crm.models import Account, Contact, Task
from goodword.engine import templates as engine
from goodword.lib.errors import Forbidden, Invalid
from goodword.moments.models import Moment
from goodword.referrals import texts
from goodword.referrals.models import Introduction, IntroTemplate
from goodword.users.models import User

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
GRACE = {"name": "Grace Hopper", "company": "Globex", "title": "CTO"}


@pytest.fixture(autouse=True)
def _product(settings: Any) -> None:
    settings.PRODUCT_NAME = "Brightwork"


@pytest.fixture
def priya(rep: User) -> User:
    rep.first_name, rep.last_name = "Priya", "Shah"
    rep.save(update_fields=["first_name", "last_name"])
    return rep


def moment(
    ask: Task | None,
    account: Account,
    rule_id: str,
    kind: str,
    data: dict[str, Any],
    days_ago: int,
    evidence: str = "found by a test",
) -> Moment:
    return Moment.objects.create(
        account=account,
        rule_id=rule_id,
        kind=kind,
        key=f"{rule_id}:{days_ago}",
        occurred_at=NOW - dt.timedelta(days=days_ago),
        evidence=evidence,
        data=data,
        found_at=NOW,
        updated_at=NOW,
        ask=ask,
    )


def introduction(
    ask: Task | None, account: Account, contact: Contact | None, owner: User | None
) -> Introduction:
    return Introduction.objects.create(
        state="awaiting_consent",
        ask=ask,
        advocate_account=account,
        advocate=contact,
        owner=owner,
        person_name="Alan Turing",
        person_company="Bletchley Systems",
        waiting_since=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


# --- the values --------------------------------------------------------------------------------


def test_the_values_of_an_ask_with_everything_known(
    priya: User, ask: Task, account: Account
) -> None:
    # Given an ask whose strongest moment is 10 hours saved (weight 40) and a later, weaker
    # one (1,000 reports, weight 30)
    moment(ask, account, "hours-saved", "milestone", {"threshold": "600"}, days_ago=9)
    moment(ask, account, "reports", "milestone", {"threshold": "1000"}, days_ago=2)
    # When its values are read with a suggested person
    values = texts.values_for(ask=ask, person=GRACE)
    # Then every field is filled in, the outcome from the strongest moment
    assert values == {
        "advocate_name": "Ada Lovelace",
        "advocate_first_name": "Ada",
        "advocate_company": "Acme Analytics",
        "person_name": "Grace Hopper",
        "person_first_name": "Grace",
        "person_company": "Globex",
        "person_title": "CTO",
        "outcome": "have saved 10 hours",
        "rep_name": "Priya Shah",
        "rep_first_name": "Priya",
        "product": "Brightwork",
    }


def test_the_latest_of_equally_strong_moments_is_cited(ask: Task, account: Account) -> None:
    moment(ask, account, "reports", "milestone", {"threshold": "100"}, days_ago=30)
    moment(ask, account, "reports", "milestone", {"threshold": "1000"}, days_ago=3)
    assert texts.values_for(ask=ask)["outcome"] == "have created 1,000 reports"


def test_a_goal_is_named_from_the_moments_evidence(ask: Task, account: Account) -> None:
    evidence = "Goal “Onboard 50 analysts” reached: report_created 50 ≥ 50 on 2026-05-01"
    moment(ask, account, "goals", "goal", {"goal_id": 7}, days_ago=3, evidence=evidence)
    assert texts.values_for(ask=ask)["outcome"] == "have reached the goal “Onboard 50 analysts”"


def test_a_moment_whose_rule_was_removed(ask: Task, account: Account) -> None:
    # A milestone's threshold says nothing without its rule (a count? minutes saved?) ...
    data = {"threshold": "600", "event": "automation_run"}
    moment(ask, account, "gone", "milestone", data, days_ago=3)
    assert texts.values_for(ask=ask)["outcome"] is None
    # ... while an NPS answer speaks for itself
    moment(ask, account, "gone-too", "nps", {"nps_id": 1, "score": 9}, days_ago=5)
    assert texts.values_for(ask=ask)["outcome"] == "rate it 9 out of 10"


def test_without_a_moment_or_with_only_a_retracted_one_the_outcome_is_missing(
    ask: Task, account: Account
) -> None:
    assert texts.values_for(ask=ask)["outcome"] is None
    retracted = moment(ask, account, "hours-saved", "milestone", {"threshold": "600"}, 9)
    Moment.objects.filter(pk=retracted.pk).update(retracted_at=NOW)
    moment(None, account, "reports", "milestone", {"threshold": "1000"}, 2)  # not the ask's
    assert texts.values_for(ask=ask)["outcome"] is None


def test_an_ask_without_advocate_person_or_names_leaves_those_fields_missing(
    rep: User, ask: Task, settings: Any
) -> None:
    # Given an ask naming no contact, an owner without a name and no product name set
    Task.objects.filter(pk=ask.pk).update(contact=None)
    ask.refresh_from_db()
    rep.first_name = rep.last_name = ""
    rep.save(update_fields=["first_name", "last_name"])
    settings.PRODUCT_NAME = ""
    # Then only the company is known
    assert texts.values_for(ask=ask) == {
        "advocate_name": None,
        "advocate_first_name": None,
        "advocate_company": "Acme Analytics",
        "person_name": None,
        "person_first_name": None,
        "person_company": None,
        "person_title": None,
        "outcome": None,
        "rep_name": None,
        "rep_first_name": None,
        "product": None,
    }


def test_nothing_at_all_gives_only_the_product() -> None:
    values = texts.values_for()
    assert {k: v for k, v in values.items() if v is not None} == {"product": "Brightwork"}


def test_the_values_of_an_introduction_take_its_person_and_its_asks_moment(
    priya: User, ask: Task, contact: Contact, account: Account
) -> None:
    moment(ask, account, "promoter", "nps", {"nps_id": 1, "score": 10}, days_ago=4)
    intro = introduction(ask, account, contact, priya)
    values = texts.values_for(introduction=intro, person={"title": "Founder"})
    assert values["advocate_name"] == "Ada Lovelace"
    assert values["person_name"] == "Alan Turing"
    assert values["person_first_name"] == "Alan"
    assert values["person_company"] == "Bletchley Systems"
    assert values["person_title"] == "Founder"  # the introduction has none of its own
    assert values["outcome"] == "rate it 10 out of 10"
    assert values["rep_name"] == "Priya Shah"


def test_an_introduction_whose_advocate_and_owner_are_gone(account: Account) -> None:
    intro = introduction(None, account, None, None)
    values = texts.values_for(introduction=intro)
    assert (values["advocate_name"], values["rep_name"], values["outcome"]) == (None, None, None)
    assert values["advocate_company"] == "Acme Analytics"


# --- the drafts --------------------------------------------------------------------------------


def test_the_three_drafts_of_an_ask(priya: User, ask: Task, account: Account) -> None:
    moment(ask, account, "reports", "milestone", {"threshold": "1000"}, days_ago=2)
    drafts = texts.drafts_for(ask=ask, person=GRACE)
    assert [(d.kind, d.label) for d in drafts] == [
        ("blurb", "Forwardable blurb"),
        ("email", "Email introduction"),
        ("linkedin", "LinkedIn message"),
    ]
    assert [d.subject for d in drafts] == ["", "Introduction: Grace and Priya Shah", ""]
    assert drafts[0].text == (
        "Ada here. We've used Brightwork at Acme Analytics and have created 1,000 reports. "
        "Priya Shah is the person to talk to — Priya can show you how we did it. Happy to "
        "connect you."
    )
    assert drafts[2].text == (
        "Hi Grace! We've been using Brightwork at Acme Analytics and have created 1,000 "
        "reports. I think it could help you at Globex too — would you be open to a quick "
        "intro to Priya Shah?"
    )


def test_an_admins_wording_is_used_for_the_drafts(admin_user: User, ask: Task) -> None:
    body = "Meet {rep_name}[ from {product}], {person_first_name|friend}."
    texts.template_save(actor=admin_user, kind="blurb", subject="", body=body, now=NOW)
    blurb = texts.drafts_for(ask=ask)[0]
    assert blurb.text == "Meet Rep from Brightwork, friend."


def test_the_ask_email_draft(priya: User, ask: Task) -> None:
    draft = texts.ask_email_draft(ask=ask, person=GRACE)
    assert (draft.kind, draft.label, draft.subject) == (
        "ask_email",
        "Ask sent by email",
        "A quick favour, Ada?",
    )
    assert draft.text.startswith("Hi Ada,\n\nIt's been great to see that at Acme Analytics you ")
    assert "introducing me to — perhaps Grace Hopper? Globex came to mind." in draft.text
    assert draft.text.endswith("Thanks either way,\nPriya Shah")


# --- the templates -----------------------------------------------------------------------------


def test_an_admin_saves_a_wording_and_it_is_in_force(admin_user: User) -> None:
    # When an admin saves the email's subject and text (as a browser sends it, with CRLF)
    row = texts.template_save(
        actor=admin_user,
        kind="email",
        subject="  Meet {rep_name}  ",
        body="Hi {person_first_name},\r\nMeet {rep_name}.",
        now=NOW,
    )
    # Then it is the one row of that kind, and the wording in force
    body = "Hi {person_first_name},\nMeet {rep_name}."
    assert (row.kind, row.subject, row.body) == ("email", "Meet {rep_name}", body)
    assert (row.updated_by, row.updated_at) == (admin_user, NOW)
    assert texts.template_for("email") == ("Meet {rep_name}", body)
    # And a second save changes the same row
    later = NOW + dt.timedelta(hours=1)
    texts.template_save(actor=admin_user, kind="email", subject="S", body="B", now=later)
    assert list(IntroTemplate.objects.values_list("kind", "subject", "body", "updated_at")) == [
        ("email", "S", "B", later)
    ]


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_only_admins_save_or_reset_and_nothing_changes_otherwise(
    who: str, admin_user: User, request: pytest.FixtureRequest
) -> None:
    texts.template_save(actor=admin_user, kind="blurb", subject="", body="Old.", now=NOW)
    user = request.getfixturevalue(who)
    with pytest.raises(Forbidden):
        texts.template_save(actor=user, kind="blurb", subject="", body="New.", now=NOW)
    with pytest.raises(Forbidden):
        texts.template_save(actor=user, kind="linkedin", subject="", body="New.", now=NOW)
    with pytest.raises(Forbidden):
        texts.template_reset(actor=user, kind="blurb")
    assert list(IntroTemplate.objects.values_list("kind", "body", "updated_by")) == [
        ("blurb", "Old.", admin_user.pk)
    ]


def test_a_template_that_does_not_parse_keeps_the_old_wording(admin_user: User) -> None:
    texts.template_save(actor=admin_user, kind="linkedin", subject="", body="Old.", now=NOW)
    with pytest.raises(Invalid) as refused:
        texts.template_save(
            actor=admin_user,
            kind="linkedin",
            subject="",
            body="Hi {person_first_name},\nthe {oops} here",
            now=NOW + dt.timedelta(hours=1),
        )
    assert refused.value.errors == {
        "body": ["line 2, column 5: unknown field {oops}; the fields: " + ", ".join(engine.FIELDS)]
    }
    assert list(IntroTemplate.objects.values_list("body", "updated_at")) == [("Old.", NOW)]


@pytest.mark.parametrize(
    ("kind", "subject", "body", "errors"),
    [
        ("email", "", "Hi.", {"subject": ["is required: the email needs a subject"]}),
        ("email", "Hi\nthere", "Hi.", {"subject": ["must be one line"]}),
        ("email", "x" * 201, "Hi.", {"subject": ["is longer than 200 characters"]}),
        (
            "email",
            "Hi [{rep_name}",
            "Hi.",
            {"subject": ["line 1, column 4: a [ without its ] (write [[ for a bracket)"]},
        ),
        ("blurb", "A subject", "Hi.", {"subject": ["only the emails have a subject"]}),
        ("blurb", "", "  \n ", {"body": ["is required"]}),
        ("blurb", "", "x" * 10_001, {"body": ["is longer than 10,000 characters"]}),
        ("fax", "", "Hi.", {"kind": ["must be one of blurb, email, linkedin, ask_email"]}),
    ],
)
def test_a_refused_wording_says_why_and_saves_nothing(
    admin_user: User, kind: str, subject: str, body: str, errors: dict[str, list[str]]
) -> None:
    with pytest.raises(Invalid) as refused:
        texts.template_save(actor=admin_user, kind=kind, subject=subject, body=body, now=NOW)
    assert refused.value.errors == errors
    assert IntroTemplate.objects.count() == 0


def test_reset_goes_back_to_goodwords_wording(admin_user: User) -> None:
    texts.template_save(actor=admin_user, kind="ask_email", subject="S", body="B", now=NOW)
    assert texts.template_reset(actor=admin_user, kind="ask_email") is True
    assert texts.template_for("ask_email") == (
        engine.SUBJECTS["ask_email"],
        engine.DEFAULTS["ask_email"],
    )
    assert IntroTemplate.objects.count() == 0
    assert texts.template_reset(actor=admin_user, kind="ask_email") is False


def test_the_templates_in_force_list_every_kind(admin_user: User) -> None:
    texts.template_save(actor=admin_user, kind="linkedin", subject="", body="Hey.", now=NOW)
    current = texts.templates_current()
    assert [(c.kind, c.has_subject, c.row is not None) for c in current] == [
        ("blurb", False, False),
        ("email", True, False),
        ("linkedin", False, True),
        ("ask_email", True, False),
    ]
    assert current[2].body == "Hey."
    assert current[1].subject == engine.SUBJECTS["email"]
    rows = list(texts.export_rows(current))
    assert rows[2] == ["linkedin", "LinkedIn message", "", "Hey.", "admin@example.com", NOW]
    assert rows[0][4:] == ["", None]


# --- the preview -------------------------------------------------------------------------------


def test_the_preview_fills_in_samples_and_fallbacks_and_writes_nothing(settings: Any) -> None:
    settings.PRODUCT_NAME = ""
    body = "Hi {person_first_name}, {product} here[ for {person_company}]."
    preview = texts.template_preview(kind="email", subject="For {person_first_name|you}", body=body)
    assert preview.errors == {}
    assert preview.sample == texts.Rendered("For Sam", "Hi Sam, Brightwork here for Globex.")
    assert preview.bare == texts.Rendered("For you", "Hi there, their software here.")
    assert preview.values == engine.SAMPLE
    assert IntroTemplate.objects.count() == 0


def test_the_preview_of_a_broken_template_says_where_and_renders_what_parses() -> None:
    preview = texts.template_preview(kind="email", subject="Hi {rep_name}", body="Hi\n  {oops")
    assert preview.errors == {
        "body": ["line 2, column 3: a { without its } (write {{ for a brace)"]
    }
    assert preview.sample == texts.Rendered("Hi Priya Shah", None)
    assert preview.bare == texts.Rendered("Hi our account manager", None)


def test_the_preview_of_a_kind_without_a_subject_shows_none() -> None:
    preview = texts.template_preview(kind="blurb", subject="", body="{product}.")
    assert preview.sample == texts.Rendered(None, "Brightwork.")
    assert preview.bare == texts.Rendered(None, "Their software.")


def test_the_samples_name_the_product_when_it_is_set(settings: Any) -> None:
    settings.PRODUCT_NAME = "Acme CRM"
    preview = texts.template_preview(kind="linkedin", subject="", body="Try {product}!")
    assert preview.sample.text == "Try Acme CRM!"
    assert preview.values["product"] == "Acme CRM"
