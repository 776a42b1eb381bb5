"""The referral endpoints of /api/v1/ through Django's test client, with Bearer keys of the
shared fixtures' users: an ask and its actions, introductions, a referral logged by hand, a
referred deal's credit, reward rules and rewards, and the intro templates. Each refusal is
checked to leave every row as it was."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from goodword.crm.models import Account, Contact, Deal, Stage, Task
from goodword.crm.services import contact_create
from goodword.jobs.models import Job
from goodword.referrals.models import (
    CreditChange,
    DealCredit,
    Introduction,
    IntroTemplate,
    Reward,
    RewardRule,
)
from goodword.referrals.rewards import rewards_grant, rule_create
from goodword.users.models import User
from goodword.users.services import apikey_create

API = "/api/v1"
Call = Callable[..., Any]


@pytest.fixture
def api(client: Client) -> Callable[[User], Call]:
    """api(user)(method, path, body=None, **query) with a read-write key of that user."""

    def for_user(user: User) -> Call:
        _, key = apikey_create(user=user, scopes=["read", "write"])
        headers = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: Any = None, **query: Any) -> Any:
            send = getattr(client, method.lower())
            if body is None and method in {"GET", "DELETE"}:
                return send(API + path, query or None, headers=headers)
            return send(
                API + path,
                body if body is not None else {},
                content_type="application/json",
                headers=headers,
            )

        return call

    return for_user


def snapshot() -> list[list[dict[str, Any]]]:
    models: list[type[Model]] = [
        Deal,
        Task,
        Introduction,
        DealCredit,
        CreditChange,
        RewardRule,
        Reward,
        IntroTemplate,
        Job,
    ]
    return [list(m._default_manager.order_by("pk").values()) for m in models]


# --- an ask ----------------------------------------------------------------------------------


def test_an_ask_reads_as_its_page_shows_it(
    api: Callable[[User], Call], rep: User, ask: Task, contact: Contact
) -> None:
    answer = api(rep)("GET", f"/asks/{ask.pk}")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["id"], body["contact_id"], body["owner_email"]) == (ask.pk, contact.pk, rep.email)
    assert [c["email"] for c in body["contacts"]] == ["ada@acme.io"]
    assert body["contacts"][0]["may_ask"] is True
    assert {d["kind"] for d in body["drafts"]} >= {"blurb", "email", "linkedin"}
    assert all("{" not in d["text"] for d in body["drafts"])
    assert body["ask_email"]["subject"]
    assert body["introduction_ids"] == []


def test_a_task_that_is_no_ask_and_a_foreign_ask_are_404(
    api: Callable[[User], Call], rep: User, other_rep: User, task: Task, ask: Task
) -> None:
    assert api(rep)("GET", f"/asks/{task.pk}").status_code == 404
    assert api(other_rep)("GET", f"/asks/{ask.pk}").status_code == 404
    before = snapshot()
    body = {"channel": "call", "outcome": "declined"}
    assert api(other_rep)("POST", f"/asks/{ask.pk}/record", body).status_code == 404
    assert snapshot() == before


def test_an_agreed_ask_starts_an_introduction_and_returns_the_link_once(
    api: Callable[[User], Call], rep: User, ask: Task, stages: dict[str, Stage]
) -> None:
    call = api(rep)
    body = {
        "channel": "meeting",
        "outcome": "agreed",
        "person": {"name": "Grace Hopper", "company": "Globex"},
        "email_link": False,
    }
    answer = call("POST", f"/asks/{ask.pk}/record", body)

    assert answer.status_code == 200, answer.content
    recorded = answer.json()
    assert recorded["advocate_url"].startswith("http")
    assert "/r/advocate/" in recorded["advocate_url"]
    intro_id = recorded["introduction_id"]
    listed = call("GET", "/introductions", state="advocate_agreed").json()
    assert [i["id"] for i in listed["items"]] == [intro_id]
    detail = call("GET", f"/introductions/{intro_id}").json()
    assert detail["person"]["name"] == "Grace Hopper"
    assert [s["to_state"] for s in detail["steps"]] == ["advocate_agreed"]
    assert detail["consents"] == []
    # the link is not kept anywhere it could be read again
    assert recorded["advocate_url"] not in str(call("GET", f"/asks/{ask.pk}").json())


def test_a_bad_outcome_is_refused_and_changes_nothing(
    api: Callable[[User], Call], rep: User, ask: Task
) -> None:
    before = snapshot()
    answer = api(rep)("POST", f"/asks/{ask.pk}/record", {"channel": "fax", "outcome": "agreed"})
    assert answer.status_code == 422
    assert "channel" in answer.json()["errors"]
    other = api(rep)(
        "POST",
        f"/asks/{ask.pk}/record",
        {"channel": "call", "outcome": "declined", "contact_id": 999_999},
    )
    assert other.status_code == 400
    assert other.json()["errors"] == {"contact_id": ["is not a contact of the ask's account"]}
    assert snapshot() == before


def test_no_answer_queues_a_follow_up_task(
    api: Callable[[User], Call], rep: User, ask: Task
) -> None:
    answer = api(rep)("POST", f"/asks/{ask.pk}/record", {"channel": "call", "outcome": "no_answer"})

    assert answer.status_code == 200, answer.content
    follow_up = Task.objects.get(pk=answer.json()["follow_up_task_id"])
    assert follow_up.status == "open"
    assert follow_up.owner == rep
    ask.refresh_from_db()
    assert ask.status != "open"


def test_the_ask_sent_by_email_goes_to_the_outbox(
    api: Callable[[User], Call], rep: User, ask: Task
) -> None:
    body = {"subject": "A favour, Ada?", "body": "Would you introduce us to a peer?"}
    answer = api(rep)("POST", f"/asks/{ask.pk}/email", body)

    assert answer.status_code == 200, answer.content
    sent = [j.payload for j in Job.objects.filter(kind="email.send")]
    assert [p["subject"] for p in sent] == ["A favour, Ada?"]
    assert "ada@acme.io" in sent[0]["to"]
    assert Introduction.objects.get().pk == answer.json()["introduction_id"]


def test_an_introduction_is_withdrawn_once(
    api: Callable[[User], Call], rep: User, other_rep: User, ask: Task
) -> None:
    call = api(rep)
    started = call("POST", f"/asks/{ask.pk}/record", {"channel": "call", "outcome": "agreed"})
    intro_id = started.json()["introduction_id"]
    assert api(other_rep)("POST", f"/introductions/{intro_id}/withdraw", {}).status_code == 404

    answer = call("POST", f"/introductions/{intro_id}/withdraw", {"note": "Wrong person"})

    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "withdrawn"
    before = snapshot()
    again = call("POST", f"/introductions/{intro_id}/withdraw", {})
    assert again.status_code == 400
    assert snapshot() == before


# --- a referral logged by hand, and the deal's credit ---------------------------------------


@pytest.fixture
def logged(
    api: Callable[[User], Call], rep: User, contact: Contact, stages: dict[str, Stage]
) -> dict[str, Any]:
    body = {
        "advocate_contact_id": contact.pk,
        "person": {
            "name": "Grace Hopper",
            "email": "grace@globex.com",
            "company": "Globex",
            "title": "CTO",
        },
        "consent": "in_person",
        "notes": "Met at the user group.",
    }
    answer = api(rep)("POST", "/referrals", body)
    assert answer.status_code == 201, answer.content
    result: dict[str, Any] = answer.json()
    return result


def test_a_referral_given_in_person_opens_a_credited_deal(
    api: Callable[[User], Call], rep: User, logged: dict[str, Any], contact: Contact
) -> None:
    assert logged["state"] == "opportunity"
    assert [c["decision"] for c in logged["consents"]] == ["accepted"]
    credits = api(rep)("GET", f"/deals/{logged['deal_id']}/credits").json()

    assert credits["credits"] == [
        {
            "advocate_account_id": contact.account_id,
            "advocate_account": "Acme Analytics",
            "advocate_contact_id": contact.pk,
            "advocate_email": "ada@acme.io",
            "share": "100.00",
            "introduction_id": logged["id"],
        }
    ]


def test_a_referral_needs_a_customer_contact_the_caller_sees(
    api: Callable[[User], Call], other_rep: User, contact: Contact, other_contact: Contact
) -> None:
    before = snapshot()
    person = {"name": "Grace", "email": "grace@globex.com"}
    hidden = {"advocate_contact_id": contact.pk, "person": person, "consent": "email"}
    assert api(other_rep)("POST", "/referrals", hidden).status_code == 404
    prospect = {"advocate_contact_id": other_contact.pk, "person": person, "consent": "email"}
    answer = api(other_rep)("POST", "/referrals", prospect)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "advocate_contact_id": ["Zenith Logistics is not a customer"]
    }
    assert snapshot() == before


def test_a_manager_splits_the_credit_and_a_rep_may_not(
    api: Callable[[User], Call],
    rep: User,
    manager: User,
    logged: dict[str, Any],
    contact: Contact,
    other_account: Account,
) -> None:
    url = f"/deals/{logged['deal_id']}/credits"
    split = {
        "shares": [
            {
                "advocate_account_id": contact.account_id,
                "advocate_contact_id": contact.pk,
                "share": "60",
            },
            {"advocate_account_id": other_account.pk, "share": "40.00"},
        ],
        "reason": "Zenith's CFO made the second call",
    }
    before = snapshot()
    assert api(rep)("PUT", url, split).status_code == 403
    assert snapshot() == before

    answer = api(manager)("PUT", url, split)

    assert answer.status_code == 200, answer.content
    shares = {c["advocate_account_id"]: c["share"] for c in answer.json()["credits"]}
    assert shares == {contact.account_id: "60.00", other_account.pk: "40.00"}
    kept = DealCredit.objects.get(advocate=contact)
    assert kept.introduction_id == logged["id"]
    assert CreditChange.objects.get().reason == "Zenith's CFO made the second call"


def test_shares_that_do_not_sum_to_100_are_refused(
    api: Callable[[User], Call], manager: User, logged: dict[str, Any], contact: Contact
) -> None:
    before = snapshot()
    body = {
        "shares": [{"advocate_account_id": contact.account_id, "share": "99.99"}],
        "reason": "Typo",
    }
    answer = api(manager)("PUT", f"/deals/{logged['deal_id']}/credits", body)
    assert answer.status_code == 400
    assert "100" in answer.json()["errors"]["shares"][0]
    assert snapshot() == before


def test_a_referral_deal_from_the_api_names_who_referred_it(
    api: Callable[[User], Call],
    rep: User,
    account: Account,
    contact: Contact,
    stages: dict[str, Stage],
) -> None:
    prospect = api(rep)("POST", "/accounts", {"name": "Globex"}).json()
    call = api(rep)
    body = {"account_id": prospect["id"], "name": "Globex new", "source": "referral"}
    before = snapshot()
    refused = call("POST", "/deals", body)
    assert refused.status_code == 400
    assert "referred_by_contact_id" in refused.json()["errors"]
    assert snapshot() == before

    answer = call("POST", "/deals", {**body, "referred_by_contact_id": contact.pk})

    assert answer.status_code == 201, answer.content
    credit = DealCredit.objects.get(deal_id=answer.json()["id"])
    assert (credit.advocate, credit.share) == (contact, Decimal("100.00"))


def test_an_advocate_the_caller_cannot_see_is_no_such_record(
    api: Callable[[User], Call], other_rep: User, other_account: Account, contact: Contact
) -> None:
    body = {
        "account_id": other_account.pk,
        "name": "Zenith new",
        "source": "referral",
        "referred_by_contact_id": contact.pk,
    }
    answer = api(other_rep)("POST", "/deals", body)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "referred_by_contact_id": ["no contact you can see has this id"]
    }


# --- rewards ---------------------------------------------------------------------------------


def test_reward_rules_are_for_admins(
    api: Callable[[User], Call], admin_user: User, manager: User, rep: User
) -> None:
    body = {
        "name": "Gift card",
        "trigger": "won",
        "kind": "gift_card",
        "value": "50",
        "currency": "USD",
        "hold_days": 30,
    }
    for user in (rep, manager):
        assert api(user)("GET", "/reward-rules").status_code == 404
        assert api(user)("POST", "/reward-rules", body).status_code == 404
    assert not RewardRule.objects.exists()

    call = api(admin_user)
    created = call("POST", "/reward-rules", body)
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    changed = call("PATCH", f"/reward-rules/{rule_id}", {"value": "75.00"})
    assert (changed.json()["value"], changed.json()["hold_days"]) == ("75.00", 30)
    assert call("POST", f"/reward-rules/{rule_id}/deactivate").json()["active"] is False
    assert call("POST", f"/reward-rules/{rule_id}/deactivate").status_code == 400
    assert call("GET", "/reward-rules").json()["count"] == 1


def test_a_manager_approves_a_reward_and_records_its_fulfilment(
    api: Callable[[User], Call],
    admin_user: User,
    manager: User,
    rep: User,
    logged: dict[str, Any],
) -> None:
    now = timezone.now()
    rule_create(
        actor=admin_user,
        data={
            "name": "Thanks",
            "trigger": "accepted",
            "kind": "thank_you",
            "value": "0",
            "currency": "USD",
            "hold_days": 0,
        },
        now=now,
    )
    rewards_grant(
        introduction=Introduction.objects.get(pk=logged["id"]), trigger="accepted", now=now
    )
    reward = Reward.objects.get()
    assert api(rep)("GET", "/rewards").status_code == 404
    assert api(rep)("POST", f"/rewards/{reward.pk}/approve", {}).status_code == 404
    call = api(manager)
    assert call("GET", "/rewards", status="pending").json()["count"] == 1

    approved = call("POST", f"/rewards/{reward.pk}/approve", {"note": "Well deserved"})
    fulfilled = call("POST", f"/rewards/{reward.pk}/fulfil", {"note": "Card sent"})

    assert approved.json()["status"] == "approved"
    assert (fulfilled.json()["status"], fulfilled.json()["fulfilment_note"]) == (
        "fulfilled",
        "Card sent",
    )
    assert call("POST", f"/rewards/{reward.pk}/nonsense", {}).status_code == 422
    ledger = api(rep)("GET", f"/accounts/{reward.advocate_account_id}/rewards").json()
    assert [r["id"] for r in ledger["rewards"]] == [reward.pk]
    assert ledger["totals"][0]["status"] == "fulfilled"


# --- intro templates -------------------------------------------------------------------------


def test_everyone_reads_the_templates_and_only_admins_change_them(
    api: Callable[[User], Call], rep: User, admin_user: User
) -> None:
    listed = api(rep)("GET", "/intro-templates").json()
    assert {t["kind"] for t in listed} == {"blurb", "email", "linkedin", "ask_email"}
    assert all(t["is_default"] for t in listed)
    wording = {"body": "[{advocate_name} thinks you should meet ]{rep_name|our team}."}
    before = snapshot()
    assert api(rep)("PUT", "/intro-templates/blurb", wording).status_code == 403
    assert api(rep)("POST", "/intro-templates/blurb/preview", wording).status_code == 403
    assert api(rep)("DELETE", "/intro-templates/blurb").status_code == 403
    assert snapshot() == before

    call = api(admin_user)
    preview = call("POST", "/intro-templates/blurb/preview", wording).json()
    assert preview["errors"] == {}
    assert preview["bare"]["text"] == "Our team."  # the fallback, as a sentence
    assert "thinks you should meet" in preview["sample"]["text"]
    assert IntroTemplate.objects.count() == 0
    saved = call("PUT", "/intro-templates/blurb", wording).json()
    assert (saved["is_default"], saved["updated_by_email"]) == (False, admin_user.email)
    reset = call("DELETE", "/intro-templates/blurb").json()
    assert reset["is_default"] is True
    assert call("PUT", "/intro-templates/unknown", wording).status_code == 422


def test_a_template_that_does_not_parse_is_refused_with_its_place(
    api: Callable[[User], Call], admin_user: User
) -> None:
    answer = api(admin_user)("PUT", "/intro-templates/blurb", {"body": "Hi {advocate_name"})
    assert answer.status_code == 400
    assert "body" in answer.json()["errors"]
    assert not IntroTemplate.objects.exists()


def test_the_introductions_list_shows_only_what_the_caller_may_see(
    api: Callable[[User], Call],
    rep: User,
    other_rep: User,
    other_account: Account,
    logged: dict[str, Any],
) -> None:
    assert api(rep)("GET", "/introductions").json()["count"] == 1
    assert api(other_rep)("GET", "/introductions").json()["count"] == 0
    assert api(other_rep)("GET", f"/introductions/{logged['id']}").status_code == 404
    assert api(rep)("GET", "/introductions", colour="red").status_code == 400


def test_another_contact_of_the_asks_account_may_be_the_one_asked(
    api: Callable[[User], Call], rep: User, ask: Task, account: Account
) -> None:
    bob = contact_create(actor=rep, account=account, data={"email": "bob@acme.io"})
    answer = api(rep)(
        "POST",
        f"/asks/{ask.pk}/record",
        {"channel": "call", "outcome": "declined", "contact_id": bob.pk},
    )
    assert answer.status_code == 200, answer.content
    ask.refresh_from_db()
    assert ask.contact == bob  # the ask counts against Bob's budget, not Ada's
