"""Helpers of the event-store tests. A generated set of events, the same on every run: ties in time,
properties that are numbers, numeric strings, booleans, nulls, objects or missing, events on
both sides of ISO week and year boundaries and at the first and last microsecond of a UTC
day. Amounts are multiples of 0.25, so every backend sums them exactly."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa

from goodword.signals import store

UTC = dt.UTC
EVENTS = ("report_created", "login", "invoice_paid", "page")
# Around the ISO year 2020/2021 (2020 has a week 53), and 2024/2025 (2024-12-30 is in week 1
# of 2025).
DAYS = (
    [dt.date(2020, 12, 27) + dt.timedelta(days=i) for i in range(10)]
    + [dt.date(2024, 12, 28) + dt.timedelta(days=i) for i in range(5)]
    + [dt.date(2025, 3, 30)]
)
EDGES = (dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 0))


def amount(rng: random.Random) -> Any:
    """A property value: mostly a number, sometimes something that is not one."""
    kind = rng.randrange(10)
    if kind < 5:
        return rng.randrange(-8, 400) / 4
    return [None, "7", True, {"x": 1}, "missing"][kind - 5]


def properties(rng: random.Random) -> str | None:
    if rng.random() < 0.05:
        return None  # no properties at all
    value = amount(rng)
    body: dict[str, Any] = {"plan": rng.choice(["pro", "team"])}
    if value != "missing":
        body["amount"] = value
    return json.dumps(body)


def moment(rng: random.Random) -> dt.datetime:
    day = rng.choice(DAYS)
    if rng.random() < 0.3:
        at = dt.datetime.combine(day, rng.choice(EDGES), tzinfo=UTC)
    else:
        at = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), tzinfo=UTC)
    return at


def rows(n: int = 3000, seed: int = 7) -> list[dict[str, Any]]:
    """n events of accounts 1 to 6 (their pks), each with a distinct message_id in an order
    unrelated to time, and runs of events sharing one timestamp."""
    rng = random.Random(seed)
    ids = rng.sample(range(10**6), n)
    received = dt.datetime(2025, 6, 1, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        account = rng.randrange(1, 7)
        event = rng.choice(EVENTS)
        at = moment(rng)
        # a run of events of one account at one instant: their order is the message_id's
        for _ in range(rng.choice([1, 1, 1, 2, 4])):
            if len(out) == n:
                break
            user = rng.randrange(8)
            out.append(
                {
                    "message_id": f"m{ids[len(out)]:06d}",
                    "account_id": account,
                    "user_id": f"anon:{user}" if user == 7 else f"u{account}-{user}",
                    "event": event,
                    "timestamp": at,
                    "properties": properties(rng),
                    "received_at": received,
                }
            )
    return out


def table(data: list[dict[str, Any]]) -> pa.Table:
    """The rows as the store's columns (properties may be missing: the store says "{}")."""
    loose = pa.schema([f.with_nullable(True) for f in store.SCHEMA])
    return pa.Table.from_pylist(data, schema=loose)


@contextmanager
def held_elsewhere(path: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with the DuckDB file open until the block ends (or stdin closes)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        yield holder
    finally:
        if holder.stdin and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)


DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The PostgreSQL server the session uses (TEST_DATABASE_URL, DATABASE_URL) or the local
    default."""
    for name in ("TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return DEFAULT_SERVER


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}", query=""))


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a database created on the server for the block, dropped after it."""
    admin_url = with_database(server_url(), "postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url(), name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
