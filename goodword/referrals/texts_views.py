"""The intro templates' pages under /settings/intro-templates/: every kind's wording (anyone
logged in reads it; admins change it), an admin's edit page with a live preview, and the
reset to Goodword's own wording. Thin views over referrals/texts.py.

An unknown kind is 404 for everyone; a user who is not an admin gets 403 on the edit page,
the preview and the reset (they can read the wording on the list, not change it).

The preview is a POST that writes nothing, not a GET with the text in its query string: a
template may be 10,000 characters, longer than the request line gunicorn accepts (4,094
bytes), and a draft's wording has no business in access logs. It sends the form's CSRF token
like every POST, and its test checks that nothing changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goodword.crm.views import _csv_response, _user, access
from goodword.engine import templates as engine
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.referrals import texts
from goodword.users.models import User

CSV_HEADER = ["kind", "label", "subject", "body", "changed_by", "changed_at"]


def _editable(user: User, kind: str) -> texts.Current:
    """The wording in force of `kind`, for an admin to change."""
    if kind not in texts.KINDS:
        raise NotFound("intro template")
    if not user.is_admin_role:
        raise Forbidden("Only admins edit the intro templates; you can read them on the list.")
    return texts.current_for(kind)


@require_GET
@access
def intro_templates(request: HttpRequest) -> Any:
    """Every kind's wording in force; ?export=csv for the same as CSV."""
    current = texts.templates_current()
    if request.GET.get("export") == "csv":
        return _csv_response("intro-templates.csv", CSV_HEADER, texts.export_rows(current))
    return render(request, "referrals/texts/list.html", {"templates": current})


def _edit_page(
    request: HttpRequest, current: texts.Current, subject: str, body: str, status: int = 200
) -> HttpResponse:
    preview = texts.template_preview(kind=current.kind, subject=subject, body=body)
    context = {
        "current": current,
        "subject": subject,
        "body": body,
        "preview": preview,
        "fields": engine.FIELDS,
    }
    return render(request, "referrals/texts/edit.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@access
def intro_templates_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """GET: the form with the wording in force; POST: save it (400 with the problems, nothing
    saved) or, with action=preview (the page without JavaScript), show the preview only."""
    user = _user(request)
    current = _editable(user, kind)
    if request.method != "POST":
        return _edit_page(request, current, current.subject, current.body)
    subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
    if request.POST.get("action") == "preview":
        return _edit_page(request, current, subject, body)
    try:
        texts.template_save(actor=user, kind=kind, subject=subject, body=body, now=timezone.now())
    except Invalid:
        return _edit_page(request, current, subject, body, status=400)
    messages.success(request, f"Saved: {current.label}. New texts use it from now on.")
    return redirect(reverse("intro-templates"))


@require_POST
@access
def intro_templates_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """The preview of the wording typed so far (an htmx partial); writes nothing."""
    current = _editable(_user(request), kind)
    preview = texts.template_preview(
        kind=kind, subject=request.POST.get("subject", ""), body=request.POST.get("body", "")
    )
    context = {"current": current, "preview": preview}
    return render(request, "referrals/texts/_preview.html", context)


@require_POST
@access
def intro_templates_reset(request: HttpRequest, kind: str) -> HttpResponse:
    current = _editable(_user(request), kind)
    if texts.template_reset(actor=_user(request), kind=kind):
        messages.success(request, f"Reset: {current.label} uses Goodword's wording again.")
    return redirect(reverse("intro-templates"))


urlpatterns = [
    path("settings/intro-templates/", intro_templates, name="intro-templates"),
    path("settings/intro-templates/<str:kind>/", intro_templates_edit, name="intro-templates-edit"),
    path(
        "settings/intro-templates/<str:kind>/preview/",
        intro_templates_preview,
        name="intro-templates-preview",
    ),
    path(
        "settings/intro-templates/<str:kind>/reset/",
        intro_templates_reset,
        name="intro-templates-reset",
    ),
]
