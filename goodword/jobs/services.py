"""Enqueueing, claiming and running background jobs, and the e-mail outbox.

A job is claimed by a conditional UPDATE that sets a lease; the row count says whether this
worker won it. A worker that dies leaves the lease to expire and the job is claimed again,
so handlers must be idempotent (e-mail keeps its Message-ID, fixed when the row is written).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
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
    owner_id: int | None = None,
    about: str = "",
    unsubscribe_url: str = "",
    from_name: str = "",
) -> Job:
    """Write an e-mail to the outbox. Call inside the transaction of the change it reports:
    the row and its Message-ID commit or vanish with it.

    `owner_id` is the user shown the e-mail if it cannot be delivered, `about` says what it
    is in their words. An e-mail to someone outside the company passes `unsubscribe_url`:
    it then carries List-Unsubscribe and List-Unsubscribe-Post (RFC 8058, one click) and
    must have an HTML part as well as the text (ValueError otherwise). `from_name` is the
    display name ("Jane Doe via Acme"); the address stays DEFAULT_FROM_EMAIL's."""
    if unsubscribe_url and not body_html.strip():
        raise ValueError("an e-mail to someone outside the company needs an HTML part")
    message_id = make_msgid(domain=settings.SITE_URL.split("://")[-1].split(":")[0] or "localhost")
    job = job_enqueue(
        kind="email.send",
        key=f"email:{message_id}",
        payload={
            "to": to,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
            "reply_to": reply_to or [],
            "message_id": message_id,
            "unsubscribe_url": unsubscribe_url,
            "from_name": from_name,
        },
    )
    if owner_id is not None or about:
        Job.objects.filter(pk=job.pk).update(owner_id=owner_id, about=about[:300])
    return job


class PermanentFailure(Exception):
    """A job that must not be tried again; the message is for the owner to read."""


def _sender(name: str) -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return formataddr((name, address)) if name else settings.DEFAULT_FROM_EMAIL


@handler("email.send")
def _send_email(payload: dict[str, Any]) -> None:
    headers = {"Message-ID": payload["message_id"]}
    if payload.get("unsubscribe_url"):
        headers["List-Unsubscribe"] = f"<{payload['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body_text"],
        from_email=_sender(payload.get("from_name", "")),
        to=payload["to"],
        reply_to=payload.get("reply_to") or None,
        headers=headers,
    )
    if payload.get("body_html"):
        message.attach_alternative(payload["body_html"], "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as refused:
        code, text = next(iter(refused.recipients.values()))
        if 400 <= code < 500:
            raise
        raise PermanentFailure(_refusal("refused the address", code, text)) from None
    except smtplib.SMTPResponseException as answer:
        if 500 <= answer.smtp_code < 600:
            said = _refusal("refused the e-mail", answer.smtp_code, answer.smtp_error)
            raise PermanentFailure(said) from None
        raise


def _refusal(what: str, code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"the recipient's mail server {what} ({code} {said.strip()})"[:500]


def job_claim(*, now: dt.datetime | None = None, lease: dt.timedelta = LEASE) -> Job | None:
    """Claim the next due job (queued, or running with an expired lease), or None. The
    claim is a conditional UPDATE on the status and lease read: of two workers reading the
    same row, one wins (on PostgreSQL the loser waits for the winner's row lock, then finds
    the row changed)."""
    now = now or timezone.now()
    due = Q(status=JobStatus.QUEUED, run_after__lte=now) | Q(
        status=JobStatus.RUNNING, lease_until__lt=now
    )
    for job in Job.objects.filter(due).order_by("run_after", "id")[:5]:
        claimed = Job.objects.filter(
            pk=job.pk, status=job.status, lease_until=job.lease_until
        ).update(status=JobStatus.RUNNING, lease_until=now + lease, attempts=job.attempts + 1)
        if claimed == 1:
            job.refresh_from_db()
            return job
    return None


def job_run(job: Job) -> bool:
    """Run a claimed job. A PermanentFailure fails it at once; any other error retries it
    with exponential backoff (15 s doubling, at most an hour apart) until max_attempts."""
    fn = HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise PermanentFailure(f"no handler for job kind {job.kind!r}")
        fn(job.payload)
    except Exception as exc:
        _failed(job, exc)
        return False
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        lease_until=None,
        finished_at=timezone.now(),
        last_error="",
        failure="",
    )
    return True


def _failed(job: Job, exc: Exception) -> None:
    error = traceback.format_exc(limit=5)
    log.warning("job %s failed: %s", job.pk, error)
    now = timezone.now()
    final = isinstance(exc, PermanentFailure) or job.attempts >= job.max_attempts
    if isinstance(exc, PermanentFailure):
        failure = str(exc)
    else:
        failure = f"could not be delivered after {job.attempts} attempts: {_briefly(exc)}"
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED if final else JobStatus.QUEUED,
        lease_until=None,
        last_error=error[-4000:],
        failure=failure[:500] if final else "",
        run_after=now + dt.timedelta(seconds=min(3600, 15 * 2 ** (job.attempts - 1))),
        finished_at=now if final else None,
    )


def _briefly(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        said = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"the mail server answered {exc.smtp_code} {said.strip()}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return _briefly(smtplib.SMTPResponseException(code, text))
    if isinstance(exc, OSError | smtplib.SMTPException):
        return f"the mail server could not be reached ({exc.__class__.__name__}: {exc})"
    return f"{exc.__class__.__name__}: {exc}"


def work_once(*, lease: dt.timedelta = LEASE) -> int:
    """Run every job due now; returns how many ran."""
    count = 0
    while (job := job_claim(lease=lease)) is not None:
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
