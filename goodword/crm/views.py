"""The web UI: thin function views. Each one reaches records through the selectors' access
functions and writes through the services; NotFound answers 404, Forbidden 403, and Invalid
re-renders the form with its errors (status 400, nothing written)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from goodword.crm import board, selectors, services
from goodword.crm.forms import (
    AccountFilterForm,
    AccountForm,
    AskNotAppropriateForm,
    BoardFilterForm,
    ContactForm,
    CreditsClearForm,
    CreditsForm,
    DealCreateForm,
    DealFilterForm,
    DealForm,
    MoveForm,
    TaskDoneForm,
    TaskEditForm,
    TaskFilterForm,
    TaskForm,
    TaskSnoozeForm,
    add_invalid,
)
from goodword.crm.models import Account, Contact, Deal, Task, TaskKind, TaskStatus
from goodword.lib.csvsafe import csv_lines
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.signals.selectors import account_signals
from goodword.users.models import User

PAGE_SIZE = 50
TASK_GROUP_LIMIT = 100

View = Callable[..., HttpResponse]


# --- plumbing -------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "LoginRequired middleware lets only users through"
    return user


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_page(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "crm/error.html", {"status": status, "message": message}, status=status)


def access(view: View) -> View:
    """Turn the selectors' NotFound and Forbidden into 404 and 403 pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            return _error_page(request, 404, "There is nothing here, or it is not yours to see.")
        except Forbidden as exc:
            return _error_page(request, 403, str(exc))

    return wrapper


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, False):
        return target
    return default


def _page(request: HttpRequest, qs: QuerySet[Any]) -> Page[Any]:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without(request: HttpRequest, *names: str) -> str:
    """The current query string minus some parameters, for pagination and sort links."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Any:
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _values(qs: QuerySet[Any], columns: list[str]) -> Iterator[tuple[Any, ...]]:
    return qs.values_list(*columns).iterator(chunk_size=2000)


# --- my tasks -------------------------------------------------------------------------


def _submitted(form: forms.Form, save: Callable[[], Any]) -> bool:
    """Validate a bound form and call the service; False with the service's refusal added to
    the form's errors (nothing was written), for the caller to re-render."""
    if not form.is_valid():
        return False
    try:
        save()
    except Invalid as exc:
        add_invalid(form, exc)
        return False
    return True


