"""After its first scan the demo tells the whole referral story: asks worked through the
product's services down to won referred deals, times that fall where they would have, no
e-mail left to send, the quarter's targets and a year of spend per source."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.test import override_settings
from django.utils import timezone

from goodword.config import EventsConfig
from goodword.crm.models import Activity, Deal, Task, TaskKind, TaskStatus
from goodword.demo.funnel import FunnelSummary, funnel_write
from goodword.demo.generator import generate, stages_reset, wipe
from goodword.jobs.models import Job
from goodword.moments.models import Moment
from goodword.moments.scan import scan_run
from goodword.referrals.models import Introduction, IntroductionStep
from goodword.reports.filters import Filters
from goodword.reports.funnel import KEYS, funnel_report
from goodword.reports.models import RepTarget, SourceSpend, TargetMetric
from goodword.reports.roi import roi_report
from goodword.users.models import User

TODAY = dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)  # the first scan's time
ACCOUNTS, SEED = 300, 42
# Times that lie ahead by nature: deadlines, expiries, leases.
AHEAD = {"due_at", "expires_at", "accept_by", "available_at", "run_after", "lease_until"}


STARTED: list[dt.datetime] = []  # the wall-clock time each story began


def build(accounts: int, seed: int) -> FunnelSummary:
    generate(accounts=accounts, seed=seed, today=TODAY)
    scan_run(full=True, now=NOW, trigger="demo")
    STARTED.append(timezone.now())
    return funnel_write(seed=seed, now=NOW)


@pytest.fixture(scope="module")
def demo(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """One demo company after its first scan and story, committed once and wiped after the
    module, with its own event store."""
    store = tmp_path_factory.mktemp("store") / "events.duckdb"
    with override_settings(EVENTS_STORE=EventsConfig("duckdb", path=str(store))):
        with django_db_blocker.unblock():
            summary = build(ACCOUNTS, SEED)
        yield summary
        with django_db_blocker.unblock():
            wipe()
            stages_reset()


def test_every_funnel_step_is_reached_and_none_grows(db: None, demo: FunnelSummary) -> None:
    report = funnel_report(user=None, filters=Filters(), today=TODAY)

    rows = report.table("funnel").rows
    assert [row["step"] for row in rows] == list(KEYS)
    counts = [row["count"] for row in rows]
    records = [row["records"] for row in rows]
    assert all(n > 0 for n in counts), counts
    assert counts == sorted(counts, reverse=True)
    assert all(n > 0 for n in records), records
    assert records[1:] == sorted(records[1:], reverse=True)  # moments > asks: several a ask


def test_the_summary_counts_what_the_funnel_shows(db: None, demo: FunnelSummary) -> None:
    asks = Task.objects.filter(kind=TaskKind.REFERRAL_ASK, created_at__gt=NOW - dt.timedelta(60))
    done = asks.filter(status=TaskStatus.DONE)

    assert demo.asks == Moment.objects.values("ask").distinct().exclude(ask=None).count()
    assert demo.asks > demo.made >= demo.introductions >= demo.named >= demo.accepted
    assert demo.accepted >= demo.won > 0
    assert demo.made == done.count()
    assert demo.introductions == Introduction.objects.filter(ask__in=asks).count()
    assert demo.overdue == asks.filter(status=TaskStatus.OPEN, due_at__lt=NOW).count()


def test_roi_counts_the_time_the_asks_took(db: None, demo: FunnelSummary) -> None:
    report = roi_report(user=None, filters=Filters(), today=TODAY)

    programme = report.table("programme").rows[0]
    assert programme["asks_made"] == demo.made
    assert programme["time_cost"] > 0
    sources = {row["source"]: row for row in report.table("sources").rows}
    for source in ("inbound", "outbound", "partner", "event"):
        assert sources[source]["spend"] > 0


def test_every_rep_has_each_target_for_the_quarter_set_by_their_manager(
    db: None, demo: FunnelSummary
) -> None:
    reps = User.objects.filter(role="rep", is_active=True)
    targets = RepTarget.objects.filter(quarter=dt.date(2026, 4, 1)).select_related("set_by")

    assert RepTarget.objects.exclude(quarter=dt.date(2026, 4, 1)).count() == 0
    per_rep = Counter(t.user_id for t in targets)
    assert per_rep == dict.fromkeys((r.pk for r in reps), len(TargetMetric))
    teams = dict(reps.values_list("pk", "team_id"))
    for target in targets:
        assert target.set_by is not None
        assert target.set_by.role == "manager"
        assert target.set_by.team_id == teams[target.user_id]
        assert target.value > 0
        assert dt.date(2026, 4, 1) <= target.set_at.date() <= TODAY


def test_spend_is_entered_for_twelve_months_per_paid_source(db: None, demo: FunnelSummary) -> None:
    months = [dt.date(2025, m, 1) for m in range(6, 13)] + [
        dt.date(2026, m, 1) for m in range(1, 6)
    ]
    rows = SourceSpend.objects.select_related("entered_by")

    for source in ("inbound", "outbound", "partner", "event"):
        mine = sorted(r.month for r in rows if r.source == source)
        assert mine == months
    assert {r.source for r in rows} == {"inbound", "outbound", "partner", "event"}
    for row in rows:
        assert row.amount > 0
        assert row.entered_by is not None
        assert row.entered_by.role == "admin"
        assert row.month <= row.entered_at.date() <= TODAY


def test_no_email_is_left_to_send(db: None, demo: FunnelSummary) -> None:
    # given introductions that the services would have e-mailed about
    assert Introduction.objects.filter(ask__isnull=False, deal__isnull=False).exists()

    # then the outbox holds nothing
    assert not Job.objects.filter(kind="email.send").exists()


def _datetime_fields() -> list[tuple[type[models.Model], str]]:
    return [
        (model, f.name)
        for model in apps.get_models()
        if model.__module__.startswith("goodword.")
        for f in model._meta.concrete_fields
        if isinstance(f, models.DateTimeField) and f.name not in AHEAD
    ]


def test_no_time_the_story_wrote_is_the_wall_clock(db: None, demo: FunnelSummary) -> None:
    # given a story told as of NOW, months before the wall clock that ran it
    started = STARTED[0]
    assert started > NOW + dt.timedelta(days=1)

    # then no row holds a time from when the story really ran, nor after NOW
    late = {
        f"{model.__name__}.{name}": n
        for model, name in _datetime_fields()
        if (n := model._default_manager.filter(**{f"{name}__gte": started}).count())
    }
    assert late == {}
    assert not Introduction.objects.filter(updated_at__gt=NOW).exists()
    assert not Activity.objects.filter(at__gt=NOW, verb__startswith="introduction.").exists()


def test_each_step_follows_the_one_before(db: None, demo: FunnelSummary) -> None:
    asks = Task.objects.filter(kind=TaskKind.REFERRAL_ASK, created_at__gt=NOW - dt.timedelta(60))
    for ask in asks:
        latest = max(m.occurred_at for m in Moment.objects.filter(ask=ask))
        assert latest < ask.created_at < NOW
        assert Activity.objects.get(verb="ask.queued", object_id=ask.pk).at == ask.created_at
        if ask.completed_at is not None:
            assert ask.created_at < ask.completed_at
    for intro in Introduction.objects.filter(ask__in=asks).select_related("ask", "deal"):
        assert intro.ask is not None
        assert intro.created_at == intro.ask.completed_at
        steps = list(IntroductionStep.objects.filter(introduction=intro).order_by("id"))
        assert [s.at for s in steps] == sorted(s.at for s in steps)
        if intro.deal is not None:
            deal = intro.deal
            assert deal.created_at == steps[-1].at
            assert deal.closed_at is None or deal.closed_at > deal.created_at


def test_won_referred_deals_are_sized_and_handed_over(db: None, demo: FunnelSummary) -> None:
    won = Deal.objects.filter(introductions__ask__isnull=False, stage__is_won=True)

    assert won.count() == demo.won
    for deal in won.select_related("handoff"):
        assert deal.amount is not None
        assert deal.amount > Decimal(0)
        assert deal.handoff.created_at == deal.closed_at


def snapshot() -> dict[str, list[Any]]:
    return {
        "asks": sorted(
            Task.objects.filter(kind=TaskKind.REFERRAL_ASK).values_list(
                "account__external_id", "status", "outcome", "created_at", "completed_at", "due_at"
            ),
            key=str,
        ),
        "introductions": sorted(
            Introduction.objects.values_list(
                "advocate__external_id", "state", "person_email", "created_at", "updated_at"
            ),
            key=str,
        ),
        "deals": sorted(
            Deal.objects.filter(external_id__isnull=True).values_list(
                "name", "amount", "stage__name", "created_at", "closed_at"
            ),
            key=str,
        ),
        "targets": sorted(
            RepTarget.objects.values_list("user__email", "metric", "value", "set_at")
        ),
        "spend": sorted(SourceSpend.objects.values_list("source", "month", "amount", "entered_at")),
    }


def test_same_seed_tells_the_same_story(db: None) -> None:
    build(120, 5)
    first = snapshot()

    build(120, 5)

    assert snapshot() == first
    assert first["asks"]
    assert first["targets"]
