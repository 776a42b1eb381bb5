"""The pages behind the rep KPI and ROI reports: a quarter's targets (a grid of users ×
metrics that managers fill for their team and admins for anyone; reps and CSMs read their
own), and the programme's costs with the spend per source (admins edit, managers read,
anyone else gets 404), each table with its CSV export. Thin views: reads through the access
functions of reports.services, writes through its services (Forbidden → 403, Invalid → the
page again with the reasons, status 400)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goodword.crm.models import DealSource
from goodword.crm.views import _csv_response, _page, _user, access
from goodword.lib.errors import Forbidden, Invalid
from goodword.reports import services
from goodword.reports.models import MONEY_METRICS, TargetMetric, home_currency

if TYPE_CHECKING:
    from goodword.users.models import User

# --- targets ----------------------------------------------------------------------------


def _quarter(request: HttpRequest) -> dt.date:
    """The quarter asked for (?quarter=2026-Q2), else the current one; Invalid if bad."""
    raw = request.GET.get("quarter") or request.POST.get("quarter") or ""
    return (
        services.quarter_parse(raw) if raw.strip() else services.quarter_of(timezone.now().date())
    )


def _field(user_id: int, metric: str) -> str:
    return f"t-{user_id}-{metric}"


def _grid(
    user: User, quarter: dt.date, posted: dict[str, str] | None, errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """One row per user whose targets `user` may set, with each metric's value (the one
    posted when the page comes back refused, else the stored one) and its errors."""
    stored = {
        (t.user_id, t.metric): t.value
        for t in services.targets_for(user, quarter).filter(
            user__in=services.target_users_for(user)
        )
    }
    rows = []
    for person in services.target_users_for(user):
        cells = []
        for metric in TargetMetric.values:
            name = _field(person.pk, metric)
            value = posted.get(name, "") if posted is not None else stored.get((person.pk, metric))
            cells.append({
                "name": name, "metric": metric, "value": _shown(metric, value),
                "errors": errors.get(f"{person.pk}-{metric}", []),
            })  # fmt: skip
        rows.append({"user": person, "cells": cells})
    return rows


def _is_cell(key: str) -> bool:
    user_id, _, metric = key.partition("-")
    return user_id.isdigit() and metric in TargetMetric.values


def _shown(metric: str, value: Decimal | str | None) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return str(value if metric in MONEY_METRICS else value.to_integral_value())


def _targets_page(
    request: HttpRequest,
    quarter: dt.date,
    *,
    status: int = 200,
    posted: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    user = _user(request)
    editable = user.is_admin_role or user.is_manager
    errors = errors or {}
    context = {
        "quarter": quarter,
        "label": services.quarter_label(quarter),
        "previous": services.quarter_label(services.quarter_of(quarter - dt.timedelta(days=1))),
        "next": services.quarter_label(services.quarter_end(quarter) + dt.timedelta(days=1)),
        "metrics": TargetMetric.choices,
        "money_metrics": [m for m in TargetMetric.values if m in MONEY_METRICS],
        "home": home_currency(),
        "editable": editable,
        "grid": _grid(user, quarter, posted, errors) if editable else [],
        "mine": [] if editable else list(services.targets_for(user, quarter)),
        # The errors of no one cell (an unknown user, a bad quarter) go above the grid.
        "general": [r for k, rs in errors.items() if not _is_cell(k) for r in rs],
    }
    return render(request, "reports/settings/targets.html", context, status=status)


@require_http_methods(["GET", "POST"])
@access
def targets_page(request: HttpRequest) -> HttpResponse:
    """GET: the quarter's grid (or one's own targets); POST: the grid saved."""
    try:
        quarter = _quarter(request)
    except Invalid as refused:
        return _targets_page(
            request, services.quarter_of(timezone.now().date()), status=400, errors=refused.errors
        )
    if request.method == "GET":
        return _targets_page(request, quarter)
    user = _user(request)
    if not (user.is_admin_role or user.is_manager):
        raise Forbidden("only managers and admins set targets")
    posted = {k: request.POST.get(k, "") for k in request.POST if k.startswith("t-")}
    try:
        result = services.targets_set(
            actor=user, quarter=quarter, values=_cells(posted), now=timezone.now()
        )
    except Invalid as refused:
        return _targets_page(request, quarter, status=400, posted=posted, errors=refused.errors)
    messages.success(request, f"Targets for {services.quarter_label(quarter)}: {result.summary()}")
    return redirect(f"{reverse('report-targets')}?quarter={services.quarter_label(quarter)}")


def _cells(posted: dict[str, str]) -> dict[tuple[int, str], str]:
    """The grid's fields (t-<user id>-<metric>) as cells; a malformed name is refused."""
    cells: dict[tuple[int, str], str] = {}
    for name, value in posted.items():
        user_id, _, metric = name.removeprefix("t-").partition("-")
        if not user_id.isdigit():
            raise Invalid({name: ["is not a target field"]})
        cells[(int(user_id), metric)] = value
    return cells


