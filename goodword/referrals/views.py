"""The owner's pages of an introduction's life: the ask page (why now, whom to ask for,
drafted intros, and what came of the ask), an introduction's own page, and the form to log
a referral made in person. Thin views: access through the selectors, writes through the
services; Invalid re-renders the form with its errors (status 400, nothing written)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goodword.crm import selectors as crm
from goodword.crm.models import Contact, Lifecycle, Task, TaskKind, TaskStatus
from goodword.crm.views import _csv_response, _user, access
from goodword.engine.intros import LABELS, IntroState, events_from
from goodword.lib.errors import Invalid, NotFound
from goodword.moments.models import Moment
from goodword.referrals import asks, services
from goodword.referrals.models import Introduction
from goodword.referrals.selectors import introduction_get_for

_PERSON = ("name", "email", "company", "title")


# --- the ask page ------------------------------------------------------------------------------


def _ask(request: HttpRequest, task_id: int, *, write: bool = False) -> Task:
    task = crm.task_get_for(user=_user(request), task_id=task_id, write=write)
    if task.kind != TaskKind.REFERRAL_ASK:
        raise NotFound("referral ask")
    return task


def _ask_context(task: Task, now: Any) -> dict[str, Any]:
    from goodword.referrals.texts import ask_email_draft, drafts_for

    contact = task.contact
    overview = asks.ask_overview(task, now=now)
    person = overview.person
    return {
        "task": task,
        "moments": Moment.objects.filter(ask=task)
        .select_related("contact")
        .order_by("-occurred_at"),
        "contacts": overview.contacts,
        "contact_block": dict(overview.contacts).get(contact) if contact else None,
        "peers": overview.peers,
        "drafts": drafts_for(ask=task, person=person),
        "ask_email": ask_email_draft(ask=task, person=person),
        "intros": task.introductions.select_related("deal").order_by("-created_at"),
        "channels": asks.CHANNELS,
        "outcomes": asks.OUTCOMES,
        "is_open": task.status == TaskStatus.OPEN,
        "errors": {},
        "values": {},
    }


@require_GET
@access
def ask_page(request: HttpRequest, task_id: int) -> Any:
    """The ask page; ?export=peers answers the people to ask for as CSV."""
    task = _ask(request, task_id)
    context = _ask_context(task, timezone.now())
    if request.GET.get("export") == "peers":
        rows = (
            (p.name, p.company, p.kind, "; ".join(p.reasons), p.account_id, p.contact_id or "")
            for p in context["peers"]
        )
        return _csv_response(f"ask-{task.pk}-people-to-ask-for.csv", PEERS_CSV, rows)
    return render(request, "referrals/ask.html", context)


PEERS_CSV = ["name", "company", "kind", "reasons", "account_id", "contact_id"]


def _contact_of(task: Task, raw: str) -> Contact | None:
    if not raw:
        return None
    found = Contact.objects.filter(
        pk=int(raw) if raw.isdigit() else 0, account=task.account
    ).first()
    if found is None:
        raise Invalid({"contact": ["is not a contact of the ask's account"]})
    return found


def _refused(request: HttpRequest, task: Task, refused: Invalid, form: str) -> HttpResponse:
    context = _ask_context(task, timezone.now())
    context.update(errors={form: refused.errors}, values=request.POST)
    return render(request, "referrals/ask.html", context, status=400)


@require_POST
@access
def ask_record_view(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _ask(request, task_id, write=True)
    post = request.POST
    try:
        recorded = asks.ask_record(
            actor=_user(request),
            ask=task,
            channel=post.get("channel", ""),
            outcome=post.get("outcome", ""),
            contact=_contact_of(task, post.get("contact", "")),
            person={field: post.get(f"person_{field}", "") for field in _PERSON},
            note=post.get("note", ""),
            email_link=post.get("email_link") == "1",
            now=timezone.now(),
        )
    except Invalid as refused:
        return _refused(request, task, refused, "record")
    if recorded.introduction is not None:
        url = reverse("intro-detail", args=[recorded.introduction.pk])
        if recorded.advocate_url:
            request.session["advocate_url"] = recorded.advocate_url
        return redirect(url)
    return redirect(reverse("ask-page", args=[task.pk]))


@require_POST
@access
def ask_email_view(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _ask(request, task_id, write=True)
    post = request.POST
    try:
        recorded = asks.ask_email_send(
            actor=_user(request),
            ask=task,
            subject=post.get("subject", ""),
            body=post.get("body", ""),
            contact=_contact_of(task, post.get("contact", "")),
            now=timezone.now(),
        )
    except Invalid as refused:
        return _refused(request, task, refused, "email")
    assert recorded.introduction is not None
    return redirect(reverse("intro-detail", args=[recorded.introduction.pk]))


# --- an introduction ---------------------------------------------------------------------------


@require_GET
@access
def intro_detail(request: HttpRequest, introduction_id: int) -> HttpResponse:
    user = _user(request)
    intro = introduction_get_for(user=user, introduction_id=introduction_id)
    # Shown once: the advocate link the owner chose to pass on themselves.
    advocate_url = request.session.pop("advocate_url", "")
    return render(request, "referrals/intro_detail.html", _intro_context(intro, advocate_url))


def _intro_context(
    intro: Introduction, advocate_url: str = "", errors: Any = None
) -> dict[str, Any]:
    from goodword.referrals.models import DealCredit

    state = IntroState(intro.state)
    return {
        "intro": intro,
        "steps": intro.steps.select_related("actor"),
        "consents": intro.consents.select_related("recorded_by"),
        "credits": DealCredit.objects.filter(introduction=intro).select_related(
            "advocate", "advocate_account", "deal"
        ),
        "labels": {s.value: LABELS[s] for s in IntroState},
        "can_withdraw": "withdraw" in {e.value for e in events_from(state)},
        "advocate_url": advocate_url,
        "errors": errors or {},
    }


@require_POST
@access
def intro_withdraw_view(request: HttpRequest, introduction_id: int) -> HttpResponse:
    user = _user(request)
    intro = introduction_get_for(user=user, introduction_id=introduction_id, write=True)
    note = request.POST.get("note", "").strip()[:300]
    try:
        services.intro_withdraw(intro=intro, actor=user, note=note, now=timezone.now())
    except Invalid as refused:
        intro.refresh_from_db()
        context = _intro_context(intro, errors=refused.errors)
        return render(request, "referrals/intro_detail.html", context, status=400)
    return redirect(reverse("intro-detail", args=[intro.pk]))


# --- a referral logged by hand -----------------------------------------------------------------


def _advocates(request: HttpRequest) -> Any:
    return (
        crm.contacts_visible_to(_user(request))
        .filter(account__lifecycle=Lifecycle.CUSTOMER, opted_out_at__isnull=True)
        .select_related("account")
        .order_by("account__name", "first_name", "last_name")
    )


@require_http_methods(["GET", "HEAD", "POST"])
@access
def referral_log_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    advocates = _advocates(request)
    preset = request.GET.get("account", "")
    if preset.isdigit():
        advocates = advocates.filter(account_id=int(preset))
    context: dict[str, Any] = {"advocates": advocates[:500], "values": {}, "errors": {}}
    if request.method != "POST":
        return render(request, "referrals/referral_log.html", context)
    post = request.POST
    raw = post.get("advocate", "")
    advocate = advocates.filter(pk=int(raw)).first() if raw.isdigit() else None
    try:
        if advocate is None:
            raise Invalid({"advocate": ["choose the customer contact who made the referral"]})
        crm.account_get_for(user=user, account_id=advocate.account_id, write=True)
        intro = services.referral_log(
            actor=user,
            advocate=advocate,
            data={field: post.get(field, "") for field in _PERSON},
            consent=post.get("consent", ""),
            notes=post.get("notes", ""),
            now=timezone.now(),
        )
    except Invalid as refused:
        context.update(values=post, errors=refused.errors)
        return render(request, "referrals/referral_log.html", context, status=400)
    return redirect(reverse("intro-detail", args=[intro.pk]))


urlpatterns = [
    path("asks/<int:task_id>/", ask_page, name="ask-page"),
    path("asks/<int:task_id>/record/", ask_record_view, name="ask-record"),
    path("asks/<int:task_id>/email/", ask_email_view, name="ask-email"),
    path("introductions/<int:introduction_id>/", intro_detail, name="intro-detail"),
    path(
        "introductions/<int:introduction_id>/withdraw/",
        intro_withdraw_view,
        name="intro-withdraw",
    ),
    path("referrals/log/", referral_log_view, name="referral-log"),
]
