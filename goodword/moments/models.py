"""Success moments: the peaks of customer value the rules find, the programme of rules in
force, and the record of every scan."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from goodword.crm.models import Account, Contact, Task


class ProgrammeVersion(models.Model):
    """The rules and settings as an admin applied them (YAML and its parsed form); the
    newest row is in force. With none, Goodword uses engine/data/programme.yaml."""

    yaml = models.TextField()
    data = models.JSONField(help_text="the parsed programme (engine.rules.programme_to_data)")
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]

    def __str__(self) -> str:
        return f"programme #{self.pk} of {self.applied_at:%Y-%m-%d %H:%M}"


class Moment(models.Model):
    """One peak of value an account reached, found by one rule. `key` tells apart a rule's
    moments for one account (a threshold, a week, a goal, a record), and the unique
    constraint on (account, rule_id, key) makes every scan idempotent. A moment a later
    recompute no longer finds (the rule changed, a deal was reopened) is retracted, not
    deleted: an ask may have cited it."""

    # No index of its own on the account: the unique key's starts with it. The contact and
    # the ask are indexed only where set (most moments have neither), and a rule's moments
    # are found through the unique key (by account) or moments_live_time (by time): a full
    # scan writes 740,000 moments, and each index written costs it seconds.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="moments", db_index=False
    )
    rule_id = models.CharField(max_length=50)
    kind = models.CharField(max_length=20)
    key = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    evidence = models.CharField(max_length=500, help_text="why it is a moment, in words")
    data = models.JSONField(default=dict, blank=True, help_text="the evidence as values")
    found_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    retracted_at = models.DateTimeField(null=True, blank=True)
    ask = models.ForeignKey(
        Task,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moments",
        db_index=False,
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "rule_id", "key"], name="moments_moment_unique_key"
            )
        ]
        indexes = [
            models.Index(
                fields=["occurred_at", "account", "rule_id"],  # readiness reads just these
                name="moments_live_time",
                condition=Q(retracted_at__isnull=True),
            ),
            models.Index(
                fields=["contact"], name="moments_contact", condition=Q(contact__isnull=False)
            ),
            models.Index(fields=["ask"], name="moments_ask", condition=Q(ask__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.key} ({self.account_id})"


class ScanMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class ScanStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Scan(models.Model):
    """One run of the rules: what it read, found and did. At most one runs at a time (the
    partial unique constraint); one whose lease ran out (its process died) is failed by the
    next. The newest done scan keeps `state`, what the next incremental scan continues from."""

    mode = models.CharField(max_length=12, choices=ScanMode.choices)
    status = models.CharField(max_length=10, choices=ScanStatus.choices, default=ScanStatus.RUNNING)
    trigger = models.CharField(max_length=20, default="cli")
    as_of = models.DateTimeField(help_text="the scan's now: weeks ending by then are complete")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    batch_from = models.BigIntegerField(default=0, help_text="event batches after this one…")
    batch_to = models.BigIntegerField(null=True, blank=True, help_text="…up to this one")
    events_read = models.BigIntegerField(default=0)
    moments = models.JSONField(default=dict, blank=True, help_text="rule → found, moved, retracted")
    full_rules = models.JSONField(default=dict, blank=True, help_text="rule → why it ran in full")
    asks_created = models.PositiveIntegerField(default=0)
    blocked = models.JSONField(default=dict, blank=True, help_text="gate → accounts it blocked")
    errors = models.JSONField(default=list, blank=True)
    state = models.BinaryField(null=True, blank=True, help_text="Parquet: progress per rule")
    programme = models.ForeignKey(
        ProgrammeVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="moments_one_scan_running"
            )
        ]

    def __str__(self) -> str:
        return f"scan #{self.pk} {self.mode} ({self.status})"