@require_GET
@access
def targets_export(request: HttpRequest) -> Any:
    """The quarter's targets one may see, as CSV (quarter, user, team, metric, value)."""
    try:
        quarter = _quarter(request)
    except Invalid as refused:
        return HttpResponse(refused.message, status=400, content_type="text/plain")
    targets = services.targets_for(_user(request), quarter).select_related("user__team")
    rows = (
        (services.quarter_label(t.quarter), t.user.email, t.user.team.name if t.user.team else "",
         t.metric, t.value)
        for t in targets
    )  # fmt: skip
    header = ["quarter", "user", "team", "metric", "value"]
    return _csv_response(f"targets-{services.quarter_label(quarter)}.csv", header, rows)


# --- programme costs and spend per source -----------------------------------------------------


def _costs_page(
    request: HttpRequest,
    *,
    status: int = 200,
    costs_errors: dict[str, list[str]] | None = None,
    spend_errors: dict[str, list[str]] | None = None,
    posted: dict[str, str] | None = None,
) -> HttpResponse:
    user = _user(request)
    costs = services.costs_for(user)
    spend = _page(request, services.spend_for(user))
    context = {
        "costs": costs,
        "costs_default": costs._state.adding,
        "page": spend,
        "sources": [(s, DealSource(s).label) for s in services.SPEND_SOURCES],
        "labels": dict(DealSource.choices),
        "home": home_currency(),
        "may_edit": user.is_admin_role,
        "costs_errors": costs_errors or {},
        "spend_errors": spend_errors or {},
        "posted": posted or {},
    }
    return render(request, "reports/settings/costs.html", context, status=status)


@require_GET
@access
def costs_page(request: HttpRequest) -> HttpResponse:
    return _costs_page(request)


def _admin(request: HttpRequest) -> User:
    """404 for whoever may not see the costs, 403 for a manager (who reads them)."""
    user = _user(request)
    services.costs_for(user)
    if not user.is_admin_role:
        raise Forbidden("only admins change the programme costs and the spend")
    return user


@require_POST
@access
def costs_save(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    try:
        services.costs_set(
            actor=user,
            minutes_per_ask=request.POST.get("minutes_per_ask", ""),
            hourly_cost=request.POST.get("hourly_cost", ""),
            currency=request.POST.get("currency", ""),
            now=timezone.now(),
        )
    except Invalid as refused:
        return _costs_page(request, status=400, costs_errors=refused.errors)
    messages.success(request, "Programme costs saved.")
    return redirect("report-costs")


@require_POST
@access
def spend_save(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    posted = {k: request.POST.get(k, "") for k in ("source", "month", "amount", "currency")}
    try:
        saved = services.spend_set(actor=user, now=timezone.now(), **posted)
    except Invalid as refused:
        return _costs_page(request, status=400, spend_errors=refused.errors, posted=posted)
    done = "removed" if saved is None else "saved"
    messages.success(request, f"Spend on {posted['source']} in {posted['month']} {done}.")
    return redirect("report-costs")


@require_GET
@access
def costs_export(request: HttpRequest) -> Any:
    """The programme costs as CSV (one row)."""
    costs = services.costs_for(_user(request))
    header = ["minutes_per_ask", "hourly_cost", "currency", "updated_at", "updated_by"]
    row = (
        costs.minutes_per_ask, costs.hourly_cost, costs.currency, costs.updated_at,
        costs.updated_by.email if costs.updated_by else "",
    )  # fmt: skip
    return _csv_response("programme-costs.csv", header, [row])


@require_GET
@access
def spend_export(request: HttpRequest) -> Any:
    """Every month's spend per source as CSV (month, source, amount, currency)."""
    spend = services.spend_for(_user(request)).order_by("month", "source")
    rows = (
        (s.month.strftime("%Y-%m"), s.source, s.amount, s.currency,
         s.entered_by.email if s.entered_by else "")
        for s in spend
    )  # fmt: skip
    header = ["month", "source", "amount", "currency", "entered_by"]
    return _csv_response("source-spend.csv", header, rows)


# Before the reports' own /reports/<name>/ paths, which would take these.
urlpatterns = [
    path("reports/targets/", targets_page, name="report-targets"),
    path("reports/targets/export.csv", targets_export, name="report-targets-export"),
    path("reports/costs/", costs_page, name="report-costs"),
    path("reports/costs/programme/", costs_save, name="report-costs-save"),
    path("reports/costs/spend/", spend_save, name="report-spend-save"),
    path("reports/costs/programme.csv", costs_export, name="report-costs-export"),
    path("reports/costs/spend.csv", spend_export, name="report-spend-export"),
]
