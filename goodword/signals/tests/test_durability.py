"""An event acknowledged with 200 survives `kill -9` of the server right after the response.

A real gunicorn (master and one worker, as `goodword serve` runs it) in its own process group,
with its own GOODWORD_HOME and its own database: a SQLite file under that home, or a database
created for this test on the PostgreSQL server the session uses. The test holds the listening
socket and hands it to each gunicorn it starts (`--bind fd://N`), so no other process can take
the port between restarts and a request sent while gunicorn boots waits in the backlog.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

ROUNDS = 4  # server lives: each takes one batch and is killed right after answering it
BATCH = 40  # new events a round
REPEATS = 5  # events of the round before, sent again
START_DEADLINE = 60.0  # seconds for gunicorn to answer: generous for a loaded 2-core machine

GUNICORN = (sys.executable, "-m", "gunicorn", "goodword.wsgi:application")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Home:
    """A Goodword install of its own: the environment its processes run with."""

    path: Path
    env: dict[str, str]
    database: str  # the SQLite file, or the PostgreSQL database's name

    def run(self, *args: str) -> str:
        """`goodword <args>` in this install; its stdout. Fails the test with its stderr."""
        done = subprocess.run(
            [str(Path(sys.executable).with_name("goodword")), *args],
            env=self.env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"goodword {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout


def _postgres_params() -> dict[str, Any]:
    given = connection.settings_dict
    return {
        "host": given["HOST"] or None,
        "port": given["PORT"] or None,
        "user": given["USER"] or None,
        "password": given["PASSWORD"] or None,
    }


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    """A fresh install, migrated; on PostgreSQL its database is dropped afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "GOODWORD_HOME": str(tmp_path / "home"),
        "DJANGO_SETTINGS_MODULE": "goodword.settings",
        # whatever the session's environment says: a generated secret key, this host allowed
        "DEBUG": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    if connection.vendor != "postgresql":
        install = Home(tmp_path, env, str(tmp_path / "home" / "goodword.sqlite3"))
        install.run("migrate")
        yield install
        return
    params = _postgres_params()
    name = f"goodword_kill9_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = quote(params["user"] or "", safe="")
    password = f":{quote(params['password'], safe='')}" if params["password"] else ""
    host = f"{params['host'] or '127.0.0.1'}:{params['port'] or 5432}"
    env["DATABASE_URL"] = f"postgres://{user}{password}@{host}/{name}"
    try:
        install = Home(tmp_path, env, name)
        install.run("migrate")
        yield install
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored_ids(home: Home) -> set[str]:
    """The message ids in the install's database, read directly, with no server running."""
    query = "SELECT message_id FROM signals_event"
    if connection.vendor == "postgresql":
        with psycopg.connect(dbname=home.database, **_postgres_params()) as db:
            return {row[0] for row in db.execute(query)}
    lite = sqlite3.connect(home.database)
    try:
        return {row[0] for row in lite.execute(query)}
    finally:
        lite.close()


class Server:
    """gunicorn on a listening socket the test owns, started and killed as a process group."""

    def __init__(self, home: Home, listener: socket.socket) -> None:
        self.home = home
        self.listener = listener
        self.port = listener.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None
        self.lives = 0

    def start(self) -> None:
        self.lives += 1
        self.stderr = self.home.path / f"gunicorn-{self.lives}.log"
        fd = self.listener.fileno()
        with self.stderr.open("wb") as log:
            self.process = subprocess.Popen(
                [*GUNICORN, "--bind", f"fd://{fd}", "--workers", "1", "--graceful-timeout", "1"],
                env=self.home.env,
                cwd=settings.BASE_DIR,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=(fd,),
                start_new_session=True,  # its own process group: one kill reaches the worker
            )
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                status, _ = self.request("GET", "/v1/batch", b"", {}, timeout=2)
            except OSError:
                continue  # still booting: the request waited in the backlog, or was cut
            assert status == 405, f"GET /v1/batch answered {status}:\n{self.log()}"
            return
        pytest.fail(f"gunicorn did not answer within {START_DEADLINE} s:\n{self.log()}")

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float = 30
    ) -> tuple[int, bytes]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            client.request(method, path, body=body, headers=headers)
            answer = client.getresponse()
            return answer.status, answer.read()
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL to master and worker at once: no shutdown code of theirs runs."""
        assert self.process is not None
        # The group even when the master is gone: an orphaned worker would still serve.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        # A surviving worker would go on serving the socket it shares with the next server.
        deadline = time.monotonic() + 10
        while running_in_group(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running_in_group(self.process.pid), "a gunicorn process outlived SIGKILL"

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")[-4000:]


def running_in_group(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (Linux /proc; elsewhere nothing is known)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it ended while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def server(home: Home) -> Iterator[Server]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # the kernel picks a free port; held for the test
    listener.listen(64)
    running = Server(home, listener)
    try:
        yield running
    finally:
        if running.process is not None:
            running.kill()
        listener.close()


def batch_body(ids: list[str], compress: bool) -> tuple[bytes, dict[str, str]]:
    events = [
        {"type": "track", "messageId": i, "userId": "u1", "event": "report_created"} for i in ids
    ]
    body = json.dumps({"batch": events}).encode()
    headers = {"Content-Type": "application/json"}
    if compress:
        return gzip.compress(body), headers | {"Content-Encoding": "gzip"}
    return body, headers


def test_events_acknowledged_with_200_survive_kill_9_right_after_the_answer(
    home: Home, server: Server
) -> None:
    # given a write key made with the CLI in this install
    key = home.run("writekey", "create", "--name", "kill -9").splitlines()[0]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    acknowledged: set[str] = set()
    previous: list[str] = []
    for life in range(ROUNDS):
        # when a batch (new events plus repeats of the last one) is answered 200 and the
        # server is killed the moment the answer is read
        server.start()
        ids = [f"life{life}-{n}" for n in range(BATCH)] + previous[:REPEATS]
        body, headers = batch_body(ids, compress=life % 2 == 1)
        status, answer = server.request("POST", "/v1/batch", body, headers | auth)
        server.kill()
        assert status == 200, f"{status} {answer!r}\n{server.log()}"
        acknowledged.update(ids)
        # then the repeats were found in the database the killed server had written
        expected = {"success": True, "stored": BATCH, "duplicates": len(previous[:REPEATS])}
        assert json.loads(answer) == expected
        previous = ids
    # then, with no server running, every acknowledged event is in the database, once
    assert len(acknowledged) == ROUNDS * BATCH
    assert stored_ids(home) == acknowledged
