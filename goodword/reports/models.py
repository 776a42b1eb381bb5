"""The numbers' inputs: dated currency rates into the home currency, and who imported them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
