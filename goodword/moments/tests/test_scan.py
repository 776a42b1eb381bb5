"""The scan on the default DuckDB store: what each event rule finds, that an incremental scan
finds what a full one would for any order of arrival, and the scan's record."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodword.crm.models import Account
from goodword.engine.programme import GoalRule, MilestoneRule, Programme, SurgeRule
from goodword.engine.scores import Measure
from goodword.moments import scan as scanning
from goodword.moments.models import Moment, Scan, ScanStatus
from goodword.moments.scan import ScanBusy, scan_run, scan_start
from goodword.signals import store
from goodword.signals.models import Goal

RECENT = scanning.RECENT_WEEKS

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
REPORTS = MilestoneRule(
    id="reports", kind="milestone", weight=30, event="report", thresholds=(Decimal(3), Decimal(5))
)
SAVED = MilestoneRule(
    id="saved",
    kind="milestone",
    weight=40,
    event="run",
    measure=Measure("sum", "minutes"),
    thresholds=(Decimal(100), Decimal(250)),
)
SURGE = SurgeRule(id="surge", kind="surge", weight=20, event=None, ratio=1.5, min_users=2)
GOALS = GoalRule(id="goals", kind="goal", weight=50)
PROGRAMME = Programme(rules=(REPORTS, SAVED, SURGE, GOALS))

pytestmark = pytest.mark.django_db


def event(
    n: int, account: int, name: str, at: dt.datetime, user: str = "u1", **props: Any
) -> dict[str, Any]:
    return {
        "message_id": f"m{n:05d}",
        "account_id": account,
        "user_id": user,
        "event": name,
        "timestamp": at,
        "properties": json.dumps(props),
        "received_at": T0,
    }


def append(rows: list[dict[str, Any]]) -> None:
    if rows:
        store.append(pa.Table.from_pylist(rows, schema=store.SCHEMA))


def live() -> set[tuple[int, str, str, dt.datetime, str]]:
    return {
        (m.account_id, m.rule_id, m.key, m.occurred_at, m.evidence)
        for m in Moment.objects.filter(retracted_at__isnull=True)
    }


def make_account(name: str) -> Account:
    now = timezone.now()
    return Account.objects.create(name=name, created_at=now, updated_at=now, lifecycle="customer")


def test_a_count_milestone_is_the_event_that_reaches_the_threshold() -> None:
    # Given five reports, two of them at the same time (the message id breaks the tie)
    acme = make_account("Acme")
    times = [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=2)]
    append([event(i, acme.pk, "report", at) for i, at in enumerate(times, start=1)])
    # When a full scan runs
    scan = scan_run(full=True, now=T0 + dt.timedelta(days=1), programme=PROGRAMME)
    # Then the third report in (timestamp, message id) order is the moment for 3
    assert scan.status == ScanStatus.DONE, scan.errors
    moment = Moment.objects.get(rule_id="reports")
    assert (moment.key, moment.occurred_at) == ("3", T0 + dt.timedelta(hours=2))
    assert moment.evidence == "report reached 3 on 2026-01-05 02:00 UTC, event m00003"
    assert scan.moments["reports"] == {"found": 1, "moved": 0, "retracted": 0}
    assert scan.events_read == 4


def test_an_incremental_scan_continues_and_a_late_event_moves_the_moment_earlier() -> None:
    # Given a moment for 3 reports found by a first scan
    acme = make_account("Acme")
    append([event(i, acme.pk, "report", T0 + dt.timedelta(days=i)) for i in range(1, 4)])
    scan_run(now=T0 + dt.timedelta(days=10), programme=PROGRAMME)
    # When two later reports arrive, and then one dated before all the others
    append([event(i, acme.pk, "report", T0 + dt.timedelta(days=i)) for i in range(4, 6)])
    second = scan_run(now=T0 + dt.timedelta(days=10), programme=PROGRAMME)
    append([event(99, acme.pk, "report", T0)])
    third = scan_run(now=T0 + dt.timedelta(days=10), programme=PROGRAMME)
    # Then the second scan found 5, and the third moved 3 and 5 one report earlier
    assert second.mode == "incremental"
    assert second.events_read == 2
    assert second.moments["reports"] == {"found": 1, "moved": 0, "retracted": 0}
    assert third.moments["reports"] == {"found": 0, "moved": 2, "retracted": 0}
    keyed = {m.key: m.occurred_at for m in Moment.objects.filter(rule_id="reports")}
    assert keyed == {"3": T0 + dt.timedelta(days=2), "5": T0 + dt.timedelta(days=4)}


def test_a_sum_milestone_adds_positive_numbers_only() -> None:
    acme = make_account("Acme")
    append(
        [
            event(1, acme.pk, "run", T0, minutes=90),
            event(2, acme.pk, "run", T0 + dt.timedelta(hours=1), minutes=-50),
            event(3, acme.pk, "run", T0 + dt.timedelta(hours=2), minutes="20"),
            event(4, acme.pk, "run", T0 + dt.timedelta(hours=3), minutes=200),
        ]
    )
    scan_run(now=T0 + dt.timedelta(days=1), programme=PROGRAMME)
    # 90 + 200 crosses both 100 and 250 at the fourth event
    found = {m.key: m.evidence for m in Moment.objects.filter(rule_id="saved")}
    assert found == {
        "100": "minutes of run reached 100 on 2026-01-05 03:00 UTC, event m00004",
        "250": "minutes of run reached 250 on 2026-01-05 03:00 UTC, event m00004",
    }


def test_a_surge_needs_four_weeks_of_history_and_a_complete_week() -> None:
    # Given one user a week for 4 weeks, then 3 users in week 5 and 2 in week 6
    acme = make_account("Acme")
    rows = [event(w, acme.pk, "login", T0 + dt.timedelta(weeks=w)) for w in range(4)]
    rows += [
        event(10 + 10 * w + u, acme.pk, "login", T0 + dt.timedelta(weeks=w, days=1), f"u{u}")
        for w, users in ((4, 3), (5, 2))
        for u in range(users)
    ]
    append(rows)
    # When scanned during week 6 (index 5), only week 5 (index 4) is complete and judged
    scan_run(now=T0 + dt.timedelta(weeks=5, days=3), programme=PROGRAMME)
    assert [m.key for m in Moment.objects.filter(rule_id="surge")] == ["2026-02-02"]
    moment = Moment.objects.get(rule_id="surge")
    assert moment.occurred_at == T0 + dt.timedelta(weeks=5)
    assert moment.evidence == (
        "3 weekly active users in the week of 2026-02-02, 3.0× the mean of the 4 weeks before (1.0)"
    )
    # And once week 6 is over, an incremental scan judges it: 2 < 1.5 × (1+1+1+3)/4 fails
    later = scan_run(now=T0 + dt.timedelta(weeks=6, days=1), programme=PROGRAMME)
    assert later.mode == "incremental"
    assert Moment.objects.filter(rule_id="surge").count() == 1


def test_a_goal_counts_from_its_start() -> None:
    acme = make_account("Acme")
    goal = Goal.objects.create(
        external_id="g1",
        account=acme,
        name="Weekly reporting",
        event="report",
        measure="count",
        target=Decimal(2),
        starts_at=T0 + dt.timedelta(days=1),
        imported_at=T0,
    )
    append([event(i, acme.pk, "report", T0 + dt.timedelta(hours=12 * i)) for i in range(4)])
    scan_run(now=T0 + dt.timedelta(days=5), programme=PROGRAMME)
    moment = Moment.objects.get(rule_id="goals")
    assert moment.key == f"goal:{goal.pk}"
    assert moment.occurred_at == T0 + dt.timedelta(hours=36)


def test_a_second_scan_cannot_start_while_one_runs() -> None:
    scan_start(full=True, trigger="test", now=T0)
    with pytest.raises(ScanBusy):
        scan_start(full=True, trigger="test", now=T0)
    assert Scan.objects.count() == 1


def test_a_scan_whose_lease_ran_out_is_failed_by_the_next() -> None:
    stale = scan_start(full=True, trigger="test", now=T0)
    Scan.objects.filter(pk=stale.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    scan_run(now=T0, programme=PROGRAMME)
    stale.refresh_from_db()
    assert stale.status == ScanStatus.FAILED
    assert Scan.objects.filter(status=ScanStatus.DONE).count() == 1


# --- incremental == full, for any order of arrival --------------------------------------

EVENT = st.fixed_dictionaries(
    {
        "account": st.integers(0, 2),
        "name": st.sampled_from(["report", "run", "login"]),
        "hour": st.integers(0, 24 * 7 * 10),  # ten weeks
        "user": st.integers(0, 4),
        "minutes": st.integers(0, 80),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(EVENT, min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    hours=st.lists(st.integers(0, 24 * 7 * 3), min_size=5, max_size=5),
    recent=st.sampled_from([scanning.RECENT_WEEKS, 1]),
)
def test_incremental_scans_find_what_a_full_scan_finds(
    events: list[dict[str, Any]], cuts: list[int], hours: list[int], recent: int
) -> None:
    # (recent: how far back a surge's weeks are read by time; 1 sends most accounts with
    # late events down the other path.)
    scanning.RECENT_WEEKS = recent
    try:
        _incremental_equals_full(events, cuts, hours)
    finally:
        scanning.RECENT_WEEKS = RECENT


def _incremental_equals_full(
    events: list[dict[str, Any]], cuts: list[int], hours: list[int]
) -> None:
    # Given events that arrive in batches, in any order (so some are late), with a scan
    # after each batch as time passes
    Moment.objects.all().delete()
    Scan.objects.all().delete()
    Goal.objects.all().delete()
    with store.connect() as opened:
        opened.clear()
    accounts = [make_account(f"A{i}").pk for i in range(3)]
    for name, account_id, name_of_event, measure, target, days in (
        ("g", accounts[0], "report", "count", 3, 10),
        ("h", accounts[1], "run", "sum:minutes", 150, 5),
    ):
        Goal.objects.create(
            external_id=name,
            account_id=account_id,
            name=name,
            event=name_of_event,
            measure=measure,
            target=Decimal(target),
            starts_at=T0 + dt.timedelta(days=days),
            imported_at=T0,
        )
    rows = [
        event(
            i,
            accounts[e["account"]],
            e["name"],
            T0 + dt.timedelta(hours=e["hour"]),
            f"u{e['user']}",
            minutes=e["minutes"],
        )
        for i, e in enumerate(events)
    ]
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    now = T0 + dt.timedelta(weeks=3)
    for (lo, hi), step in zip(itertools.pairwise(bounds), hours, strict=False):
        append(rows[lo:hi])
        now += dt.timedelta(hours=step)
        assert scan_run(now=now, programme=PROGRAMME).status == ScanStatus.DONE
    found = live()
    # When a full scan recomputes everything at the same time
    full = scan_run(full=True, now=now, programme=PROGRAMME)
    # Then it changes nothing: the incremental scans had found exactly its moments
    assert full.status == ScanStatus.DONE, full.errors
    assert live() == found
    assert all(t == {"found": 0, "moved": 0, "retracted": 0} for t in full.moments.values())
    Account.objects.all().delete()


def test_a_scan_that_adds_many_moments_refreshes_the_planner_statistics() -> None:
    # Given a scan that found moments in an empty table (a tenth of the rows or more)
    from goodword.moments.services import statistics_refresh

    account = make_account("Acme").pk
    append([event(i, account, "report", T0 + dt.timedelta(hours=i)) for i in range(6)])
    assert scan_run(full=True, now=T0 + dt.timedelta(weeks=1), programme=PROGRAMME).moments
    # Then the statistics are fresh: adding a few moments to many does not analyze again
    assert Moment.objects.count() == 2
    assert statistics_refresh(0) is False
    assert statistics_refresh(1) is True  # half the rows
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'moments_moment'")
            assert cursor.fetchone()[0] > 0


def test_quotes_percent_signs_and_accents_are_stored_as_found() -> None:
    # Given a rule whose id and event hold characters SQL and JSON quote, and message ids
    # holding the characters JSON escapes
    odd = MilestoneRule(
        id="50% o'clock", kind="milestone", weight=1, event='ré"port\\', thresholds=(Decimal(1),)
    )
    programme = Programme(rules=(odd,))
    ids = ['m"1', "m\\2", "mé3", "m\n4", "m/5"]
    accounts = [make_account(f"Account {i}") for i in range(len(ids))]
    append(
        [
            {**event(0, a.pk, odd.event, T0 + dt.timedelta(hours=i)), "message_id": mid}
            for i, (a, mid) in enumerate(zip(accounts, ids, strict=True))
        ]
    )
    # When a full scan runs, and then another
    first = scan_run(full=True, now=T0 + dt.timedelta(days=1), programme=programme)
    again = scan_run(full=True, now=T0 + dt.timedelta(days=1), programme=programme)
    # Then each moment holds its message id as it came, in its words and its data
    assert first.moments[odd.id] == {"found": 5, "moved": 0, "retracted": 0}
    stored = {m.account_id: m for m in Moment.objects.filter(rule_id=odd.id)}
    for i, (account, mid) in enumerate(zip(accounts, ids, strict=True)):
        moment = stored[account.pk]
        assert moment.kind == "milestone"
        assert moment.data == {"threshold": "1", "message_id": mid, "event": odd.event}
        assert moment.evidence == (
            f"{odd.event} reached 1 on 2026-01-05 {i:02d}:00 UTC, event {mid}"
        )
    # And the second scan found them all the same
    assert again.moments[odd.id] == {"found": 0, "moved": 0, "retracted": 0}
