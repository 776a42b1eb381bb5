"""The REST API at /api/v1/: one NinjaAPI, a router per app, API keys in the Bearer header."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.users.services import apikey_authenticate


class APIKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; GET/HEAD need the read scope, other methods write."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        scope = "read" if request.method in {"GET", "HEAD", "OPTIONS"} else "write"
        user = apikey_authenticate(token, scope)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Goodword API",
    version="1",
    description="Accounts, contacts, deals and tasks. Authenticate with an API key: "
    '`Authorization: Bearer gw_…`. Errors are JSON: {"code": …, "message": …}.',
    auth=APIKeyAuth(),
    urls_namespace="api",
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
        field = ".".join(str(p) for p in item.get("loc", [])[1:]) or "__all__"
        errors.setdefault(field, []).append(str(item.get("msg", "invalid")))
    message = ", ".join(f"{k}: {'; '.join(v)}" for k, v in errors.items())
    return _error(request, 422, "validation_error", message, errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request, 401, "unauthorized", "A valid API key with the needed scope is required."
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "error", str(exc))


def _register_routers() -> None:
    from goodword.crm.api import router as crm_router

    api.add_router("/", crm_router)


_register_routers()
