"""The demo's customer signals: healthy, at-risk and churning accounts behave differently,
and what is written adds up (database, event store and weekly counts agree)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

import numpy as np
import pytest
from django.db.models import Sum

from goodword.demo.generator import generate
from goodword.demo.plan import make_ctx, plan_account
from goodword.demo.signals import EVENTS, life_of, plan_events, plan_goals, plan_said
from goodword.engine import praise
from goodword.signals import store
from goodword.signals.models import EventWeek, Message, NpsResponse, Ticket

TODAY = dt.date(2026, 5, 1)
WEEK_US = 7 * 86_400 * 1_000_000


@pytest.fixture(scope="module")
def lives():
    """The plans and lives of the customers among 600 accounts."""
    ctx = make_ctx(seed=42, accounts=600, today=TODAY)
    plans = [plan_account(ctx, i) for i in range(ctx.accounts)]
    return ctx, [(p, life) for p in plans if (life := life_of(ctx, p)) is not None]


def recent_trend(ctx, plan, life) -> float | None:
    """Events in the last 8 weeks of the account's life over the 8 weeks before them."""
    events = plan_events(ctx, plan, life)
    end = int(life.end.timestamp() * 1e6)
    recent = np.count_nonzero(events.micros >= end - 8 * WEEK_US)
    before = np.count_nonzero(
        (events.micros >= end - 16 * WEEK_US) & (events.micros < end - 8 * WEEK_US)
    )
    return recent / before if before >= 20 else None


def test_healthy_accounts_grow_at_risk_fade_and_churning_stop(lives):
    ctx, planned = lives
    trends = defaultdict(list)
    for plan, life in planned:
        if (trend := recent_trend(ctx, plan, life)) is not None:
            trends[life.health].append(trend)
    assert statistics.median(trends["healthy"]) > 0.95
    assert statistics.median(trends["at_risk"]) < 0.8
    assert statistics.median(trends["churning"]) < 0.5
    assert min(len(v) for v in trends.values()) >= 10


def test_unhappy_accounts_answer_nps_lower_and_praise_less(lives):
    ctx, planned = lives
    scores, praised = defaultdict(list), defaultdict(list)
    for plan, life in planned:
        for said in plan_said(ctx, plan, life, "Sam"):
            if said.kind == "nps":
                scores[life.health].append(said.score)
            elif said.kind == "message":
                praised[life.health].append(praise.is_praise(said.text))
    mean = {h: statistics.mean(v) for h, v in scores.items()}
    assert mean["healthy"] > mean["at_risk"] > mean["churning"]
    share = {h: sum(v) / len(v) for h, v in praised.items()}
    assert share["healthy"] > 0.4 > share["at_risk"] > share["churning"]


def test_events_stay_within_the_accounts_life_and_name_known_events(lives):
    ctx, planned = lives
    for plan, life in planned[:50]:
        events = plan_events(ctx, plan, life)
        assert events.micros.min() >= int(life.start.timestamp() * 1e6)
        assert events.micros.max() < int(life.end.timestamp() * 1e6)
        assert set(np.unique(events.kind)) <= set(range(len(EVENTS)))
        assert (events.minutes[events.kind == EVENTS.index("automation_run")] > 0).all()
        assert (events.minutes[events.kind != EVENTS.index("automation_run")] == 0).all()
        assert all(g.target >= 1 and g.due_at > g.starts_at for g in plan_goals(ctx, plan, life))


def test_what_the_demo_writes_adds_up_and_a_rebuild_replaces_it(db):
    # given a demo company built twice over (the second build must replace the first)
    generate(accounts=40, seed=3, today=TODAY)
    summary = generate(accounts=40, seed=3, today=TODAY)
    # then the store, the weekly counts and the summary agree
    with store.connect() as opened:
        stored = opened.events().count().execute()
    weekly = EventWeek.objects.aggregate(n=Sum("events"))["n"]
    assert stored == weekly == summary.events > 10_000
    assert NpsResponse.objects.count() == summary.nps_responses > 0
    assert Ticket.objects.count() == summary.tickets > 0
    assert Message.objects.count() == summary.messages > 0
    # and every ticket and message carries its text's praise score
    ticket = Ticket.objects.order_by("pk").first()
    assert ticket is not None
    assert ticket.praise == praise.score(ticket.text)
