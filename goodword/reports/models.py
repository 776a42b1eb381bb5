"""The numbers' inputs: dated currency rates into the home currency, and who imported them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from goodword.crm.models import DealSource


class Rate(models.Model):
    """One unit of `currency` is worth `rate` units of the home currency (settings.
    HOME_CURRENCY) on `day`. The home currency itself has no rows: its rate is always 1,
    and the import refuses it (a setting may change, so the database cannot)."""

    currency = models.CharField(max_length=3, help_text="ISO 4217, upper case")
    day = models.DateField()
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # searched only when a user is deleted
        help_text="empty when imported from the command line",
    )
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["currency", "day"]
        constraints = [
            # Also the index every lookup uses: a currency's rates by day.
            models.UniqueConstraint(fields=["currency", "day"], name="reports_rate_currency_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="reports_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.day}: {self.rate}"


class RateImport(models.Model):
    """One import of rates that wrote something, as the audit keeps it: who, when, from
    where, the counts, and each changed rate's value before and after."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="empty when imported from the command line",
    )
    source = models.CharField(max_length=255, help_text="the file's name, or api")
    rows = models.PositiveIntegerField()
    added = models.PositiveIntegerField()
    updated = models.PositiveIntegerField()
    unchanged = models.PositiveIntegerField()
    changes = models.JSONField(
        default=dict,
        blank=True,
        help_text="added: per currency, the first and last day and the count; "
        "updated: each rate's currency, day, before and after",
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} rates from {self.source}"


# --- the KPI and ROI reports' inputs: targets, programme costs, spend per source ----------


def home_currency() -> str:
    """The default currency of costs and spend (a callable, so a changed setting applies)."""
    return str(settings.HOME_CURRENCY).upper()


class TargetMetric(models.TextChoices):
    """The rep KPIs that make sense as a quarterly target (the others are ratios of these or
    depend on how much work arrives)."""

    ASKS_MADE = "asks_made", "Asks made"
    INTRODUCTIONS = "introductions", "Introductions"
    PIPELINE_CREATED = "pipeline_created", "Referred pipeline created"
    REVENUE_WON = "revenue_won", "Referred revenue won"


# The targets that are amounts in the home currency; the others are counts.
MONEY_METRICS = frozenset({TargetMetric.PIPELINE_CREATED, TargetMetric.REVENUE_WON})


class RepTarget(models.Model):
    """What a manager expects of one user in one quarter, for one metric."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    quarter = models.DateField(help_text="the quarter's first day")
    metric = models.CharField(max_length=20, choices=TargetMetric.choices)
    value = models.DecimalField(
        max_digits=16, decimal_places=2, help_text="a count, or an amount in the home currency"
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # searched only when a user is deleted
    )
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["quarter", "user", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "quarter", "metric"], name="reports_target_once_per_quarter"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="reports_target_not_negative"),
        ]
        indexes = [models.Index(fields=["quarter"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.quarter} {self.metric}: {self.value}"


class ProgrammeCosts(models.Model):
    """What the referral programme costs besides its rewards: the time an ask takes, at an
    hourly cost. One row at most (id 1); without it the defaults apply."""

    SINGLETON = 1

    minutes_per_ask = models.PositiveIntegerField(default=10)
    hourly_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("60"))
    currency = models.CharField(max_length=3, default=home_currency)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "programme costs"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="reports_programme_costs_singleton"),
            models.CheckConstraint(
                condition=Q(hourly_cost__gte=0), name="reports_hourly_cost_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.minutes_per_ask} min per ask at {self.hourly_cost} {self.currency}/h"


class SourceSpend(models.Model):
    """What was spent on one deal source (other than referrals, whose cost the programme's
    rewards and time make) in one month."""

    source = models.CharField(max_length=10, choices=DealSource.choices)
    month = models.DateField(help_text="the month's first day")
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    currency = models.CharField(max_length=3, default=home_currency)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    entered_at = models.DateTimeField()

    class Meta:
        ordering = ["month", "source"]
        constraints = [
            models.UniqueConstraint(fields=["source", "month"], name="reports_spend_once_a_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="reports_spend_not_negative"),
        ]
        indexes = [models.Index(fields=["month"])]

    def __str__(self) -> str:
        return f"{self.source} {self.month:%Y-%m}: {self.amount} {self.currency}"


class SettingsChange(models.Model):
    """The audit of the reports' settings: who changed a target, the programme costs or a
    month's spend, when, and the values before and after (empty before: added; empty after:
    removed)."""

    class Kind(models.TextChoices):
        TARGET = "target", "Target"
        COSTS = "costs", "Programme costs"
        SPEND = "spend", "Source spend"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    summary = models.CharField(max_length=300)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["kind", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.summary}"
