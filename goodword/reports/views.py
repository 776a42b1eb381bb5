"""The report pages: each report's headline, its chart, the tables behind it with a CSV
export each, and the filters; the reports' index shows every headline."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from goodword.crm.models import DealSource
from goodword.crm.views import _csv_response, _user, access
from goodword.lib.errors import Invalid, NotFound
from goodword.reports import charts
from goodword.reports.catalogue import NAMES, TITLES, report_build
from goodword.reports.filters import SIZE_BAND_CHOICES, Filters, filters_parse
from goodword.users.models import Team, User


def _filters(request: HttpRequest) -> tuple[Filters, dict[str, list[str]]]:
    try:
        return filters_parse(request.GET), {}
    except Invalid as refused:
        return Filters(), refused.errors


def _choices(request: HttpRequest) -> dict[str, Any]:
    return {
        "teams": Team.objects.order_by("name"),
        "owners": User.objects.filter(is_active=True).order_by("first_name", "last_name"),
        "sizes": list(SIZE_BAND_CHOICES),
        "sources": DealSource.choices,
        "values": request.GET,
    }


@require_GET
@access
def reports_index(request: HttpRequest) -> Any:
    filters, errors = _filters(request)
    today = timezone.now().date()
    user = _user(request)
    reports = [report_build(name, user=user, filters=filters, today=today) for name in NAMES]
    context = {"reports": reports, "errors": errors, **_choices(request)}
    return render(request, "reports/index.html", context, status=400 if errors else 200)


@require_GET
@access
def report_headlines(request: HttpRequest) -> Any:
    """Each report's headline over the last twelve months (the managers' home page loads it
    after the page, so the page does not wait for the figures)."""
    today = timezone.now().date()
    user = _user(request)
    reports = [report_build(name, user=user, filters=Filters(), today=today) for name in NAMES]
    return render(request, "reports/_headlines.html", {"reports": reports})


@require_GET
@access
def report_page(request: HttpRequest, name: str) -> Any:
    """A report; ?export=<table> answers that table as CSV."""
    if name not in TITLES:
        raise Http404
    filters, errors = _filters(request)
    try:
        report = report_build(
            name, user=_user(request), filters=filters, today=timezone.now().date()
        )
    except NotFound as exc:
        raise Http404 from exc
    export = request.GET.get("export")
    if export:
        return _export(report, export)
    drawn = charts.for_report(report)
    context = {
        "report": report,
        "sections": [(t, drawn.get(t.name)) for t in report.tables],
        "errors": errors,
        "query": request.GET.urlencode(),
        **_choices(request),
    }
    return render(request, "reports/report.html", context, status=400 if errors else 200)


def _export(report: Any, table_name: str) -> Any:
    try:
        table = report.table(table_name)
    except KeyError:
        raise Http404 from None
    rows = table.csv_rows()
    header = next(rows)
    start, end = report.period
    return _csv_response(f"{report.name}-{table.name}-{start}-{end}.csv", header, rows)


urlpatterns = [
    path("reports/", reports_index, name="reports"),
    path("reports/headlines/", report_headlines, name="report-headlines"),
    path("reports/<slug:name>/", report_page, name="report"),
]
