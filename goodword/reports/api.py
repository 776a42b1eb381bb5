"""The reports endpoints of /api/v1/."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict, StrictBool

from goodword.crm.api import ERRORS, ListQuery, _caller, _page
from goodword.crm.schemas import (
    MAX_ID,
    NO_NUL,
    Currency,
    DealSourceValue,
    IsoDate,
    PageMeta,
    RequestBody,
    _opt,
)
from goodword.lib.errors import Invalid
from goodword.reports import rates
from goodword.reports.catalogue import report_build
from goodword.reports.filters import SizeBand, filters_parse
from goodword.reports.models import Rate

router = Router()


# --- rates ----------------------------------------------------------------------------

RATE = r"^[0-9]{1,14}(\.[0-9]{1,10})?$"
MAX_ROWS = 10_000


class RateOut(Schema):
    currency: str
    day: dt.date
    rate: str = Field(description="One unit of the currency in the home currency, on that day.")
    imported_by_email: str | None = Field(description="null when imported from the command line")
    imported_at: dt.datetime

    @staticmethod
    def of(r: Rate) -> RateOut:
        return RateOut(
            currency=r.currency,
            day=r.day,
            rate=rates.plain(r.rate),
            imported_by_email=r.imported_by.email if r.imported_by else None,
            imported_at=r.imported_at,
        )


class RatePage(PageMeta):
    items: list[RateOut]


class RateQuery(ListQuery):
    currency: Currency = _opt(description="Only this currency's rates.")
    since: IsoDate = _opt(description="Only rates of this day or later.")
    until: IsoDate = _opt(description="Only rates of this day or earlier.")


@router.get("/rates", response={200: RatePage, **ERRORS}, tags=["rates"])
def rates_list(request: HttpRequest, query: Query[RateQuery]) -> Any:
    """The dated rates into the home currency, by currency and day (managers and admins)."""
    qs = rates.rates_filtered(
        rates.rates_for(_caller(request)),
        currency=query.currency,
        since=query.since,
        until=query.until,
    )
    return _page(request, qs.select_related("imported_by"), query, RateOut.of)


class RateIn(RequestBody):
    day: IsoDate
    currency: Currency = Field(description="Not the home currency.")
    rate: str = Field(
        pattern=RATE,
        description="Decimal string above 0, at most 10 decimal places: one unit of the "
        "currency in the home currency.",
    )


class RatesImportIn(RequestBody):
    rows: list[RateIn] = Field(min_length=1, max_length=MAX_ROWS)
    dry_run: StrictBool = Field(False, description="Check and count; write nothing.")


class RatesImportOut(Schema):
    dry_run: bool
    rows: int
    added: int
    updated: int
    unchanged: int
    summary: str


@router.post("/rates/import", response={200: RatesImportOut, **ERRORS}, tags=["rates"])
def rates_import(request: HttpRequest, payload: RatesImportIn) -> Any:
    """Add or update rates, all or nothing (admins): an existing (currency, day) takes the
    new rate. A bad row, in a dry run too, is a 400 naming it as rows[i].field."""
    user = _caller(request)
    rates.rates_for(user)  # 404 for whoever may not see the rates, as the list
    given = [
        rates.RateRow(i, row.day.isoformat(), row.currency, row.rate)
        for i, row in enumerate(payload.rows)
    ]
    try:
        report = rates.rates_import(
            actor=user, rows=given, source="api", dry_run=payload.dry_run, now=timezone.now()
        )
    except rates.RatesRefused as refused:
        report = refused.report
    if not report.ok:  # a dry run's errors are a refusal to the client as well
        raise Invalid(_row_errors(report))
    return RatesImportOut(
        dry_run=report.dry_run,
        rows=report.rows,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        summary=report.summary(),
    )


def _row_errors(report: rates.RatesReport) -> dict[str, list[str]]:
    """Each refused cell under the name of its field in the body: rows[2].rate."""
    errors: dict[str, list[str]] = {}
    for e in report.errors:
        errors.setdefault(f"rows[{e.line}].{e.field}", []).append(e.reason)
    return errors


# --- reports --------------------------------------------------------------------------

ReportName = Literal["pipeline", "sources", "funnel", "advocates", "reps", "roi"]


class ReportQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    date_from: IsoDate = _opt(description="First day covered (default: 12 months back).")
    date_to: IsoDate = _opt(description="Last day covered (default: today).")
    team: int = _opt(ge=1, le=MAX_ID, description="Only deals owned by this team's members.")
    owner: int = _opt(ge=1, le=MAX_ID, description="Only deals owned by this user.")
    industry: str = _opt(max_length=100, pattern=NO_NUL, description="Accounts' industry.")
    size: SizeBand = _opt(description="Accounts' size band, in staff.")
    source: DealSourceValue = _opt(description="Only deals of this source.")


class ColumnOut(Schema):
    key: str
    label: str
    kind: str = Field(description="text, count, money (a decimal string), percent, days, ratio")


class TableOut(Schema):
    name: str
    title: str
    columns: list[ColumnOut]
    rows: list[dict[str, str | int | float | None]]


class PeriodOut(Schema):
    from_: dt.date = Field(alias="from")
    to: dt.date


class ReportOut(Schema):
    report: str
    title: str
    currency: str = Field(description="The home currency every amount is converted to.")
    period: PeriodOut
    filters: dict[str, str | int]
    headline: str
    notes: list[str] = Field(description="What the figures leave out, e.g. amounts without rate.")
    tables: list[TableOut]


@router.get("/reports/{name}", response={200: ReportOut, **ERRORS}, tags=["reports"], by_alias=True)
def report_get(request: HttpRequest, name: ReportName, query: Query[ReportQuery]) -> Any:
    """A report's figures over the deals the caller may see, as its page shows them."""
    unknown = sorted(set(request.GET) - set(ReportQuery.model_fields))
    if unknown:
        raise Invalid({n: ["is not a parameter of this report"] for n in unknown})
    filters = filters_parse(query.model_dump(exclude_none=True))
    report = report_build(name, user=_caller(request), filters=filters, today=timezone.now().date())
    # as_json is ReportOut's shape already (tested against the schema). Validating it row by
    # row again cost about 900 ms for the advocates report's 8,000 rows at a million deals.
    return HttpResponse(json.dumps(report.as_json()), content_type="application/json")
