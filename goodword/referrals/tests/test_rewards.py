"""Rewards through the services and selectors: the admins' rules, the grant with each reason
for no reward, the hold, the won-deal upkeep, the managers' decisions (and everyone else
refused, nothing changed), the queue and an advocate account's ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from goodword.crm.models import Account, Activity, Contact, Deal, Stage
from goodword.crm.services import account_create, contact_create, deal_move
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.referrals import rewards, services
from goodword.referrals.models import Introduction, Reward, RewardRule
from goodword.users.models import User

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
RULE = {
    "name": "Thank-you gift card",
    "trigger": "accepted",
    "kind": "gift_card",
    "value": "50",
    "currency": "usd",
    "hold_days": "7",
}


def rule(admin: User, **changes: Any) -> RewardRule:
    return rewards.rule_create(actor=admin, data={**RULE, **changes}, now=NOW)


def intro(
    advocate: Contact,
    *,
    name: str = "Grace Hopper",
    email: str = "grace@globex.com",
    state: str = "accepted",
    at: dt.datetime = NOW,
    **fields: Any,
) -> Introduction:
    """An introduction as the services leave it once the person has answered."""
    return Introduction.objects.create(
        state=state,
        advocate_account=advocate.account,
        advocate=advocate,
        person_name=name,
        person_email=email,
        waiting_since=at,
        created_at=at,
        updated_at=at,
        **fields,
    )


def customer(name: str, domain: str, since: str = "2024-06-01") -> Account:
    return account_create(
        actor=None,
        data={"name": name, "domain": domain, "lifecycle": "customer", "customer_since": since},
    )


def person_at(account: Account, first: str, email: str) -> Contact:
    return contact_create(actor=None, account=account, data={"first_name": first, "email": email})


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        Reward.objects.order_by("id").values_list(
            "status", "decided_by", "decided_at", "decision_note", "fulfilled_at"
        )
    )


# --- rules ---------------------------------------------------------------------------------


def test_an_admin_defines_a_rule(admin_user: User) -> None:
    made = rule(admin_user)
    assert (made.name, made.trigger, made.kind, made.value, made.currency, made.hold_days) == (
        "Thank-you gift card",
        "accepted",
        "gift_card",
        Decimal("50.00"),
        "USD",
        7,
    )
    assert (made.active, made.created_at) == (True, NOW)


def test_a_bad_rule_is_refused_field_by_field_and_nothing_is_written(admin_user: User) -> None:
    bad = {"name": " ", "value": "-1", "currency": "EURO", "hold_days": "-2"}
    with pytest.raises(Invalid) as refused:
        rule(admin_user, **bad)
    assert refused.value.errors == {
        "name": ["is required"],
        "value": ["'-1' is below 0"],
        "currency": ["'EURO' is not an ISO 4217 currency code"],
        "hold_days": ["must be between 0 and 3650 days"],
    }
    assert not RewardRule.objects.exists()


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_only_admins_define_rules(who: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(Forbidden):
        rule(request.getfixturevalue(who))
    assert not RewardRule.objects.exists()


def test_an_admin_changes_and_deactivates_a_rule(admin_user: User, manager: User) -> None:
    made = rule(admin_user)
    changed = rewards.rule_update(
        actor=admin_user, rule=made, data={**RULE, "value": "75.5", "hold_days": "0"}
    )
    assert (changed.value, changed.hold_days, changed.active) == (Decimal("75.50"), 0, True)
    with pytest.raises(Forbidden):
        rewards.rule_deactivate(actor=manager, rule=made)
    assert rewards.rule_deactivate(actor=admin_user, rule=made).active is False
    with pytest.raises(Invalid) as again:
        rewards.rule_deactivate(actor=admin_user, rule=made)
    assert again.value.errors == {"active": ["this rule is already inactive; nothing was changed"]}


# --- granting ------------------------------------------------------------------------------


def test_a_reward_is_held_for_the_rules_hold_days(admin_user: User, contact: Contact) -> None:
    made = rule(admin_user)
    rule(admin_user, name="Swag on the deal", trigger="won", kind="swag")
    introduction = intro(contact)
    [reward] = rewards.rewards_grant(introduction=introduction, trigger="accepted", now=NOW)
    assert (reward.rule, reward.status, reward.available_at, reward.ineligible_because) == (
        made,
        "held",
        NOW + dt.timedelta(days=7),
        "",
    )
    assert (reward.advocate_account, reward.advocate, reward.value, reward.currency) == (
        contact.account,
        contact,
        Decimal("50.00"),
        "USD",
    )


def test_without_hold_days_a_reward_waits_for_approval_at_once(
    admin_user: User, contact: Contact
) -> None:
    rule(admin_user, hold_days="0")
    [reward] = rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW)
    assert (reward.status, reward.available_at) == ("pending", NOW)


def test_granting_twice_makes_nothing_the_second_time(admin_user: User, contact: Contact) -> None:
    rule(admin_user)
    introduction = intro(contact)
    rewards.rewards_grant(introduction=introduction, trigger="accepted", now=NOW)
    later = NOW + dt.timedelta(hours=1)
    assert rewards.rewards_grant(introduction=introduction, trigger="accepted", now=later) == []
    assert Reward.objects.get().created_at == NOW


def test_an_inactive_rule_grants_nothing(admin_user: User, contact: Contact) -> None:
    rewards.rule_deactivate(actor=admin_user, rule=rule(admin_user))
    assert rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW) == []
    assert not Reward.objects.exists()


def test_an_unknown_trigger_is_refused(contact: Contact) -> None:
    with pytest.raises(Invalid) as refused:
        rewards.rewards_grant(introduction=intro(contact), trigger="signed", now=NOW)
    assert refused.value.errors == {
        "trigger": ["'signed' is not one of accepted, opportunity, won"]
    }


def grant_why(introduction: Introduction) -> tuple[str, str]:
    [reward] = rewards.rewards_grant(introduction=introduction, trigger="accepted", now=NOW)
    return reward.status, reward.ineligible_because


def test_no_reward_for_a_colleague_of_the_advocate(admin_user: User, contact: Contact) -> None:
    rule(admin_user)
    colleague = intro(contact, name="Dana", email="dana@eu.acme.io")
    assert grant_why(colleague) == ("ineligible", "Dana is a colleague of the advocate at acme.io")


def test_a_free_mail_address_is_nobodys_colleague(admin_user: User, contact: Contact) -> None:
    rule(admin_user)
    contact.account.domain = "gmail.com"
    contact.account.save()
    assert grant_why(intro(contact, email="dana@gmail.com")) == ("held", "")


def test_no_reward_for_someone_already_a_customer(admin_user: User, contact: Contact) -> None:
    rule(admin_user)
    person_at(customer("Initech", "initech.example"), "Bob", "bob@initech.example")
    known = intro(contact, name="Bob Builder", email="BOB@initech.example")
    assert grant_why(known) == ("ineligible", "Bob Builder is already a customer, at Initech")


def test_the_matched_contact_at_a_customer_counts_too(admin_user: User, contact: Contact) -> None:
    rule(admin_user)
    bob = person_at(customer("Initech", "initech.example"), "Bob", "bob@initech.example")
    known = intro(contact, name="Bob", email="bob.private@gmail.com", person_contact=bob)
    assert grant_why(known) == ("ineligible", "Bob is already a customer, at Initech")


def test_a_company_that_became_a_customer_after_the_introduction_does_not_void_it(
    admin_user: User, contact: Contact
) -> None:
    rule(admin_user)
    person_at(
        customer("Initech", "initech.example", since="2026-03-10"), "Bob", "bob@initech.example"
    )
    assert grant_why(intro(contact, email="bob@initech.example")) == ("held", "")


def test_the_first_referral_wins(
    admin_user: User, contact: Contact, other_contact: Contact
) -> None:
    rule(admin_user)
    first = intro(other_contact, state="opportunity", at=NOW - dt.timedelta(days=20))
    intro(other_contact, state="declined", at=NOW - dt.timedelta(days=30))
    second = intro(contact, email="Grace@Globex.com")
    assert grant_why(second) == (
        "ineligible",
        "already referred by Zenith Logistics on 11 February 2026; the first referral wins",
    )
    assert rewards.rewards_grant(introduction=first, trigger="accepted", now=NOW)[0].status == (
        "held"
    )


def test_a_declined_or_waiting_earlier_introduction_is_no_referral(
    admin_user: User, contact: Contact, other_contact: Contact
) -> None:
    rule(admin_user)
    intro(other_contact, state="declined", at=NOW - dt.timedelta(days=30))
    intro(other_contact, state="awaiting_consent", at=NOW - dt.timedelta(days=2))
    assert grant_why(intro(contact)) == ("held", "")


def test_a_referral_given_in_person_earns_the_accepted_and_opportunity_rewards(
    admin_user: User, rep: User, contact: Contact, stages: dict[str, Stage]
) -> None:
    accepted = rule(admin_user, hold_days="0")
    opened = rule(admin_user, name="Credit", trigger="opportunity", kind="account_credit")
    introduction = services.referral_log(
        actor=rep,
        advocate=contact,
        consent="in_person",
        now=NOW,
        data={"name": "Linus T", "email": "linus@kernel.example", "company": "Kernel Co"},
    )
    got = {r.rule_id: (r.status, r.deal_id) for r in Reward.objects.all()}
    assert got == {accepted.pk: ("pending", None), opened.pk: ("held", introduction.deal_id)}


# --- the worker: holds and won deals -------------------------------------------------------


def test_a_held_reward_is_released_at_exactly_the_end_of_its_hold(
    admin_user: User, contact: Contact
) -> None:
    rule(admin_user)
    [reward] = rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW)
    end = NOW + dt.timedelta(days=7)
    assert rewards.rewards_release(now=end - dt.timedelta(microseconds=1)) == 0
    assert Reward.objects.get().status == "held"
    assert rewards.rewards_release(now=end) == 1
    reward.refresh_from_db()
    assert reward.status == "pending"
    assert rewards.rewards_release(now=end) == 0


def test_a_won_referred_deal_earns_the_won_reward_once(
    admin_user: User, contact: Contact, deal: Deal, stages: dict[str, Stage]
) -> None:
    won = rule(admin_user, name="Donation", trigger="won", kind="donation", hold_days="30")
    introduction = intro(contact, state="opportunity", deal=deal)
    assert rewards.rewards_for_won_deals(now=NOW) == 0
    deal_move(actor=None, deal=deal, stage=stages["Closed Won"])
    assert rewards.rewards_for_won_deals(now=NOW) == 1
    assert rewards.rewards_for_won_deals(now=NOW) == 0
    [reward] = Reward.objects.all()
    assert (reward.rule, reward.introduction, reward.deal, reward.status) == (
        won,
        introduction,
        deal,
        "held",
    )


def test_a_won_rule_added_later_still_rewards_won_deals(
    admin_user: User, contact: Contact, deal: Deal, stages: dict[str, Stage]
) -> None:
    rule(admin_user, name="Donation", trigger="won", kind="donation")
    intro(contact, state="opportunity", deal=deal)
    deal_move(actor=None, deal=deal, stage=stages["Closed Won"])
    rewards.rewards_for_won_deals(now=NOW)
    swag = rule(admin_user, name="Swag", trigger="won", kind="swag")
    assert rewards.rewards_for_won_deals(now=NOW) == 1
    assert Reward.objects.filter(rule=swag).count() == 1


def test_the_upkeep_is_registered_for_the_worker() -> None:
    from goodword.jobs.services import UPKEEP

    rewards.register_upkeeps()
    assert UPKEEP["referrals.rewards"].every == dt.timedelta(minutes=5)


# --- decisions -----------------------------------------------------------------------------


@pytest.fixture
def instant(admin_user: User) -> RewardRule:
    """A rule without a hold: its rewards wait for approval at once."""
    return rule(admin_user, hold_days="0")


@pytest.fixture
def pending(instant: RewardRule, contact: Contact) -> Reward:
    [reward] = rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW)
    return reward


@pytest.fixture
def ineligible(instant: RewardRule, contact: Contact) -> Reward:
    colleague = intro(contact, name="Dana", email="dana@acme.io")
    [reward] = rewards.rewards_grant(introduction=colleague, trigger="accepted", now=NOW)
    return reward


def test_a_manager_approves_then_records_the_fulfilment(pending: Reward, manager: User) -> None:
    later = NOW + dt.timedelta(days=1)
    approved = rewards.reward_approve(actor=manager, reward=pending, now=NOW, note="great intro")
    assert (approved.status, approved.decided_by, approved.decided_at) == ("approved", manager, NOW)
    done = rewards.reward_fulfil(actor=manager, reward=approved, now=later, note="code emailed")
    assert (done.status, done.fulfilled_at, done.fulfilment_note) == (
        "fulfilled",
        later,
        "code emailed",
    )
    verbs = list(Activity.objects.filter(object_type="reward").values_list("verb", flat=True))
    assert sorted(verbs) == ["reward.approved", "reward.fulfilled"]


def test_a_stale_second_approval_changes_nothing_and_says_so(
    pending: Reward, manager: User, admin_user: User
) -> None:
    stale = Reward.objects.get(pk=pending.pk)
    rewards.reward_approve(actor=manager, reward=pending, now=NOW)
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        rewards.reward_approve(actor=admin_user, reward=stale, now=NOW + dt.timedelta(seconds=1))
    assert refused.value.errors == {
        "status": ["this reward is approved, not waiting for approval; nothing was changed"]
    }
    assert snapshot() == before


def test_a_rejection_needs_a_reason(pending: Reward, manager: User) -> None:
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        rewards.reward_reject(actor=manager, reward=pending, now=NOW, note="  ")
    assert refused.value.errors == {"note": ["say why"]}
    assert snapshot() == before
    rejected = rewards.reward_reject(actor=manager, reward=pending, now=NOW, note="duplicate")
    assert (rejected.status, rejected.decision_note) == ("rejected", "duplicate")


def test_a_manager_overrides_an_ineligible_reward_with_an_audited_reason(
    ineligible: Reward, manager: User, contact: Contact
) -> None:
    note = "Dana runs a separate subsidiary; the referral is genuine"
    done = rewards.reward_override(actor=manager, reward=ineligible, now=NOW, note=note)
    assert (done.status, done.decided_by, done.decided_at, done.decision_note) == (
        "pending",
        manager,
        NOW,
        note,
    )
    assert done.ineligible_because == "Dana is a colleague of the advocate at acme.io"
    [audit] = Activity.objects.filter(verb="reward.overridden")
    assert (audit.account, audit.actor, audit.object_id) == (contact.account, manager, done.pk)
    assert audit.before == {
        "status": "ineligible",
        "ineligible_because": "Dana is a colleague of the advocate at acme.io",
    }
    assert audit.after == {"status": "pending", "note": note}


def test_an_override_needs_a_reason_and_an_ineligible_reward(
    ineligible: Reward, pending: Reward, manager: User
) -> None:
    before = snapshot()
    with pytest.raises(Invalid) as no_note:
        rewards.reward_override(actor=manager, reward=ineligible, now=NOW, note="")
    with pytest.raises(Invalid) as not_ineligible:
        rewards.reward_override(actor=manager, reward=pending, now=NOW, note="why not")
    assert no_note.value.errors == {"note": ["say why"]}
    assert not_ineligible.value.errors == {
        "status": ["this reward is waiting for approval, not not eligible; nothing was changed"]
    }
    assert snapshot() == before
    assert not Activity.objects.filter(object_type="reward").exists()


@pytest.mark.parametrize("who", ["rep", "csm"])
@pytest.mark.parametrize("decide", ["reward_approve", "reward_reject", "reward_fulfil"])
def test_reps_and_csms_cannot_decide_and_nothing_changes(
    who: str, decide: str, pending: Reward, request: pytest.FixtureRequest
) -> None:
    before = snapshot()
    with pytest.raises(Forbidden):
        getattr(rewards, decide)(
            actor=request.getfixturevalue(who), reward=pending, now=NOW, note="x"
        )
    assert snapshot() == before
    assert not Activity.objects.filter(object_type="reward").exists()


@pytest.mark.parametrize("who", ["rep", "csm"])
def test_reps_and_csms_cannot_override(
    who: str, ineligible: Reward, request: pytest.FixtureRequest
) -> None:
    before = snapshot()
    with pytest.raises(Forbidden):
        rewards.reward_override(
            actor=request.getfixturevalue(who), reward=ineligible, now=NOW, note="x"
        )
    assert snapshot() == before


# --- reads ---------------------------------------------------------------------------------


def test_the_queue_puts_pending_first_oldest_first(
    admin_user: User, manager: User, contact: Contact
) -> None:
    rule(admin_user, hold_days="0")
    newer = rewards.rewards_grant(
        introduction=intro(contact, email="a@one.example"), trigger="accepted", now=NOW
    )[0]
    older = rewards.rewards_grant(
        introduction=intro(contact, email="b@two.example"),
        trigger="accepted",
        now=NOW - dt.timedelta(days=1),
    )[0]
    colleague = rewards.rewards_grant(
        introduction=intro(contact, email="c@acme.io"),
        trigger="accepted",
        now=NOW - dt.timedelta(days=9),
    )[0]
    held = rule(admin_user, name="Held", trigger="opportunity", hold_days="3")
    rewards.rewards_grant(introduction=intro(contact), trigger="opportunity", now=NOW)
    assert list(rewards.rewards_queue(manager)) == [older, newer, colleague]
    assert [r.rule for r in rewards.rewards_held(manager)] == [held]


@pytest.mark.parametrize("who", ["rep", "csm"])
def test_the_queue_is_the_managers(who: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(who)
    for selector in (rewards.rewards_queue, rewards.rewards_to_fulfil, rewards.rewards_settled):
        with pytest.raises(NotFound):
            selector(user)


def test_the_ledger_totals_by_currency_and_status(
    admin_user: User, manager: User, rep: User, contact: Contact
) -> None:
    rule(admin_user, hold_days="0")
    rule(admin_user, name="Credit", kind="account_credit", value="100", currency="EUR")
    first = rewards.rewards_grant(introduction=intro(contact), trigger="accepted", now=NOW)
    rewards.rewards_grant(
        introduction=intro(contact, email="x@other.example"), trigger="accepted", now=NOW
    )
    rewards.reward_approve(actor=manager, reward=first[0], now=NOW)
    ledger = rewards.ledger_for(user=rep, account_id=contact.account_id)
    assert [(t.currency, t.status, t.count, t.value) for t in ledger.totals] == [
        ("EUR", "held", 2, Decimal("200.00")),
        ("USD", "approved", 1, Decimal("50.00")),
        ("USD", "pending", 1, Decimal("50.00")),
    ]
    assert ledger.rewards.count() == 4


def test_the_ledger_is_hidden_from_who_may_not_see_the_account(
    other_rep: User, account: Account
) -> None:
    with pytest.raises(NotFound):
        rewards.ledger_for(user=other_rep, account_id=account.pk)


def test_rewards_to_fulfil_are_the_approved_ones(pending: Reward, manager: User) -> None:
    assert list(rewards.rewards_to_fulfil(manager)) == []
    rewards.reward_approve(actor=manager, reward=pending, now=timezone.now())
    assert list(rewards.rewards_to_fulfil(manager)) == [pending]
