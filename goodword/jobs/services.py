"""Enqueueing, claiming and running background jobs, and the e-mail outbox.

A job is claimed by a conditional UPDATE that sets a lease; the row count says whether this
worker won it. A worker that dies leaves the lease to expire and the job is claimed again,
so handlers must be idempotent (e-mail keeps its Message-ID, fixed when the row is written).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from goodword.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=5)
HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {}


@dataclass
class Upkeep:
    """Work the worker repeats on a schedule. It must be idempotent and safe to run from
    several workers at once: the schedule lives in each worker's memory, not in a row."""

    fn: Callable[[], object]
    every: dt.timedelta
    last_run: dt.datetime | None = None


UPKEEP: dict[str, Upkeep] = {}


def handler(
    kind: str,
) -> Callable[[Callable[[dict[str, Any]], None]], Callable[[dict[str, Any]], None]]:
    def register(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        HANDLERS[kind] = fn
        return fn

    return register


def upkeep(name: str, *, every: dt.timedelta, fn: Callable[[], object]) -> None:
    """Register `fn` to run every `every` in each worker (see `upkeep_once`)."""
    UPKEEP[name] = Upkeep(fn=fn, every=every)


def job_enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    key: str | None = None,
    run_after: dt.datetime | None = None,
) -> Job:
    """Add a job; with a key already queued, return the existing row (idempotent)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return Job.objects.create(
                kind=kind, key=key, payload=payload, run_after=run_after or now, created_at=now
            )
    except IntegrityError:
        if key is None:
            raise
        return Job.objects.get(key=key)


def email_enqueue(
    *,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    reply_to: list[str] | None = None,
) -> Job:
    """Write an e-mail to the outbox. Call inside the transaction of the change it reports."""
    message_id = make_msgid(domain=settings.SITE_URL.split("://")[-1].split(":")[0] or "localhost")
    return job_enqueue(
        kind="email.send",
        key=f"email:{message_id}",
        payload={
            "to": to,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
            "reply_to": reply_to or [],
            "message_id": message_id,
        },
    )


@handler("email.send")
def _send_email(payload: dict[str, Any]) -> None:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body_text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=payload["to"],
        reply_to=payload.get("reply_to") or None,
        headers={"Message-ID": payload["message_id"]},
    )
    if payload.get("body_html"):
        message.attach_alternative(payload["body_html"], "text/html")
    message.send()


def job_claim(*, now: dt.datetime | None = None) -> Job | None:
    """Claim the next due job (queued, or running with an expired lease), or None."""
    now = now or timezone.now()
    due = Q(status=JobStatus.QUEUED, run_after__lte=now) | Q(
        status=JobStatus.RUNNING, lease_until__lt=now
    )
    for job in Job.objects.filter(due).order_by("run_after", "id")[:5]:
        claimed = Job.objects.filter(
            pk=job.pk, status=job.status, lease_until=job.lease_until
        ).update(status=JobStatus.RUNNING, lease_until=now + LEASE, attempts=job.attempts + 1)
        if claimed == 1:
            job.refresh_from_db()
            return job
    return None


def job_run(job: Job) -> bool:
    """Run a claimed job; on failure retry later with backoff, or give up after max_attempts."""
    fn = HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        fn(job.payload)
    except Exception:
        error = traceback.format_exc(limit=5)
        log.warning("job %s failed: %s", job.pk, error)
        final = job.attempts >= job.max_attempts or fn is None
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED if final else JobStatus.QUEUED,
            lease_until=None,
            last_error=error[-4000:],
            run_after=timezone.now() + dt.timedelta(seconds=min(3600, 15 * 2**job.attempts)),
            finished_at=timezone.now() if final else None,
        )
        return False
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE, lease_until=None, finished_at=timezone.now(), last_error=""
    )
    return True


def work_once() -> int:
    """Run every job due now; returns how many ran."""
    count = 0
    while (job := job_claim()) is not None:
        job_run(job)
        count += 1
    return count


def upkeep_once(*, now: dt.datetime | None = None) -> list[str]:
    """Run each registered upkeep that is due; returns the names that ran. A failure is
    logged and tried again at its next turn."""
    now = now or timezone.now()
    ran = []
    for name, item in UPKEEP.items():
        if item.last_run is not None and now < item.last_run + item.every:
            continue
        item.last_run = now
        try:
            item.fn()
        except Exception:
            log.exception("upkeep %s failed", name)
            continue
        ran.append(name)
    return ran
