"""The real Segment and RudderStack Python SDKs, pointed at a live Goodword through a proxy that
loses answers and refuses requests, deliver every event exactly once.

The issue promises: configured with Goodword's host, `segment-analytics-python` and
`rudder-sdk-python` deliver N events, including forced retries and duplicate sends, and
Goodword stores exactly N. Each SDK runs as an application would run it: a Client object with
its own consumer thread, batches on /v1/batch, its own retry policy.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import backoff
import pytest
from rudderstack.analytics.client import Client as RudderClient  # type: ignore[import-untyped]
from segment.analytics import request as segment_request  # type: ignore[import-untyped]
from segment.analytics.client import Client as SegmentClient  # type: ignore[import-untyped]

from goodword.crm.models import Account
from goodword.signals import views
from goodword.signals.models import Event, EventState, Identity
from goodword.signals.services import writekey_create, writekey_revoke
from goodword.signals.tests.faultproxy import Fault, FaultProxy, Seen

N = 30  # distinct track events each SDK sends
REPEATED = (3, 17, 29)  # track events sent a second time with the same explicit messageId
UPLOAD_SIZE = 5  # events per batch: several batches, so faults hit different ones

# Request n gets fault n; later requests are forwarded. The SDKs send one batch at a time and
# retry it at once, so the request after a fault is the same batch again: the first batch is
# stored but its answer lost, then refused, then stored again (a duplicate); later batches
# meet one fault each.
SCRIPT = (
    Fault.DROP_AFTER_STORE,
    Fault.REFUSE_503,
    Fault.FORWARD,
    Fault.DROP_AFTER_STORE,
    Fault.FORWARD,
    Fault.REFUSE_503,
    Fault.FORWARD,
    Fault.DROP_AFTER_STORE,
)


class Sdk(Protocol):
    def identify(self, **kwargs: Any) -> Any: ...
    def group(self, **kwargs: Any) -> Any: ...
    def track(self, **kwargs: Any) -> Any: ...
    def flush(self) -> None: ...
    def join(self) -> None: ...


@pytest.fixture
def write_key(transactional_db: None) -> str:
    views.BUCKETS._state.clear()  # the live server runs in this process: no stale bucket
    return writekey_create(name="sdk test")[1]


@pytest.fixture
def fast_rudder_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """RudderStack's consumer waits backoff.expo() seconds (1, 2, 4, … with full jitter)
    between tries and its Client has no parameter for it. Its `request()` looks up
    `backoff.expo` on each call, so a smaller factor here shortens the waits to
    milliseconds while keeping the library's own retry loop, give-up rule and try count."""
    monkeypatch.setattr(backoff, "expo", functools.partial(backoff.expo, factor=0.01))


Reported = tuple[Exception, list[str]]  # what the SDK gave up on: its error, the messageIds


@pytest.fixture
def errors() -> list[Reported]:
    return []


def on_error_into(sink: list[Reported]) -> Callable[..., None]:
    def on_error(exc: Exception, batch: list[dict[str, Any]]) -> None:
        sink.append((exc, [event["messageId"] for event in batch]))

    return on_error


def send_everything(sdk: Sdk, prefix: str) -> set[str]:
    """Track events for user u1, whose group call (to ACC-1) comes midway, so the earlier
    events wait for it and the later ones follow it; then repeats. Returns the ids to store."""
    ids = {f"{prefix}-identify", f"{prefix}-group"}
    sdk.identify(user_id="u1", traits={"email": "ada@acme.io"}, message_id=f"{prefix}-identify")
    for i in range(N):
        if i == N // 2:
            sdk.group(user_id="u1", group_id="ACC-1", message_id=f"{prefix}-group")
        sdk.track(
            user_id="u1", event="report_created", properties={"n": i}, message_id=f"{prefix}-{i}"
        )
        ids.add(f"{prefix}-{i}")
    for i in REPEATED:
        sdk.track(
            user_id="u1", event="report_created", properties={"n": i}, message_id=f"{prefix}-{i}"
        )
    return ids


def flush_within(sdk: Sdk, seconds: float) -> None:
    """flush() waits on the SDK's queue with no time limit; a test must not hang on it."""
    flusher = threading.Thread(target=sdk.flush, daemon=True)
    flusher.start()
    flusher.join(seconds)
    assert not flusher.is_alive(), f"the SDK had not delivered its queue after {seconds} s"
    sdk.join()


def assert_retried_the_same_batch(seen: list[Seen]) -> None:
    """Every scripted fault happened, and the request after each was the same batch again."""
    assert [s.fault for s in seen[: len(SCRIPT)]] == list(SCRIPT)
    for fault, retry in itertools.pairwise(seen):
        if fault.fault is not Fault.FORWARD:
            assert retry.message_ids == fault.message_ids
    assert {s.path for s in seen} == {"/v1/batch"}
    # Goodword stored each forwarded batch, including those whose answer was then lost
    assert [s.upstream_status for s in seen if s.fault is not Fault.REFUSE_503] == [200] * (
        len(seen) - SCRIPT.count(Fault.REFUSE_503)
    )


def assert_stored_once_in_the_account(ids: set[str], account: Account) -> None:
    stored = list(Event.objects.values_list("message_id", "account_id", "state"))
    assert len(stored) == len(ids) == N + 2
    assert {message_id for message_id, _, _ in stored} == ids
    assert {(a, s) for _, a, s in stored} == {(account.pk, EventState.PLACED)}
    assert Identity.objects.get(user_key="user:u1").account_id == account.pk


@pytest.fixture
def proxy(live_server: Any) -> Iterator[FaultProxy]:
    with FaultProxy(live_server.url, SCRIPT) as running:
        yield running


