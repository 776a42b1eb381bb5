"""Writes for users, API keys and login throttling."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from goodword.lib.errors import Invalid, NotFound
from goodword.lib.tokens import hash_secret, new_secret, prefix_of, record_use, same, typed_prefix
from goodword.lib.validators import clean_email
from goodword.users.models import APIKey, LoginFailure, Role, Scope, Team, User


def team_get_or_create(name: str) -> Team | None:
    name = name.strip()
    if not name:
        return None
    team, _ = Team.objects.get_or_create(name=name)
    return team


@transaction.atomic
def user_create(
    *,
    email: str,
    role: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    team: str = "",
) -> User:
    """Raises Invalid for a bad e-mail, role or weak password, or an e-mail already in use.
    Without a password the user cannot log in until one is set."""
    errors: dict[str, list[str]] = {}
    try:
        email = clean_email(email)
    except ValueError as exc:
        errors["email"] = [str(exc)]
    if role not in Role.values:
        errors["role"] = [f"{role!r} is not one of {', '.join(Role.values)}"]
    if password is not None and not errors:
        try:
            validate_password(password, User(email=email, first_name=first_name))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise Invalid(errors)
    user = User(
        email=email,
        username=email,
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        team=team_get_or_create(team),
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Invalid({"email": [f"a user with {email} already exists"]}) from None
    return user


def _clean_scopes(scopes: list[str]) -> list[str]:
    cleaned = sorted({s.strip().lower() for s in scopes if s.strip()})
    bad = [s for s in cleaned if s not in Scope.values]
    if bad or not cleaned:
        raise Invalid(
            {
                "scopes": [
                    f"choose from {', '.join(Scope.values)}"
                    + (f"; not {', '.join(bad)}" if bad else "")
                ]
            }
        )
    return cleaned


@transaction.atomic
def apikey_create(*, user: User, scopes: list[str], name: str = "") -> tuple[APIKey, str]:
    """Create a key; returns the row and the whole key, which is never retrievable again."""
    if not user.is_active:
        raise Invalid({"user": [f"{user.email} is not active"]})
    cleaned = _clean_scopes(scopes)
    key, prefix, hashed = new_secret()
    row = APIKey.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        hashed_key=hashed,
        scopes=cleaned,
        created_at=timezone.now(),
    )
    return row, key


@transaction.atomic
def apikey_revoke(*, prefix: str) -> APIKey:
    """Revoke the key with this prefix. Raises NotFound if there is none (revoked is fine)."""
    row = APIKey.objects.filter(prefix=typed_prefix(prefix)).first()
    if row is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    if row.revoked_at is None:
        APIKey.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        row.refresh_from_db()
    return row


def apikey_authenticate(key: str, scope: str) -> User | None:
    """The active user behind a live key that carries `scope`, else None."""
    prefix = prefix_of(key)
    if prefix is None:
        return None
    row = APIKey.objects.select_related("user").filter(prefix=prefix).first()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    if not same(row.hashed_key, hash_secret(key)) or scope not in row.scopes:
        return None
    record_use(APIKey, row)
    return row.user


def login_locked(email: str, ip: str | None) -> bool:
    """True while an e-mail or an address has too many recent failures."""
    since = timezone.now() - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    limit = settings.LOGIN_MAX_FAILURES
    if recent.filter(email=email.strip().lower()).count() >= limit:
        return True
    return ip is not None and recent.filter(ip=ip).count() >= limit * 4


def login_failure_record(email: str, ip: str | None) -> None:
    now = timezone.now()
    LoginFailure.objects.create(email=email.strip().lower()[:254], ip=ip, at=now)
    horizon = now - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS * 4)
    LoginFailure.objects.filter(at__lt=horizon).delete()


def login_failures_clear(email: str) -> None:
    LoginFailure.objects.filter(email=email.strip().lower()).delete()


def user_summary(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "team": user.team.name if user.team else ""}


@transaction.atomic
def user_digests_set(*, user: User, receive: bool, now: dt.datetime) -> User:
    """Start or stop the weekly digests for `user`. Asking for the state it is already in
    changes nothing (a second click keeps the first time of opting out)."""
    rows = User.objects.filter(pk=user.pk)
    if receive:
        rows.filter(digest_opt_out_at__isnull=False).update(digest_opt_out_at=None)
    else:
        rows.filter(digest_opt_out_at__isnull=True).update(digest_opt_out_at=now)
    user.refresh_from_db(fields=["digest_opt_out_at"])
    return user
