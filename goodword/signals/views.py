"""Segment's HTTP Tracking API: POST /v1/{track,identify,group,page,screen,batch}.

Authentication as Segment's: HTTP Basic with the write key as the user name (empty password),
or `Authorization: Bearer` with an API key that has the `ingest` scope. Answers are JSON:
200 when every event was accepted; 400 naming each bad event and field, while the good ones
are stored; 401 for a missing or unknown key; 413 over the size limits; 429 with Retry-After
over the key's rate.

Below the intake, the signals pages: each account's NPS answers, tickets, messages and goals
(all of them, and as CSV), its events per week as CSV, and the intake's status for admins.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from goodword.crm.io.exporting import export_lines
from goodword.crm.models import Account
from goodword.crm.selectors import account_get_for
from goodword.crm.views import _csv_response, _user, access
from goodword.engine import praise
from goodword.lib import charts
from goodword.lib.errors import NotFound
from goodword.lib.ratelimit import Buckets
from goodword.signals import segment, selectors
from goodword.signals.services import events_ingest, ingest_log_write, writekey_authenticate
from goodword.users.services import apikey_authenticate

BUCKETS = Buckets()
API_KEY_RATE = 2000  # events per second per API key and web process


# RudderStack's SDK reads `code` from every error answer, and retries for minutes when it is
# missing; Segment's reads `message`.
CODES = {
    400: "invalid_request",
    401: "unauthorized",
    413: "payload_too_large",
    429: "rate_limited",
}


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    body = {"success": False, "code": CODES.get(status, "error"), "message": message, **extra}
    return JsonResponse(body, status=status)


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


# Reasons a request or event is refused, as the ingest log counts them. Whole requests refused
# before their events are read are counted as requests.
UNKNOWN_KEY = "unknown or missing key (requests)"
TOO_LARGE = "over the size limit (requests)"
MALFORMED = "malformed body (requests)"
RATE_LIMITED = "over the rate limit"


def _refused(response: JsonResponse, reason: str, count: int = 1) -> JsonResponse:
    ingest_log_write(at=timezone.now(), rejected={reason: count})
    return response


def _ingest(request: HttpRequest, path_type: str | None) -> HttpResponse:
    caller = _caller(request)
    if caller is None:
        response = _error(401, "a write key (HTTP Basic user name) or an ingest API key is needed")
        response["WWW-Authenticate"] = 'Basic realm="goodword"'
        return _refused(response, UNKNOWN_KEY)
    limit = segment.MAX_BATCH if path_type is None else segment.MAX_EVENT
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > segment.MAX_BATCH:
        return _refused(_error(413, f"the body is over {segment.MAX_BATCH // 1024} KB"), TOO_LARGE)
    try:
        body = segment.read_body(request.body, request.headers.get("Content-Encoding", ""), limit)
        items = segment.events_of(body, path_type)
    except segment.TooLarge as exc:
        return _refused(_error(413, str(exc)), TOO_LARGE)
    except segment.Malformed as exc:
        return _refused(_error(400, str(exc)), MALFORMED)
    wait = BUCKETS.take(caller[0], caller[1], max(1, len(items)))
    if wait:
        response = _error(429, "over this key's rate limit; retry later")
        response["Retry-After"] = str(max(1, math.ceil(wait)))
        return _refused(response, RATE_LIMITED, len(items))
    received_at = timezone.now()
    good, problems = [], []
    rejected: dict[str, int] = {}
    for index, item in items:
        parsed = segment.parse_event(index, item, received_at)
        if isinstance(parsed, list):
            problems.extend(parsed)
            reason = f"invalid {parsed[0].field or 'event'}"
            rejected[reason] = rejected.get(reason, 0) + 1
        else:
            good.append(parsed)
    result = events_ingest(
        events=good, received_at=received_at, received=len(items), rejected=rejected
    )
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


# --- pages: an account's signals, the intake's status ---------------------------------

LIST_PAGE_SIZE = 50
TITLES = {"nps": "NPS answers", "tickets": "Tickets", "messages": "Messages", "goals": "Goals"}


def _account_param(request: HttpRequest) -> Account | None:
    """The account ?account= names, through its access function: NotFound when the id is
    malformed, missing or not the user's to see; None without the parameter."""
    raw = request.GET.get("account")
    if raw is None:
        return None
    if not raw.isdigit():
        raise NotFound("account")
    return account_get_for(user=_user(request), account_id=int(raw))


