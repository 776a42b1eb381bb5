"""The writes of the KPI and ROI reports' settings, each in one transaction with its audit
rows (SettingsChange): quarterly targets (managers for their team, admins for anyone), the
programme's costs and the spend per source (admins); and the reads and access functions the
settings pages go through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from goodword.crm.models import DealSource
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.lib.validators import clean_currency, clean_decimal
from goodword.reports.models import (
    MONEY_METRICS,
    ProgrammeCosts,
    RepTarget,
    SettingsChange,
    SourceSpend,
    TargetMetric,
)

if TYPE_CHECKING:
    from goodword.users.models import User

# Referral spend is not entered: the programme's rewards and time are its cost.
SPEND_SOURCES = tuple(s for s in DealSource.values if s != DealSource.REFERRAL)
MAX_MINUTES = 24 * 60  # an ask that takes longer than a day is a typing error


# --- quarters and months ----------------------------------------------------------------


def quarter_of(day: dt.date) -> dt.date:
    """The first day of the quarter `day` is in."""
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def quarter_end(first: dt.date) -> dt.date:
    """The last day of the quarter starting on `first`."""
    month = first.month + 3
    following = dt.date(first.year + (month > 12), (month - 1) % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def quarter_label(first: dt.date) -> str:
    return f"{first.year}-Q{(first.month - 1) // 3 + 1}"


def quarter_parse(text: str) -> dt.date:
    """A quarter from "2026-Q2" or any day in it ("2026-04-01"). Raises Invalid."""
    raw = text.strip().upper()
    try:
        if len(raw) == 7 and raw[4:6] == "-Q" and raw[6] in "1234":
            return dt.date(int(raw[:4]), (int(raw[6]) - 1) * 3 + 1, 1)
        return quarter_of(dt.date.fromisoformat(raw))
    except ValueError:
        raise Invalid({"quarter": [f"{text!r} is not a quarter (e.g. 2026-Q2)"]}) from None


def month_parse(text: str | dt.date) -> dt.date:
    """A month's first day from "2026-04" or any day in it. Raises Invalid."""
    if isinstance(text, dt.date):
        return text.replace(day=1)
    raw = text.strip()
    try:
        day = dt.date.fromisoformat(raw + "-01" if len(raw) == 7 else raw)
    except ValueError:
        raise Invalid({"month": [f"{text!r} is not a month (e.g. 2026-04)"]}) from None
    return day.replace(day=1)


# --- access and reads -------------------------------------------------------------------


def _sees_all(user: User) -> bool:
    return user.is_admin_role or user.is_manager


def target_users_for(user: User) -> QuerySet[User]:
    """The active users whose targets `user` may set: anyone for admins, the members of
    their team for managers (themselves alone without a team); nobody for anyone else."""
    from goodword.users.models import User as UserModel

    users = UserModel.objects.filter(is_active=True).select_related("team")
    if user.is_admin_role:
        return users.order_by("team__name", "email")
    if user.is_manager:
        mine = users.filter(team_id=user.team_id) if user.team_id else users.filter(pk=user.pk)
        return mine.order_by("email")
    return users.none()


def targets_for(user: User, quarter: dt.date) -> QuerySet[RepTarget]:
    """The targets of a quarter `user` may see: everyone's for admins and managers, their
    own for anyone else (reps see what is expected of them)."""
    targets = RepTarget.objects.filter(quarter=quarter_of(quarter)).select_related("user")
    if not _sees_all(user):
        targets = targets.filter(user=user)
    return targets.order_by("user__email", "metric")


def programme_costs() -> ProgrammeCosts:
    """The programme's costs: the stored row, else the defaults (unsaved)."""
    stored = ProgrammeCosts.objects.filter(pk=ProgrammeCosts.SINGLETON).first()
    return stored or ProgrammeCosts(pk=ProgrammeCosts.SINGLETON)


def costs_for(user: User) -> ProgrammeCosts:
    """The programme's costs, for admins and managers; NotFound for anyone else."""
    if not _sees_all(user):
        raise NotFound("programme costs")
    return programme_costs()


