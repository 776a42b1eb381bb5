"""The outbox survives `kill -9`: a real `goodword worker` process, killed again and again while
it sends to a real SMTP server (aiosmtpd on loopback), loses no e-mail, sends at most one
duplicate per kill (with the Message-ID of the first delivery) and leaves no row claimed.

The worker is another process, so it must see the test's database. PostgreSQL's test database
is a real one: the test is transactional, its rows are committed and the worker is handed the
database's name. SQLite's test database lives in this process's memory, out of another
process's reach, and naming a file for it in settings would change the database every other
test runs on; so this test copies it (schema and migrated rows, with SQLite's backup API:
milliseconds, where migrating a new file takes seconds) into a file that stands in as the
default database until the test ends.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.sqlite3.creation import DatabaseCreation

from goodword.jobs.models import Job, JobStatus
from goodword.jobs.services import email_enqueue

pytestmark = pytest.mark.slow

EMAILS = 1_000
KILLS = 5
SEED = 20_261_123  # the kills land at random moments, the same ones on every run
LEASE_SECONDS = 2
INTERVAL = "0.2"
SENDING_DEADLINE = 60.0  # seconds for a new worker to start and send what we wait for
DRAIN_DEADLINE = 120.0
# What the `goodword` console script runs (`python -m goodword.cli` would import cli twice).
WORKER = "from goodword.cli import main; main(prog_name='goodword')"


class Inbox:
    """Keeps each delivery's Subject, To and Message-ID; reads the headers only, to stay fast."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []
        self.parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = self.parser.parsebytes(envelope.content)
        self.received.append(
            (str(headers["Subject"]), str(headers["To"]), str(headers["Message-ID"]))
        )
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def database_url(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL naming the database this test writes to (see the module docstring)."""
    given = connection.settings_dict
    if connection.vendor == "postgresql":
        user = quote(given["USER"] or "", safe="")
        password = f":{quote(given['PASSWORD'], safe='')}" if given["PASSWORD"] else ""
        host = f"{given['HOST'] or '127.0.0.1'}:{given['PORT'] or 5432}"
        # The test kills the worker, not the server: a commit is seen by every session and
        # outlives its client whether or not the server waited for the disk, so the worker
        # need not wait for the disk twice an e-mail (that wait is most of its time here).
        options = quote("-c synchronous_commit=off", safe="")
        name = quote(given["NAME"], safe="")
        yield f"postgres://{user}{password}@{host}/{name}?options={options}"
        return
    assert connection.vendor == "sqlite", f"no way to share a {connection.vendor} database"
    if not DatabaseCreation.is_in_memory_db(given["NAME"]):
        yield f"sqlite:///{given['NAME']}"
        return
    path = tmp_path / "outbox.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(path)
    try:
        connection.connection.backup(copy)
    finally:
        copy.close()
    in_memory = connections[DEFAULT_DB_ALIAS]
    on_file = type(in_memory)({**given, "NAME": str(path)}, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = on_file
    try:
        yield f"sqlite:///{path}"
    finally:
        on_file.close()
        connections[DEFAULT_DB_ALIAS] = in_memory


class Workers:
    """Starts `goodword worker` processes against the test's database and SMTP server; each
    writes its output to a log of its own, shown when the test fails."""

    def __init__(self, database_url: str, smtp_port: int, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "GOODWORD_EVENTS_URL"}}
        self.env = env | {
            "DJANGO_SETTINGS_MODULE": "goodword.settings",
            "DATABASE_URL": database_url,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "GOODWORD_HOME": str(home),  # its own secret key and event store
            "GOODWORD_SCAN_EVERY_MINUTES": "0",
            "DEBUG": "1",
        }
        self.home = home
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.home / f"worker-{len(self.started) + 1}.log"
        command = [sys.executable, "-c", WORKER, "worker"]
        command += ["--interval", INTERVAL, "--lease-seconds", str(LEASE_SECONDS)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=self.env, cwd=settings.BASE_DIR, stdout=out, stderr=subprocess.STDOUT
            )
        self.started.append(process)
        return process

    def log(self) -> str:
        last = len(self.started)
        return (self.home / f"worker-{last}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(database_url: str, inbox: tuple[Inbox, int], tmp_path: Path) -> Iterator[Workers]:
    home = tmp_path / "home"
    home.mkdir()
    running = Workers(database_url, inbox[1], home)
    try:
        yield running
    finally:
        running.stop_all()


def wait_for(
    done: Callable[[], bool],
    deadline: float,
    workers: Workers,
    what: str,
    every: float = 0.01,
    state: Callable[[], object] = lambda: "",
) -> None:
    """Poll `done` every `every` seconds until it holds; fail saying `what` did not happen,
    with `state` at that moment and the worker's log, when the deadline passes or the worker
    exits on its own."""
    until = time.monotonic() + deadline
    while not done():
        process = workers.started[-1]
        if process.poll() is not None:
            pytest.fail(
                f"the worker exited ({process.returncode}) before {what} {state()}\n{workers.log()}"
            )
        if time.monotonic() > until:
            pytest.fail(f"{what} did not happen within {deadline:.0f} s {state()}\n{workers.log()}")
        time.sleep(every)


def statuses() -> dict[str, int]:
    return dict(Counter(Job.objects.values_list("status", flat=True)))


def test_a_worker_killed_again_and_again_loses_no_email_and_duplicates_at_most_one_per_kill(
    inbox: tuple[Inbox, int], workers: Workers
) -> None:
    box = inbox[0]
    rng = random.Random(SEED)
    # Given 1,000 e-mails in the outbox, each to its own recipient with its own subject
    with transaction.atomic():
        for n in range(EMAILS):
            email_enqueue(
                to=[f"person{n:04d}@example.com"], subject=f"Outbox {n:04d}", body_text=f"#{n}"
            )
    jobs = {job.payload["subject"]: job.payload for job in Job.objects.all()}
    assert len(jobs) == EMAILS

    # When a worker is killed with SIGKILL at a random moment while it sends, and another
    # started in its place, again and again
    for kill in range(1, KILLS + 1):
        process = workers.start()
        sent_before = len(box.received)
        target = sent_before + rng.randint(1, 60)
        wait_for(
            lambda: len(box.received) >= target,  # noqa: B023 - called before the loop moves on
            SENDING_DEADLINE,
            workers,
            f"worker {kill} sent {target - sent_before} e-mails",
        )
        time.sleep(rng.uniform(0, 0.05))
        assert statuses().get(JobStatus.DONE, 0) < EMAILS, "the outbox drained before kill"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    # and a last worker runs until nothing is left to send
    last = workers.start()
    wait_for(
        lambda: not Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists(),
        DRAIN_DEADLINE,
        workers,
        "the outbox drained",
        every=0.25,
        state=lambda: f"(jobs by status: {statuses()})",
    )
    last.send_signal(signal.SIGTERM)
    assert last.wait(timeout=30) == 0, workers.log()

    # Then every job is sent, and none is left claimed, leased or pending
    unfinished = [
        (job.pk, job.status, job.lease_until, job.finished_at, job.failure)
        for job in Job.objects.order_by("id")
        if job.status != JobStatus.DONE or job.lease_until is not None or job.finished_at is None
    ]
    assert unfinished == []
    # and each e-mail reached the server at least once, every delivery of it to its recipient
    # with the Message-ID fixed when it was written
    deliveries: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for subject, to, message_id in box.received:
        deliveries[subject].append((to, message_id))
    assert sorted(set(jobs) - set(deliveries)) == [], "e-mails lost"
    assert sorted(set(deliveries) - set(jobs)) == [], "e-mails never written were sent"
    astray = {
        subject: sent
        for subject, sent in deliveries.items()
        if set(sent) != {(jobs[subject]["to"][0], jobs[subject]["message_id"])}
    }
    assert astray == {}
    assert {m for _, _, m in box.received} == {p["message_id"] for p in jobs.values()}
    # and no more e-mails were sent twice than workers were killed
    duplicates = len(box.received) - EMAILS
    assert 0 <= duplicates <= KILLS, f"{duplicates} duplicates for {KILLS} kills"
