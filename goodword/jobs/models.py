"""Background work: each due row is a unit of work the worker claims with a lease."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """A unit of background work. `key` makes enqueueing idempotent (e.g. the Message-ID
    of an e-mail); a worker that dies leaves `lease_until` to expire and the row is retried."""

    kind = models.CharField(max_length=50)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    run_after = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # E-mail: the user to tell when it cannot be delivered, what it is about in their words,
    # and why it failed in theirs.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    about = models.CharField(max_length=300, blank=True)
    failure = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["run_after", "id"]
        indexes = [
            models.Index(fields=["status", "run_after"]),
            models.Index(
                fields=["owner", "finished_at"],
                name="jobs_failed_by_owner",
                condition=Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
