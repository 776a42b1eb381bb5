"""The programme in force: the newest applied version, or the default file."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from goodword.engine.programme import Programme
from goodword.engine.rules import (
    DEFAULT_YAML,
    default_programme,
    parse_programme,
    programme_to_data,
)
from goodword.moments.models import ProgrammeVersion
from goodword.users.models import User


def programme_current() -> tuple[Programme, ProgrammeVersion | None]:
    """The programme the scan runs and its version (None: the built-in default)."""
    version = ProgrammeVersion.objects.order_by("-applied_at", "-id").first()
    if version is None:
        return default_programme(), None
    return parse_programme(version.yaml), version


def programme_yaml() -> str:
    version = ProgrammeVersion.objects.order_by("-applied_at", "-id").first()
    return DEFAULT_YAML if version is None else version.yaml


def programme_apply(
    *, text: str, by: User | None, note: str = "", now: dt.datetime | None = None
) -> ProgrammeVersion:
    """Put a programme in force. Raises engine.rules.RulesError (nothing is written) when
    the YAML is not a valid programme. Rules whose definition changed run in full at the
    next scan (their fingerprint no longer matches the scan state)."""
    programme = parse_programme(text)
    with transaction.atomic():
        return ProgrammeVersion.objects.create(
            yaml=text,
            data=programme_to_data(programme),
            applied_by=by,
            applied_at=now or timezone.now(),
            note=note[:200],
        )
