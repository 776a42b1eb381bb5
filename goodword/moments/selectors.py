"""Reads for the moments pages, the API and the CLI, with their access checks: an account's
readiness is seen by whoever sees the account (crm.selectors.account_get_for); the
programme and the scans by admins (managers read the scans too)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from goodword.crm.models import Account
from goodword.crm.selectors import accounts_visible_to
from goodword.engine.programme import Programme
from goodword.lib.errors import NotFound
from goodword.moments.asks import Verdict, verdicts
from goodword.moments.models import Moment, ProgrammeVersion, Scan
from goodword.moments.programmes import programme_current
from goodword.users.models import User


@dataclass(frozen=True)
class Readiness:
    """An account's referral readiness as of `now`: health, readiness, why (not) asked."""

    account: Account
    programme: Programme
    verdict: Verdict
    moments: list[Moment]  # live moments, newest first, the latest 50

    @property
    def rows(self) -> list[tuple[Moment, float | None]]:
        """Each moment with its rule's weight (None for a rule no longer active)."""
        weights = {r.id: r.weight for r in self.programme.active_rules}
        return [(m, weights.get(m.rule_id)) for m in self.moments]


def readiness_for(*, account: Account, now: dt.datetime) -> Readiness:
    """Call with an account from account_get_for (the access check)."""
    programme, _ = programme_current()
    verdict = verdicts(programme, now=now, accounts=[account.pk])[account.pk]
    moments = list(
        Moment.objects.filter(account=account, retracted_at__isnull=True)
        .select_related("contact", "ask")
        .order_by("-occurred_at", "-id")[:50]
    )
    return Readiness(account=account, programme=programme, verdict=verdict, moments=moments)


def moments_visible_to(user: User) -> QuerySet[Moment]:
    return Moment.objects.filter(account__in=accounts_visible_to(user))


def scans_visible_to(user: User) -> QuerySet[Scan]:
    """Admins and managers see the scan records; 404 for anyone else."""
    if not (user.is_admin_role or user.is_manager):
        raise NotFound("scan")
    return Scan.objects.defer("state").order_by("-started_at", "-id")


def programme_versions_for(user: User) -> QuerySet[ProgrammeVersion]:
    """Admins only (NotFound otherwise): the rules are the admins' to read and change."""
    if not user.is_admin_role:
        raise NotFound("programme")
    return ProgrammeVersion.objects.select_related("applied_by").order_by("-applied_at", "-id")
