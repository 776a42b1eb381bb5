"""The handoffs' pages: the list (mine, unassigned, overdue; CSV), a handoff's page where the
deal owner fills it in and its CSM accepts it, and the admins' settings. Thin views: access
through handoff_get_for, writes through the services; Invalid re-renders the page with its
errors (status 400, nothing written)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goodword.crm import selectors as crm
from goodword.crm.models import Contact
from goodword.crm.views import _csv_response, _page, _user, access
from goodword.handoffs import services
from goodword.handoffs.models import Handoff, StakeholderRole
from goodword.handoffs.rules import REQUIRABLE
from goodword.handoffs.selectors import (
    VIEWS,
    handoff_get_for,
    handoff_missing,
    handoff_rows,
    handoffs_editable_by,
    handoffs_list,
    is_overdue,
    settings_get_for,
)
from goodword.lib.errors import Invalid, NotFound
from goodword.users.models import Role, User

# The words a refusal uses for each field, so an error names what to fill in.
LABELS = {
    "goals": "Goals",
    "champion": "Champion",
    "economic_buyer": "Economic buyer",
    "admin": "Admin",
    "promised": "What was promised",
    "risks": "Risks",
    "kickoff_on": "Kickoff date",
    "stakeholders": "Stakeholders",
    "csm": "CSM",
    "status": "Status",
    "send_welcome": "Send welcome",
    "item": "Checklist",
    "required": "Required fields",
    "checklist": "Checklist",
    "__all__": "",
}
BLANK_GOAL_ROWS = 2
GOAL_PARTS = ("name", "event", "measure", "target", "due_on")
CSV_COLUMNS = [
    "id",
    "deal",
    "account",
    "owner",
    "csm",
    "status",
    "created_at",
    "accept_by",
    "accepted_at",
    "overdue",
]


def _errors(refused: Invalid) -> list[tuple[str, str]]:
    return [
        (LABELS.get(field, field), reason)
        for field, reasons in refused.errors.items()
        for reason in reasons
    ]


# --- the list ------------------------------------------------------------------------------


def _listed(request: HttpRequest) -> tuple[str, QuerySet[Handoff]]:
    view = request.GET.get("view", "")
    view = view if view in VIEWS else ""
    return view, handoffs_list(_user(request), view=view, now=timezone.now())


@require_GET
@access
def handoffs_page(request: HttpRequest) -> HttpResponse:
    view, qs = _listed(request)
    page = _page(request, qs)
    context = {
        "view": view,
        "views": VIEWS,
        "page": page,
        "rows": handoff_rows(page.object_list, timezone.now()),
        "query": f"view={view}" if view else "",
    }
    return render(request, "handoffs/list.html", context)


@require_GET
@access
def handoffs_export(request: HttpRequest) -> Any:
    """The list's table as CSV, with the same view."""
    view, qs = _listed(request)
    rows = (
        [row[column] for column in CSV_COLUMNS]
        for row in handoff_rows(qs.iterator(chunk_size=2000), timezone.now())
    )
    return _csv_response(f"handoffs{'-' + view if view else ''}.csv", CSV_COLUMNS, rows)


# --- one handoff ---------------------------------------------------------------------------


def _goal_rows(handoff: Handoff, posted: Any = None) -> list[dict[str, Any]]:
    if posted is not None:
        return list(posted)
    rows = [
        {
            "name": g.name,
            "event": g.event,
            "measure": g.measure,
            "target": format(g.target.normalize(), "f"),
            "due_on": g.due_on.isoformat() if g.due_on else "",
        }
        for g in handoff.goals.all()
    ]
    blank = dict.fromkeys(GOAL_PARTS, "")
    return rows + [dict(blank) for _ in range(BLANK_GOAL_ROWS)]


