"""The rates page: the table of dated rates (admins and managers), its CSV export, and the
admins' import of a CSV file in two steps: a dry run that lists each bad row, then the
import of the file it checked. Thin views: access through `rates_for` (404 for whoever may
not see the rates), the write through `rates_import` (403 for managers)."""

from __future__ import annotations

import io
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from goodword.crm.views import _csv_response, _page, _query_without, _user, access
from goodword.lib.errors import Forbidden, Invalid
from goodword.reports import rates
from goodword.reports.models import home_currency

# The checked file travels back to the import step in a form field, which Django caps at
# 2.5 MB (DATA_UPLOAD_MAX_MEMORY_SIZE); larger files are for the command line.
MAX_UPLOAD = 2_000_000


def _table(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    """The page with the rates of the chosen currency, and whatever a step adds."""
    user = _user(request)
    currency = request.GET.get("currency", "").strip().upper()
    shown = rates.rates_filtered(rates.rates_for(user), currency=currency)
    page = _page(request, shown.select_related("imported_by"))
    context = {
        "page": page,
        "rows": [(r, rates.plain(r.rate)) for r in page],
        "query": _query_without(request, "page"),
        "currency": currency,
        "currencies": rates.rate_currencies(),
        "home": home_currency(),
        "may_import": user.is_admin_role,
        "max_upload_mb": MAX_UPLOAD // 1_000_000,
        **extra,
    }
    return render(request, "reports/rates.html", context, status=status)


@require_GET
@access
def rates_page(request: HttpRequest) -> HttpResponse:
    return _table(request)


@require_GET
@access
def rates_export(request: HttpRequest) -> Any:
    """The table as CSV in the import's columns, of the chosen currency or of all."""
    currency = request.GET.get("currency", "").strip().upper()
    shown = rates.rates_filtered(rates.rates_for(_user(request)), currency=currency)
    name = f"rates-{currency}.csv" if currency.isalpha() else "rates.csv"
    return _csv_response(name, list(rates.COLUMNS), rates.rate_rows(shown))


def _admin(request: HttpRequest) -> None:
    """404 for whoever may not see the rates; 403 for a manager, who sees but may not
    import (the service refuses them too)."""
    user = _user(request)
    rates.rates_for(user)
    if not user.is_admin_role:
        raise Forbidden("only admins import rates")


def _uploaded(request: HttpRequest) -> tuple[str, str]:
    """The uploaded file's name and text. Raises Invalid for no file, a file too large for
    this page, or one that is not UTF-8 text."""
    upload = request.FILES.get("file")
    if upload is None or not upload.size:
        raise Invalid("choose a CSV file with the columns day,currency,rate")
    name = upload.name or "upload.csv"
    if upload.size > MAX_UPLOAD:
        raise Invalid(
            f"{name} is larger than {MAX_UPLOAD // 1_000_000} MB: "
            "import it with `goodword rates import FILE`"
        )
    try:
        return name, upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{name}: is not UTF-8 text (byte {exc.start})") from None


def _run(request: HttpRequest, name: str, text: str, *, dry_run: bool) -> rates.RatesReport:
    try:
        return rates.rates_import(
            actor=_user(request),
            file=io.StringIO(text, newline=""),
            source=name,
            dry_run=dry_run,
            now=timezone.now(),
        )
    except rates.RatesFileError as exc:
        raise Invalid(str(exc)) from None


@require_POST
@access
def rates_check(request: HttpRequest) -> HttpResponse:
    """Step one: a dry run of the uploaded file; when it is clean, the page offers its
    import (the file's text rides along in the form)."""
    _admin(request)
    try:
        name, text = _uploaded(request)
        report = _run(request, name, text, dry_run=True)
    except Invalid as refused:
        return _table(request, 400, refusals=_reasons(refused))
    extra = {"checked": report, "filename": name, "content": text if report.ok else ""}
    return _table(request, 200 if report.ok else 400, **extra)


@require_POST
@access
def rates_import(request: HttpRequest) -> HttpResponse:
    """Step two: the import of the file checked, all or nothing."""
    _admin(request)
    name = request.POST.get("filename", "").strip()[:255] or "upload.csv"
    try:
        report = _run(request, name, request.POST.get("content", ""), dry_run=False)
    except rates.RatesRefused as refused:
        return _table(request, 400, checked=refused.report, filename=name)
    except Invalid as refused:
        return _table(request, 400, refusals=_reasons(refused))
    messages.success(request, f"{name}: {report.summary()}")
    return redirect("rates")


def _reasons(refused: Invalid) -> list[str]:
    return [reason for reasons in refused.errors.values() for reason in reasons]


urlpatterns = [
    path("reports/rates/", rates_page, name="rates"),
    path("reports/rates/export.csv", rates_export, name="rates-export"),
    path("reports/rates/check/", rates_check, name="rates-check"),
    path("reports/rates/import/", rates_import, name="rates-import"),
]