def test_segment_sdk_delivers_each_event_once_through_lost_answers_and_503s(
    proxy: FaultProxy, write_key: str, account: Account, errors: list[Reported]
) -> None:
    # given Segment's client as an app configures it, with Goodword (behind the proxy) as host;
    # its own retry policy retries network errors and 5xx, the first retry at once, then
    # 0.5 s, 1 s, … so the script's faults cost about a second
    sdk = SegmentClient(
        write_key=write_key,
        host=proxy.url,
        on_error=on_error_into(errors),
        upload_size=UPLOAD_SIZE,
        upload_interval=0.05,
        max_retries=5,
        timeout=10,
    )
    # when it sends N events, the group call and repeats, and flushes
    ids = send_everything(sdk, "seg")
    flush_within(sdk, 60)
    # then it gave up on nothing, it retried batches Goodword had already stored, and
    # Goodword stored each event once, all in the account of the user's group call
    assert errors == []
    assert_retried_the_same_batch(proxy.seen)
    assert {s.content_encoding for s in proxy.seen} == {""}  # Segment's default: no gzip
    assert len(proxy.seen) > len(SCRIPT)
    assert_stored_once_in_the_account(ids, account)


def test_segment_sdk_with_gzip_delivers_each_event_once(
    proxy: FaultProxy, write_key: str, account: Account, errors: list[Reported]
) -> None:
    # given Segment's client with gzip turned on
    sdk = SegmentClient(
        write_key=write_key,
        host=proxy.url,
        gzip=True,
        on_error=on_error_into(errors),
        upload_size=UPLOAD_SIZE,
        upload_interval=0.05,
        max_retries=5,
        timeout=10,
    )
    # when it sends everything through the same faults
    ids = send_everything(sdk, "segz")
    flush_within(sdk, 60)
    # then the same holds with compressed bodies
    assert errors == []
    assert_retried_the_same_batch(proxy.seen)
    assert {s.content_encoding for s in proxy.seen} == {"gzip"}
    assert_stored_once_in_the_account(ids, account)


@pytest.mark.usefixtures("fast_rudder_backoff")
def test_rudderstack_sdk_delivers_each_event_once_through_lost_answers_and_503s(
    proxy: FaultProxy, write_key: str, account: Account, errors: list[Reported]
) -> None:
    # given RudderStack's client with its defaults (gzip on), Goodword as its data plane URL;
    # it retries network errors, 5xx and 429 and gives up on other 4xx
    sdk = RudderClient(
        write_key=write_key,
        host=proxy.url,
        on_error=on_error_into(errors),
        upload_size=UPLOAD_SIZE,
        upload_interval=0.05,
        max_retries=5,
        timeout=10,
    )
    # when it sends N events, the group call and repeats, and flushes
    ids = send_everything(sdk, "rud")
    flush_within(sdk, 60)
    # then it gave up on nothing, every body was gzip, batches it retried were stored once
    assert errors == []
    assert_retried_the_same_batch(proxy.seen)
    assert {s.content_encoding for s in proxy.seen} == {"gzip"}
    assert len(proxy.seen) > len(SCRIPT)
    assert_stored_once_in_the_account(ids, account)


@pytest.mark.usefixtures("fast_rudder_backoff")
@pytest.mark.parametrize("make_client", [SegmentClient, RudderClient], ids=["segment", "rudder"])
def test_a_refused_key_is_reported_at_once_not_retried(
    make_client: Callable[..., Sdk], live_server: Any, write_key: str, errors: list[Reported]
) -> None:
    # given a revoked key: Goodword answers 401, which both SDKs document as final
    writekey_revoke(prefix=write_key)
    with FaultProxy(live_server.url, script=()) as counting:
        sdk = make_client(
            write_key=write_key,
            host=counting.url,
            on_error=on_error_into(errors),
            upload_interval=0.05,
            max_retries=3,
            timeout=10,
        )
        # when one event is sent
        sdk.track(user_id="u1", event="report_created", message_id="k-1")
        flush_within(sdk, 30)
    # then the SDK sent it once, reported the 401 and did not retry. (RudderStack reads
    # `code` from an error's JSON before raising its APIError; when it is missing, the
    # KeyError escapes the SDK's give-up rule and a 401, 400 or 413 is retried, by default
    # 10 times with backoff up to 512 s, holding up every event queued behind it.)
    assert [s.upstream_status for s in counting.seen] == [401]
    assert [(getattr(e, "status", repr(e)), ids) for e, ids in errors] == [(401, ["k-1"])]
    assert Event.objects.count() == 0


def test_the_sent_at_of_an_sdk_batch_corrects_a_client_clock_that_is_off(
    live_server: Any, write_key: str
) -> None:
    # given a batch as the SDKs send it: `sentAt` once, at the top of the batch, not in each
    # event (segment's request.post, which its consumer calls, takes it as an argument), from
    # a client whose clock is a day fast: it says it sent the event a minute after it happened
    event = {
        "type": "track",
        "userId": "u1",
        "event": "report_created",
        "messageId": "skew-1",
        "timestamp": "2030-01-02T10:00:00+00:00",
    }
    # when it is posted (through the proxy, which does not keep connections to Goodword open:
    # the SDK's pooled keep-alive connection would keep a live-server thread, and its
    # database session, alive past the test)
    with FaultProxy(live_server.url, script=()) as plain:
        answer = segment_request.post(
            write_key, plain.url, batch=[event], sentAt="2030-01-02T10:01:00+00:00"
        )
    assert answer.status_code == 200
    # then the event is dated a minute before Goodword received it
    stored = Event.objects.get()
    assert stored.received_at - stored.timestamp == dt.timedelta(minutes=1)