def spend_for(user: User) -> QuerySet[SourceSpend]:
    """Every month's spend per source, newest first, for admins and managers; NotFound for
    anyone else."""
    if not _sees_all(user):
        raise NotFound("source spend")
    return SourceSpend.objects.select_related("entered_by").order_by("-month", "source")


# --- targets ------------------------------------------------------------------------------


def _target_value(metric: str, raw: str | Decimal | int) -> Decimal:
    """A target's value: a whole count, or an amount in cents for the money metrics."""
    value = clean_decimal(raw)
    if metric not in MONEY_METRICS and value != value.to_integral_value():
        raise ValueError(f"{raw!r} is not a whole number")
    return value


@dataclass(frozen=True)
class TargetsResult:
    added: int = 0
    changed: int = 0
    removed: int = 0

    def summary(self) -> str:
        return f"{self.added} set, {self.changed} changed, {self.removed} removed"


TargetCell = tuple[int, str]  # (user id, metric)


def _cleaned_cells(
    values: Mapping[TargetCell, str | Decimal | int | None],
) -> dict[TargetCell, Decimal | None]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[TargetCell, Decimal | None] = {}
    for (user_id, metric), raw in values.items():
        if metric not in TargetMetric.values:
            errors[f"{user_id}-{metric}"] = [f"one of {', '.join(TargetMetric.values)}"]
        elif raw is None or str(raw).strip() == "":
            cleaned[(user_id, metric)] = None
        else:
            try:
                cleaned[(user_id, metric)] = _target_value(metric, raw)
            except ValueError as exc:
                errors[f"{user_id}-{metric}"] = [str(exc)]
    if errors:
        raise Invalid(errors)
    return cleaned


def _check_may_set(actor: User, user_ids: set[int]) -> dict[int, User]:
    """The users named, when `actor` may set their targets. Raises Forbidden for a rep or
    CSM, or a user outside a manager's team; Invalid for an unknown or inactive user."""
    if not _sees_all(actor):
        raise Forbidden("only managers and admins set targets")
    from goodword.users.models import User as UserModel

    found = {u.pk: u for u in UserModel.objects.filter(pk__in=user_ids, is_active=True)}
    unknown = sorted(user_ids - set(found))
    if unknown:
        raise Invalid({"user": [f"no active user with id {pk}" for pk in unknown]})
    allowed = set(target_users_for(actor).filter(pk__in=user_ids).values_list("pk", flat=True))
    outside = sorted(user_ids - allowed)
    if outside:
        names = ", ".join(found[pk].email for pk in outside)
        raise Forbidden(f"a manager sets the targets of their own team only, not of {names}")
    return found


@transaction.atomic
def targets_set(
    *,
    actor: User,
    quarter: dt.date,
    values: Mapping[TargetCell, str | Decimal | int | None],
    now: dt.datetime,
) -> TargetsResult:
    """Set a quarter's targets, per (user id, metric): a value sets or changes the target,
    an empty one (None or "") removes it; a cell left out is left alone. Each change writes
    a SettingsChange row. `quarter` is any day of the quarter.

    Raises Forbidden for a rep or CSM, or for a user outside a manager's team; Invalid
    naming each bad cell (a metric that is not a target, a value that is not a number of at
    least 0, a count that is not whole) or an unknown or inactive user. Nothing is written
    when anything is refused."""
    first = quarter_of(quarter)
    cleaned = _cleaned_cells(values)
    users = _check_may_set(actor, {user_id for user_id, _ in cleaned})
    existing = {
        (t.user_id, t.metric): t
        for t in RepTarget.objects.filter(quarter=first, user_id__in=list(users))
    }
    counts = {"added": 0, "changed": 0, "removed": 0}
    audit: list[SettingsChange] = []
    for (user_id, metric), value in sorted(cleaned.items()):
        old = existing.get((user_id, metric))
        change = _target_change(old, value, user=users[user_id], metric=metric, first=first)
        if change is None:
            continue
        kind, before, after = change
        counts[kind] += 1
        _target_write(old, value, user_id=user_id, metric=metric, first=first, actor=actor, now=now)
        audit.append(_target_audit(users[user_id], metric, first, before, after, actor, now))
    SettingsChange.objects.bulk_create(audit)
    return TargetsResult(**counts)


