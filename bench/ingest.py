"""Event intake benchmark: Segment batches over HTTP into gunicorn, on PostgreSQL and SQLite.

    ./dev bench ingest [--db postgres|sqlite|both] [--seconds 60] [--clients 6] [--workers 2]
                       [--worker-class gthread|sync] [--threads 4] [--batch 100] [--gzip]
                       [--accounts 1000] [--database-url URL] [--profile DIR] [--keep]
                       [--parquet [ROWS]]

For each database it creates a scratch database (PostgreSQL: `goodword_bench_ingest` on the
server of BENCH_DATABASE_URL, created fresh and dropped at the end; SQLite: a file under a
temporary GOODWORD_HOME), runs `goodword migrate`, imports accounts whose external ids the
events name (so every event is placed), creates a write key and starts gunicorn as
`goodword serve` does. Client processes then post /v1/batch for the timed window, each on one
HTTP/1.1 connection (http.client) with request bodies built before the window: 100 track
events each with messageId, userId, event, a few properties, context.groupId, timestamp and
sentAt. It prints events/s, requests/s, p50/p95/p99 latency and errors, checks that the rows
stored (and the ingest log's counts) equal the events acknowledged, and measures the floor in
the same run: the same rows, read back from signals_event, written by COPY (PostgreSQL) or
500-row INSERTs (SQLite) into a fresh copy of the table with the same indexes and foreign key.
Figures go to bench/results/ingest-<db>.json. Targets: 10,000 events/s on PostgreSQL, zero
errors, stored == sent.
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import http.client
import importlib.util
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/"
SCRATCH_DB = "goodword_bench_ingest"
RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 10_000  # events/s on PostgreSQL
# The columns events_ingest writes, in its order.
COLUMNS = (
    "message_id, type, event, user_key, group_id, account_id, properties, timestamp, "
    "received_at, state"
)
PLACEHOLDER = b"#########"  # in each messageId: the client's request number, 9 digits
EVENT_NAMES = (
    "Report Created",
    "Dashboard Viewed",
    "Export Downloaded",
    "Invite Sent",
    "Integration Connected",
    "Alert Configured",
)
LIBRARY = {"name": "analytics-python", "version": "2.3.3"}


# --- the database under test ------------------------------------------------------------


@dataclass
class Target:
    """One database under test: its kind, a scratch GOODWORD_HOME and the server's env."""

    kind: str  # postgres or sqlite
    home: Path
    env: dict[str, str]
    url: str = ""  # PostgreSQL: the scratch database's URL
    admin_url: str = ""  # PostgreSQL: the server's maintenance database

    @property
    def sqlite_path(self) -> Path:
        return self.home / "goodword.sqlite3"


def _pg_urls(server: str) -> tuple[str, str]:
    """(scratch database URL, maintenance database URL) on the server `server` names."""
    parts = urlsplit(server)
    scratch = urlunsplit((parts.scheme, parts.netloc, f"/{SCRATCH_DB}", parts.query, ""))
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    return scratch, admin


