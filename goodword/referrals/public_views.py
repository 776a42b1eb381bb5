"""The pages people outside the company reach from our emails: the advocate's page (name the
person), the consent page (accept, decline, never again) and the unsubscribe page.

GET and HEAD only show: mail scanners and link previews open every link, so nothing
changes until a person presses a button (a POST). The key in the URL is the only proof of
who is asking, so every refusal says nothing about any introduction, and the pages are
neither cached, indexed nor sent to other sites as a Referer (same-origin: a browser
sends Origin: null with a no-referrer policy, which CSRF checking rightly refuses).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from goodword.engine.intros import IntroState
from goodword.lib.errors import Invalid
from goodword.referrals import services
from goodword.referrals.links import MESSAGES, LinkProblem, LinkRefused, link_find
from goodword.referrals.models import Introduction, IntroLink, LinkPurpose

View = Callable[..., HttpResponse]
_STATUS = {
    LinkProblem.DAMAGED: 404,
    LinkProblem.UNKNOWN: 404,
    LinkProblem.WRONG_PURPOSE: 404,
    LinkProblem.EXPIRED: 410,
    LinkProblem.USED: 410,
    LinkProblem.CLOSED: 410,
}
# The state an introduction must be in for each kind of link to have something to do.
_LIVE = {
    LinkPurpose.ADVOCATE: IntroState.ADVOCATE_AGREED,
    LinkPurpose.CONSENT: IntroState.AWAITING_CONSENT,
}


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    base = {"company": settings.COMPANY_NAME, "product": settings.PRODUCT_NAME}
    return _private(
        render(request, f"referrals/public/{template}", {**base, **context}, status=status)
    )


def _problem(request: HttpRequest, problem: LinkProblem) -> HttpResponse:
    title, text = MESSAGES[problem]
    return _page(request, "problem.html", {"title": title, "text": text}, status=_STATUS[problem])


def _visitor(request: HttpRequest) -> services.Visitor:
    return services.Visitor(
        ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", ""),
    )


def link_page(purpose: LinkPurpose) -> Callable[[Callable[..., HttpResponse]], View]:
    """Find the live link of `purpose` for the key in the URL (and, for the advocate and
    consent pages, check its introduction still waits for it), or show why not."""

    def decorate(view: Callable[..., HttpResponse]) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, key: str) -> HttpResponse:
            now = timezone.now()
            try:
                link = link_find(key=key, purpose=purpose, now=now)
                live = _LIVE.get(purpose)
                if live is not None and link.introduction.state != live:
                    raise LinkRefused(LinkProblem.CLOSED)
                return view(request, link, now)
            except LinkRefused as refused:
                return _problem(request, refused.problem)

        return login_not_required(require_http_methods(["GET", "HEAD", "POST"])(wrapper))

    return decorate


# --- the advocate names the person -------------------------------------------------------------


def _blurb(intro: Introduction) -> str:
    if intro.blurb:
        return intro.blurb
    from goodword.referrals.texts import drafts_for

    drafts = {draft.kind: draft for draft in drafts_for(introduction=intro)}
    return drafts["blurb"].text if "blurb" in drafts else ""


@link_page(LinkPurpose.ADVOCATE)
def advocate_page(request: HttpRequest, link: IntroLink, now: Any) -> HttpResponse:
    intro = link.introduction
    initial = {
        "name": intro.person_name,
        "email": intro.person_email,
        "company": intro.person_company,
        "title": intro.person_title,
        "blurb": _blurb(intro),
        "send": "1",
    }
    if request.method != "POST":
        return _page(request, "advocate.html", {"intro": intro, "values": initial, "errors": {}})
    if request.POST.get("action") == "none":
        services.intro_withdraw(
            intro=intro,
            actor=None,
            link=link,
            now=now,
            note="the advocate could not think of anyone to introduce",
        )
        return _page(request, "done.html", {"title": "Thank you", "text": _NOBODY})
    data = {field: request.POST.get(field, "") for field in initial}
    try:
        intro, url = services.intro_name(link=link, data=data, now=now)
    except Invalid as refused:
        context = {"intro": intro, "values": data, "errors": refused.errors}
        return _page(request, "advocate.html", context, status=400)
    return _page(request, "named.html", {"intro": intro, "consent_url": url})


_NOBODY = (
    "No problem at all: nobody will be contacted. If someone comes to mind later, just "
    "reply to the email you got from us."
)


# --- the person answers ------------------------------------------------------------------------


@link_page(LinkPurpose.CONSENT)
def consent_page(request: HttpRequest, link: IntroLink, now: Any) -> HttpResponse:
    intro = link.introduction
    context = {"intro": intro, "text": services.consent_text(intro), "errors": {}}
    if request.method != "POST":
        return _page(request, "consent.html", context)
    decision = request.POST.get("decision", "")
    try:
        services.intro_answer(link=link, decision=decision, visitor=_visitor(request), now=now)
    except Invalid as refused:
        return _page(request, "consent.html", {**context, "errors": refused.errors}, status=400)
    return _page(request, "answered.html", {"intro": intro, "decision": decision})


# --- never again -------------------------------------------------------------------------------


@csrf_exempt  # RFC 8058: mail programs POST "List-Unsubscribe=One-Click" with no form token
@link_page(LinkPurpose.UNSUBSCRIBE)
def unsubscribe_page(request: HttpRequest, link: IntroLink, now: Any) -> HttpResponse:
    if request.method != "POST":
        return _page(request, "unsubscribe.html", {"email": link.email})
    services.unsubscribe(link=link, visitor=_visitor(request), now=now)
    return _page(request, "done.html", {"title": "You won't hear from us again", "text": _GONE})


_GONE = (
    "Your address is on our list of people we never write to. Nobody will contact you "
    "about this or any other introduction."
)


urlpatterns = [
    path("r/advocate/<str:key>/", advocate_page, name="intro-advocate"),
    path("r/consent/<str:key>/", consent_page, name="intro-consent"),
    path("r/unsubscribe/<str:key>/", unsubscribe_page, name="intro-unsubscribe"),
]
