"""The introductions board (/introductions/) and an advocate account's page
(/accounts/<id>/advocacy/). Thin views over referrals/board.py: access through the selectors
(introductions_visible_to; account_get_for, 404 for an account the user may not see), and
each table's CSV through ?export=. A filter or export that makes no sense answers 400 and
says why."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from goodword.crm import selectors as crm
from goodword.crm.forms import UserChoiceField, active_users
from goodword.crm.views import (
    PAGE_SIZE,
    _csv_response,
    _error_page,
    _query_without,
    _user,
    access,
)
from goodword.engine.intros import LABELS, IntroState, Timing
from goodword.referrals import board
from goodword.referrals.rewards import ledger_for
from goodword.referrals.services import intro_config

ROWS_SHOWN = 25  # per table on the advocate page; its CSV has every row
CONTACTS_PAGE = 25


def _timing() -> Timing:
    config = intro_config()
    return Timing(config.remind_after_days, config.expire_after_days)


# --- the board ----------------------------------------------------------------------------


class BoardFilters(forms.Form):
    owner = UserChoiceField(queryset=active_users(), required=False, empty_label="Any owner")
    account = forms.CharField(
        required=False,
        max_length=200,
        strip=True,
        label="Advocate account",
        widget=forms.TextInput(attrs={"placeholder": "Advocate account: name or ID"}),
    )
    state = forms.ChoiceField(
        choices=[("", "Any state"), *[(s.value, LABELS[s]) for s in board.FLOW]],
        required=False,
    )
    since = forms.DateField(
        required=False,
        label="Created since (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def filters(self) -> board.Filters:
        data = self.cleaned_data
        return board.Filters(
            owner=data["owner"],
            account=data["account"],
            state=IntroState(data["state"]) if data["state"] else None,
            since=data["since"],
        )


BOARD_EXPORTS = ("csv", "failed")


def _bad_filters(form: BoardFilters) -> str:
    said = [f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
    return "These filters cannot be used: " + "; ".join(said)


@require_GET
@access
def intro_board(request: HttpRequest) -> Any:
    """The board; ?export=csv gives the filtered introductions, ?export=failed the user's
    e-mails that could not be sent."""
    user = _user(request)
    export = request.GET.get("export", "")
    if export and export not in BOARD_EXPORTS:
        return _error_page(request, 400, f"Export one of: {', '.join(BOARD_EXPORTS)}.")
    if export == "failed":
        failed = board.failed_email_rows(user)
        return _csv_response("emails-not-sent.csv", board.FAILED_HEADER, failed)
    form = BoardFilters(request.GET)
    if not form.is_valid():
        if export:
            return _error_page(request, 400, _bad_filters(form))
        return _board_page(request, form, [], status=400)
    filters = form.filters()
    if export == "csv":
        qs = board.introductions_on_board(user, filters)
        return _csv_response("introductions.csv", board.EXPORT_HEADER, board.export_rows(qs))
    now, timing = timezone.now(), _timing()
    # One state chosen: its introductions are paged below, not shown as a column of cards.
    limit = 0 if filters.state is not None else board.BOARD_CARDS
    columns = board.columns(user, filters, now=now, timing=timing, limit=limit)
    context: dict[str, Any] = {"timing": timing}
    if filters.state is not None:
        rows = board.ordered(board.introductions_on_board(user, filters), filters.state)
        page: Page[tuple[Any, ...]] = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(page=page, state_cards=board.cards(page, now=now, timing=timing))
    return _board_page(request, form, columns, **context)


def _board_page(
    request: HttpRequest,
    form: BoardFilters,
    columns: list[board.Column],
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    user = _user(request)
    failed = board.failed_emails(user)
    context = {
        "form": form,
        "columns": columns,
        "total": sum(c.count for c in columns),
        "query": _query_without(request, "page", "export"),
        "more_query": _query_without(request, "page", "export", "state"),
        "failed": [board.failed_email_from(row) for row in failed[: board.FAILED_SHOWN]],
        "failed_count": failed.count(),
        "state_cards": None,
        **extra,
    }
    return render(request, "referrals/board/board.html", context, status=status)


# --- an advocate account -------------------------------------------------------------------


def _moment_rows(context: dict[str, Any]) -> Any:
    for m in board.moments_of(context["account"]).iterator(chunk_size=2000):
        contact = m.contact.email if m.contact else ""
        yield (m.pk, m.occurred_at, m.kind, m.rule_id, m.evidence, contact, m.found_at)


def _ask_rows(context: dict[str, Any]) -> Any:
    for t in board.asks_of(context["account"]).iterator(chunk_size=2000):
        contact = t.contact.email if t.contact else ""
        yield (
            t.pk,
            t.subject,
            contact,
            t.owner.email,
            t.status,
            t.outcome,
            t.created_at,
            t.due_at,
            t.completed_at,
        )


def _intro_rows(context: dict[str, Any]) -> Any:
    for i in board.introductions_of(context["account"]).iterator(chunk_size=2000):
        advocate = i.advocate.email if i.advocate else ""
        owner = i.owner.email if i.owner else ""
        yield (
            i.pk,
            i.state,
            i.person_name,
            i.person_email,
            i.person_company,
            advocate,
            owner,
            i.created_at,
            i.updated_at,
            i.deal_id,
        )


def _credit_rows(context: dict[str, Any]) -> Any:
    for c in board.credits_of(context["user"], context["account"]):
        yield (
            c.deal_id,
            c.deal_name or "",
            c.deal_account or "",
            c.advocate,
            c.share,
            c.stage,
            c.status,
            c.amount,
            c.currency,
            c.credited,
            c.closed_at,
        )


def _contact_rows(context: dict[str, Any]) -> Any:
    contacts = board.contacts_of(context["account"]).iterator(chunk_size=500)
    for budget in board.ask_budgets(contacts, now=context["now"]):
        c = budget.contact
        reason = budget.block.reason if budget.block and not budget.opted_out else ""
        yield (
            c.pk,
            c.full_name,
            c.email,
            budget.last_asked,
            "" if budget.may_ask_now or budget.opted_out else budget.next_ask,
            budget.may_ask_now,
            budget.opted_out,
            reason,
        )


# table → (header, rows): every table of the advocate page as CSV.
ADVOCACY_EXPORTS: dict[str, tuple[list[str], Any]] = {
    "moments": (
        ["id", "occurred_at", "kind", "rule", "evidence", "contact_email", "found_at"],
        _moment_rows,
    ),
    "asks": (
        [
            "id",
            "subject",
            "contact_email",
            "owner_email",
            "status",
            "outcome",
            "created_at",
            "due_at",
            "completed_at",
        ],
        _ask_rows,
    ),
    "introductions": (
        [
            "id",
            "state",
            "person",
            "email",
            "company",
            "advocate_email",
            "owner_email",
            "created_at",
            "updated_at",
            "deal_id",
        ],
        _intro_rows,
    ),
    "credits": (
        [
            "deal_id",
            "deal",
            "deal_account",
            "advocate",
            "share",
            "stage",
            "status",
            "amount",
            "currency",
            "credited_amount",
            "closed_at",
        ],
        _credit_rows,
    ),
    "contacts": (
        [
            "id",
            "name",
            "email",
            "last_asked_at",
            "next_ask_on",
            "may_ask_now",
            "opted_out",
            "why_not_now",
        ],
        _contact_rows,
    ),
}


@require_GET
@access
def account_advocacy(request: HttpRequest, account_id: int) -> Any:
    """One customer account as an advocate; ?export=<table> gives one table as CSV."""
    user = _user(request)
    account = crm.account_get_for(user=user, account_id=account_id)
    now = timezone.now()
    export = request.GET.get("export", "")
    if export:
        if export not in ADVOCACY_EXPORTS:
            tables = ", ".join(ADVOCACY_EXPORTS)
            return _error_page(request, 400, f"Export one of these tables: {tables}.")
        header, rows = ADVOCACY_EXPORTS[export]
        found = rows({"user": user, "account": account, "now": now})
        return _csv_response(f"account-{account.pk}-{export}.csv", header, found)
    return render(request, "referrals/board/advocacy.html", _advocacy(request, account, now))


def _advocacy(request: HttpRequest, account: Any, now: Any) -> dict[str, Any]:
    user = _user(request)
    moments, asks = board.moments_of(account), board.asks_of(account)
    intros = board.introductions_of(account)
    credits = board.credits_of(user, account)
    contacts = Paginator(board.contacts_of(account), CONTACTS_PAGE).get_page(
        request.GET.get("contacts_page")
    )
    return {
        "account": account,
        "moments": moments[:ROWS_SHOWN],
        "moments_count": moments.count(),
        "asks": asks[:ROWS_SHOWN],
        "asks_count": asks.count(),
        "intros": intros[:ROWS_SHOWN],
        "intros_count": intros.count(),
        "credits": credits[:ROWS_SHOWN],
        "credits_count": len(credits),
        "revenue": board.won_revenue(credits),
        "deals_open": sum(1 for c in credits if c.status == "open"),
        "ledger": ledger_for(user=user, account_id=account.pk),
        "contacts": contacts,
        "budgets": board.ask_budgets(contacts, now=now),
        "contacts_query": _query_without(request, "contacts_page", "export"),
        "rows_shown": ROWS_SHOWN,
        "labels": {s.value: LABELS[s] for s in IntroState},
    }


urlpatterns = [
    path("introductions/", intro_board, name="intro-board"),
    path("accounts/<int:account_id>/advocacy/", account_advocacy, name="account-advocacy"),
]
