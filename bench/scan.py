"""Moment scan benchmark: the programme's rules over generated usage events, against
hand-written DuckDB SQL and pandas computing the same moments in the same run.

    ./dev bench scan [--accounts 100000] [--events 100000000] [--seed 1]
                     [--small-events 10000000] [--pandas-events N] [--memory-limit SIZE]
                     [--threads N] [--skip-pandas] [--skip-postgres] [--skip-spark]
                     [--skip-incremental] [--repeat 3] [--pg-url URL]

The data (bench/scan_data.py, cached under bench/data/scan/ by size and seed): N accounts,
events of five names over two years in Parquet, goals for 10% of the accounts, and 1% more
events for the incremental scan (5% of them late, in 1% of the accounts). Each data set is
loaded once into a DuckDB store with `Store.append_file`, and a template SQLite database is
made from it (migrated; an owner, the accounts with a contact each, the goals, and EventWeek
for the weeks health reads); both are cached beside the data. The programme: three milestone
rules (two counts, one sum), a surge rule over any event, and the goal rule.

Every step runs in a child process of its own, on copies under bench/data/scan/run/, and
reports its own peak RSS (VmHWM, see _peak_mb):

  full scan     `scan_run(full=True, now=NOW, programme=…)` end to end; the time inside the
                detect functions (the queries, Arrow results included), the moments write
                (`scan._finish`) and the asks (`asks_queue`) are timed by wrapping those
                functions; "detection" is the scan less the write and the asks.
  SQL           one hand-written DuckDB query per rule on the same file, same memory_limit
                and threads; its moments must equal the scan's (account, rule, key,
                occurred_at), or the benchmark stops. The full scan and the SQL take
                turns --repeat times (3), each scan on a fresh copy, and the turn with the
                median whole-scan ratio is reported, every turn listed: on a VM whose speed
                drifts, the SQL took 46 to 57 s within one day.
  pandas        the same rules in pandas from the Parquet file (at --pandas-events, the
                full size by default; below it, compared with the scan at that size).
  incremental   1% new events appended with `append_file`, then `scan_run()`; its live
                moments must equal hand-written SQL's full recompute over the grown store.
  PostgreSQL, PySpark  the full scan at --small-events (the store on the PostgreSQL database
                `goodword_bench_scan`, kept for reruns; Spark reading the Parquet file in
                place), against the DuckDB scan of the same data; moments must be equal.

Figures go to bench/results/scan-<time>.json. Targets: the whole scan (writing the moments
and queuing the asks included) and its detection alone each at most 1.3× the SQL, peak
memory under 2 GB, the incremental scan under 10% of the full one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from bench.scan_data import DATA, LATER, NOW, DataSet, ensure

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
RUN = DATA / "run"
PG_DB = "goodword_bench_scan"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/"
MARK = "@@bench-result "
TEMPLATE = 2  # the template database's make: a new one rebuilds it
TARGET_RATIO = 1.3
TARGET_PEAK_MB = 2048
TARGET_INCREMENTAL = 0.10
PROGRAMME = """
rules:
  - {id: reports, kind: milestone, event: report_created, measure: count, thresholds: [100, 1000, 10000], weight: 30}
  - {id: invites, kind: milestone, event: user_invited, measure: count, thresholds: [10, 50], weight: 20}
  - {id: hours-saved, kind: milestone, event: automation_run, measure: "sum:minutes_saved", thresholds: [600, 6000], weight: 40}
  - {id: wau-surge, kind: surge, event: null, ratio: 1.5, min_users: 5, weight: 20}
  - {id: goals, kind: goal, weight: 50}
"""  # noqa: E501
SPARK_OPTIONS = {
    "spark.driver.memory": "6g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
}


# --- child processes ----------------------------------------------------------------------


class StepFailed(SystemExit):
    """A child process exited with an error (or was killed, e.g. out of memory)."""


@dataclass
class Child:
    result: dict[str, Any]
    seconds: float


def child(task: str, params: dict[str, Any], env: dict[str, str]) -> Child:
    """Run one step in a fresh Python process; its printed lines are shown as they come."""
    main = "import sys; from bench.scan import child_main; sys.exit(child_main(sys.argv[1:]))"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", main, task, json.dumps(params)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    result: dict[str, Any] = {}
    shown = -1
    for line in process.stdout:
        if line.startswith(MARK):
            result = json.loads(line[len(MARK) :])
        elif "▕" in line:  # DuckDB's progress bar: every tenth percent once
            percent = line.split("%")[0].strip()
            if percent.isdigit() and int(percent) // 10 != shown:
                shown = int(percent) // 10
                print(f"    {percent}%", flush=True)
        elif line.strip():
            print(f"    {line.rstrip()}", flush=True)
    if code := process.wait():
        raise StepFailed(f"bench scan: the {task} step failed (exit {code})")
    return Child(result, round(time.perf_counter() - started, 1))


def child_env(home: Path, *, events_url: str, database: Path | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "GOODWORD_HOME": str(home),
        "GOODWORD_EVENTS_URL": events_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    if database is not None:
        env["DATABASE_URL"] = f"sqlite:///{database}"
    return env


def child_main(argv: list[str]) -> int:
    task, params = argv[0], json.loads(argv[1])
    started = time.perf_counter()
    out = TASKS[task](params)
    out.setdefault("seconds", round(time.perf_counter() - started, 2))
    print(MARK + json.dumps(out), flush=True)
    return 0


def _peak_mb() -> int:
    """This process's peak RSS so far. VmHWM, not ru_maxrss: Linux starts a child's
    ru_maxrss at its parent's, so a parent that once grew would show in every step."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goodword.settings")
    import django

    django.setup()