def _day_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start of today and of tomorrow, in UTC."""
    start = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _task_scope(request: HttpRequest, user: User) -> tuple[str, QuerySet[Task]]:
    """The user's own tasks; managers and admins may switch to their team's."""
    qs = selectors.tasks_visible_to(user).select_related("account", "owner", "deal")
    can_team = user.is_manager or user.is_admin_role
    if can_team and request.GET.get("scope") == "team" and user.team_id is not None:
        return "team", qs.filter(owner__team_id=user.team_id)
    return "mine", qs.filter(owner=user)


@dataclass
class TaskGroup:
    key: str
    title: str
    tasks: list[Task]
    total: int


def _task_kind(request: HttpRequest) -> str:
    """The kind a task list is narrowed to; an unknown one is ignored, like other filters."""
    form = TaskFilterForm(request.GET)
    return (form.cleaned_data.get("kind") or "") if form.is_valid() else ""


@require_GET
def my_tasks(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    scope, qs = _task_scope(request, user)
    kind = _task_kind(request)
    if kind:
        qs = qs.filter(kind=kind)
    open_tasks = qs.filter(status=TaskStatus.OPEN).order_by("due_at", "id")
    today, tomorrow = _day_bounds(timezone.now())
    groups = []
    for key, title, q in [
        ("overdue", "Overdue", Q(due_at__lt=today)),
        ("today", "Today", Q(due_at__gte=today, due_at__lt=tomorrow)),
        ("upcoming", "Upcoming", Q(due_at__gte=tomorrow)),
    ]:
        group_qs = open_tasks.filter(q)
        tasks = list(group_qs[:TASK_GROUP_LIMIT])
        total = len(tasks) if len(tasks) < TASK_GROUP_LIMIT else group_qs.count()
        groups.append(TaskGroup(key, title, tasks, total))
    context = {
        "groups": groups,
        "scope": scope,
        "kind": kind,
        "filter_form": TaskFilterForm(initial={"kind": kind}),
        "can_team": (user.is_manager or user.is_admin_role) and user.team_id is not None,
        "today": today,
        "show_owner": scope == "team",
        "show_headlines": user.is_manager or user.is_admin_role,
        **_task_forms(),
    }
    return render(request, "crm/my_tasks.html", context)


def _task_forms(
    task: Task | None = None, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    """The forms of the actions on an open task, fresh unless one came back bound with its
    errors. `refused` holds the errors of a bound form that `task`'s page or row does not
    show (the task is no longer open, or is not an ask), to be shown on their own."""
    bound = bound or {}
    shown: set[str] = set()
    if task is not None and task.status == TaskStatus.OPEN:
        shown = {"done_form", "snooze_form"}
        if task.kind == TaskKind.REFERRAL_ASK:
            shown.add("ask_form")
    hidden = [form for name, form in bound.items() if name not in shown]
    return {
        "done_form": TaskDoneForm(),
        "snooze_form": TaskSnoozeForm(),
        "ask_form": AskNotAppropriateForm(),
        **bound,
        "refused": [m for form in hidden for ms in form.errors.values() for m in ms],
    }


def _task_row(
    request: HttpRequest,
    task: Task,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "task": task,
        **_task_forms(task, bound),
        "today": _day_bounds(timezone.now())[0],
        "show_owner": request.POST.get("show_owner") == "1",
        "next": request.POST.get("next", ""),
    }
    return render(request, "crm/_task_row.html", context, status=status)


def _task_action(
    request: HttpRequest,
    task_id: int,
    name: str,
    form_class: type[forms.Form],
    save: Callable[[User, Task, Any], Any],
) -> HttpResponse:
    """The shape shared by the actions on a task (done, snooze, not appropriate): check write
    access, validate, call the service. With htmx the task's row comes back, with the form's
    errors and status 400 on a refusal; without, a redirect back, or on a refusal the task's
    page with the form's errors (status 400, nothing written)."""
    user = _user(request)
    task = selectors.task_get_for(user=user, task_id=task_id, write=True)
    form = form_class(request.POST)
    if _submitted(form, lambda: save(user, task, form)):
        if _is_htmx(request):
            return _task_row(request, task)
        return redirect(_next_url(request, reverse("my-tasks")))
    task.refresh_from_db()
    if _is_htmx(request):
        return _task_row(request, task, {name: form}, status=400)
    edit = TaskEditForm(initial=TaskEditForm.initial_for(task))
    return _task_page(request, task, edit, status=400, bound={name: form})


@require_POST
@access
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    def save(user: User, task: Task, form: TaskDoneForm) -> None:
        services.task_complete(actor=user, task=task, outcome=form.cleaned_data["outcome"])

    return _task_action(request, task_id, "done_form", TaskDoneForm, save)


@require_POST
@access
def task_snooze(request: HttpRequest, task_id: int) -> HttpResponse:
    def save(user: User, task: Task, form: TaskSnoozeForm) -> None:
        services.task_snooze(actor=user, task=task, until=form.until_time())

    return _task_action(request, task_id, "snooze_form", TaskSnoozeForm, save)


@require_POST
@access
def task_not_appropriate(request: HttpRequest, task_id: int) -> HttpResponse:
    def save(user: User, task: Task, form: AskNotAppropriateForm) -> None:
        services.ask_not_appropriate(actor=user, task=task, reason=form.cleaned_data["reason"])

    return _task_action(request, task_id, "ask_form", AskNotAppropriateForm, save)


@require_GET
@access
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_get_for(user=_user(request), task_id=task_id)
    form = TaskEditForm(initial=TaskEditForm.initial_for(task))
    return _task_page(request, task, form)


