"""The demo's referral motion is the product's own: introductions whose steps the state
machine allows, consents where the person answered, credited referral deals, and rewards
that their rules and the product's eligibility checks would have granted."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest
from django.test import override_settings

from goodword.config import EventsConfig
from goodword.crm.models import Deal
from goodword.demo.generator import DemoSummary, generate, stages_reset, wipe
from goodword.engine.intros import FINAL, IntroEvent, IntroState, due, next_due_at, transition
from goodword.referrals.models import (
    REMIND,
    START,
    Consent,
    DealCredit,
    Introduction,
    IntroductionStep,
    Reward,
    RewardRule,
    RewardStatus,
)
from goodword.referrals.rewards import (
    REFERRED,
    ineligible_because,
    rewards_for_won_deals,
    rewards_release,
)
from goodword.referrals.services import consent_text

TODAY = dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """One dense demo company for the tests that read it (enough referral deals for every
    reward status), committed once and wiped after the module, with its own event store."""
    store = tmp_path_factory.mktemp("store") / "events.duckdb"
    with override_settings(EVENTS_STORE=EventsConfig("duckdb", path=str(store))):
        with django_db_blocker.unblock():
            summary = generate(accounts=500, seed=11, today=TODAY, deals_per_account=8)
        yield summary
        with django_db_blocker.unblock():
            wipe()
            stages_reset()


def steps_of() -> dict[int, list[IntroductionStep]]:
    steps: dict[int, list[IntroductionStep]] = {}
    for step in IntroductionStep.objects.order_by("at", "id"):
        steps.setdefault(step.introduction_id, []).append(step)
    return steps


def test_every_introduction_state_agrees_with_its_steps(db: None, demo: DemoSummary) -> None:
    steps = steps_of()
    intros = list(Introduction.objects.all())
    assert len(intros) > 100
    assert sorted(steps) == sorted(i.pk for i in intros)
    for intro in intros:
        history = steps[intro.pk]
        first = history[0]
        assert (first.event, first.from_state, first.to_state) == (START, "", "advocate_agreed")
        assert first.at == intro.created_at
        for before, step in pairwise(history):
            assert step.from_state == before.to_state
            assert step.at >= before.at
            if step.event == REMIND:
                assert step.to_state == step.from_state
            else:
                moved = transition(IntroState(step.from_state), IntroEvent(step.event))
                assert step.to_state == moved
        assert history[-1].to_state == intro.state
        assert intro.updated_at == history[-1].at
        assert history[-1].at <= NOW


def test_waits_reminders_and_expiries_fall_where_the_worker_puts_them(
    db: None, demo: DemoSummary
) -> None:
    steps = steps_of()
    for intro in Introduction.objects.all():
        state, history = IntroState(intro.state), steps[intro.pk]
        reminded = intro.reminded_at is not None
        assert intro.due_at == next_due_at(
            state=state, waiting_since=intro.waiting_since, reminded=reminded
        )
        # the worker owes nothing at the demo's now: every wait still under way is younger
        # than the expiry and was reminded once it was due a reminder
        assert (
            due(state=state, waiting_since=intro.waiting_since, reminded=reminded, now=NOW) is None
        )
        reminders = [s.at for s in history if s.event == REMIND]
        assert len(reminders) == len(set(reminders))
        if reminded:
            assert intro.reminded_at in reminders
            assert intro.reminded_at == intro.waiting_since + dt.timedelta(days=5)
        if state == IntroState.EXPIRED:
            assert history[-1].at - intro.waiting_since == dt.timedelta(days=14)
        ended = [s.at for s in history if IntroState(s.to_state) in FINAL]
        assert intro.closed_at == (ended[0] if ended else None)


def test_the_last_month_shows_every_state_and_only_opportunities_are_older(
    db: None, demo: DemoSummary
) -> None:
    states = Counter(Introduction.objects.values_list("state", flat=True))
    assert set(states) == set(IntroState)
    assert states["opportunity"] > sum(states.values()) / 2
    month_ago = NOW - dt.timedelta(days=31)
    older = Introduction.objects.filter(created_at__lt=month_ago)
    assert set(older.values_list("state", flat=True)) == {"opportunity"}
    waiting = Introduction.objects.filter(state__in=["advocate_agreed", "awaiting_consent"])
    assert not waiting.filter(due_at__isnull=True).exists()


def test_most_referral_deals_came_through_an_introduction_credited_on_the_deal(
    db: None, demo: DemoSummary
) -> None:
    referrals = Deal.objects.filter(source="referral").count()
    opportunities = list(
        Introduction.objects.filter(state="opportunity").select_related(
            "deal__account", "person_contact"
        )
    )
    assert 0.7 * referrals < len(opportunities) < 0.9 * referrals
    credits = {c.introduction_id: c for c in DealCredit.objects.filter(introduction__isnull=False)}
    assert len(credits) == len(opportunities)
    for intro in opportunities:
        deal, credit = intro.deal, credits[intro.pk]
        assert deal is not None
        assert deal.source == "referral"
        assert credit.deal_id == deal.pk
        assert (credit.advocate_account_id, credit.advocate_id) == (
            intro.advocate_account_id,
            intro.advocate_id,
        )
        assert intro.owner_id == deal.owner_id
        person = intro.person_contact
        assert person is not None
        assert person.account_id == deal.account_id
        assert intro.person_email == person.email.lower()
        assert (intro.person_name, intro.person_company) == (person.full_name, deal.account.name)
        assert intro.created_at < deal.created_at <= intro.created_at + dt.timedelta(days=28)
        assert intro.closed_at == deal.created_at


def test_consents_are_the_answers_of_people_who_answered(db: None, demo: DemoSummary) -> None:
    answered = {
        s.introduction_id: s
        for s in IntroductionStep.objects.filter(event__in=["accept", "decline"])
    }
    consents = list(Consent.objects.select_related("introduction__owner", "introduction__advocate"))
    assert Counter(c.decision for c in consents)["accepted"] > 100
    for consent in consents:
        intro = consent.introduction
        assert intro is not None
        if consent.decision == "accepted":
            assert intro.state in REFERRED  # accepted, introduced or opportunity
        else:
            assert intro.state == "declined"
        assert consent.at == answered[intro.pk].at
        assert consent.email == intro.person_email
        assert consent.text_shown == consent_text(intro)
        assert consent.purpose.endswith(f"(introduction #{intro.pk})")
    # and each introduction that got as far as acceptance has the acceptance's consent
    accepted = Consent.objects.filter(decision="accepted")
    accepted_or_later = Introduction.objects.filter(state__in=REFERRED)
    assert sorted(accepted.values_list("introduction_id", flat=True)) == sorted(
        accepted_or_later.values_list("pk", flat=True)
    )


def test_rewards_exist_in_every_status_with_the_managers_decisions(
    db: None, demo: DemoSummary
) -> None:
    rewards = list(Reward.objects.select_related("decided_by"))
    assert {r.status for r in rewards} == set(RewardStatus)
    for reward in rewards:
        decided = reward.status in {"approved", "rejected", "fulfilled"}
        if decided:
            assert reward.decided_by is not None
            assert reward.decided_by.role == "manager"
            assert reward.decided_at is not None
            assert reward.available_at <= reward.decided_at <= NOW
        else:
            assert reward.decided_by is None
            assert reward.decided_at is None
        assert (reward.status == "held") == (
            reward.available_at > NOW and not reward.ineligible_because
        )
        assert (reward.fulfilled_at is not None) == (reward.status == "fulfilled")
        assert bool(reward.ineligible_because) == (reward.status == "ineligible")
        if reward.status == "rejected":
            assert reward.decision_note


def test_rewards_only_for_introductions_whose_state_fits_their_rules_trigger(
    db: None, demo: DemoSummary
) -> None:
    steps = steps_of()
    assert RewardRule.objects.count() == 3
    rewards = list(Reward.objects.select_related("rule", "introduction__deal__stage"))
    assert {r.rule.trigger for r in rewards} == {"accepted", "opportunity", "won"}
    for reward in rewards:
        intro, rule = reward.introduction, reward.rule
        assert (reward.kind, reward.value, reward.currency) == (rule.kind, rule.value, "USD")
        assert reward.available_at == reward.created_at + dt.timedelta(days=rule.hold_days)
        assert (reward.advocate_account_id, reward.advocate_id) == (
            intro.advocate_account_id,
            intro.advocate_id,
        )
        events = {s.event: s.at for s in steps[intro.pk]}
        if rule.trigger == "accepted":
            assert intro.state in REFERRED
            assert reward.created_at == events["accept"]
        elif rule.trigger == "opportunity":
            assert intro.state == "opportunity"
            assert reward.created_at == events["open_opportunity"]
        else:
            assert intro.deal is not None
            assert intro.deal.stage.is_won
            assert intro.deal.closed_at is not None
            assert intro.deal.closed_at <= reward.created_at <= NOW
    # one reward per rule an introduction reached, and the worker has nothing left to do
    assert not Reward.objects.exclude(introduction__state__in=REFERRED).exists()
    assert rewards_for_won_deals(now=NOW) == 0
    assert rewards_release(now=NOW) == 0


def test_ineligible_rewards_give_the_products_reasons(db: None, demo: DemoSummary) -> None:
    reasons = dict(Reward.objects.values_list("introduction_id", "ineligible_because"))
    intros = Introduction.objects.filter(pk__in=reasons).select_related("advocate_account")
    for intro in intros:
        assert reasons[intro.pk] == ineligible_because(intro)
    assert any(reasons.values())


def test_the_same_seed_writes_the_same_referral_rows(db: None) -> None:
    def rows() -> dict[str, list[Any]]:
        return {
            "introductions": sorted(
                Introduction.objects.values_list(
                    "state", "deal__external_id", "advocate__external_id", "owner__email",
                    "person_email", "person_name", "channel", "why", "flag", "created_at",
                    "updated_at", "waiting_since", "reminded_at", "due_at", "closed_at",
                ),
                key=str,
            ),
            "steps": sorted(
                IntroductionStep.objects.values_list(
                    "introduction__person_email", "introduction__created_at", "event",
                    "from_state", "to_state", "by", "actor__email", "note", "at",
                ),
                key=str,
            ),
            "consents": sorted(
                Consent.objects.values_list("email", "decision", "channel", "ip", "at"), key=str
            ),
            "rewards": sorted(
                Reward.objects.values_list(
                    "rule__name", "introduction__person_email", "deal__external_id", "status",
                    "value", "ineligible_because", "decided_by__email", "decided_at",
                    "fulfilled_at", "available_at", "created_at",
                ),
                key=str,
            ),
            "credits": sorted(
                DealCredit.objects.values_list(
                    "deal__external_id", "introduction__person_email", "introduction__created_at"
                ),
                key=str,
            ),
        }  # fmt: skip

    generate(accounts=60, seed=4, today=TODAY, deals_per_account=6)
    first = rows()
    assert first["introductions"]
    assert first["rewards"]

    generate(accounts=60, seed=4, today=TODAY, deals_per_account=6)
    assert rows() == first

    generate(accounts=60, seed=5, today=TODAY, deals_per_account=6)
    assert rows()["introductions"] != first["introductions"]