def _programme() -> Any:
    from goodword.engine.rules import parse_programme

    return parse_programme(PROGRAMME)


# --- child: the template database and the DuckDB store -------------------------------------


def task_generate(p: dict[str, Any]) -> dict[str, Any]:
    return ensure(DataSet(**p["data"]), say=lambda text: print(text, flush=True))


def task_load(p: dict[str, Any]) -> dict[str, Any]:
    """Load the data set's events into the configured store with append_file."""
    from goodword.signals import store

    started = time.perf_counter()
    with store.connect(_events_config()) as opened:
        weeks = opened.append_file(Path(p["path"]), received_at=dt.datetime.fromisoformat(p["at"]))
    seconds = time.perf_counter() - started
    added = sum(weeks.values())
    print(f"loaded {added:,} events in {seconds:.0f} s")
    return {"rows": added, "load_seconds": round(seconds, 1), "load_peak_mb": _peak_mb()}


def _events_config() -> Any:
    from goodword.config import events_config

    return events_config(os.environ["GOODWORD_EVENTS_URL"], Path(os.environ["GOODWORD_HOME"]))


def task_template(p: dict[str, Any]) -> dict[str, Any]:
    """Migrate the template database; add an owner, the accounts (customers, one contact
    each), the goals, and EventWeek for the weeks health reads, counted from the store."""
    _setup_django()
    import pyarrow.parquet as pq
    from django.core.management import call_command

    data = DataSet(**p["data"])
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    _accounts_and_goals(data, pq.read_table(data.accounts_path), pq.read_table(data.goals_path))
    _eventweeks(Path(p["store"]))
    _checkpoint()
    return {"template_seconds": round(time.perf_counter() - started, 1)}


def _accounts_and_goals(data: DataSet, accounts: Any, goals: Any) -> None:
    from decimal import Decimal

    from django.db import transaction

    from goodword.crm.models import Account, Contact, Lifecycle
    from goodword.signals.models import Goal
    from goodword.users.models import User

    with transaction.atomic():
        owner = User.objects.create_user("owner@bench.example", first_name="Bench")
        rows = [
            Account(
                id=account_id,
                external_id=f"BENCH-{account_id:07d}",
                name=f"Bench account {account_id}",
                lifecycle=Lifecycle.CUSTOMER,
                customer_since=since,
                owner=owner,
                created_at=NOW,
                updated_at=NOW,
            )
            for account_id, since in zip(
                accounts["account_id"].to_pylist(),
                accounts["customer_since"].to_pylist(),
                strict=True,
            )
        ]
        Account.objects.bulk_create(rows, batch_size=2000)
        Contact.objects.bulk_create(
            [
                Contact(
                    account_id=a.id,
                    first_name="Alex",
                    last_name=f"Bench{a.id}",
                    email=f"alex{a.id}@bench.example",
                    created_at=NOW,
                    updated_at=NOW,
                )
                for a in rows
            ],
            batch_size=2000,
        )
        Goal.objects.bulk_create(
            [
                Goal(
                    id=g["goal_id"],
                    external_id=f"BENCH-GOAL-{g['goal_id']}",
                    account_id=g["account_id"],
                    name=f"{g['measure']} of {g['event']} to {g['target']:g}",
                    event=g["event"],
                    measure=g["measure"],
                    target=Decimal(str(g["target"])),
                    starts_at=g["starts_at"],
                    imported_at=NOW,
                )
                for g in goals.to_pylist()
            ],
            batch_size=2000,
        )
    print(f"{len(rows):,} accounts (a contact each), {goals.num_rows:,} goals for {data.key}")