def _target_change(
    old: RepTarget | None, value: Decimal | None, *, user: User, metric: str, first: dt.date
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """What setting `value` over `old` does: added, changed or removed, with the audit's
    before and after; None when nothing changes."""
    key = {"user": user.email, "quarter": quarter_label(first), "metric": metric}
    if old is None:
        return None if value is None else ("added", {}, {**key, "value": str(value)})
    if value is None:
        return "removed", {**key, "value": str(old.value)}, {}
    if old.value == value:
        return None
    return "changed", {**key, "value": str(old.value)}, {**key, "value": str(value)}


def _target_write(
    old: RepTarget | None,
    value: Decimal | None,
    *,
    user_id: int,
    metric: str,
    first: dt.date,
    actor: User,
    now: dt.datetime,
) -> None:
    if value is None:
        assert old is not None
        old.delete()
    elif old is None:
        try:
            with transaction.atomic():
                RepTarget.objects.create(
                    user_id=user_id, quarter=first, metric=metric, value=value,
                    set_by=actor, set_at=now,
                )  # fmt: skip
        except IntegrityError:
            raise Invalid({"values": ["targets were set meanwhile; set them again"]}) from None
    else:
        old.value, old.set_by, old.set_at = value, actor, now
        old.save(update_fields=["value", "set_by", "set_at"])


def _target_audit(
    user: User,
    metric: str,
    first: dt.date,
    before: dict[str, Any],
    after: dict[str, Any],
    actor: User,
    now: dt.datetime,
) -> SettingsChange:
    label = TargetMetric(metric).label
    if not after:
        what = f"removed (was {before['value']})"
    elif not before:
        what = f"set to {after['value']}"
    else:
        what = f"changed from {before['value']} to {after['value']}"
    summary = f"Target {label} of {user.email} for {quarter_label(first)} {what}"
    return SettingsChange(
        kind=SettingsChange.Kind.TARGET, actor=actor, summary=summary[:300],
        before=before, after=after, at=now,
    )  # fmt: skip


# --- programme costs -----------------------------------------------------------------------


def _admin(actor: User, what: str) -> None:
    if not actor.is_admin_role:
        raise Forbidden(f"only admins change {what}")


def _costs_data(
    minutes_per_ask: str | int, hourly_cost: str | Decimal, currency: str
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    text = str(minutes_per_ask).strip()
    if not text.isdigit() or int(text) > MAX_MINUTES:
        errors["minutes_per_ask"] = [f"{minutes_per_ask!r} is not a whole number from 0 to 1440"]
    else:
        cleaned["minutes_per_ask"] = int(text)
    try:
        cleaned["hourly_cost"] = clean_decimal(hourly_cost)
    except ValueError as exc:
        errors["hourly_cost"] = [str(exc)]
    try:
        cleaned["currency"] = clean_currency(currency)
    except ValueError as exc:
        errors["currency"] = [str(exc)]
    if errors:
        raise Invalid(errors)
    return cleaned


@transaction.atomic
def costs_set(
    *,
    actor: User,
    minutes_per_ask: str | int,
    hourly_cost: str | Decimal,
    currency: str,
    now: dt.datetime,
) -> ProgrammeCosts:
    """Set the minutes an ask takes and the hourly cost of the time (with its currency),
    with a SettingsChange row when anything changed. Raises Forbidden for anyone but an
    admin; Invalid naming each bad field (minutes not a whole number from 0 to 1440, a cost
    not a number of at least 0, a currency not an ISO 4217 code); nothing is written then."""
    _admin(actor, "the programme costs")
    cleaned = _costs_data(minutes_per_ask, hourly_cost, currency)
    costs = programme_costs()
    stored = not costs._state.adding  # the defaults, not a row yet
    before = _costs_json(costs) if stored else {}
    for name, value in cleaned.items():
        setattr(costs, name, value)
    after = _costs_json(costs)
    if before == after:
        return costs
    costs.updated_by, costs.updated_at = actor, now
    costs.save()
    summary = (
        f"Programme costs set to {after['minutes_per_ask']} min per ask at "
        f"{after['hourly_cost']} {after['currency']}/h"
    )
    SettingsChange.objects.create(
        kind=SettingsChange.Kind.COSTS, actor=actor, summary=summary,
        before=before, after=after, at=now,
    )  # fmt: skip
    return costs


def _costs_json(costs: ProgrammeCosts) -> dict[str, Any]:
    return {
        "minutes_per_ask": costs.minutes_per_ask,
        "hourly_cost": str(Decimal(costs.hourly_cost).quantize(Decimal("0.01"))),
        "currency": costs.currency,
    }


# --- spend per source ----------------------------------------------------------------------


def _spend_data(
    source: str, month: str | dt.date, amount: str | Decimal | None, currency: str
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {"amount": None}
    if source not in SPEND_SOURCES:
        errors["source"] = [
            f"one of {', '.join(SPEND_SOURCES)} (referrals cost their rewards and time)"
        ]
    try:
        cleaned["month"] = month_parse(month)
    except Invalid as exc:
        errors.update(exc.errors)
    if amount is not None and str(amount).strip():
        try:
            cleaned["amount"] = clean_decimal(amount)
        except ValueError as exc:
            errors["amount"] = [str(exc)]
    try:
        cleaned["currency"] = clean_currency(currency)
    except ValueError as exc:
        errors["currency"] = [str(exc)]
    if errors:
        raise Invalid(errors)
    return cleaned


@transaction.atomic
def spend_set(
    *,
    actor: User,
    source: str,
    month: str | dt.date,
    amount: str | Decimal | None,
    currency: str,
    now: dt.datetime,
) -> SourceSpend | None:
    """Enter what was spent on `source` in `month` ("2026-04" or a day in it): a new month
    is added, an entered one replaced; an empty amount removes it (None is returned). Each
    change writes a SettingsChange row. Raises Forbidden for anyone but an admin; Invalid
    naming each bad field (referral or an unknown source, a month that is not one, an amount
    not a number of at least 0, a currency not an ISO 4217 code); nothing is written then."""
    _admin(actor, "the spend per source")
    data = _spend_data(source, month, amount, currency)
    first: dt.date = data["month"]
    old = SourceSpend.objects.filter(source=source, month=first).first()
    before = _spend_json(old) if old else {}
    if data["amount"] is None:
        if old is not None:
            old.delete()
            _spend_audit(before, {}, actor, now)
        return None
    spend = old or SourceSpend(source=source, month=first)
    spend.amount, spend.currency = data["amount"], data["currency"]
    after = _spend_json(spend)
    if after == before:
        return spend
    spend.entered_by, spend.entered_at = actor, now
    try:
        with transaction.atomic():
            spend.save()
    except IntegrityError:
        raise Invalid({"month": ["this month's spend was entered meanwhile"]}) from None
    _spend_audit(before, after, actor, now)
    return spend


def _spend_json(spend: SourceSpend) -> dict[str, Any]:
    return {
        "source": spend.source,
        "month": spend.month.strftime("%Y-%m"),
        "amount": str(Decimal(spend.amount).quantize(Decimal("0.01"))),
        "currency": spend.currency,
    }


def _spend_audit(
    before: dict[str, Any], after: dict[str, Any], actor: User, now: dt.datetime
) -> None:
    key = after or before
    what = (
        f"removed (was {before['amount']} {before['currency']})"
        if not after
        else f"set to {after['amount']} {after['currency']}"
    )
    SettingsChange.objects.create(
        kind=SettingsChange.Kind.SPEND, actor=actor,
        summary=f"Spend on {key['source']} in {key['month']} {what}",
        before=before, after=after, at=now,
    )  # fmt: skip
