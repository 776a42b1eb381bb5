"""The intake's counts: received, stored, duplicates, held, rejected by reason; the hourly
fold keeps every sum; old stored events are forgotten, nothing else."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from goodword.cli import main
from goodword.signals import segment, views
from goodword.signals.models import Event, EventState, IngestLog
from goodword.signals.selectors import ingest_hours, ingest_stats
from goodword.signals.services import (
    events_forget,
    ingest_log_compact,
    ingest_log_write,
    writekey_create,
)
from goodword.signals.tests.test_ingest import basic, post, track

UTC = dt.UTC


@pytest.fixture
def write_key(db: Any) -> str:
    views.BUCKETS._state.clear()
    return writekey_create(name="web app", rate_limit=10)[1]


def test_every_outcome_is_counted_under_its_reason(client: Client, write_key: str, account):
    # given a batch with a placed event, a held one, a repeat and two bad events
    batch = {
        "batch": [
            track("m1", context={"groupId": "ACC-1"}),
            track("m2", userId="stranger"),
            track("m1", context={"groupId": "ACC-1"}),
            {"type": "track", "messageId": "m3", "event": "x"},  # no userId
            {"type": "track", "messageId": "m4", "userId": "u"},  # no event
        ]
    }
    assert post(client, "/v1/batch", batch, basic(write_key)).status_code == 400
    # and refused requests: no key, a malformed body, too large, over the rate limit
    post(client, "/v1/track", track("m5"), {})
    post(client, "/v1/batch", b"{not json", basic(write_key))
    too_big = {"batch": [track(f"b{i}", properties={"x": "y" * 1000}) for i in range(600)]}
    post(client, "/v1/batch", too_big, basic(write_key))
    flood = {"batch": [track(f"f{i}") for i in range(11)]}
    post(client, "/v1/batch", flood, basic(write_key))
    # when the counts are read
    stats = ingest_stats().as_json()
    # then each outcome is where it belongs
    assert stats == {
        "since": None,
        "received": 5,
        "stored": 2,
        "duplicates": 1,
        "held_on_arrival": 1,
        "waiting_for_account": 1,
        "rejected": {
            views.MALFORMED: 1,
            views.RATE_LIMITED: 11,
            views.TOO_LARGE: 1,
            views.UNKNOWN_KEY: 1,
            "invalid event": 1,
            "invalid userId": 1,
        },
    }
    assert len(json.dumps(too_big)) > segment.MAX_BATCH


def test_stats_since_a_time_count_whole_hours_from_then(db):
    ingest_log_write(at=dt.datetime(2026, 11, 1, 9, 59, tzinfo=UTC), received=5, stored=5)
    ingest_log_write(at=dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC), received=7, stored=6)
    ingest_log_write(at=dt.datetime(2026, 11, 1, 10, 30, tzinfo=UTC), received=1, duplicates=1)
    since = ingest_stats(since=dt.datetime(2026, 11, 1, 10, 45, tzinfo=UTC))
    assert (since.received, since.stored, since.duplicates) == (8, 6, 1)
    assert ingest_stats().received == 13


def test_the_hourly_fold_keeps_every_sum_and_leaves_the_current_hours(db):
    # given many rows in two finished hours and one in the current hour
    now = dt.datetime(2026, 11, 1, 12, 10, tzinfo=UTC)
    for minute in range(0, 60, 10):
        for hour in (8, 9):
            ingest_log_write(
                at=dt.datetime(2026, 11, 1, hour, minute, tzinfo=UTC),
                received=3,
                stored=2,
                duplicates=1,
                rejected={"invalid event": 1} if minute else {},
            )
    ingest_log_write(at=now, received=1, stored=1)
    before = ingest_stats().as_json()
    # when the log is folded
    removed = ingest_log_compact(now=now)
    # then each finished hour is one row, and every figure is unchanged
    assert removed == 10
    assert ingest_stats().as_json() == before
    assert sorted(IngestLog.objects.values_list("at__hour", flat=True)) == [8, 9, 12]
    hours = ingest_hours(since=dt.datetime(2026, 11, 1, tzinfo=UTC))
    assert [(h.at.hour, h.received, h.stored, h.duplicates, h.rejected) for h in hours] == [
        (8, 18, 12, 6, 5),
        (9, 18, 12, 6, 5),
        (12, 1, 1, 0, 0),
    ]
    assert ingest_log_compact(now=now) == 0


def test_old_stored_events_are_forgotten_and_held_or_recent_ones_kept(db, account):
    now = dt.datetime(2026, 11, 23, tzinfo=UTC)
    old, recent = now - dt.timedelta(days=31), now - dt.timedelta(days=29)

    def event(message_id: str, state: str, received_at: dt.datetime) -> None:
        Event.objects.create(
            message_id=message_id,
            type="track",
            event="x",
            user_key="user:u",
            account=account if state != EventState.HELD else None,
            timestamp=received_at,
            received_at=received_at,
            state=state,
        )

    event("old-stored", EventState.STORED, old)
    event("old-placed", EventState.PLACED, old)
    event("old-held", EventState.HELD, old)
    event("recent-stored", EventState.STORED, recent)
    assert events_forget(now=now, batch=1) == 1
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "old-held",
        "old-placed",
        "recent-stored",
    ]


def test_the_cli_prints_the_counts_as_json_and_as_text(db):
    ingest_log_write(at=dt.datetime.now(UTC), received=4, stored=3, duplicates=1)
    ingest_log_write(at=dt.datetime.now(UTC), rejected={views.UNKNOWN_KEY: 2})
    as_json = CliRunner().invoke(main, ["events", "stats", "--json", "--since", "24h"])
    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.output)
    assert (figures["received"], figures["stored"], figures["duplicates"]) == (4, 3, 1)
    assert figures["rejected"] == {views.UNKNOWN_KEY: 2}
    text = CliRunner().invoke(main, ["events", "stats"])
    assert "duplicates dropped:   1" in text.output
    assert f"  {views.UNKNOWN_KEY}: 2" in text.output
    bad = CliRunner().invoke(main, ["events", "stats", "--since", "last week"])
    assert bad.exit_code == 2
    assert "is not a date-time" in bad.output
