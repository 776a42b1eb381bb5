"""The worker sends outbox e-mail to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from django.utils import timezone

from goodword.cli import main
from goodword.jobs.models import Job, JobStatus
from goodword.jobs.services import email_enqueue, job_claim, job_enqueue, work_once


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    yield inbox
    controller.stop()


@pytest.fixture
def dead_smtp(settings) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": _free_port(), "timeout": 2},
        }
    }


def test_worker_sends_outbox_email_with_its_fixed_message_id(db, smtp):
    # given an e-mail written to the outbox
    job = email_enqueue(
        to=["ada@acme.io"], subject="Hello", body_text="Plain", body_html="<p>Rich</p>"
    )
    # when the worker runs once
    result = CliRunner().invoke(main, ["worker", "--once"])
    # then the SMTP server received it with the Message-ID fixed at enqueue time
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Message-ID"] == job.payload["message_id"]
    assert (message["To"], message["Subject"]) == ("ada@acme.io", "Hello")
    assert message.is_multipart()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)


def test_failed_send_is_retried_later_with_the_error_kept(db, dead_smtp):
    job = email_enqueue(to=["ada@acme.io"], subject="Hello", body_text="Plain")
    assert work_once() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.attempts == 1
    assert "ConnectionRefusedError" in job.last_error
    assert job.run_after > timezone.now()
    assert work_once() == 0  # not due yet


def test_expired_lease_is_claimed_again(db):
    # given a job claimed by a worker that died
    job = job_enqueue(kind="noop", payload={})
    claimed = job_claim()
    assert claimed is not None
    assert claimed.pk == job.pk
    assert job_claim() is None  # leased: no one else gets it
    # when the lease has expired
    later = timezone.now() + dt.timedelta(minutes=6)
    again = job_claim(now=later)
    # then another worker claims it
    assert again is not None
    assert again.pk == job.pk
    assert again.attempts == 2


def test_enqueue_with_the_same_key_is_idempotent(db):
    first = job_enqueue(kind="noop", payload={"a": 1}, key="k-1")
    second = job_enqueue(kind="noop", payload={"a": 2}, key="k-1")
    assert first.pk == second.pk
    assert Job.objects.count() == 1


def test_unknown_kind_fails_for_good(db):
    job = job_enqueue(kind="no.such.kind", payload={})
    work_once()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "no handler for job kind 'no.such.kind'" in job.last_error


def test_upkeep_runs_when_due_and_a_failure_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goodword.jobs import services

    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "UPKEEP", {})
    services.upkeep("tick", every=dt.timedelta(minutes=1), fn=lambda: calls.append("tick"))
    services.upkeep("broken", every=dt.timedelta(minutes=1), fn=broken)
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)

    assert services.upkeep_once(now=start) == ["tick"]
    assert services.upkeep_once(now=start + dt.timedelta(seconds=59)) == []
    assert services.upkeep_once(now=start + dt.timedelta(minutes=1)) == ["tick"]
    assert calls == ["tick", "broken", "tick", "broken"]


def test_the_crm_registers_board_total_compaction_as_upkeep() -> None:
    from goodword.crm.services import deal_totals_compact
    from goodword.jobs.services import UPKEEP

    assert UPKEEP["crm.deal_totals_compact"].fn is deal_totals_compact


class Picky(Inbox):
    """Answers 451 to the first `busy` deliveries, and 550 to addresses at gone.example."""

    def __init__(self, busy: int = 0) -> None:
        super().__init__()
        self.busy = busy

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@gone.example"):
            return "550 5.1.1 user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy > 0:
            self.busy -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def picky(settings) -> Iterator[Picky]:
    inbox = Picky(busy=1)
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    yield inbox
    controller.stop()


def test_a_4xx_answer_is_retried_and_then_delivered_once(db, picky, rep):
    job = email_enqueue(to=["ada@acme.io"], subject="Hi", body_text="t", owner_id=rep.pk)
    assert work_once() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.failure) == (JobStatus.QUEUED, 1, "")
    assert job.run_after > timezone.now()
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    assert work_once() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert [m["Message-ID"] for m in picky.messages] == [job.payload["message_id"]]


def test_a_5xx_refusal_fails_at_once_and_is_shown_to_its_owner_only(db, picky, rep, other_rep):
    from goodword.jobs.selectors import failed_emails_for

    picky.busy = 0
    job = email_enqueue(
        to=["x@gone.example"], subject="Hi", body_text="t", owner_id=rep.pk, about="consent"
    )
    assert work_once() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.failure.startswith("the recipient's mail server refused the address (550")
    assert list(failed_emails_for(user=rep)) == [job]
    assert list(failed_emails_for(user=other_rep)) == []
    assert picky.messages == []


def test_external_mail_has_unsubscribe_headers_both_parts_and_a_display_name(db, smtp):
    email_enqueue(
        to=["grace@globex.com"],
        subject="Hi",
        body_text="Plain",
        body_html="<p>Rich</p>",
        unsubscribe_url="http://127.0.0.1:8000/r/unsubscribe/k/",
        from_name="Ada Lovelace via Acme",
    )
    work_once()
    [message] = smtp.messages
    assert message["List-Unsubscribe"] == "<http://127.0.0.1:8000/r/unsubscribe/k/>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["From"].startswith('"Ada Lovelace via Acme"') or message["From"].startswith(
        "Ada Lovelace via Acme"
    )
    types = [part.get_content_type() for part in message.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html"]


def test_external_mail_without_html_is_refused_and_nothing_is_written(db):
    with pytest.raises(ValueError, match="needs an HTML part"):
        email_enqueue(to=["g@x.example"], subject="s", body_text="t", unsubscribe_url="http://u/")
    assert not Job.objects.exists()