def _streamed(filename: str, lines: Iterable[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@access
def signals_list(request: HttpRequest, kind: str) -> HttpResponse:
    """Every NPS answer, ticket, message or goal the user may see, or one account's."""
    account = _account_param(request)
    qs = selectors.signals_visible_to(_user(request), kind)
    if account is not None:
        qs = qs.filter(account=account)
    query = request.GET.copy()
    query.pop("page", None)
    export_url = reverse(f"signals-{kind}-export")
    context = {
        "title": TITLES[kind],
        "account": account,
        "page": Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page")),
        "query": query.urlencode(),
        "table": f"signals/_{kind}_table.html",
        "show_account": account is None,
        "export_url": f"{export_url}?account={account.pk}" if account else export_url,
        "threshold": praise.THRESHOLD,
    }
    return render(request, "signals/list.html", context)


@require_GET
@access
def signals_export(request: HttpRequest, kind: str) -> Any:
    """The rows of `signals_list` as CSV, in the import's columns (so the file imports back)."""
    account = _account_param(request)
    account_id = account.pk if account is not None else None
    lines = export_lines(kind, fmt="csv", user=_user(request), account=account_id)
    return _streamed(f"{kind}-{account_id}.csv" if account_id else f"{kind}.csv", lines)


WEEK_CSV = ["account_external_id", "account", "week", "events"]


@require_GET
@access
def weeks_export(request: HttpRequest) -> Any:
    """Events per week as CSV. Of one account: the weeks its chart shows, empty ones with 0.
    Without ?account=: every week with events of every account the user may see."""
    account = _account_param(request)
    if account is not None:
        weeks = selectors.account_weeks(account, now=timezone.now())
        rows: Iterable[Iterable[Any]] = (
            (account.external_id, account.name, w.start, w.events) for w in weeks
        )
        return _csv_response(f"events-per-week-{account.pk}.csv", WEEK_CSV, rows)
    qs = selectors.event_weeks_visible_to(_user(request))
    columns = ["account__external_id", "account__name", "week", "events"]
    rows = qs.values_list(*columns).iterator(chunk_size=2000)
    return _csv_response("events-per-week.csv", WEEK_CSV, rows)


# --- the intake's status --------------------------------------------------------------

INTAKE_EXPORTS = ("totals", "hours", "rejected", "keys")


@require_GET
@access
def intake_status(request: HttpRequest) -> Any:
    """For admins (404 for anyone else): what the intake took in, its refusals, the write
    keys; ?export=totals|hours|rejected|keys gives one of its tables as CSV."""
    status = selectors.intake_status_for(user=_user(request), now=timezone.now())
    export = request.GET.get("export")
    if export is not None:
        if export not in INTAKE_EXPORTS:
            raise NotFound(f"no table {export!r}")
        header, rows = _intake_table(status, export)
        return _csv_response(f"intake-{export}.csv", header, rows)
    context = {
        "status": status,
        "totals": _totals(status),
        "hours_chart": _hours_chart(status),
        "host": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "signals/intake.html", context)


def _totals(status: selectors.IntakeStatus) -> list[tuple[str, int | None, int]]:
    """(what, in the last 24 hours, all time); None where a figure is only known for now."""
    day, total = status.day, status.total
    return [
        ("Received", day.received, total.received),
        ("Stored", day.stored, total.stored),
        ("Duplicates dropped", day.duplicates, total.duplicates),
        ("Held on arrival (account not known yet)", day.held, total.held),
        ("Rejected", sum(day.rejected.values()), sum(total.rejected.values())),
        ("Waiting for an account now", None, total.waiting),
    ]


def _hour_label(hour: selectors.Hour) -> str:
    return f"{hour.at.astimezone(dt.UTC):%a %d %H:00}"


def _hours_chart(status: selectors.IntakeStatus) -> str:
    """Received beside stored for each hour; empty when no event arrived in those hours."""
    if not any(h.received or h.stored for h in status.hours):
        return ""
    return charts.grouped_bars(
        [_hour_label(h) for h in status.hours],
        [
            charts.Series("Received", [h.received for h in status.hours]),
            charts.Series("Stored", [h.stored for h in status.hours]),
        ],
        title=f"Events received and stored per hour, last {selectors.INTAKE_HOURS} hours (UTC)",
        label_header="Hour (UTC)",
        label_every=6,
    )


def _intake_table(
    status: selectors.IntakeStatus, name: str
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    if name == "totals":
        return ["measure", "last_24_hours", "all_time"], iter(_totals(status))
    if name == "hours":
        header = ["hour", "received", "stored", "duplicates", "rejected"]
        rows = ((h.at, h.received, h.stored, h.duplicates, h.rejected) for h in status.hours)
        return header, rows
    if name == "rejected":
        return ["reason", "last_24_hours", "all_time"], iter(status.rejected)
    columns = list(selectors.KEY_COLUMNS)
    return columns, (tuple(getattr(k, c) for c in columns) for k in status.keys)