def _task_page(
    request: HttpRequest,
    task: Task,
    form: forms.Form,
    status: int = 200,
    bound: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    context = {"task": task, "form": form, **_task_forms(task, bound)}
    return render(request, "crm/task_detail.html", context, status=status)


@require_POST
@access
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    user = _user(request)
    task = selectors.task_get_for(user=user, task_id=task_id, write=True)
    form = TaskEditForm(request.POST)
    if _submitted(
        form,
        lambda: services.task_update(
            actor=user, task=task, data=form.data_for_service(), owner=form.cleaned_data["owner"]
        ),
    ):
        return redirect("task-detail", task_id=task.pk)
    task.refresh_from_db()
    return _task_page(request, task, form, status=400)


@require_GET
def tasks_export(request: HttpRequest) -> Any:
    user = _user(request)
    _, qs = _task_scope(request, user)
    if request.GET.get("scope") == "all":
        qs = selectors.tasks_visible_to(user)
    account = request.GET.get("account", "")
    if account.isdigit():
        qs = qs.filter(account_id=int(account))
    status = request.GET.get("status", "")
    if status in TaskStatus.values:
        qs = qs.filter(status=status)
    if kind := _task_kind(request):
        qs = qs.filter(kind=kind)
    columns = ["id", "kind", "subject", "owner__email", "account__name", "account__external_id"]
    columns += ["due_at", "status", "outcome", "completed_at", "snoozed_until", "reason"]
    header = ["id", "kind", "subject", "owner_email", "account", "account_external_id"]
    header += ["due_at", "status", "outcome", "completed_at", "snoozed_until", "reason"]
    return _csv_response("tasks.csv", header, _values(qs.order_by("due_at", "id"), columns))


# --- accounts -------------------------------------------------------------------------


def _filtered_accounts(user: User, form: AccountFilterForm) -> QuerySet[Account]:
    qs = selectors.accounts_visible_to(user)
    form.is_valid()  # invalid filters are ignored; the valid ones apply
    data = form.cleaned_data
    if q := data.get("q"):
        qs = qs.filter(Q(name__icontains=q) | Q(domain__icontains=q) | Q(external_id__iexact=q))
    if data.get("lifecycle"):
        qs = qs.filter(lifecycle=data["lifecycle"])
    if data.get("owner"):
        qs = qs.filter(owner=data["owner"])
    if data.get("industry"):
        qs = qs.filter(industry__iexact=data["industry"])
    if data.get("country"):
        qs = qs.filter(country=data["country"].upper())
    return qs.order_by(*AccountFilterForm.SORTS.get(data.get("sort") or "name", ("name", "id")))


@require_GET
def accounts_list(request: HttpRequest) -> HttpResponse:
    form = AccountFilterForm(request.GET)
    qs = _filtered_accounts(_user(request), form).select_related("owner", "csm")
    context = {
        "form": form,
        "page": _page(request, qs),
        "query": _query_without(request, "page"),
        "sort_query": _query_without(request, "page", "sort"),
        "sort": form.cleaned_data.get("sort") or "name",
    }
    return render(request, "crm/accounts_list.html", context)


ACCOUNT_CSV = [
    ("id", "id"),
    ("external_id", "external_id"),
    ("name", "name"),
    ("domain", "domain"),
    ("industry", "industry"),
    ("employees", "employees"),
    ("country", "country"),
    ("lifecycle", "lifecycle"),
    ("owner_email", "owner__email"),
    ("csm_email", "csm__email"),
    ("customer_since", "customer_since"),
    ("arr", "arr"),
    ("currency", "currency"),
]


@require_GET
def accounts_export(request: HttpRequest) -> Any:
    qs = _filtered_accounts(_user(request), AccountFilterForm(request.GET))
    header = [h for h, _ in ACCOUNT_CSV]
    return _csv_response("accounts.csv", header, _values(qs, [c for _, c in ACCOUNT_CSV]))


LAZY_FORMS = ("account_form", "deal_form", "task_form")


@require_GET
@access
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """The account page. Its forms with an owner picker are rendered when opened (each lists
    every user, thousands in a large company): ?form=<name> answers htmx with that form
    alone, and a browser without script with the whole page, that form open."""
    user = _user(request)
    account = selectors.account_get_for(user=user, account_id=account_id)
    name = request.GET.get("form", "")
    if name not in LAZY_FORMS:
        return _account_page(request, account)
    form = _fresh_form(name, account, user)
    if _is_htmx(request):
        context = {"account": account, "name": name, "form": form}
        return render(request, "crm/_account_form.html", context)
    return _account_page(request, account, open_forms={name: form})


def _fresh_form(name: str, account: Account, user: User) -> forms.Form:
    if name == "account_form":
        return AccountForm(initial=AccountForm.initial_for(account))
    if name == "deal_form":
        return DealCreateForm(initial={"currency": account.currency, "owner": user.pk}, user=user)
    return TaskForm(initial={"owner": user.pk})


def _account_page(
    request: HttpRequest,
    account: Account,
    status: int = 200,
    open_forms: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    """`open_forms` are forms to show open: a bound one with errors, or one asked for by name.
    The other forms with an owner picker are left out, to be loaded when opened."""
    user = _user(request)
    forms_ = open_forms or {}
    tasks = selectors.tasks_visible_to(user).filter(account=account).select_related("owner")
    context = {
        "account": account,
        "contacts": selectors.contacts_visible_to(user).filter(account=account)[:200],
        "deals": selectors.deals_visible_to(user)
        .filter(account=account)
        .select_related("stage", "owner")[:200],
        "open_tasks": tasks.filter(status=TaskStatus.OPEN).order_by("due_at", "id")[:100],
        "recent_tasks": tasks.exclude(status=TaskStatus.OPEN).order_by("-completed_at")[:10],
        "activities": selectors.activities_for_account(account, limit=50),
        "signals": account_signals(account=account, now=timezone.now()),
        "stages": list(selectors.stages_list()),
        "today": _day_bounds(timezone.now())[0],
        **_task_forms(),
        "contact_form": forms_.get("contact_form") or ContactForm(),
        "open_form": next(iter(forms_), ""),
        **{name: forms_.get(name) for name in LAZY_FORMS},
    }
    return render(request, "crm/account_detail.html", context, status=status)


def _account_write(
    request: HttpRequest,
    account_id: int,
    form_class: Callable[..., forms.Form],
    form_name: str,
    save: Callable[[User, Account, Any], Any],
) -> HttpResponse:
    """The shape shared by every POST on the account page: check write access, validate,
    call the service; on Invalid re-render the page with the bound form and its errors."""
    user = _user(request)
    account = selectors.account_get_for(user=user, account_id=account_id, write=True)
    form = form_class(request.POST)
    if _submitted(form, lambda: save(user, account, form)):
        return redirect("account-detail", account_id=account.pk)
    account.refresh_from_db()
    return _account_page(request, account, status=400, open_forms={form_name: form})


@require_POST
@access
def account_edit(request: HttpRequest, account_id: int) -> HttpResponse:
    def save(user: User, account: Account, form: AccountForm) -> None:
        services.account_update(
            actor=user,
            account=account,
            data=form.data_for_service(),
            owner=form.cleaned_data["owner"],
            csm=form.cleaned_data["csm"],
        )

    return _account_write(request, account_id, AccountForm, "account_form", save)


@require_POST
@access
def contact_add(request: HttpRequest, account_id: int) -> HttpResponse:
    def save(user: User, account: Account, form: ContactForm) -> None:
        services.contact_create(actor=user, account=account, data=form.data_for_service())

    return _account_write(request, account_id, ContactForm, "contact_form", save)


@require_POST
@access
def deal_add(request: HttpRequest, account_id: int) -> HttpResponse:
    def save(user: User, account: Account, form: DealCreateForm) -> None:
        services.deal_create(
            actor=user,
            account=account,
            stage=form.cleaned_data["stage"],
            owner=form.cleaned_data["owner"],
            data=form.data_for_service(),
            referred_by=form.cleaned_data.get("referred_by"),
        )

    form = functools.partial(DealCreateForm, user=_user(request))
    return _account_write(request, account_id, form, "deal_form", save)


@require_POST
@access
def task_add(request: HttpRequest, account_id: int) -> HttpResponse:
    def save(user: User, account: Account, form: TaskForm) -> None:
        services.task_create(
            actor=user,
            owner=form.cleaned_data["owner"],
            account=account,
            data=form.data_for_service(),
        )

    return _account_write(request, account_id, TaskForm, "task_form", save)


@require_GET
def contacts_export(request: HttpRequest) -> Any:
    qs = selectors.contacts_visible_to(_user(request))
    account = request.GET.get("account", "")
    if account.isdigit():
        qs = qs.filter(account_id=int(account))
    columns = ["id", "external_id", "account__external_id", "account__name", "first_name"]
    columns += ["last_name", "email", "title", "phone", "opted_out_at"]
    header = ["id", "external_id", "account_external_id", "account", "first_name"]
    header += ["last_name", "email", "title", "phone", "opted_out_at"]
    return _csv_response("contacts.csv", header, _values(qs.order_by("id"), columns))


# --- deals ----------------------------------------------------------------------------


def _filtered_deals(user: User, form: DealFilterForm) -> QuerySet[Deal]:
    qs = selectors.deals_visible_to(user)
    form.is_valid()  # invalid filters are ignored; the valid ones apply
    data = form.cleaned_data
    if q := data.get("q"):
        qs = qs.filter(Q(name__icontains=q) | Q(external_id__iexact=q))
    status = data.get("status")
    if status == "open":
        qs = qs.filter(stage__is_won=False, stage__is_lost=False)
    elif status in {"won", "lost"}:
        qs = qs.filter(**{f"stage__is_{status}": True})
    for name in ("stage", "owner", "source", "kind"):
        if data.get(name):
            qs = qs.filter(**{name: data[name]})
    if data.get("account"):
        qs = qs.filter(account_id=data["account"])
    return qs.order_by(*DealFilterForm.SORTS.get(data.get("sort") or "", ("-created_at", "id")))


@require_GET
def deals_list(request: HttpRequest) -> HttpResponse:
    form = DealFilterForm(request.GET)
    qs = _filtered_deals(_user(request), form).select_related("account", "stage", "owner")
    context = {
        "form": form,
        "page": _page(request, qs),
        "query": _query_without(request, "page"),
        "sort_query": _query_without(request, "page", "sort"),
        "sort": form.cleaned_data.get("sort") or "-created_at",
    }
    return render(request, "crm/deals_list.html", context)


DEAL_CSV = [
    ("id", "id"),
    ("external_id", "external_id"),
    ("account_external_id", "account__external_id"),
    ("account", "account__name"),
    ("name", "name"),
    ("amount", "amount"),
    ("currency", "currency"),
    ("stage", "stage__name"),
    ("probability", "stage__probability"),
    ("kind", "kind"),
    ("source", "source"),
    ("owner_email", "owner__email"),
    ("created_at", "created_at"),
    ("close_date", "close_date"),
    ("closed_at", "closed_at"),
]


@require_GET
def deals_export(request: HttpRequest) -> Any:
    qs = _filtered_deals(_user(request), DealFilterForm(request.GET))
    header = [h for h, _ in DEAL_CSV]
    return _csv_response("deals.csv", header, _values(qs, [c for _, c in DEAL_CSV]))


@require_GET
def deals_board(request: HttpRequest) -> HttpResponse:
    form = BoardFilterForm(request.GET)
    form.is_valid()
    filters = {name: form.cleaned_data.get(name) or "" for name in ("source", "kind")}
    since = board.since(timezone.now())
    columns = board.columns(
        _user(request), since=since, owner=form.cleaned_data.get("owner"), **filters
    )
    links = {
        "deals": reverse("deals"),
        "accounts": reverse("accounts"),
        "csrf": get_token(request),
        "here": request.get_full_path(),
    }
    board.render_cards(columns, links)
    context = {
        "form": form,
        "columns": columns,
        "stages": [c.stage for c in columns],
        "window_days": board.CLOSED_WINDOW_DAYS,
    }
    return render(request, "crm/deals_board.html", context)


CREDIT_EXPORTS = ("credits", "credit-history")


@require_GET
@access
def deal_detail(request: HttpRequest, deal_id: int) -> Any:
    """The deal page; ?export=credits or ?export=credit-history answers that table as CSV."""
    user = _user(request)
    deal = selectors.deal_get_for(user=user, deal_id=deal_id)
    export = request.GET.get("export", "")
    if export in CREDIT_EXPORTS:
        return _credits_csv(deal, export)
    return _deal_page(
        request, deal, DealForm(initial=DealForm.initial_for(deal), deal=deal, user=user)
    )


def _deal_page(
    request: HttpRequest,
    deal: Deal,
    form: forms.Form,
    status: int = 200,
    credit_forms: dict[str, Any] | None = None,
) -> HttpResponse:
    history = deal.stage_changes.select_related("from_stage", "to_stage", "changed_by")
    user = _user(request)
    context = {
        "deal": deal,
        "form": form,
        "history": history,
        "stages": list(selectors.stages_list()),
        "tasks": selectors.tasks_visible_to(user).filter(deal=deal).select_related("owner"),
        **_credit_context(user, deal, credit_forms or {}),
    }
    return render(request, "crm/deal_detail.html", context, status=status)


@require_POST
@access
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    """The deal's fields; with form=credits or form=credits-clear, a manager's change of its
    credit (posted here, as the deal page's other forms)."""
    user = _user(request)
    deal = selectors.deal_get_for(user=user, deal_id=deal_id, write=True)
    which = request.POST.get("form", "")
    if which in ("credits", "credits-clear"):
        return _credits_post(request, user, deal, which)
    form = DealForm(request.POST, deal=deal, user=user)
    if _submitted(
        form,
        lambda: services.deal_update(
            actor=user,
            deal=deal,
            data=form.data_for_service(),
            owner=form.cleaned_data["owner"],
            referred_by=form.cleaned_data.get("referred_by"),
        ),
    ):
        return redirect("deal-detail", deal_id=deal.pk)
    deal.refresh_from_db()
    return _deal_page(request, deal, form, status=400)


# --- a referred deal's credit ---------------------------------------------------------


def _may_change_credit(user: User) -> bool:
    return user.is_manager or user.is_admin_role


def _credit_context(user: User, deal: Deal, forms_: dict[str, Any]) -> dict[str, Any]:
    from goodword.referrals.credits import credit_history, credits_for

    credits = list(credits_for(deal))
    manager = _may_change_credit(user)
    context: dict[str, Any] = {"credits": credits, "may_change_credit": manager}
    if manager:
        context["credit_changes"] = list(credit_history(deal)[:50])
        rows = forms_.get("rows") or [
            (_advocate_value(c.advocate_account_id, c.advocate_id), str(c.share)) for c in credits
        ]
        row_errors = forms_.get("row_errors") or {}
        context["credit_rows"] = _credit_rows(rows, credits, row_errors, user)
        context["credit_rows_errors"] = bool(row_errors)
        context["credits_form"] = forms_.get("credits") or CreditsForm()
        context["clear_form"] = forms_.get("credits-clear") or CreditsClearForm()
    return context


def _advocate_value(account_id: int, contact_id: int | None) -> str:
    return f"c{contact_id}" if contact_id else f"a{account_id}"


def _credit_rows(
    rows: list[tuple[str, str]], credits: list[Any], errors: dict[int, list[str]], user: User
) -> list[dict[str, Any]]:
    """The override form's rows (the current or posted ones, then blank ones to add), each
    with its advocate options: customer accounts' contacts and the advocates credited now."""
    options = _advocate_options(credits, user)
    filled = [*rows, *[("", "")] * max(2, 4 - len(rows))]
    return [
        {
            "n": i + 1,
            "advocate": advocate,
            "share": share,
            "options": options,
            "errors": errors.get(i, []),
        }
        for i, (advocate, share) in enumerate(filled)
    ]


def _advocate_options(credits: list[Any], user: User) -> list[tuple[str, list[tuple[str, str]]]]:
    """(account name, [(value, label)]) groups: each account with "no one named" first."""
    from goodword.crm.forms import advocates

    wanted = Q(pk__in=[c.advocate_id for c in credits if c.advocate_id])
    contacts = advocates(user) | Contact.objects.filter(wanted).order_by()
    accounts: dict[int, tuple[str, list[tuple[str, str]]]] = {
        c.advocate_account_id: (c.advocate_account.name, []) for c in credits
    }
    rows = contacts.values_list(
        "pk", "email", "first_name", "last_name", "account_id", "account__name"
    )
    for pk, email, first, last, account_id, account_name in rows.order_by("account__name", "pk"):
        group = accounts.setdefault(account_id, (account_name, []))
        name = f"{first} {last}".strip()
        group[1].append((f"c{pk}", f"{name} <{email}>" if name else email))
    ordered = sorted(accounts.items(), key=lambda item: (item[1][0].casefold(), item[0]))
    return [
        (name, [(f"a{account_id}", f"{name} (no one named)"), *people])
        for account_id, (name, people) in ordered
    ]


def _parsed_shares(rows: list[tuple[str, str]]) -> list[Any]:
    """The override rows as CreditShares; an advocate that is not c<id> or a<id> refers to
    no record (the service says so for that row)."""
    from goodword.referrals.credits import CreditShare

    shares = []
    contacts = Contact.objects.in_bulk(
        [int(a[1:]) for a, _ in rows if a[:1] == "c" and a[1:].isdigit()]
    )
    for advocate, share in rows:
        kind, number = advocate[:1], int(advocate[1:]) if advocate[1:].isdigit() else 0
        contact = contacts.get(number) if kind == "c" else None
        if contact is not None:
            shares.append(CreditShare(contact.account_id, contact.pk, share))
        elif kind == "c":
            shares.append(CreditShare(0, number or -1, share))
        else:
            shares.append(CreditShare(number, None, share))
    return shares


def _credits_post(request: HttpRequest, user: User, deal: Deal, which: str) -> HttpResponse:
    from goodword.referrals.credits import credits_clear, credits_set

    if not _may_change_credit(user):
        raise Forbidden("only managers and admins change the credit of a deal")
    now = timezone.now()
    form: forms.Form
    if which == "credits":
        form = CreditsForm(request.POST)
        rows = form.rows(request.POST)
        shares = _parsed_shares(rows)

        def save() -> Any:
            reason = form.cleaned_data["reason"]
            return credits_set(actor=user, deal=deal, shares=shares, reason=reason, now=now)

        extra: dict[str, Any] = {"rows": rows}
    else:
        form = CreditsClearForm(request.POST)
        extra = {}

        def save() -> Any:
            data = form.cleaned_data
            return credits_clear(
                actor=user, deal=deal, source=data["source"], reason=data["reason"], now=now
            )

    if form.is_valid():
        try:
            save()
            return redirect(reverse("deal-detail", args=[deal.pk]) + "#credits")
        except Invalid as exc:
            extra["row_errors"] = _row_errors(form, exc)
    deal.refresh_from_db()
    fields = DealForm(initial=DealForm.initial_for(deal), deal=deal, user=user)
    return _deal_page(request, deal, fields, 400, {which: form, **extra})


_ROW_FIELD = re.compile(r"^shares\[(\d+)\]\.(\w+)$")


def _row_errors(form: forms.Form, exc: Invalid) -> dict[int, list[str]]:
    """A refusal's errors of one override row (shares[i].field) by row; the others go on
    the form."""
    by_row: dict[int, list[str]] = {}
    for field, reasons in exc.errors.items():
        match = _ROW_FIELD.match(field)
        if match is None:
            add_invalid(form, Invalid({field: reasons}))
            continue
        name = match.group(2).replace("_", " ")
        by_row.setdefault(int(match.group(1)), []).extend(f"{name}: {r}" for r in reasons)
    return by_row


CREDIT_CSV = ["advocate_email", "advocate_name", "advocate_account", "share", "introduction_id"]
CREDIT_HISTORY_CSV = ["at", "actor_email", "reason", "before", "after"]


def _credits_csv(deal: Deal, export: str) -> Any:
    from goodword.referrals.credits import credit_history, credits_for

    if export == "credits":
        rows = (
            (
                c.advocate.email if c.advocate else "",
                c.advocate.full_name if c.advocate else "",
                c.advocate_account.name,
                c.share,
                c.introduction_id,
            )
            for c in credits_for(deal)
        )
        return _csv_response(f"deal-{deal.pk}-credits.csv", CREDIT_CSV, rows)
    changes = (
        (
            c.at,
            c.actor.email if c.actor else "",
            c.reason,
            _shares_text(c.before),
            _shares_text(c.after),
        )
        for c in credit_history(deal)
    )
    return _csv_response(f"deal-{deal.pk}-credit-history.csv", CREDIT_HISTORY_CSV, changes)


def _shares_text(rows: list[dict[str, Any]]) -> str:
    """A change's side as one cell: "ada@acme.io (Acme) 60.00; Zenith 40.00"."""
    parts = []
    for r in rows:
        who = (
            f"{r['advocate']} ({r['advocate_account']})" if r["advocate"] else r["advocate_account"]
        )
        parts.append(f"{who} {r['share']}")
    return "; ".join(parts)


@require_POST
@access
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Move a deal to a stage, then go back to the page it was moved from (with htmx, that
    page's fresh board or table is swapped in)."""
    user = _user(request)
    deal = selectors.deal_get_for(user=user, deal_id=deal_id, write=True)
    form = MoveForm(request.POST)
    try:
        if not form.is_valid():
            raise Invalid({"stage": ["choose a stage"]})
        try:
            stage = selectors.stage_get_for(user=user, stage_id=form.cleaned_data["stage"])
        except NotFound:
            raise Invalid({"stage": ["there is no such stage"]}) from None
        services.deal_move(actor=user, deal=deal, stage=stage)
    except Invalid as exc:
        add_invalid(form, exc)
        context = {"deal": deal, "form": form, "stages": list(selectors.stages_list())}
        if not _is_htmx(request):
            return render(request, "crm/deal_move_invalid.html", context, status=400)
        response = render(request, "crm/_move_error.html", context, status=400)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    return redirect(_next_url(request, reverse("deal-detail", args=[deal.pk])))
