"""The rewards pages through the client: the admins' rules, the managers' queue and
fulfilment list, an advocate account's ledger, and each table's CSV export; everyone else
gets 404 and changes nothing."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from goodword.crm.models import Account, Contact
from goodword.referrals import rewards
from goodword.referrals.models import Reward, RewardRule
from goodword.referrals.tests.test_rewards import NOW, RULE, intro, rule
from goodword.users.models import User

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def text_of(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def pending(admin_user: User, contact: Contact) -> Reward:
    rule(admin_user, hold_days="0")
    [reward] = rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW)
    return reward


@pytest.fixture
def ineligible(admin_user: User, contact: Contact) -> Reward:
    made = rule(admin_user, name="Colleague check", trigger="opportunity", hold_days="0")
    colleague = intro(contact, name="Dana", email="dana@acme.io")
    [reward] = rewards.rewards_grant(introduction=colleague, trigger="opportunity", now=NOW)
    assert reward.rule == made
    return reward


# --- rules ---------------------------------------------------------------------------------


def test_an_admin_adds_a_rule_and_sees_it_listed(admin_user: User) -> None:
    client = client_for(admin_user)
    assert client.get(reverse("rewards-rule-new")).status_code == 200
    posted = client.post(reverse("rewards-rule-new"), RULE)
    assert posted.status_code == 302
    made = RewardRule.objects.get()
    assert (made.name, made.currency, made.hold_days) == ("Thank-you gift card", "USD", 7)
    page = text_of(client.get(reverse("rewards-rules")))
    assert "Thank-you gift card" in page
    assert "Introduction accepted" in page


def test_a_bad_rule_comes_back_with_its_errors_and_nothing_is_saved(admin_user: User) -> None:
    posted = client_for(admin_user).post(
        reverse("rewards-rule-new"), {**RULE, "name": "", "currency": "XX"}
    )
    assert posted.status_code == 400
    assert "is required" in text_of(posted)
    assert "&#x27;XX&#x27; is not an ISO 4217 currency code" in text_of(posted)
    assert not RewardRule.objects.exists()


def test_an_admin_edits_and_deactivates_a_rule(admin_user: User) -> None:
    made = rule(admin_user)
    client = client_for(admin_user)
    assert client.get(reverse("rewards-rule-edit", args=[made.pk])).status_code == 200
    edited = client.post(
        reverse("rewards-rule-edit", args=[made.pk]), {**RULE, "value": "80", "active": "on"}
    )
    assert edited.status_code == 302
    made.refresh_from_db()
    assert (str(made.value), made.active) == ("80.00", True)
    assert client.post(reverse("rewards-rule-deactivate", args=[made.pk])).status_code == 302
    made.refresh_from_db()
    assert made.active is False
    again = client.post(reverse("rewards-rule-deactivate", args=[made.pk]))
    assert again.status_code == 400
    assert "this rule is already inactive; nothing was changed" in text_of(again)


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_anyone_but_an_admin_gets_404_on_the_rules(
    who: str, admin_user: User, request: pytest.FixtureRequest
) -> None:
    made = rule(admin_user)
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("rewards-rules")).status_code == 404
    assert client.get(reverse("rewards-rules-export")).status_code == 404
    assert client.post(reverse("rewards-rule-new"), RULE).status_code == 404
    edit = reverse("rewards-rule-edit", args=[made.pk])
    assert client.post(edit, {**RULE, "name": "Mine"}).status_code == 404
    assert client.post(reverse("rewards-rule-deactivate", args=[made.pk])).status_code == 404
    assert list(RewardRule.objects.values_list("name", "active")) == [("Thank-you gift card", True)]


def test_the_rules_export_neutralises_formulas(admin_user: User) -> None:
    made = rule(admin_user, name="=HYPERLINK(1)")
    exported = rows_of(client_for(admin_user).get(reverse("rewards-rules-export")))
    assert exported == [
        [
            "id",
            "name",
            "trigger",
            "kind",
            "value",
            "currency",
            "hold_days",
            "active",
            "created_at",
        ],
        [
            str(made.pk),
            "'=HYPERLINK(1)",
            "accepted",
            "gift_card",
            "50.00",
            "USD",
            "7",
            "true",
            "2026-03-03T09:30:00+00:00",
        ],
    ]


# --- the queue -----------------------------------------------------------------------------


def test_a_manager_sees_the_queue_with_the_reasons(
    pending: Reward, ineligible: Reward, manager: User
) -> None:
    page = text_of(client_for(manager).get(reverse("rewards-queue")))
    assert page.index("Grace Hopper") < page.index("Dana")
    assert "Dana is a colleague of the advocate at acme.io" in page
    assert f'action="{reverse("rewards-override", args=[ineligible.pk])}"' in page
    assert f'action="{reverse("rewards-approve", args=[pending.pk])}"' in page


def test_a_manager_approves_from_the_queue(pending: Reward, manager: User) -> None:
    posted = client_for(manager).post(reverse("rewards-approve", args=[pending.pk]))
    assert (posted.status_code, posted["Location"]) == (302, reverse("rewards-queue"))
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("approved", manager)


def test_a_rejection_without_a_reason_is_shown_and_changes_nothing(
    pending: Reward, manager: User
) -> None:
    posted = client_for(manager).post(reverse("rewards-reject", args=[pending.pk]), {"note": ""})
    assert posted.status_code == 400
    assert "say why" in text_of(posted)
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("pending", None)


def test_a_stale_double_click_says_nothing_changed(pending: Reward, manager: User) -> None:
    client = client_for(manager)
    client.post(reverse("rewards-approve", args=[pending.pk]))
    again = client.post(reverse("rewards-reject", args=[pending.pk]), {"note": "oops"})
    assert again.status_code == 400
    assert "this reward is approved, not waiting for approval; nothing was changed" in (
        text_of(again)
    )
    pending.refresh_from_db()
    assert (pending.status, pending.decision_note) == ("approved", "")


def test_a_manager_overrides_an_ineligible_reward(ineligible: Reward, manager: User) -> None:
    posted = client_for(manager).post(
        reverse("rewards-override", args=[ineligible.pk]), {"note": "separate subsidiary"}
    )
    assert posted.status_code == 302
    ineligible.refresh_from_db()
    assert (ineligible.status, ineligible.decision_note) == ("pending", "separate subsidiary")


@pytest.mark.parametrize("who", ["rep", "csm"])
def test_reps_and_csms_get_404_on_the_queue_and_change_nothing(
    who: str, pending: Reward, ineligible: Reward, request: pytest.FixtureRequest
) -> None:
    client = client_for(request.getfixturevalue(who))
    for name in ("rewards-queue", "rewards-queue-export"):
        assert client.get(reverse(name)).status_code == 404
    for name in ("rewards-fulfilment", "rewards-fulfilment-export"):
        assert client.get(reverse(name)).status_code == 404
    for action, reward in [
        ("approve", pending),
        ("reject", pending),
        ("fulfil", pending),
        ("override", ineligible),
    ]:
        posted = client.post(reverse(f"rewards-{action}", args=[reward.pk]), {"note": "x"})
        assert posted.status_code == 404
    statuses = dict(Reward.objects.values_list("pk", "status"))
    assert statuses == {pending.pk: "pending", ineligible.pk: "ineligible"}


def test_the_queue_export_lists_the_waiting_rewards(
    pending: Reward, ineligible: Reward, manager: User
) -> None:
    exported = rows_of(client_for(manager).get(reverse("rewards-queue-export")))
    assert exported[0][:3] == ["id", "status", "advocate_account"]
    assert [(r[0], r[1], r[16]) for r in exported[1:]] == [
        (str(pending.pk), "pending", ""),
        (str(ineligible.pk), "ineligible", "Dana is a colleague of the advocate at acme.io"),
    ]


# --- fulfilment ----------------------------------------------------------------------------


def test_a_manager_marks_an_approved_reward_fulfilled(
    pending: Reward, manager: User, contact: Contact
) -> None:
    rewards.reward_approve(actor=manager, reward=pending, now=NOW, note="ok")
    client = client_for(manager)
    page = text_of(client.get(reverse("rewards-fulfilment")))
    assert "ada@acme.io" in page
    posted = client.post(reverse("rewards-fulfil", args=[pending.pk]), {"note": "card sent"})
    assert (posted.status_code, posted["Location"]) == (302, reverse("rewards-fulfilment"))
    pending.refresh_from_db()
    assert (pending.status, pending.fulfilment_note) == ("fulfilled", "card sent")
    assert pending.fulfilled_at is not None


def test_fulfilling_a_reward_not_approved_is_refused(pending: Reward, manager: User) -> None:
    posted = client_for(manager).post(reverse("rewards-fulfil", args=[pending.pk]))
    assert posted.status_code == 400
    assert "this reward is waiting for approval, not approved; nothing was changed" in (
        text_of(posted)
    )
    pending.refresh_from_db()
    assert (pending.status, pending.fulfilled_at) == ("pending", None)


def test_the_fulfilment_export_holds_approved_and_fulfilled_rewards(
    admin_user: User, manager: User, contact: Contact
) -> None:
    rule(admin_user, hold_days="0")
    approved, fulfilled, waiting = (
        rewards.rewards_grant(
            introduction=intro(contact, name=name, email=email), trigger="accepted", now=NOW
        )[0]
        for name, email in [
            ("Grace Hopper", "grace@globex.com"),
            ("Linus T", "linus@kernel.example"),
            ("Ken T", "ken@bell.example"),
        ]
    )
    for reward in (approved, fulfilled):
        rewards.reward_approve(actor=manager, reward=reward, now=NOW, note="good")
    rewards.reward_fulfil(actor=manager, reward=fulfilled, now=NOW, note="=sent")
    exported = rows_of(client_for(manager).get(reverse("rewards-fulfilment-export")))
    stamp = "2026-03-03T09:30:00+00:00"
    common = ["Acme Analytics", "Ada Lovelace", "ada@acme.io"]
    rule_cells = ["", "Thank-you gift card", "accepted", "gift_card", "50.00", "USD"]
    assert exported[1:] == [
        [str(approved.pk), "approved", *common, "Grace Hopper", "grace@globex.com",
         str(approved.introduction_id), *rule_cells, stamp, stamp, "",
         "manager@example.com", stamp, "good", "", ""],
        [str(fulfilled.pk), "fulfilled", *common, "Linus T", "linus@kernel.example",
         str(fulfilled.introduction_id), *rule_cells, stamp, stamp, "",
         "manager@example.com", stamp, "good", stamp, "'=sent"],
    ]  # fmt: skip
    assert waiting.pk not in {int(row[0]) for row in exported[1:]}


# --- the ledger ----------------------------------------------------------------------------


def test_whoever_sees_the_account_reads_its_ledger(
    pending: Reward, rep: User, csm: User, account: Account
) -> None:
    for user in (rep, csm):
        page = text_of(client_for(user).get(reverse("rewards-ledger", args=[account.pk])))
        assert "Rewards of Acme Analytics" in page
        assert "Waiting for approval" in page
        assert "50.00" in page


def test_the_ledger_export_lists_the_accounts_rewards(
    pending: Reward, rep: User, account: Account
) -> None:
    exported = rows_of(client_for(rep).get(reverse("rewards-ledger-export", args=[account.pk])))
    assert [(r[0], r[1], r[2], r[12], r[13]) for r in exported[1:]] == [
        (str(pending.pk), "pending", "Acme Analytics", "50.00", "USD")
    ]


def test_someone_who_may_not_see_the_account_gets_404_on_its_ledger(
    pending: Reward, other_rep: User, account: Account
) -> None:
    client = client_for(other_rep)
    assert client.get(reverse("rewards-ledger", args=[account.pk])).status_code == 404
    assert client.get(reverse("rewards-ledger-export", args=[account.pk])).status_code == 404
