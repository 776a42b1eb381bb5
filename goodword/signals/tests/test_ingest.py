"""Segment's HTTP Tracking API, through Django's test client: authentication, limits, partial
acceptance, idempotency and placing events in accounts."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from typing import Any

import pytest
from django.test import Client

from goodword.crm.models import Account
from goodword.crm.services import account_create
from goodword.signals import views
from goodword.signals.models import Event, EventState, Identity, WriteKey
from goodword.signals.services import events_place_held, writekey_create, writekey_revoke
from goodword.users.models import User
from goodword.users.services import apikey_create


@pytest.fixture
def write_key(db: Any) -> str:
    views.BUCKETS._state.clear()
    return writekey_create(name="web app")[1]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(client: Client, path: str, body: Any, headers: dict[str, str], **extra: str) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        path, data=data, content_type="application/json", headers={**headers, **extra}
    )


def track(message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "messageId": message_id, "userId": "u1", "event": "report_created"} | (
        fields
    )


def test_no_key_a_wrong_key_or_a_revoked_one_is_401_and_stores_nothing(
    client: Client, write_key: str
) -> None:
    body = track("m1")
    assert post(client, "/v1/track", body, {}).status_code == 401
    assert post(client, "/v1/track", body, basic("gw_nope_nothing")).status_code == 401
    assert post(client, "/v1/track", body, {"Authorization": "Basic %%%"}).status_code == 401
    writekey_revoke(prefix=write_key)
    answer = post(client, "/v1/track", body, basic(write_key))
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == 'Basic realm="goodword"'
    assert Event.objects.count() == 0


def test_a_track_call_lands_in_its_account_and_a_repeat_is_stored_once(
    client: Client, write_key: str, account: Account
) -> None:
    # given an event naming its account in context.groupId
    body = track("m1", context={"groupId": "ACC-1"}, properties={"count": 3})
    # when it is sent twice
    first = post(client, "/v1/track", body, basic(write_key))
    again = post(client, "/v1/track", body, basic(write_key))
    # then it is stored once, in the account, and both sends are acknowledged
    assert first.status_code == again.status_code == 200
    assert (first.json()["stored"], again.json()["duplicates"]) == (1, 1)
    event = Event.objects.get()
    assert (event.account_id, event.state, event.event) == (account.pk, "placed", "report_created")
    assert (event.user_key, event.properties) == ("user:u1", {"count": 3})


def test_an_ingest_api_key_works_as_a_bearer_token_and_other_scopes_do_not(
    client: Client, write_key: str, rep: User
) -> None:
    ingest = apikey_create(user=rep, scopes=["ingest"])[1]
    read = apikey_create(user=rep, scopes=["read", "write"])[1]
    ok = post(client, "/v1/track", track("m1"), {"Authorization": f"Bearer {ingest}"})
    refused = post(client, "/v1/track", track("m2"), {"Authorization": f"Bearer {read}"})
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert list(Event.objects.values_list("message_id", flat=True)) == ["m1"]


def test_a_gzip_body_is_read_and_a_broken_one_is_400(client: Client, write_key: str) -> None:
    body = gzip.compress(json.dumps({"batch": [track("m1"), track("m2")]}).encode())
    answer = post(client, "/v1/batch", body, basic(write_key), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.json()["stored"] == 2
    broken = post(
        client, "/v1/batch", b"not gzip", basic(write_key), **{"Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400
    assert "gzip" in broken.json()["message"]


def test_bodies_over_the_limits_are_413_even_when_small_compressed(
    client: Client, write_key: str
) -> None:
    big = {"batch": [track(f"m{i}", properties={"pad": "x" * 20_000}) for i in range(30)]}
    assert post(client, "/v1/batch", big, basic(write_key)).status_code == 413
    bomb = gzip.compress(json.dumps(big).encode())
    assert len(bomb) < 10_000
    answer = post(client, "/v1/batch", bomb, basic(write_key), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    single = track("m1", properties={"pad": "x" * 40_000})
    assert post(client, "/v1/track", single, basic(write_key)).status_code == 413
    assert Event.objects.count() == 0


def test_a_batch_with_bad_events_names_each_and_keeps_the_good_ones(
    client: Client, write_key: str
) -> None:
    batch = [
        track("m1"),
        {"type": "track", "messageId": "m2", "userId": "u1"},  # no event name
        {"type": "shout", "messageId": "m3", "userId": "u1"},
        track("m4", properties=[1, 2], userId=None),
        track("m5", timestamp="yesterday"),
        "not an object",
        track("m7", properties={"pad": "x" * 33_000}),
        track("m8"),
    ]
    answer = post(client, "/v1/batch", {"batch": batch}, basic(write_key))
    assert answer.status_code == 400
    body = answer.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "event"),
        (2, "type"),
        (3, "userId"),
        (3, "properties"),
        (4, "timestamp"),
        (5, ""),
        (6, ""),
    ]
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m1", "m8"]


def test_malformed_json_is_400_and_get_is_405(client: Client, write_key: str) -> None:
    assert post(client, "/v1/batch", b"{nope", basic(write_key)).status_code == 400
    assert post(client, "/v1/batch", {"events": []}, basic(write_key)).status_code == 400
    assert client.get("/v1/track", headers=basic(write_key)).status_code == 405
    assert Event.objects.count() == 0


def test_events_wait_for_the_group_call_then_follow_it(
    client: Client, write_key: str, account: Account, other_account: Account
) -> None:
    # given events of a user nobody has grouped yet
    post(client, "/v1/batch", {"batch": [track("m1"), track("m2")]}, basic(write_key))
    assert set(Event.objects.values_list("state", flat=True)) == {EventState.HELD}
    # when the user's group call arrives, then their held events are placed in that account
    group = {"userId": "u1", "groupId": "ACC-1", "messageId": "g1", "traits": {"plan": "pro"}}
    assert post(client, "/v1/group", group, basic(write_key)).status_code == 200
    assert set(Event.objects.values_list("account_id", flat=True)) == {account.pk}
    # and a later group call moves the user's next events, not the ones already placed
    later = {**group, "groupId": "ACC-2", "messageId": "g2"}
    post(client, "/v1/group", later, basic(write_key))
    post(client, "/v1/track", track("m3"), basic(write_key))
    assert Event.objects.get(message_id="m3").account_id == other_account.pk
    assert Event.objects.get(message_id="m1").account_id == account.pk
    assert Identity.objects.get(user_key="user:u1").group_id == "ACC-2"


def test_an_event_for_an_account_not_imported_yet_is_held_then_placed(
    client: Client, write_key: str, rep: User
) -> None:
    post(client, "/v1/track", track("m1", context={"groupId": "NEW-1"}), basic(write_key))
    assert Event.objects.get().state == EventState.HELD
    account = account_create(actor=rep, owner=rep, data={"name": "New", "external_id": "NEW-1"})
    assert events_place_held() == 1
    assert Event.objects.get().account_id == account.pk


def test_a_client_clock_that_is_off_is_corrected_by_sent_at(client: Client, write_key: str) -> None:
    # given a client whose clock is a day fast: it says it sent the event a minute after
    # the event happened
    body = track("m1", timestamp="2030-01-02T10:00:00Z", sentAt="2030-01-02T10:01:00Z")
    post(client, "/v1/track", body, basic(write_key))
    event = Event.objects.get()
    # then the event is dated a minute before we received it
    assert event.received_at - event.timestamp == dt.timedelta(minutes=1)


def test_over_the_keys_rate_is_429_with_retry_after(client: Client, write_key: str) -> None:
    WriteKey.objects.update(rate_limit=10)
    batch = {"batch": [track(f"m{i}") for i in range(10)]}
    assert post(client, "/v1/batch", batch, basic(write_key)).status_code == 200
    again = post(client, "/v1/batch", {"batch": [track("x")]}, basic(write_key))
    assert again.status_code == 429
    assert int(again["Retry-After"]) >= 1
    assert Event.objects.count() == 10


def test_repeats_inside_one_batch_are_stored_once(client: Client, write_key: str) -> None:
    answer = post(client, "/v1/batch", {"batch": [track("m1"), track("m1")]}, basic(write_key))
    assert (answer.json()["stored"], answer.json()["duplicates"]) == (1, 1)
    assert Event.objects.count() == 1


def test_writekey_cli_prints_the_key_once_and_revokes_it(db: Any) -> None:
    from click.testing import CliRunner

    from goodword.cli import main
    from goodword.signals.services import writekey_authenticate

    runner = CliRunner()
    created = runner.invoke(main, ["writekey", "create", "--name", "web", "--rate-limit", "50"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    row = WriteKey.objects.get()
    assert (row.name, row.rate_limit, row.hashed_key != key) == ("web", 50, True)
    assert writekey_authenticate(key) == row
    revoked = runner.invoke(main, ["writekey", "revoke", row.prefix])
    assert revoked.exit_code == 0
    assert writekey_authenticate(key) is None
    missing = runner.invoke(main, ["writekey", "revoke", "nope"])
    assert missing.exit_code == 1
    assert "no write key with prefix 'nope'" in missing.output


def test_the_worker_places_held_events_as_upkeep() -> None:
    from goodword.jobs.services import UPKEEP

    assert UPKEEP["signals.events_place_held"].fn is events_place_held
