"""Segment's HTTP Tracking API: POST /v1/{track,identify,group,page,screen,batch}.

Authentication as Segment's: HTTP Basic with the write key as the user name (empty password),
or `Authorization: Bearer` with an API key that has the `ingest` scope. Answers are JSON:
200 when every event was accepted; 400 naming each bad event and field, while the good ones
are stored; 401 for a missing or unknown key; 413 over the size limits; 429 with Retry-After
over the key's rate.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from goodword.lib.ratelimit import Buckets
from goodword.signals import segment
from goodword.signals.services import events_ingest, writekey_authenticate
from goodword.users.services import apikey_authenticate

BUCKETS = Buckets()
API_KEY_RATE = 2000  # events per second per API key and web process


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"success": False, "message": message, **extra}, status=status)


def _caller(request: HttpRequest) -> tuple[str, float] | None:
    """(rate-limit bucket, events per second) of the key the request carries, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        write_key = writekey_authenticate(decoded.partition(":")[0])
        if write_key is None:
            return None
        return f"writekey:{write_key.pk}", float(write_key.rate_limit)
    if scheme.lower() == "bearer":
        user = apikey_authenticate(credentials.strip(), "ingest")
        return (f"user:{user.pk}", float(API_KEY_RATE)) if user is not None else None
    return None


def _ingest(request: HttpRequest, path_type: str | None) -> HttpResponse:
    caller = _caller(request)
    if caller is None:
        response = _error(401, "a write key (HTTP Basic user name) or an ingest API key is needed")
        response["WWW-Authenticate"] = 'Basic realm="goodword"'
        return response
    limit = segment.MAX_BATCH if path_type is None else segment.MAX_EVENT
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > segment.MAX_BATCH:
        return _error(413, f"the body is over {segment.MAX_BATCH // 1024} KB")
    try:
        body = segment.read_body(request.body, request.headers.get("Content-Encoding", ""), limit)
        items = segment.events_of(body, path_type)
    except segment.TooLarge as exc:
        return _error(413, str(exc))
    except segment.Malformed as exc:
        return _error(400, str(exc))
    wait = BUCKETS.take(caller[0], caller[1], max(1, len(items)))
    if wait:
        response = _error(429, "over this key's rate limit; retry later")
        response["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    received_at = timezone.now()
    good, problems = [], []
    for index, item in items:
        parsed = segment.parse_event(index, item, received_at)
        if isinstance(parsed, list):
            problems.extend(parsed)
        else:
            good.append(parsed)
    result = events_ingest(events=good, received_at=received_at)
    if problems:
        return _error(
            400,
            f"{len({p.index for p in problems})} of {len(items)} events refused",
            accepted=len(good),
            errors=[p.as_json() for p in problems],
        )
    return JsonResponse({"success": True, "stored": result.stored, "duplicates": result.duplicates})


def _endpoint(path_type: str | None) -> Any:
    @csrf_exempt
    @login_not_required
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        return _ingest(request, path_type)

    view.__name__ = f"ingest_{path_type or 'batch'}"
    return view


track = _endpoint("track")
identify = _endpoint("identify")
group = _endpoint("group")
page = _endpoint("page")
screen = _endpoint("screen")
batch = _endpoint(None)
