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