def _checkpoint() -> None:
    """Fold SQLite's WAL into the file, which is copied as the template."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _eventweeks(store_path: Path) -> None:
    """EventWeek for the weeks health reads (the 12 before NOW's, and NOW's), counted from
    the store as the import would have (it writes every week; older ones only feed charts)."""
    import duckdb
    from django.db import transaction

    from bench.scan_baselines import MONDAY_US, WEEK_US
    from goodword.signals.moving import eventweek_add

    since = NOW.date() - dt.timedelta(days=NOW.weekday(), weeks=12)
    con = duckdb.connect(str(store_path), read_only=True)
    rows = con.execute(
        f"SELECT account_id, (epoch_us(timestamp) - {MONDAY_US}) // {WEEK_US}, count(*) "
        "FROM events WHERE timestamp >= $since GROUP BY ALL",
        {"since": dt.datetime.combine(since, dt.time(), dt.UTC)},
    ).fetchall()
    con.close()
    monday = dt.date(1970, 1, 5)
    weeks = {(a, monday + dt.timedelta(weeks=w)): n for a, w, n in rows}
    with transaction.atomic():
        eventweek_add(weeks=weeks)


# --- child: a scan ---------------------------------------------------------------------------

DETECT = (
    "milestone",
    "late_accounts",
    "count_rows",
    "goals",
    "goal_late",
    "first_events",
    "touched_weeks",
    "accounts_active",
    "surges",
)


def _wrap(module: Any, name: str, spent: dict[str, float], bucket: str) -> None:
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            took = time.perf_counter() - started
            spent[bucket] = spent.get(bucket, 0.0) + took
            spent[f"{bucket}.{name}"] = spent.get(f"{bucket}.{name}", 0.0) + took

    setattr(module, name, timed)


def task_scan(p: dict[str, Any]) -> dict[str, Any]:
    """scan_run with the detect functions, the write and the asks timed; the live moments
    afterwards go to a Parquet file."""
    _setup_django()
    from goodword.moments import asks, detect, facts, services
    from goodword.moments import scan as scanning
    from goodword.signals import store

    spent: dict[str, float] = {}
    for name in DETECT:
        _wrap(detect, name, spent, "queries")
    _wrap(scanning, "_finish", spent, "write")
    _wrap(asks, "asks_queue", spent, "asks")
    # Parts of the write and the asks, to say where their time goes.
    _wrap(services, "_stored", spent, "parts")
    _wrap(services, "_insert", spent, "parts")
    _wrap(services, "_update", spent, "parts")
    _wrap(scanning.State, "to_parquet", spent, "parts")
    _wrap(scanning.State, "from_parquet", spent, "parts")
    _wrap(facts, "moments_by_account", spent, "parts")
    _wrap(asks, "ready_moments", spent, "parts")
    _wrap(asks, "gather", spent, "parts")
    _wrap(asks, "ask_create", spent, "parts")
    _wrap(scanning, "statistics_refresh", spent, "parts")
    _wrap(store, "_spark_session", spent, "spark_session")
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()

    def say(text: str) -> None:
        marks.append((time.perf_counter() - started, text))
        print(f"{marks[-1][0]:7.1f} s  {text}", flush=True)

    programme = _programme()
    scan = scanning.scan_run(
        full=p["full"], now=dt.datetime.fromisoformat(p["now"]), programme=programme, say=say
    )
    total = time.perf_counter() - started
    peak = _peak_mb()
    if scan.status != "done" or scan.errors:
        hint = (
            " (DuckDB: try a higher --memory-limit)" if "Out of Memory" in str(scan.errors) else ""
        )
        raise SystemExit(f"the scan ended {scan.status} with errors{hint}: {scan.errors}")
    rules, last = {}, None
    for at, text in marks:
        if text.startswith("rule "):
            rules[text.split()[1].rstrip(":")] = round(at - (last or 0.0), 2)
        if text.startswith(("reading", "rule ")):
            last = at
    moments = _export_moments(Path(p["out"]))
    detection = total - spent.get("write", 0.0) - spent.get("asks", 0.0)
    return {
        "scan_seconds": round(total, 2),
        "detection_seconds": round(detection, 2),
        "query_seconds": round(spent.get("queries", 0.0), 2),
        "write_seconds": round(spent.get("write", 0.0), 2),
        "asks_seconds": round(spent.get("asks", 0.0), 2),
        "spark_session_seconds": round(spent.get("spark_session", 0.0), 2) or None,
        "rule_seconds": rules,
        "query_seconds_by_function": {
            k.split(".", 1)[1]: round(v, 2) for k, v in spent.items() if k.startswith("queries.")
        },
        "part_seconds": {
            k.split(".", 1)[1]: round(v, 2) for k, v in spent.items() if k.startswith("parts.")
        },
        "peak_mb": peak,
        "events_read": scan.events_read,
        "mode": scan.mode,
        "moments": scan.moments,
        "full_rules": scan.full_rules,
        "asks_created": scan.asks_created,
        "blocked": scan.blocked,
        "live_moments": moments,
    }


def _export_moments(path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.scan_baselines import MOMENTS
    from goodword.moments.models import Moment

    rows = Moment.objects.filter(retracted_at__isnull=True).values_list(
        "account_id", "rule_id", "key", "occurred_at"
    )
    columns: list[list[Any]] = [[], [], [], []]
    for account_id, rule_id, key, at in rows.iterator(chunk_size=20_000):
        columns[0].append(account_id)
        columns[1].append(rule_id)
        columns[2].append(key)
        columns[3].append(round(at.timestamp() * 1_000_000))
    pq.write_table(pa.table(columns, schema=MOMENTS), path)
    return len(columns[0])


# --- children: the baselines, an append ------------------------------------------------------


def _duckdb_options(p: dict[str, Any]) -> dict[str, Any]:
    from goodword.signals.store import DUCKDB_DEFAULTS

    options: dict[str, Any] = dict(DUCKDB_DEFAULTS)
    if p.get("memory_limit"):
        options["memory_limit"] = p["memory_limit"]
    if p.get("threads"):
        options["threads"] = int(p["threads"])
    return options


def task_sql(p: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    import pyarrow.parquet as pq

    from bench.scan_baselines import sql_moments

    con = duckdb.connect(p["store"], read_only=True, config=_duckdb_options(p))
    upto = con.execute("SELECT coalesce(max(id), 0) FROM batches").fetchone()[0]
    started = time.perf_counter()
    moments, rules = sql_moments(
        con,
        _programme(),
        goals=pq.read_table(p["goals"]),
        now=dt.datetime.fromisoformat(p["now"]),
        upto=upto,
    )
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    con.close()
    pq.write_table(moments, p["out"])
    return {"seconds": round(seconds, 2), "rule_seconds": rules, "peak_mb": peak}


def task_pandas(p: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from bench.scan_baselines import pandas_moments

    started = time.perf_counter()
    moments, rules = pandas_moments(
        Path(p["events"]),
        _programme(),
        goals=pq.read_table(p["goals"]),
        now=dt.datetime.fromisoformat(p["now"]),
    )
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    pq.write_table(moments, p["out"])
    return {"seconds": round(seconds, 2), "rule_seconds": rules, "peak_mb": peak}


def task_append(p: dict[str, Any]) -> dict[str, Any]:
    """Append a file to the configured store (and EventWeek), as an import does."""
    _setup_django()
    from django.db import transaction

    from goodword.signals import store
    from goodword.signals.moving import eventweek_add

    started = time.perf_counter()
    with store.connect() as opened:
        weeks = opened.append_file(Path(p["path"]), received_at=dt.datetime.fromisoformat(p["at"]))
    seconds = time.perf_counter() - started
    if p.get("eventweeks", True):
        with transaction.atomic():
            eventweek_add(weeks=weeks)
    return {"seconds": round(seconds, 2), "added": sum(weeks.values()), "peak_mb": _peak_mb()}


TASKS = {
    "generate": task_generate,
    "load": task_load,
    "template": task_template,
    "scan": task_scan,
    "sql": task_sql,
    "pandas": task_pandas,
    "append": task_append,
}


# --- the steps, in the parent --------------------------------------------------------------


@dataclass
class Setup:
    """One data set, generated, with its template database and DuckDB store."""

    data: DataSet
    generated: dict[str, Any] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> Path:
        return self.data.folder / "template.sqlite3"

    @property
    def store(self) -> Path:
        return self.data.folder / "store.duckdb"


def duckdb_url(path: Path, args: argparse.Namespace) -> str:
    options = {"memory_limit": args.memory_limit, "threads": args.threads}
    query = "&".join(f"{k}={v}" for k, v in options.items() if v)
    return f"duckdb://{path}" + (f"?{query}" if query else "")


def prepare(data: DataSet, args: argparse.Namespace) -> Setup:
    setup = Setup(data)
    print(f"\ndata {data.key}: {data.accounts:,} accounts, {data.events:,} events")
    before = data.done_path.exists()
    if not before:  # in a child, so this process stays small (see _peak_mb)
        child("generate", {"data": vars_of(data)}, child_env(RUN, events_url=""))
    setup.generated = ensure(data)
    print(
        f"  {'reused' if before else 'generated'}: {data.events_path} "
        f"({setup.generated['events_mb']:,} MB, generated in {setup.generated['seconds']} s)"
    )
    loaded = data.folder / "loaded.json"
    if loaded.exists() and setup.store.exists():
        setup.prepared = json.loads(loaded.read_text())
        print(f"  reused the DuckDB store {setup.store}")
    else:
        made = data.folder / "template.json"  # counted from the store: made again after it
        for path in (setup.store, setup.store.with_suffix(".duckdb.wal"), setup.template, made):
            path.unlink(missing_ok=True)
        print("  loading the DuckDB store (append_file)")
        env = child_env(data.folder, events_url=duckdb_url(setup.store, args))
        ran = child("load", {"path": str(data.events_path), "at": NOW.isoformat()}, env)
        setup.prepared = {**ran.result, "store_mb": round(setup.store.stat().st_size / 1e6)}
        loaded.write_text(json.dumps(setup.prepared))
    made = data.folder / "template.json"
    if (
        setup.template.exists()
        and made.exists()
        and json.loads(made.read_text())["version"] == template_version()
    ):
        setup.prepared.update(json.loads(made.read_text()))
        print(f"  reused the template database {setup.template}")
        return setup
    setup.template.unlink(missing_ok=True)
    print("  preparing the template database")
    env = child_env(data.folder, events_url="", database=setup.template)
    ran = child("template", {"data": vars_of(data), "store": str(setup.store)}, env)
    figures = {**ran.result, "version": template_version()}
    made.write_text(json.dumps(figures))
    setup.prepared.update(figures)
    return setup


def template_version() -> str:
    """TEMPLATE and the migrations there are: a template migrated before a new migration
    is made again, so a scan never runs on an older schema (indexes included)."""
    names = sorted(p.name for p in (ROOT / "goodword").glob("*/migrations/0*.py"))
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    return f"{TEMPLATE}-{digest}"


def vars_of(data: DataSet) -> dict[str, int]:
    return {"accounts": data.accounts, "events": data.events, "seed": data.seed}


@dataclass
class Home:
    """A scratch GOODWORD_HOME: the template database and (for DuckDB) the store, copied."""

    path: Path
    database: Path
    store: Path | None


def scratch_home(setup: Setup, name: str, with_store: bool) -> Home:
    path = RUN / setup.data.key / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    database = path / "goodword.sqlite3"
    _copy(setup.template, database)
    store = None
    if with_store:
        started = time.perf_counter()
        store = path / "events.duckdb"
        _copy(setup.store, store)
        print(f"  copied the store in {time.perf_counter() - started:.0f} s")
    return Home(path, database, store)


def _copy(source: Path, target: Path) -> None:
    """Copy and flush to disk: otherwise the scan's first fsync (SQLite syncs the database
    at each WAL checkpoint) wrote the copy's pages out inside the timed step, 0.6 s of a
    5 s incremental scan."""
    shutil.copyfile(source, target)
    with target.open("rb+") as copied:
        os.fsync(copied.fileno())


def run_scan(home: Home, events_url: str, *, full: bool, now: dt.datetime, out: Path) -> Child:
    env = child_env(home.path, events_url=events_url, database=home.database)
    ran = child("scan", {"full": full, "now": now.isoformat(), "out": str(out)}, env)
    return ran


def run_sql(store: Path, setup: Setup, args: argparse.Namespace, now: dt.datetime, out: Path):
    params = {
        "store": str(store),
        "goals": str(setup.data.goals_path),
        "now": now.isoformat(),
        "out": str(out),
        "memory_limit": args.memory_limit,
        "threads": args.threads,
    }
    return child("sql", params, child_env(RUN, events_url=""))


def compare(name: str, ours: Path, theirs: Path, what: str) -> int:
    """Stop the benchmark unless both files hold the same moments; returns how many."""
    import duckdb

    con = duckdb.connect()
    a = f"read_parquet('{ours}')"
    b = f"read_parquet('{theirs}')"
    cols = "account_id, rule_id, key, occurred_us"
    only_a = con.execute(f"SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}").fetchall()
    only_b = con.execute(f"SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a}").fetchall()
    count = con.execute(f"SELECT count(*) FROM {a}").fetchone()[0]
    per_rule = con.execute(f"SELECT rule_id, count(*) FROM {a} GROUP BY 1 ORDER BY 1").fetchall()
    if only_a or only_b:
        print(
            f"  MISMATCH {name}: {len(only_a):,} only in the scan, {len(only_b):,} only in {what}"
        )
        for row in only_a[:5]:
            print(f"    scan only: {row}")
        for row in only_b[:5]:
            print(f"    {what} only: {row}")
        raise SystemExit(f"bench scan: {name}: the moments differ from {what}'s")
    shown = ", ".join(f"{r} {n:,}" for r, n in per_rule)
    print(f"  {name}: {count:,} moments, equal to {what}'s ({shown})")
    return int(count)


def pg_server(url: str) -> tuple[str, str]:
    """(the bench database's URL, the maintenance database's) on the server `url` names."""
    parts = urlsplit(url)
    bench = urlunsplit((parts.scheme, parts.netloc, f"/{PG_DB}", "", ""))
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    return bench, admin


def pg_store(setup: Setup, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL events URL holding the data set (loaded unless it holds it already)."""
    import psycopg

    bench, admin = pg_server(args.pg_url)
    key = setup.data.key
    try:
        with psycopg.connect(bench, autocommit=True) as conn:
            found = conn.execute(
                "SELECT figures FROM bench_scan_data WHERE key = %s", [key]
            ).fetchone()
        if found:
            print(f"  reused the PostgreSQL store in {PG_DB}")
            return bench, json.loads(found[0])
    except psycopg.Error:
        pass
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    print(f"  loading the PostgreSQL store in {PG_DB}")
    home = scratch_home(setup, "pg-load", with_store=False)
    env = child_env(home.path, events_url=bench, database=home.database)
    params = {"path": str(setup.data.events_path), "at": NOW.isoformat(), "eventweeks": False}
    ran = child("append", params, env)
    with psycopg.connect(bench, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE events")
    figures = {"load_seconds": ran.result["seconds"], "rows": ran.result["added"]}
    with psycopg.connect(bench, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_scan_data (key text PRIMARY KEY, figures text)")
        conn.execute("INSERT INTO bench_scan_data VALUES (%s, %s)", [key, json.dumps(figures)])
    return bench, figures


def spark_url(path: Path) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in SPARK_OPTIONS.items())
    return f"spark://local[2]?path={path}&{query}"


# --- the benchmark ------------------------------------------------------------------------


def small_and_big(args: argparse.Namespace) -> tuple[DataSet, DataSet]:
    big = DataSet(args.accounts, args.events, args.seed)
    if args.small_events >= args.events:
        return big, big
    accounts = max(100, round(args.accounts * args.small_events / args.events))
    return DataSet(accounts, args.small_events, args.seed), big


def bench_small(
    setup: Setup, args: argparse.Namespace, figures: dict[str, Any], *, pandas: bool
) -> None:
    """DuckDB, SQL, PostgreSQL and PySpark (and pandas below full size) at the small size."""
    data = setup.data
    out = RUN / data.key
    print(f"\n{data.events:,} events: the full scan on DuckDB")
    home = scratch_home(setup, "duckdb", with_store=True)
    assert home.store is not None
    duck = run_scan(
        home, duckdb_url(home.store, args), full=True, now=NOW, out=out / "duckdb.parquet"
    )
    sql = run_sql(home.store, setup, args, NOW, out / "sql.parquet")
    compare("DuckDB scan", out / "duckdb.parquet", out / "sql.parquet", "SQL")
    small: dict[str, Any] = {
        "data": vars_of(data),
        "duckdb": duck.result,
        "sql": {**sql.result},
    }
    if not args.skip_postgres:
        print(f"\n{data.events:,} events: the full scan on PostgreSQL")
        url, loaded = pg_store(setup, args)
        home = scratch_home(setup, "postgres", with_store=False)
        pg = run_scan(home, url, full=True, now=NOW, out=out / "postgres.parquet")
        compare("PostgreSQL scan", out / "postgres.parquet", out / "duckdb.parquet", "DuckDB")
        small["postgres"] = {**pg.result, "load": loaded}
    if not args.skip_spark:
        print(f"\n{data.events:,} events: the full scan on PySpark (local[2], the Parquet file)")
        home = scratch_home(setup, "spark", with_store=False)
        spark = run_scan(
            home, spark_url(data.events_path), full=True, now=NOW, out=out / "spark.parquet"
        )
        compare("PySpark scan", out / "spark.parquet", out / "duckdb.parquet", "DuckDB")
        small["spark"] = spark.result
    if pandas and not args.skip_pandas:
        small["pandas"] = run_pandas(setup, out, "duckdb.parquet")
    figures["small"] = small


def run_pandas(setup: Setup, out: Path, ours: str) -> dict[str, Any]:
    print(f"\n{setup.data.events:,} events: the same rules in pandas")
    params = {
        "events": str(setup.data.events_path),
        "goals": str(setup.data.goals_path),
        "now": NOW.isoformat(),
        "out": str(out / "pandas.parquet"),
    }
    ran = child("pandas", params, child_env(RUN, events_url=""))
    compare("pandas", out / ours, out / "pandas.parquet", "pandas")
    return {**ran.result, "events": setup.data.events}


def bench_big(setup: Setup, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    data = setup.data
    out = RUN / data.key
    # The full scan and the SQL take turns, --repeat times: on a machine whose speed drifts,
    # each pair's ratio compares runs made a minute apart, and the median pair is reported.
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for turn in range(1, args.repeat + 1):
        of = f" (turn {turn} of {args.repeat})" if args.repeat > 1 else ""
        print(f"\n{data.events:,} events: the full scan on DuckDB{of}")
        home = scratch_home(setup, "duckdb", with_store=True)
        assert home.store is not None
        url = duckdb_url(home.store, args)
        full = run_scan(home, url, full=True, now=NOW, out=out / "full.parquet")
        print(f"\n{data.events:,} events: hand-written DuckDB SQL on the same file{of}")
        sql = run_sql(home.store, setup, args, NOW, out / "sql.parquet")
        compare("full scan", out / "full.parquet", out / "sql.parquet", "SQL")
        pairs.append((full.result, sql.result))
    turns = [
        {
            "scan_seconds": f["scan_seconds"],
            "detection_seconds": f["detection_seconds"],
            "write_seconds": f["write_seconds"],
            "asks_seconds": f["asks_seconds"],
            "sql_seconds": q["seconds"],
            "whole_ratio": ratio(f["scan_seconds"], q["seconds"]),
            "detection_ratio": ratio(f["detection_seconds"], q["seconds"]),
            "peak_mb": f["peak_mb"],
        }
        for f, q in pairs
    ]
    middle = sorted(
        range(len(pairs)), key=lambda i: pairs[i][0]["scan_seconds"] / pairs[i][1]["seconds"]
    )[len(pairs) // 2]
    big: dict[str, Any] = {
        "data": vars_of(data),
        "generated": setup.generated,
        "prepared": setup.prepared,
        "full": {**pairs[middle][0], "peak_mb": max(f["peak_mb"] for f, _ in pairs)},
        "sql": {**pairs[middle][1], "peak_mb": max(q["peak_mb"] for _, q in pairs)},
        "turns": turns,
    }
    figures["big"] = big
    if not args.skip_incremental:
        _incremental(setup, args, big, home, url)
    # pandas last: its 15 GB push the databases' pages out of the OS cache, and a scan
    # after it read them from disk again (the incremental scan took 9.3% of the full one
    # after pandas, 7.9% before).
    if not args.skip_pandas and args.pandas_events == data.events:
        try:
            big["pandas"] = run_pandas(setup, out, "full.parquet")
        except StepFailed as exc:
            print(f"  pandas did not finish at {data.events:,} events: {exc}")
            big["pandas_failed"] = str(exc)


def _incremental(
    setup: Setup, args: argparse.Namespace, big: dict[str, Any], home: Home, url: str
) -> None:
    data = setup.data
    out = RUN / data.key
    print(f"\n{data.events:,} events: 1% more ({data.new_path.name}), then an incremental scan")
    env = child_env(home.path, events_url=url, database=home.database)
    added = child("append", {"path": str(data.new_path), "at": LATER.isoformat()}, env)
    print(f"  appended {added.result['added']:,} events in {added.result['seconds']} s")
    inc = run_scan(home, url, full=False, now=LATER, out=out / "incremental.parquet")
    sql2 = run_sql(home.store, setup, args, LATER, out / "recompute.parquet")
    compare(
        "incremental scan",
        out / "incremental.parquet",
        out / "recompute.parquet",
        "a full SQL recompute",
    )
    big["append"] = added.result
    big["incremental"] = inc.result
    big["recompute_sql"] = sql2.result


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def summary(figures: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, bool]]:
    big, small = figures.get("big", {}), figures.get("small", {})
    checks = []
    print("\n" + "=" * 78)
    if big:
        full, sql = big["full"], big["sql"]
        n = big["data"]["events"]
        print(f"{n:,} events, {big['data']['accounts']:,} accounts (DuckDB, {_limits(args)}):")
        prepared = big["prepared"]
        rows = [
            ("generating the Parquet file", big["generated"]["seconds"], None),
            ("loading it (append_file)", prepared["load_seconds"], prepared["load_peak_mb"]),
            ("Goodword full scan, end to end", full["scan_seconds"], full["peak_mb"]),
            ("  detection (scan less write and asks)", full["detection_seconds"], None),
            ("    inside the detect queries", full["query_seconds"], None),
            ("  writing moments and state", full["write_seconds"], None),
            ("  queuing asks", full["asks_seconds"], None),
            ("hand-written DuckDB SQL", sql["seconds"], sql["peak_mb"]),
        ]
        if "pandas" in big:
            rows.append(("pandas", big["pandas"]["seconds"], big["pandas"]["peak_mb"]))
        if "incremental" in big:
            inc = big["incremental"]
            rows.append(
                ("append 1% (append_file)", big["append"]["seconds"], big["append"]["peak_mb"])
            )
            rows.append(("incremental scan, end to end", inc["scan_seconds"], inc["peak_mb"]))
        _table(rows)
        det = ratio(full["detection_seconds"], sql["seconds"])
        whole = ratio(full["scan_seconds"], sql["seconds"])
        queries = ratio(full["query_seconds"], sql["seconds"])
        turns = big.get("turns", [])
        if len(turns) > 1:
            print(f"{len(turns)} turns, each the full scan then the SQL (the median turn above):")
            for i, t in enumerate(turns, start=1):
                print(
                    f"  turn {i}: scan {t['scan_seconds']:.1f} s (detection "
                    f"{t['detection_seconds']:.1f}, write {t['write_seconds']:.1f}, asks "
                    f"{t['asks_seconds']:.1f}), SQL {t['sql_seconds']:.1f} s: whole scan "
                    f"{t['whole_ratio']}×, detection {t['detection_ratio']}×"
                )
        print(f"goodword / SQL: detection {det}×, detect queries {queries}×, whole scan {whole}×")
        checks.append((f"detection ≤ {TARGET_RATIO}× SQL", (det or 99) <= TARGET_RATIO))
        checks.append((f"whole scan ≤ {TARGET_RATIO}× SQL", (whole or 99) <= TARGET_RATIO))
        checks.append((f"scan peak < {TARGET_PEAK_MB} MB", full["peak_mb"] < TARGET_PEAK_MB))
        if "pandas" in big:
            pandas = ratio(big["pandas"]["seconds"], full["detection_seconds"])
            print(f"pandas / goodword detection: {pandas}× (both at {n:,} events)")
        if "incremental" in big:
            share = inc["scan_seconds"] / full["scan_seconds"]
            print(
                f"incremental / full: {share:.1%} (detection {inc['detection_seconds']} s, "
                f"write {inc['write_seconds']} s, asks {inc['asks_seconds']} s)"
            )
            checks.append(
                (f"incremental < {TARGET_INCREMENTAL:.0%} of full", share < TARGET_INCREMENTAL)
            )
    if small:
        duck = small["duckdb"]
        n = small["data"]["events"]
        print(f"\n{n:,} events, {small['data']['accounts']:,} accounts:")
        rows = [
            ("DuckDB full scan", duck["scan_seconds"], duck["peak_mb"]),
            ("  detection", duck["detection_seconds"], None),
            ("hand-written DuckDB SQL", small["sql"]["seconds"], small["sql"]["peak_mb"]),
        ]
        for name in ("postgres", "spark"):
            if name in small:
                rows.append(
                    (f"{name} full scan", small[name]["scan_seconds"], small[name]["peak_mb"])
                )
                rows.append(("  detection", small[name]["detection_seconds"], None))
        if "pandas" in small:
            rows.append(("pandas", small["pandas"]["seconds"], small["pandas"]["peak_mb"]))
        _table(rows)
        for name in ("postgres", "spark"):
            if name in small:
                s = small[name]
                whole = ratio(s["scan_seconds"], duck["scan_seconds"])
                print(
                    f"{name} / DuckDB: whole scan {whole}×, "
                    f"detection {ratio(s['detection_seconds'], duck['detection_seconds'])}×"
                    + (
                        f" (of which {s['spark_session_seconds']} s starting Spark)"
                        if s.get("spark_session_seconds")
                        else ""
                    )
                )
        print(
            f"goodword / SQL at {n:,}: detection "
            f"{ratio(duck['detection_seconds'], small['sql']['seconds'])}×"
        )
        if "pandas" in small:
            print(
                f"pandas / goodword detection at {n:,} events (pandas ran at this size, not the "
                f"full one): {ratio(small['pandas']['seconds'], duck['detection_seconds'])}×"
            )
    for name, ok in checks:
        print(f"  {'met' if ok else 'MISSED'}: {name}")
    return checks


def _limits(args: argparse.Namespace) -> str:
    limit = args.memory_limit or "256MB (the store default)"
    return f"memory_limit {limit}, threads {args.threads or os.cpu_count()}"


def _table(rows: list[tuple[str, float, int | None]]) -> None:
    print(f"  {'':<42} {'seconds':>9} {'peak MB':>8}")
    for name, seconds, peak in rows:
        print(f"  {name:<42} {seconds:>9,.1f} {'' if peak is None else f'{peak:,}':>8}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench scan",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--small-events", type=int, default=10_000_000, help="PostgreSQL and PySpark run at this"
    )
    parser.add_argument(
        "--pandas-events",
        type=int,
        help="pandas runs at --events (default) or at --small-events when this equals it",
    )
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit (default: the store's)")
    parser.add_argument("--threads", type=int, help="DuckDB's threads (default: every core)")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="turns of the full scan and the SQL at --events (the median turn is reported)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help=f"the PostgreSQL server (database {PG_DB} is used)",
    )
    args = parser.parse_args(argv)
    args.pandas_events = args.pandas_events or args.events
    small, big = small_and_big(args)
    if args.pandas_events not in (small.events, big.events):
        parser.error("--pandas-events must equal --events or --small-events")
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {k: v for k, v in vars(args).items() if k != "pg_url"},
        "now": NOW.isoformat(),
        "incremental_now": LATER.isoformat(),
        "load_average_before": os.getloadavg()[0],
    }
    small_setup = prepare(small, args)
    big_setup = prepare(big, args) if big != small else small_setup
    bench_small(small_setup, args, figures, pandas=args.pandas_events == small.events != big.events)
    bench_big(big_setup, args, figures)
    figures["total_seconds"] = round(time.perf_counter() - started)
    figures["load_average_after"] = os.getloadavg()[0]
    checks = summary(figures, args)
    figures["checks"] = dict(checks)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scan-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"figures written to {path.relative_to(ROOT)}")
    return 0


def _commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