def _context(
    request: HttpRequest,
    handoff: Handoff,
    errors: list[tuple[str, str]] | None = None,
    goal_rows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    user, now = _user(request), timezone.now()
    open_ = not handoff.is_accepted
    writable = handoffs_editable_by(user).filter(pk=handoff.pk).exists()
    taken = set(handoff.stakeholders.values_list("contact_id", "role"))
    contacts = Contact.objects.filter(account_id=handoff.deal.account_id).order_by(
        "first_name", "last_name", "id"
    )
    roles = StakeholderRole.choices
    return {
        "handoff": handoff,
        "deal": handoff.deal,
        "overdue": is_overdue(handoff, now),
        "missing": [(LABELS[f], r[0]) for f, r in handoff_missing(handoff).items()]
        if open_
        else [],
        "errors": errors or [],
        "goal_rows": _goal_rows(handoff, goal_rows),
        "roles": roles,
        "contacts": [(c, [(r, (c.pk, r) in taken) for r, _ in roles]) for c in contacts],
        "stakeholders": handoff.stakeholders.select_related("contact"),
        "checklist": handoff.checklist.select_related("done_by"),
        "can_edit": writable and open_,
        "can_tick": writable,
        "can_accept": open_ and handoff.csm_id == user.pk,
        "can_assign": writable and open_ and (user.is_manager or user.is_admin_role),
        "assignees": User.objects.filter(is_active=True).exclude(role=Role.REP).order_by("email"),
    }


def _posted_goals(post: Any) -> list[dict[str, Any]]:
    raw = post.get("goal_rows", "")
    rows = []
    for i in range(min(int(raw), 50) if raw.isdigit() else 0):
        row = {part: post.get(f"goal-{i}-{part}", "").strip() for part in GOAL_PARTS}
        if any(row.values()):
            rows.append(row)
    return rows


def _posted_stakeholders(post: Any) -> list[dict[str, Any]]:
    picked = []
    for value in post.getlist("stakeholder"):
        contact_id, _, role = value.partition(":")
        if contact_id.isdigit():
            picked.append({"contact_id": int(contact_id), "role": role})
    return picked


@require_http_methods(["GET", "HEAD", "POST"])
@access
def handoff_page(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The handoff; POST saves what the deal owner filled in."""
    user = _user(request)
    if request.method != "POST":
        handoff = handoff_get_for(user=user, handoff_id=handoff_id)
        return render(request, "handoffs/detail.html", _context(request, handoff))
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    post = request.POST
    goals = _posted_goals(post)
    data = {
        "promised": post.get("promised", ""),
        "risks": post.get("risks", ""),
        "kickoff_on": post.get("kickoff_on", ""),
        "goals": goals,
        "stakeholders": _posted_stakeholders(post),
    }
    try:
        services.handoff_update(actor=user, handoff=handoff, data=data, now=timezone.now())
    except Invalid as refused:
        handoff.refresh_from_db()
        blank = [dict.fromkeys(GOAL_PARTS, "") for _ in range(BLANK_GOAL_ROWS)]
        context = _context(request, handoff, _errors(refused), goals + blank)
        return render(request, "handoffs/detail.html", context, status=400)
    return redirect(reverse("handoff-detail", args=[handoff.pk]))


def _acted(request: HttpRequest, handoff: Handoff, act: Any) -> HttpResponse:
    try:
        act()
    except Invalid as refused:
        handoff.refresh_from_db()
        context = _context(request, handoff, _errors(refused))
        return render(request, "handoffs/detail.html", context, status=400)
    return redirect(reverse("handoff-detail", args=[handoff.pk]))


@require_POST
@access
def handoff_accept_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    user = _user(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    welcome = request.POST.get("send_welcome") == "1"
    return _acted(
        request,
        handoff,
        lambda: services.handoff_accept(
            actor=user, handoff=handoff, send_welcome=welcome, now=timezone.now()
        ),
    )


@require_POST
@access
def handoff_assign_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    user = _user(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    raw = request.POST.get("csm", "")
    csm = User.objects.filter(pk=int(raw), is_active=True).first() if raw.isdigit() else None

    def assign() -> None:
        if raw and csm is None:
            raise Invalid({"csm": ["choose an active user"]})
        services.handoff_assign(actor=user, handoff=handoff, csm=csm, now=timezone.now())

    return _acted(request, handoff, assign)


@require_POST
@access
def handoff_checklist_view(request: HttpRequest, handoff_id: int, item_id: int) -> HttpResponse:
    user = _user(request)
    handoff = handoff_get_for(user=user, handoff_id=handoff_id, write=True)
    done = request.POST.get("done") == "1"
    return _acted(
        request,
        handoff,
        lambda: services.handoff_checklist_set(
            actor=user, handoff=handoff, item_id=item_id, done=done, now=timezone.now()
        ),
    )


@require_GET
@access
def deal_handoff(request: HttpRequest, deal_id: int) -> HttpResponse:
    """The deal page's link: to the deal's handoff, or 404 when it has none."""
    user = _user(request)
    deal = crm.deal_get_for(user=user, deal_id=deal_id)
    handoff = Handoff.objects.filter(deal=deal).values_list("pk", flat=True).first()
    if handoff is None:
        raise NotFound("handoff")
    return redirect(
        reverse("handoff-detail", args=[handoff_get_for(user=user, handoff_id=handoff).pk])
    )


# --- the admins' settings ----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@access
def handoff_settings(request: HttpRequest) -> HttpResponse:
    """Admins choose the required fields and the default checklist; 404 for anyone else."""
    user = _user(request)
    row = settings_get_for(user=user)
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        required = request.POST.getlist("required")
        checklist = request.POST.get("checklist", "").splitlines()
        try:
            services.settings_update(
                actor=user, required=required, checklist=checklist, now=timezone.now()
            )
        except Invalid as refused:
            errors = _errors(refused)
        else:
            return redirect(reverse("handoff-settings"))
    context = {
        "settings": row,
        "requirable": [(name, LABELS[name], words) for name, words in REQUIRABLE.items()],
        "checklist_text": "\n".join(row.checklist),
        "errors": errors,
    }
    return render(request, "handoffs/settings.html", context, status=400 if errors else 200)


urlpatterns = [
    path("handoffs/", handoffs_page, name="handoffs"),
    path("handoffs/export.csv", handoffs_export, name="handoffs-export"),
    path("handoffs/settings/", handoff_settings, name="handoff-settings"),
    path("handoffs/<int:handoff_id>/", handoff_page, name="handoff-detail"),
    path("handoffs/<int:handoff_id>/accept/", handoff_accept_view, name="handoff-accept"),
    path("handoffs/<int:handoff_id>/assign/", handoff_assign_view, name="handoff-assign"),
    path(
        "handoffs/<int:handoff_id>/checklist/<int:item_id>/",
        handoff_checklist_view,
        name="handoff-checklist",
    ),
    path("deals/<int:deal_id>/handoff/", deal_handoff, name="deal-handoff"),
]