def scratch_target(kind: str, server: str) -> Target:
    home = Path(tempfile.mkdtemp(prefix=f"goodword-bench-ingest-{kind}-"))
    env = {
        **os.environ,
        "GOODWORD_HOME": str(home),
        "DEBUG": "0",
        "SECURE_SSL": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    target = Target(kind=kind, home=home, env=env)
    if kind == "postgres":
        import psycopg

        target.url, target.admin_url = _pg_urls(server)
        env["DATABASE_URL"] = target.url
        with psycopg.connect(target.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    return target


def drop_target(target: Target, keep: bool) -> None:
    if keep:
        print(
            f"  kept: GOODWORD_HOME={target.home}"
            + (f" DATABASE_URL={target.url}" * bool(target.url))
        )
        return
    if target.kind == "postgres":
        import psycopg

        with psycopg.connect(target.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
    shutil.rmtree(target.home, ignore_errors=True)


def query(target: Target, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one read on the target, outside Django (each run is a fresh process tree)."""
    if target.kind == "postgres":
        import psycopg

        with psycopg.connect(target.url) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(target.sqlite_path) as lite:
        return lite.execute(sql).fetchall()


def goodword(target: Target, *argv: str) -> str:
    """Run the `goodword` command on the target; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", "from goodword.cli import main; main()", *argv],
        env=target.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"bench: goodword {' '.join(argv)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def account_external_id(index: int) -> str:
    return f"BENCH-ACC-{index:06d}"


def prepare(target: Target, accounts: int) -> str:
    """Migrate, import the accounts the events name, create a write key; returns the key."""
    goodword(target, "migrate")
    path = target.home / "accounts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name"])
        for i in range(accounts):
            writer.writerow([account_external_id(i), f"Bench account {i}"])
    goodword(target, "import", "accounts", str(path), "--quiet")
    # Rate limit far above the benchmark's: the bench measures intake, not the 429 path.
    out = goodword(target, "writekey", "create", "--name", "bench", "--rate-limit", "1000000")
    return out.strip().splitlines()[0]


# --- gunicorn -------------------------------------------------------------------------

PROFILE_CONFIG = """
import cProfile, os
_profile = cProfile.Profile()
def post_fork(server, worker):
    _profile.enable()
def worker_exit(server, worker):
    _profile.disable()
    _profile.dump_stats(os.path.join({directory!r}, f"worker-{{os.getpid()}}.prof"))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(target: Target, args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    """gunicorn with `goodword serve`'s arguments (access log on), plus the worker class."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "goodword.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
        "--worker-class",
        args.worker_class,
    ]
    if args.worker_class == "gthread":
        argv += ["--threads", str(args.threads)]
    argv += args.gunicorn_arg
    if args.profile:
        directory = Path(args.profile).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        config = target.home / "gunicorn-profile.py"
        config.write_text(PROFILE_CONFIG.format(directory=str(directory)))
        argv += ["--config", str(config)]
    log = (target.home / "gunicorn.log").open("wb")
    return subprocess.Popen(argv, env=target.env, cwd=ROOT, stdout=log, stderr=log)


def wait_ready(server: subprocess.Popen[bytes], port: int, auth: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"bench: gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/v1/batch", b'{"batch": []}', _headers(auth, gzipped=False))
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("bench: gunicorn did not answer within a minute")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the clients ----------------------------------------------------------------------


def _headers(auth: str, gzipped: bool) -> dict[str, str]:
    headers = {
        "Authorization": auth,
        "Content-Type": "application/json",
        "User-Agent": "analytics-python/2.3.3",
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def templates(run: str, client: int, accounts: int, batch: int, count: int) -> list[bytes]:
    """`count` different request bodies of `batch` track events, the request number left as
    PLACEHOLDER in each messageId. Users belong to one account each (20 users an account)."""
    rng = random.Random(f"{run}-{client}")
    sent_at = 1_795_000_000.0  # 2026-11-18
    bodies = []
    for t in range(count):
        sent = sent_at + t
        events = []
        for i in range(batch):
            user = rng.randrange(accounts * 20)
            events.append(
                {
                    "type": "track",
                    "messageId": f"{run}-{client:02d}-{PLACEHOLDER.decode()}-{i:03d}",
                    "userId": f"bench-user-{user}",
                    "event": rng.choice(EVENT_NAMES),
                    "properties": {
                        "plan": rng.choice(("free", "team", "business")),
                        "items": rng.randrange(1, 500),
                        "duration_ms": rng.randrange(20, 20_000),
                        "source": rng.choice(("web", "api", "mobile")),
                    },
                    "context": {
                        "groupId": account_external_id(user % accounts),
                        "library": LIBRARY,
                    },
                    "timestamp": _iso(sent - rng.uniform(0, 30)),
                    "sentAt": _iso(sent),
                }
            )
        body = {"batch": events, "sentAt": _iso(sent)}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


@dataclass
class ClientSpec:
    index: int
    port: int
    auth: str
    run: str
    accounts: int
    batch: int
    seconds: float
    gzipped: bool
    gzip_pool: int  # gzip: bodies compressed before the window
    warmup: int


@dataclass
class ClientResult:
    records: list[tuple[float, float, int]] = field(default_factory=list)  # done, ms, status
    acknowledged: int = 0  # events in requests answered 200, warm-up included
    attempted: int = 0
    built_in_window: int = 0  # gzip bodies compressed during the window (pool ran out)


class Bodies:
    """A client's request bodies: request n is template n % len with n in its messageIds;
    with gzip, the first `pool` are compressed before the window."""

    def __init__(self, spec: ClientSpec) -> None:
        self.templates = templates(spec.run, spec.index, spec.accounts, spec.batch, 50)
        self.gzipped = spec.gzipped
        self.pool = [self._make(n) for n in range(spec.gzip_pool if spec.gzipped else 0)]
        self.built = 0

    def _make(self, n: int) -> bytes:
        body = self.templates[n % len(self.templates)].replace(PLACEHOLDER, b"%09d" % n)
        return gzip.compress(body, 6) if self.gzipped else body

    def get(self, n: int) -> bytes:
        if n < len(self.pool):
            return self.pool[n]
        self.built += self.gzipped
        return self._make(n)


def _post(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> int:
    try:
        conn.request("POST", "/v1/batch", body, headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        conn.close()  # the next request opens a new connection
        return 0


def client_main(spec: ClientSpec, ready: Any, go: Any, start: Any, results: Any) -> None:
    bodies = Bodies(spec)
    headers = _headers(spec.auth, spec.gzipped)
    conn = http.client.HTTPConnection("127.0.0.1", spec.port, timeout=120)
    result = ClientResult()
    n = 0
    for n in range(spec.warmup):
        status = _post(conn, bodies.get(n), headers)
        result.attempted += spec.batch
        result.acknowledged += spec.batch if status == 200 else 0
    n = spec.warmup
    ready.wait()
    go.wait()
    began = start.value
    deadline = began + spec.seconds
    time.sleep(max(0.0, began - time.perf_counter()))
    while (sent := time.perf_counter()) < deadline:
        status = _post(conn, bodies.get(n), headers)
        done = time.perf_counter()
        result.records.append((done - began, (done - sent) * 1000, status))
        result.attempted += spec.batch
        result.acknowledged += spec.batch if status == 200 else 0
        n += 1
    conn.close()
    result.built_in_window = bodies.built
    results.put(asdict(result))


def drive(
    args: argparse.Namespace, port: int, auth: str, server: int
) -> tuple[list[ClientResult], dict[str, float]]:
    """Run the clients for the window; their results and where the CPU went meanwhile."""
    context = mp.get_context("spawn")
    ready = context.Barrier(args.clients + 1)
    go = context.Event()
    start = context.Value("d", 0.0)
    results = context.Queue()
    per_client = math.ceil(args.max_rate * args.seconds / args.clients / args.batch)
    run = secrets.token_hex(4)
    processes = []
    for index in range(args.clients):
        spec = ClientSpec(
            index, port, auth, run, args.accounts, args.batch, args.seconds, args.gzip,
            per_client + args.warmup, args.warmup,
        )  # fmt: skip
        process = context.Process(target=client_main, args=(spec, ready, go, start, results))
        process.start()
        processes.append(process)
    ready.wait(timeout=600)
    cpu_before = cpu_snapshot()
    start.value = time.perf_counter() + 0.05
    go.set()
    time.sleep(args.seconds + 0.05)
    mine = {os.getpid(), *(p.pid for p in processes if p.pid)}  # this process and clients
    cpu = cpu_split(cpu_before, cpu_snapshot(), server, mine, args.seconds)
    collected = [ClientResult(**results.get(timeout=300)) for _ in processes]
    for process in processes:
        process.join()
    return collected, cpu


# --- where the CPU went (Linux /proc) -------------------------------------------------


Snapshot = dict[int, tuple[str, int, float]]


def cpu_snapshot() -> Snapshot:
    """pid → (command name, parent pid, CPU seconds of it and of its children it has reaped)
    for every process; pids 0 and -1 hold the machine's idle and I/O-wait seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    found = {0: ("idle", 0, int(first[4]) / tick), -1: ("iowait", 0, int(first[5]) / tick)}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        used = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        found[int(entry.parent.name)] = (name, int(fields[1]), used)
    return found


def _role(pid: int, name: str, parent: int, server: int, clients: set[int]) -> str:
    if pid <= 0:
        return name
    if server in (pid, parent):
        return "gunicorn"
    if pid in clients:
        return "clients"
    return "database" if name.startswith("postgres") else "other"


def cpu_split(
    before: Snapshot, after: Snapshot, server: int, clients: set[int], elapsed: float
) -> dict[str, float]:
    """CPU seconds during the window by role, and the machine's capacity (elapsed times CPUs).
    A process that ended in the window (a database connection past CONN_MAX_AGE, a worker
    restarted) is counted through its parent, which adds its whole time when it reaps it:
    the time it had used before the window is taken off again here."""
    split = dict.fromkeys(("gunicorn", "database", "clients", "other", "idle", "iowait"), 0.0)
    for pid, (name, parent, used) in after.items():
        spent = used - (before[pid][2] if pid in before else 0.0)
        split[_role(pid, name, parent, server, clients)] += spent
    for pid, (name, parent, used) in before.items():
        if pid not in after:
            split[_role(pid, name, parent, server, clients)] -= used
    rounded = {role: round(seconds, 1) for role, seconds in split.items()}
    rounded["capacity"] = round(elapsed * (os.cpu_count() or 1), 1)
    return rounded


# --- figures --------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def intake_figures(clients: list[ClientResult], batch: int, seconds: float) -> dict[str, Any]:
    records = [r for c in clients for r in c.records]
    ok = [r for r in records if r[2] == 200]
    elapsed = max((r[0] for r in records), default=seconds)
    latencies = [r[1] for r in records]
    statuses: dict[str, int] = {}
    for record in records:
        statuses[str(record[2])] = statuses.get(str(record[2]), 0) + 1
    # Sustained: the slowest whole 5-second window of the run, besides the mean.
    windows = [0] * max(1, int(elapsed // 5))
    for done, _, _ in ok:
        if int(done // 5) < len(windows):
            windows[int(done // 5)] += batch
    return {
        "elapsed_s": round(elapsed, 2),
        "requests": len(records),
        "events_per_s": round(len(ok) * batch / elapsed),
        "requests_per_s": round(len(records) / elapsed, 1),
        "slowest_5s_events_per_s": round(min(windows) / 5),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=math.nan), 1),
        "errors": len(records) - len(ok),
        "statuses": statuses,
        "sent": sum(c.acknowledged for c in clients),
        "attempted": sum(c.attempted for c in clients),
        "gzip_bodies_built_in_window": sum(c.built_in_window for c in clients),
    }


def stored_figures(target: Target) -> dict[str, int]:
    (stored,) = query(target, "SELECT count(*) FROM signals_event")[0]
    received, logged = query(
        target, "SELECT coalesce(sum(received), 0), coalesce(sum(stored), 0) FROM signals_ingestlog"
    )[0]
    (held,) = query(target, "SELECT count(*) FROM signals_event WHERE state = 'held'")[0]
    return {
        "stored": int(stored),
        "held": int(held),
        "log_received": int(received),
        "log_stored": int(logged),
    }


# --- the floor: the same rows written by the database's own bulk path --------------------


def floor(target: Target, batch: int) -> dict[str, float]:
    """Events/s of the rows signals_event now holds, copied into a fresh table with the same
    indexes and foreign key: all in one statement stream and transaction ("bulk"), and in
    transactions of `batch` rows from one connection ("per_request")."""
    return (
        floor_postgres(target, batch) if target.kind == "postgres" else floor_sqlite(target, batch)
    )


def floor_postgres(target: Target, batch: int) -> dict[str, float]:
    import psycopg

    with psycopg.connect(target.url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute("CREATE TABLE bench_floor (LIKE signals_event INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_floor ADD FOREIGN KEY (account_id) REFERENCES crm_account (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        data = bytearray()
        with conn.cursor().copy(
            f"COPY (SELECT {COLUMNS} FROM signals_event ORDER BY id) TO STDOUT"
        ) as out:
            for block in out:
                data += block
        conn.commit()
        lines = bytes(data).split(b"\n")[:-1]
        rows = len(lines)
        copy_in = f"COPY bench_floor ({COLUMNS}) FROM STDIN"

        def copy(chunks: list[bytes]) -> float:
            started = time.perf_counter()
            for chunk in chunks:
                with conn.cursor().copy(copy_in) as into:
                    into.write(chunk)
                conn.commit()
            return rows / (time.perf_counter() - started)

        bulk = copy([bytes(data)])
        conn.execute("TRUNCATE bench_floor")
        conn.commit()
        per_request = copy(
            [b"\n".join(lines[i : i + batch]) + b"\n" for i in range(0, rows, batch)]
        )
        conn.execute("DROP TABLE bench_floor")
        conn.commit()
    return {
        "rows": rows,
        "bulk_events_per_s": round(bulk),
        "per_request_events_per_s": round(per_request),
    }


def _sqlite_floor_schema(lite: sqlite3.Connection) -> None:
    """bench_floor: signals_event's table and index definitions, renamed."""
    lite.execute("DROP TABLE IF EXISTS bench_floor")
    definitions = lite.execute(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'signals_event' AND sql IS NOT NULL "
        "ORDER BY type = 'index'"
    ).fetchall()
    for kind, sql in definitions:
        if kind == "index":
            sql = re.sub(r'INDEX "([^"]+)"', r'INDEX "bench_floor__\1"', sql)
        lite.execute(sql.replace('"signals_event"', '"bench_floor"'))


def floor_sqlite(target: Target, batch: int) -> dict[str, float]:
    lite = sqlite3.connect(target.sqlite_path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=NORMAL")
    lite.execute("PRAGMA foreign_keys=ON")
    rows = lite.execute(f"SELECT {COLUMNS} FROM signals_event ORDER BY id").fetchall()
    width = len(rows[0])

    def insert(transaction_rows: int) -> float:
        _sqlite_floor_schema(lite)
        started = time.perf_counter()
        for start in range(0, len(rows), transaction_rows):
            lite.execute("BEGIN IMMEDIATE")
            for part in _chunks(rows[start : start + transaction_rows], 500):
                marks = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(part))
                lite.execute(
                    f"INSERT INTO bench_floor ({COLUMNS}) VALUES {marks}",
                    [v for row in part for v in row],
                )
            lite.execute("COMMIT")
        return len(rows) / (time.perf_counter() - started)

    bulk = insert(len(rows))
    per_request = insert(batch)
    lite.execute("DROP TABLE bench_floor")
    lite.close()
    return {
        "rows": len(rows),
        "bulk_events_per_s": round(bulk),
        "per_request_events_per_s": round(per_request),
    }


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- hook: bulk import of a Parquet file (goodword.signals.eventsimport) ------------------
# The issue also asks for "the bulk import rate of a 10-million-row Parquet file and its peak
# memory". `--parquet [ROWS]` writes such a file (the importer's columns: message_id,
# account_external_id, user_id, event, timestamp, properties) and times `import_events` on it
# in a child process, whose peak RSS the kernel reports. Skipped when the module is missing.


def write_parquet(path: Path, rows: int, accounts: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("message_id", pa.string()),
            ("account_external_id", pa.string()),
            ("user_id", pa.string()),
            ("event", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("properties", pa.string()),
        ]
    )
    rng = random.Random(3)
    chunk = 500_000
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            users = [rng.randrange(accounts * 20) for _ in range(min(chunk, rows - start))]
            columns = {
                "message_id": [f"pq-{start + i}" for i in range(len(users))],
                "account_external_id": [account_external_id(u % accounts) for u in users],
                "user_id": [f"bench-user-{u}" for u in users],
                "event": [EVENT_NAMES[u % len(EVENT_NAMES)] for u in users],
                "timestamp": [
                    1_795_000_000_000_000 + (start + i) * 1000 for i in range(len(users))
                ],
                "properties": [f'{{"items":{u % 500},"source":"web"}}' for u in users],
            }
            writer.write_table(pa.table(columns, schema=schema))


IMPORT_CODE = """
import json, sys
from goodword.cli import setup_django
setup_django()
from goodword.crm.io.report import ImportRefused
from goodword.signals.eventsimport import import_events
try:
    report = import_events(sys.argv[1])
except ImportRefused as exc:
    report = exc.report
print(json.dumps({"rows": report.rows, "created": report.created,
                  "unchanged": report.unchanged, "refused": report.refused,
                  "errors": report.errors[:5]}))
"""


def parquet_step(target: Target, rows: int, accounts: int) -> dict[str, Any] | None:
    if importlib.util.find_spec("goodword.signals.eventsimport") is None:
        print("  parquet import: not available (goodword.signals.eventsimport does not exist)")
        return None
    path = target.home / "events.parquet"
    started = time.perf_counter()
    write_parquet(path, rows, accounts)
    size = path.stat().st_size / 1e6
    print(
        f"  parquet: wrote {rows:,} rows ({size:,.0f} MB) in {time.perf_counter() - started:.0f} s"
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", IMPORT_CODE, str(path)],
        env=target.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    lines = output.decode().strip().splitlines()
    report = json.loads(lines[-1]) if process.returncode == 0 and lines else {}
    figures = {
        "rows": rows,
        "file_mb": round(size),
        "report": report,
        "exit_code": process.returncode,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(report.get("created", 0) / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # Linux reports KiB
    }
    print(
        f"  parquet import: {report.get('created', 0):,} of {rows:,} rows created in "
        f"{elapsed:.0f} s, {figures['rows_per_s']:,} rows/s, peak RSS "
        f"{figures['peak_rss_mb']:,} MB"
        + (f" (exit {process.returncode})" * bool(process.returncode))
    )
    return figures


# --- one database, start to end ---------------------------------------------------------


def print_profile(directory: str) -> None:
    files = sorted(Path(directory).glob("worker-*.prof"))
    if not files:
        return
    stats = pstats.Stats(*[str(f) for f in files])
    print(f"\n  cProfile of {len(files)} worker(s), by own time (files in {directory}):")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def bench_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n{kind}: preparing a scratch database with {args.accounts:,} accounts")
    target = scratch_target(kind, args.database_url)
    server = None
    try:
        key = prepare(target, args.accounts)
        auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        port = free_port()
        server = serve(target, args, port)
        wait_ready(server, port, auth)
        load_before = os.getloadavg()
        print(
            f"{kind}: {args.clients} clients, {args.batch}-event batches for {args.seconds:g} s "
            f"into gunicorn ({args.workers} {args.worker_class} workers"
            + (f" with {args.threads} threads" if args.worker_class == "gthread" else "")
            + f"); load average {load_before[0]:.2f}"
        )
        clients, cpu = drive(args, port, auth, server.pid)
        load_after = os.getloadavg()
        stop(server)
        if args.profile:
            print_profile(args.profile)
        figures = intake_figures(clients, args.batch, args.seconds)
        figures["cpu_seconds"] = cpu
        figures.update(stored_figures(target))
        print(f"{kind}: measuring the floor on {figures['stored']:,} rows")
        floor_figures = floor(target, args.batch)
        parquet = parquet_step(target, args.parquet, args.accounts) if args.parquet else None
        version = _version(target)
    finally:
        if server is not None:
            stop(server)
        drop_target(target, args.keep)
    return {
        "database": kind,
        "database_version": version,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": {"before": load_before[0], "after": load_after[0]},
        "config": {
            "seconds": args.seconds,
            "clients": args.clients,
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads if args.worker_class == "gthread" else 1,
            "batch": args.batch,
            "gzip": args.gzip,
            "accounts": args.accounts,
            "gunicorn_args": args.gunicorn_arg,
            "profiled": bool(args.profile),
        },
        "intake": figures,
        "floor": floor_figures,
        "intake_over_floor": round(figures["events_per_s"] / floor_figures["bulk_events_per_s"], 3),
        "intake_over_per_request_floor": round(
            figures["events_per_s"] / floor_figures["per_request_events_per_s"], 3
        ),
        "parquet_import": parquet,
    }


def _version(target: Target) -> str:
    if target.kind == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return f"PostgreSQL {query(target, 'SHOW server_version')[0][0]}"


def _commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


def checks(result: dict[str, Any]) -> list[tuple[str, bool]]:
    intake = result["intake"]
    found = [
        ("zero errors", intake["errors"] == 0),
        ("stored == sent", intake["stored"] == intake["sent"]),
        ("ingest log == sent", intake["log_received"] == intake["log_stored"] == intake["sent"]),
    ]
    if result["database"] == "postgres":
        found.append((f"≥ {TARGET_RATE:,} events/s", intake["events_per_s"] >= TARGET_RATE))
    return found


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"\n{'database':<9} {'events/s':>9} {'slowest 5s':>10} {'req/s':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'stored=sent':>11} {'floor ev/s':>10} "
        f"{'ratio':>6} {'floor/100':>9} {'ratio':>6}"
    )
    for r in results:
        i, f = r["intake"], r["floor"]
        print(
            f"{r['database']:<9} {i['events_per_s']:>9,} {i['slowest_5s_events_per_s']:>10,} "
            f"{i['requests_per_s']:>7} {i['p50_ms']:>7} {i['p95_ms']:>7} {i['p99_ms']:>7} "
            f"{i['errors']:>6} {i['stored'] == i['sent']!s:>11} "
            f"{f['bulk_events_per_s']:>10,} {r['intake_over_floor']:>6} "
            f"{f['per_request_events_per_s']:>9,} {r['intake_over_per_request_floor']:>6}"
        )
    print(
        "floor: the same rows by COPY (PostgreSQL) / 500-row INSERTs (SQLite) in one transaction; "
        "floor/100: in 100-row transactions from one connection"
    )
    for r in results:
        failed = [name for name, ok in checks(r) if not ok]
        i = r["intake"]
        print(
            f"{r['database']}: sent {i['sent']:,}, stored {i['stored']:,} (held {i['held']:,}), "
            f"ingest log {i['log_received']:,}; "
            + ("all checks met" if not failed else "MISSED: " + ", ".join(failed))
        )
        cpu = i["cpu_seconds"]
        print(
            f"  CPU seconds in the window: gunicorn {cpu['gunicorn']}, database "
            f"{cpu['database']}, clients {cpu['clients']}, other processes {cpu['other']}, "
            f"idle {cpu['idle']}, I/O wait {cpu['iowait']} (of {cpu['capacity']}); load average "
            f"{r['load_average']['before']:.2f} before"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    # The best of those measured on 2 cores (README): 2 gthread workers of 4 threads, 6 clients.
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="gthread: threads per worker")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--gzip", action="store_true", help="gzip the bodies, as RudderStack")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=3, help="requests per client before")
    parser.add_argument(
        "--max-rate", type=int, default=30_000, help="gzip: events/s the pre-built bodies cover"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help=f"the PostgreSQL server (its database name is ignored: {SCRATCH_DB} is used)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="cProfile each worker into DIR (uses sync workers)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--gunicorn-arg", action="append", default=[], metavar="ARG", help="passed to gunicorn"
    )
    parser.add_argument(
        "--parquet",
        type=int,
        nargs="?",
        const=10_000_000,
        default=0,
        metavar="ROWS",
        help="also time goodword.signals.eventsimport on a Parquet file (default 10,000,000 rows)",
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.worker_class = "sync"  # cProfile sees one thread: the sync worker's only one
    kinds = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    results = [bench_one(kind, args) for kind in kinds]
    RESULTS.mkdir(exist_ok=True)
    for result in results:
        path = RESULTS / f"ingest-{result['database']}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
    print_table(results)
    print(f"figures written to {RESULTS.relative_to(ROOT)}/ingest-<db>.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
