"""The REST API at /api/v1/: one NinjaAPI, a router per app, API keys in the Bearer header.

Every error, including unknown URLs and unsupported methods, is JSON of one shape:
{"code": <stable code>, "message": <text>, "errors": {field: [reasons]} (optional)}.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, re_path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.users.services import apikey_authenticate

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "throttled",
}


class APIKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; GET/HEAD need the read scope, other methods write.

    A key without the needed scope answers 401, like a missing or revoked one. Keys are read
    from this header only: never from the query string or a cookie, and a browser session
    does not authenticate the API."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        scope = "read" if request.method in {"GET", "HEAD", "OPTIONS"} else "write"
        user = apikey_authenticate(token, scope)
        if user is not None:
            request.user = user
        return user


def _json_error(status: int, code: str, message: str, **headers: str) -> HttpResponse:
    body = json.dumps({"code": code, "message": message})
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


def _json_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn the plain-text 405 and the HTML 404 that Django and ninja give into our JSON."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return _not_found_view(request)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allow = ", ".join(sorted(response.get("Allow", "").replace(" ", "").split(",")))
            return _json_error(405, "method_not_allowed", "Method not allowed.", Allow=allow)
        return response

    return wrapped


def _not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return _json_error(404, "not_found", "Not found.")


class GoodwordAPI(NinjaAPI):
    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_errors(pattern.callback)
        # Anything else under /api/v1/ is a JSON 404, not the HTML page.
        urls.append(re_path(r"^.*$", _json_errors(_not_found_view), name="not-found"))
        return urls


api = GoodwordAPI(
    title="Goodword API",
    version="1",
    description="Accounts, contacts, deals and tasks; referral asks, introductions, deal "
    "credit, rewards and intro templates. Authenticate with an API key: "
    '`Authorization: Bearer gw_…`. Errors are JSON: {"code": …, "message": …}; '
    '"errors" names the refused fields. GET needs a key with the read scope, other methods '
    "write; a missing, revoked or under-scoped key gets 401. "
    "Lists take limit (at most 200) and offset and return count, next and previous.",
    auth=APIKeyAuth(),
    urls_namespace="api",
    # Swagger UI is served from ninja's own static files only when ninja is an installed
    # app; otherwise ninja would load it from a CDN, so the page is left out.
    docs_url="/docs" if "ninja" in settings.INSTALLED_APPS else None,
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, **extra: Any
) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(NotFound)
def _not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(Forbidden)
def _forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
    return _error(request, 403, "forbidden", str(exc))


@api.exception_handler(Invalid)
def _invalid(request: HttpRequest, exc: Invalid) -> HttpResponse:
    return _error(request, 400, "invalid", exc.message, errors=exc.errors)


@api.exception_handler(NinjaValidationError)
def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        loc = list(item.get("loc", []))
        # ("body", "payload", "name") -> "name"; ("query", "limit") -> "limit".
        parts = loc[2:] if loc[:1] == ["body"] else loc[1:]
        field = ".".join(str(p) for p in parts) or "__all__"
        errors.setdefault(field, []).append(str(item.get("msg", "invalid")))
    message = ", ".join(f"{k}: {'; '.join(v)}" for k, v in errors.items())
    return _error(request, 422, "validation_error", message, errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request, 401, "unauthorized", "A valid API key with the needed scope is required."
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def _http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, _CODES.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return _error(request, 500, "server_error", "Something went wrong on our side.")


def _register_routers() -> None:
    from goodword.crm.api import router as crm_router
    from goodword.handoffs.api import router as handoffs_router
    from goodword.moments.api import router as moments_router
    from goodword.referrals.api import router as referrals_router
    from goodword.reports.api import router as reports_router

    api.add_router("/", crm_router)
    api.add_router("/", moments_router)
    api.add_router("/", referrals_router)
    api.add_router("/", handoffs_router)
    api.add_router("/", reports_router)


_register_routers()
