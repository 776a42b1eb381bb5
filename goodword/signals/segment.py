"""Reading Segment's HTTP Tracking API payloads: the request body (gzip or not, within the
documented limits) and each event, checked field by field. No database here.

Shapes follow Segment's Tracking API: a single call is one JSON object posted to
/v1/{track,identify,group,page,screen}; /v1/batch posts {"batch": [...]} whose events each
carry their `type`, with an optional top-level `context` they share.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from goodword.lib.validators import parse_datetime

MAX_EVENT = 32 * 1024  # bytes of one event, as Segment documents
MAX_BATCH = 500 * 1024  # bytes of one request
TYPES = ("track", "identify", "group", "page", "screen")


class TooLarge(Exception):
    """The request is over a documented limit (413)."""


class Malformed(Exception):
    """The body is not readable JSON of the right shape (400)."""


@dataclass(frozen=True)
class Problem:
    index: int
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass
class Parsed:
    message_id: str
    type: str
    user_key: str
    event: str
    group_id: str
    properties: dict[str, Any]
    timestamp: dt.datetime  # when it happened; the receiving time when the client gave none


def read_body(raw: bytes, encoding: str, limit: int) -> Any:
    """The JSON a request carries. Raises TooLarge over `limit` bytes (after decompressing,
    so a small gzip bomb is refused too), Malformed for bad gzip or JSON."""
    if encoding.strip().lower() == "gzip":
        raw = _gunzip(raw, limit)
    elif encoding.strip() not in ("", "identity"):
        raise Malformed(f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    if len(raw) > limit:
        raise TooLarge(f"the body is over {limit // 1024} KB")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"the body is not JSON: {exc}") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise Malformed(f"the body is not valid gzip: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the body is over {limit // 1024} KB once decompressed")
    if not inflater.eof:
        raise Malformed("the gzip body is truncated")
    return data


def events_of(body: Any, path_type: str | None) -> list[tuple[int, Any]]:
    """The (index, event) pairs of a request: one for a single call, each of a batch."""
    if not isinstance(body, dict):
        raise Malformed("the body must be a JSON object")
    if path_type is not None:
        return [(0, {**body, "type": body.get("type") or path_type})]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise Malformed('a batch must be {"batch": [event, ...]}')
    shared = body.get("context") if isinstance(body.get("context"), dict) else {}
    # SDKs stamp sentAt once, on the batch: each event without its own takes it, so the
    # clock-skew correction applies to their events too.
    sent_at = body.get("sentAt")
    events = []
    for i, event in enumerate(batch):
        if isinstance(event, dict) and shared:
            context = event.get("context")
            event = {
                **event,
                "context": {**shared, **(context if isinstance(context, dict) else {})},
            }
        if isinstance(event, dict) and sent_at is not None and "sentAt" not in event:
            event = {**event, "sentAt": sent_at}
        events.append((i, event))
    return events


def parse_event(index: int, event: Any, received_at: dt.datetime) -> Parsed | list[Problem]:
    """One event checked; the problems name each bad field."""
    if not isinstance(event, dict):
        return [Problem(index, "", "an event must be a JSON object")]
    problems: list[Problem] = []

    def bad(name: str, message: str) -> None:
        problems.append(Problem(index, name, message))

    size = len(json.dumps(event, separators=(",", ":"), default=str).encode())
    if size > MAX_EVENT:
        bad("", f"the event is {size:,} bytes, over the 32 KB limit")
    kind = event.get("type")
    if kind not in TYPES:
        bad("type", f"{kind!r} is not one of {', '.join(TYPES)}")
    user_key = _user_key(event, bad)
    message_id = _text(event, "messageId", 200, bad) or str(uuid.uuid4())
    name = _text(event, "event", 200, bad)
    if kind == "track" and not name:
        bad("event", "a track call needs the event's name")
    if kind in ("page", "screen") and not name:
        name = _text(event, "name", 200, bad)
    context = event.get("context", {})
    if not isinstance(context, dict):
        bad("context", "must be a JSON object")
        context = {}
    group_id = _text(event, "groupId", 200, bad) if kind == "group" else ""
    if kind == "group" and not group_id:
        bad("groupId", "a group call needs the groupId")
    group_id = group_id or _text(context, "groupId", 200, bad, "context.groupId")
    attrs = "traits" if kind in ("identify", "group") else "properties"
    properties = event.get(attrs, {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        bad(attrs, "must be a JSON object")
    timestamp = _timestamp(event, received_at, bad)
    if problems:
        return problems
    assert isinstance(kind, str)
    assert user_key is not None
    return Parsed(message_id, kind, user_key, name, group_id, properties, timestamp)


def _text(source: dict[str, Any], name: str, limit: int, bad: Any, label: str | None = None) -> str:
    value = source.get(name)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        bad(label or name, "must be a string")
        return ""
    text = str(value).strip()
    if len(text) > limit:
        bad(label or name, f"is longer than {limit} characters")
        return ""
    return text


def _user_key(event: dict[str, Any], bad: Any) -> str | None:
    user_id = _text(event, "userId", 200, bad)
    if user_id:
        return f"user:{user_id}"
    anonymous_id = _text(event, "anonymousId", 200, bad)
    if anonymous_id:
        return f"anon:{anonymous_id}"
    bad("userId", "a userId or an anonymousId is required")
    return None


def _timestamp(event: dict[str, Any], received_at: dt.datetime, bad: Any) -> dt.datetime:
    """When it happened. As Segment does, a client clock that is off is corrected by the
    difference between the client's `sentAt` and our receiving time."""
    stamps: dict[str, dt.datetime | None] = {}
    for name in ("timestamp", "sentAt"):
        value = event.get(name)
        try:
            stamps[name] = parse_datetime(value) if isinstance(value, str) and value else None
        except ValueError as exc:
            bad(name, str(exc))
            stamps[name] = None
    happened, sent = stamps["timestamp"], stamps["sentAt"]
    if happened is None:
        return received_at
    if sent is not None:
        return happened + (received_at - sent)
    return happened
