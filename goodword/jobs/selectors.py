"""Reads of background work for the UI: the e-mails that could not be delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from goodword.jobs.models import Job, JobStatus

if TYPE_CHECKING:
    from goodword.users.models import User


def failed_emails_for(*, user: User) -> QuerySet[Job]:
    """E-mails that failed for good, newest first: the user's own, or all for an admin."""
    rows = Job.objects.filter(kind="email.send", status=JobStatus.FAILED)
    if not user.is_admin_role:
        rows = rows.filter(owner=user)
    return rows.order_by("-finished_at", "-id")
