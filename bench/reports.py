"""Reports benchmark: each report's JSON through the API at a million deals, on PostgreSQL and
on SQLite, against a hand-written SQL query computing the same figures in the same run.

    ./dev bench reports [--db postgres|sqlite|both] [--accounts 100000]
                        [--deals-per-account 10] [--credits 200000] [--requests 30]
                        [--reports pipeline,sources,...] [--regenerate]
                        [--database-url URL] [--sqlite-path PATH]

The data is the demo company (goodword.demo.generator.generate, seed 1, generated as of
DATA_TODAY) written once per database and reused by later runs: a marker account records its
size. When the demo credits fewer referral deals than --credits, the benchmark copies the
demo's referral deals (with their credits and stage histories; not their introductions) in
bulk until it does, so the referral reports see about --credits credited deals.

Per database, in a child process of its own: for each report, `GET /api/v1/reports/{name}`
through Django's full request stack in-process (django.test.Client, a manager's Bearer key;
JSON serialisation included), 3 warm-up requests, then --requests timed ones: p50/p95/max.
Then, where there is one, the baseline: one hand-written SQL query computing the report's
main table, timed the same way, whose figures must equal the JSON's to the cent (PostgreSQL)
or the benchmark stops. A last pass runs each report once under a query log and says where
its time goes (queries, their time, the slowest one).

Figures go to bench/results/reports-<time>.json. Targets: each report's p95 under 500 ms and
within 2x the baseline's p95.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.children import commit, open_database, run_child
from bench.timing import summary

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/goodword_bench_reports"
DEFAULT_SQLITE = Path(tempfile.gettempdir()) / "goodword-bench-reports" / "goodword.sqlite3"
DATA_TODAY = dt.date(2026, 11, 23)
DATA_VERSION = 2
MARKER = "bench:reports"
MARK = "@@reports@@ "
COPY_PREFIX = "BENCHREF-"
TARGET_P95_MS = 500.0
TARGET_RATIO = 2.0
WARM_UP = 3
REPORTS = ("pipeline", "sources", "funnel", "advocates", "reps", "roi")


# --- the parent: one child process per database ------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--deals-per-account", type=float, default=10.0)
    parser.add_argument("--credits", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reports", default=",".join(REPORTS), help="comma-separated names")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--sqlite-path", type=Path, default=DEFAULT_SQLITE)
    parser.add_argument("--child", choices=("postgres", "sqlite"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n for n in args.reports.split(",") if n]
    unknown = sorted(set(names) - set(REPORTS))
    if unknown or args.accounts < 100 or args.requests < 1:
        parser.error(f"--reports from {', '.join(REPORTS)}; --accounts ≥ 100; --requests ≥ 1")
    args.names = names
    if args.child:
        print(MARK + json.dumps(child(args), default=str), flush=True)
        return 0
    kinds = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    figures: dict[str, Any] = {"arguments": {k: str(v) for k, v in vars(args).items()}}
    figures["databases"] = {
        kind: run_child("bench.reports", MARK, kind, argv, _home(args)) for kind in kinds
    }
    figures["commit"] = commit()
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    figures["at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"reports-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    for kind, found in figures["databases"].items():
        print_table(kind, found)
    print(f"\nfigures written to {path.relative_to(ROOT)}")
    return 0


def _home(args: argparse.Namespace) -> str:
    """The children's GOODWORD_HOME (where the DuckDB events are) under the temp folder: one
    per database the data is in, so a run on other databases leaves these events alone."""
    if args.database_url == DEFAULT_URL and args.sqlite_path == DEFAULT_SQLITE:
        return "goodword-bench-reports-home"
    where = hashlib.sha256(f"{args.database_url}|{args.sqlite_path}".encode()).hexdigest()
    return f"goodword-bench-reports-home-{where[:8]}"


# --- the child: set up, fill, measure ----------------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    server = open_database(args.child, args.database_url, args.sqlite_path)
    settings = server_settings()
    print(f"\n== {args.child}: {server} {settings}", flush=True)
    figures: dict[str, Any] = {"server": server, "settings": settings, "data": ensure_data(args)}
    from goodword.lib.heap import heap_settle

    # as a web process does once started (goodword/gunicorn_conf.py)
    figures["objects_frozen"] = heap_settle()
    figures["reports"] = measure(args)
    return figures


def server_settings() -> dict[str, str]:
    """The server settings the figures depend on most: on PostgreSQL its buffer cache (whose
    default, 128 MB, holds less than the million deals' table) and memory per sort; on
    SQLite the connection's page cache and memory map (goodword.config)."""
    from django.db import connection

    names = (
        ("shared_buffers", "work_mem", "effective_cache_size")
        if connection.vendor == "postgresql"
        else ("cache_size", "mmap_size")
    )
    found = {}
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(
                f"SHOW {name}" if connection.vendor == "postgresql" else f"PRAGMA {name}"
            )
            found[name] = str(cursor.fetchone()[0])
    return found


# --- the data ----------------------------------------------------------------------------------


def _marker_name(args: argparse.Namespace) -> str:
    return (
        f"reports data v{DATA_VERSION}: {args.accounts} accounts, {args.deals_per_account} "
        f"deals each, {args.credits} credits, {args.deals} deals, seed 1"
    )


def ensure_data(args: argparse.Namespace) -> dict[str, Any]:
    from goodword.crm.models import Account

    name = _marker_name(args)
    marker = Account.objects.filter(external_id=MARKER).values_list("name", flat=True).first()
    if marker == name and not args.regenerate:
        print(f"data: reusing {name}", flush=True)
        _analyze()
        return {"reused": True, **data_counts()}
    from goodword.demo.generator import generate

    started = time.perf_counter()
    summary = generate(
        accounts=args.accounts,
        seed=1,
        today=DATA_TODAY,
        progress=True,
        deals_per_account=args.deals_per_account,
    )
    generated = time.perf_counter() - started
    print(f"data: the demo generated in {generated:.0f} s: {summary.counts()}", flush=True)
    started = time.perf_counter()
    story = play_story()
    played = time.perf_counter() - started
    print(f"data: first scan and the asks played out in {played:.0f} s: {story}", flush=True)
    demo_credits = data_counts()["credits"]
    started = time.perf_counter()
    copied = top_up_credits(args.credits)
    topped = time.perf_counter() - started
    print(f"data: {demo_credits:,} credits from the demo; {copied:,} referral deals copied "
          f"with their credits in {topped:.0f} s", flush=True)  # fmt: skip
    started = time.perf_counter()
    more = top_up_deals(args.deals)
    print(f"data: {more:,} deals of other sources copied with their stage changes in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    _mark(name)
    _analyze()
    counts = data_counts()
    print(f"data: {counts}", flush=True)
    return {
        "reused": False,
        "demo_seconds": round(generated, 1),
        "scan_and_story_seconds": round(played, 1),
        "story": story,
        "top_up_seconds": round(topped, 1),
        "demo_credits": demo_credits,
        "copied_referral_deals": copied,
        "copied_other_deals": more,
        **counts,
    }


def play_story() -> str:
    """What `goodword demo` does after generating: the first scan as of DATA_TODAY (success
    moments and referral asks from the generated usage, NPS, tickets and goals), then the asks
    worked through the services (made, agreed, named, accepted, won...), so the funnel and
    advocates reports have moments, asks and introductions at the data's scale."""
    from goodword.demo.funnel import funnel_write
    from goodword.moments.scan import scan_run

    now = dt.datetime.combine(DATA_TODAY, dt.time(12), tzinfo=dt.UTC)
    scan = scan_run(now=now, say=lambda line: print(f"  scan: {line}", flush=True))
    found = sum(t["found"] for t in scan.moments.values())
    worked = funnel_write(seed=1, now=now)
    return f"{found:,} success moments, {scan.asks_created:,} asks queued; {worked.line()}"


def data_counts() -> dict[str, int]:
    from goodword.crm.models import Account, Deal, DealStageChange, Task, TaskKind
    from goodword.moments.models import Moment
    from goodword.referrals.models import DealCredit, Introduction

    return {
        "accounts": Account.objects.count(),
        "deals": Deal.objects.count(),
        "referral_deals": Deal.objects.filter(source="referral").count(),
        "credits": DealCredit.objects.count(),
        "stage_changes": DealStageChange.objects.count(),
        "moments": Moment.objects.count(),
        "referral_asks": Task.objects.filter(kind=TaskKind.REFERRAL_ASK).count(),
        "introductions": Introduction.objects.count(),
    }


def top_up_credits(target: int) -> int:
    """Copy the demo's credited referral deals (oldest ids first, as often as needed) with
    their credits and stage changes until there are `target` credits; returns the deals
    copied. The rows are read once and written with crm.io.bulk.insert (COPY on PostgreSQL,
    bulk_create elsewhere), in one transaction."""
    from django.db import transaction
    from django.db.models import Q

    from goodword.crm.io.bulk import insert
    from goodword.crm.models import Deal, DealStageChange
    from goodword.crm.services import deal_totals_compact
    from goodword.referrals.models import DealCredit

    have = DealCredit.objects.count()
    if have >= target:
        return 0
    originals = list(
        Deal.objects.filter(source="referral", credits__isnull=False)
        .exclude(external_id__startswith=COPY_PREFIX)
        .distinct()
        .order_by("pk")
        .values("pk", *DEAL_FIELDS)
    )
    mine = Q(deal__source="referral") & ~Q(deal__external_id__startswith=COPY_PREFIX)
    credits: dict[int, list[dict[str, Any]]] = {}
    for row in DealCredit.objects.filter(mine).values("deal_id", *CREDIT_FIELDS):
        credits.setdefault(row.pop("deal_id"), []).append(row)
    changes: dict[int, list[dict[str, Any]]] = {}
    for row in DealStageChange.objects.filter(mine).values("deal_id", *CHANGE_FIELDS):
        changes.setdefault(row.pop("deal_id"), []).append(row)
    copied, round_ = 0, 0
    with transaction.atomic():
        while have < target and originals:
            chosen = originals[: target - have]
            deals = [
                {**d, "pk": None, "external_id": f"{COPY_PREFIX}{round_}-{d['pk']}"} for d in chosen
            ]
            for d in deals:
                del d["pk"]
            ids = insert(Deal, deals)
            pairs = list(zip((d["pk"] for d in chosen), ids, strict=True))
            new_credits = [{**c, "deal_id": new} for old, new in pairs for c in credits[old]]
            insert(DealCredit, new_credits)
            insert(
                DealStageChange,
                [{**c, "deal_id": new} for old, new in pairs for c in changes.get(old, [])],
            )
            have += len(new_credits)
            copied += len(chosen)
            round_ += 1
    deal_totals_compact()  # the deal trigger appended totals deltas, as a worker folds them
    return copied


DEAL_PREFIX = "BENCHDEAL-"


def top_up_deals(target: int) -> int:
    """Copy the demo's deals of sources other than referral (with their stage changes; oldest
    ids first, as often as needed) until there are `target` deals; returns the deals copied.
    Each round is two INSERT ... SELECT statements in the database (the copy's external id
    names its round and original, which pairs the stage changes), in one transaction.
    Referral deals are copied by top_up_credits only, with their credits."""
    from django.db import connection, transaction

    from goodword.crm.models import Deal
    from goodword.crm.services import deal_totals_compact

    have = Deal.objects.count()
    originals = (
        Deal.objects.exclude(source="referral")
        .exclude(external_id__startswith=COPY_PREFIX)
        .exclude(external_id__startswith=DEAL_PREFIX)
        .count()
    )
    columns = ", ".join(DEAL_FIELDS)
    changes = ", ".join(CHANGE_FIELDS)
    copied, round_ = 0, 0
    with transaction.atomic(), connection.cursor() as cursor:
        while have < target and originals:
            n = min(originals, target - have)
            prefix = f"{DEAL_PREFIX}{round_}-"
            cursor.execute(
                f"INSERT INTO crm_deal ({columns}, external_id) "
                f"SELECT {columns}, %s || id FROM crm_deal "
                f"WHERE source <> 'referral' AND (external_id IS NULL OR "
                f"(external_id NOT LIKE %s AND external_id NOT LIKE %s)) ORDER BY id LIMIT %s",
                [prefix, f"{COPY_PREFIX}%", f"{DEAL_PREFIX}%", n],
            )
            cursor.execute(
                f"INSERT INTO crm_dealstagechange (deal_id, {changes}) "
                f"SELECT n.id, {', '.join(f'c.{c}' for c in CHANGE_FIELDS)} "
                "FROM crm_deal n JOIN crm_dealstagechange c "
                "ON c.deal_id = CAST(substr(n.external_id, %s) AS INTEGER) "
                "WHERE n.external_id LIKE %s",
                [len(prefix) + 1, f"{prefix}%"],
            )
            have += n
            copied += n
            round_ += 1
    deal_totals_compact()
    return copied


DEAL_FIELDS = ("account_id", "name", "amount", "currency", "stage_id", "kind", "source",
               "owner_id", "created_at", "updated_at", "close_date", "closed_at")  # fmt: skip
CREDIT_FIELDS = ("advocate_account_id", "advocate_id", "share", "created_at")
CHANGE_FIELDS = ("from_stage_id", "to_stage_id", "changed_at", "changed_by_id")


def _mark(name: str) -> None:
    from django.utils import timezone

    from goodword.crm.models import Account

    now = timezone.now()
    Account.objects.create(
        external_id=MARKER, name=name, lifecycle="churned", created_at=now, updated_at=now
    )


def _analyze() -> None:
    """As a database in use would be: statistics fresh and, on PostgreSQL, the visibility map
    set by VACUUM (autovacuum's work); on SQLite the write-ahead log folded into the file."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- measuring ---------------------------------------------------------------------------------


def timed[T](fn: Callable[[], T], n: int) -> tuple[list[float], T]:
    """`fn` WARM_UP times untimed, then n times timed (ms); returns the samples and the last
    result."""
    result = fn()
    for _ in range(WARM_UP - 1):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def _manager_key() -> str:
    from goodword.users.models import Role, User
    from goodword.users.services import apikey_create

    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("pk").first()
    if manager is None:
        raise SystemExit("bench reports: the generated data has no manager")
    _, key = apikey_create(user=manager, scopes=["read"], name="bench reports")
    return key


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.test import Client
    from django.utils import timezone

    client = Client(HTTP_AUTHORIZATION=f"Bearer {_manager_key()}")
    today = timezone.now().date()  # as the API's view takes it
    found: dict[str, Any] = {}
    print(f"\n{'report':<10} {'what':<8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}", flush=True)
    for name in args.names:

        def get(name: str = name) -> dict[str, Any]:
            response = client.get(f"/api/v1/reports/{name}")
            if response.status_code != 200:
                raise SystemExit(f"bench reports: {name} answered {response.status_code}")
            return dict(response.json())

        samples, answer = timed(get, args.requests)
        figures: dict[str, Any] = {"json": summary(samples), "requests": args.requests}
        _line(name, "JSON", figures["json"])
        baseline = BASELINES.get(name)
        if baseline is not None:
            sql_samples, rows = timed(lambda b=baseline: b.run(today), args.requests)  # type: ignore[misc]
            figures["sql"] = summary(sql_samples)
            figures["sql_checked"] = check(name, baseline, rows, answer)
            figures["baseline_leaves_out"] = baseline.leaves_out
            _line(name, "SQL", figures["sql"])
        figures["where"] = where_time_goes(name, today)
        found[name] = figures
    return found


def _line(name: str, what: str, f: dict[str, float]) -> None:
    print(f"{name:<10} {what:<8} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} {f['max_ms']:8.1f}",
          flush=True)  # fmt: skip


def where_time_goes(name: str, today: dt.date) -> dict[str, Any]:
    """One build of the report (no HTTP, no JSON) under a query log: its queries, their
    total time as Django measured it, and the slowest one's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from goodword.reports.catalogue import report_build
    from goodword.reports.filters import Filters

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as log:
        report = report_build(name, user=None, filters=Filters(), today=today)
    build = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    json.dumps(report.as_json())
    serialise = (time.perf_counter() - started) * 1000
    times = [(float(q["time"]) * 1000, q["sql"]) for q in log.captured_queries]
    slowest = max(times, default=(0.0, ""))
    return {
        "build_ms": round(build, 1),
        "as_json_and_dumps_ms": round(serialise, 1),
        "queries": len(times),
        "sql_ms": round(sum(t for t, _ in times), 1),
        "slowest_query_ms": round(slowest[0], 1),
        "slowest_query": slowest[1][:300],
    }


# --- baselines: one hand-written query per report's main table ---------------------------------


Rows = dict[Any, dict[str, Any]]  # row key → column → value


@dataclass(frozen=True)
class Baseline:
    tables: dict[str, str]  # the report's tables its one query computes → their row key
    run: Callable[[dt.date], dict[str, Rows]]  # table → its rows
    leaves_out: str


def one(table: str, rows: Callable[[dt.date], Rows]) -> Callable[[dt.date], dict[str, Rows]]:
    """A baseline's run for a query that computes one table."""
    return lambda today: {table: rows(today)}


def check(
    name: str, baseline: Baseline, tables: dict[str, Rows], answer: dict[str, Any]
) -> dict[str, Any]:
    """The baseline's figures against the JSON's, every column of every table it computes:
    money to the cent (exactly on PostgreSQL; SQLite sums floats, so within a cent there),
    counts exactly, rates and days to 4 decimals as the JSON rounds them. Stops the
    benchmark on a difference."""
    from django.db import connection

    slack = Decimal("0") if connection.vendor == "postgresql" else Decimal("0.01")
    compared, worst = 0, Decimal(0)
    for table_name, key_column in baseline.tables.items():
        rows = tables[table_name]
        table = next(t for t in answer["tables"] if t["name"] == table_name)
        kinds = {c["key"]: c["kind"] for c in table["columns"]}
        got = {r[key_column]: r for r in table["rows"]}
        if set(got) != set(rows):
            raise SystemExit(
                f"bench reports: {name} {table_name} rows {sorted(got)} but SQL {sorted(rows)}"
            )
        for key, sql_row in rows.items():
            for column, value in sql_row.items():
                mine = got[key][column]
                if kinds[column] == "money":
                    off = abs(Decimal(mine or 0) - (value or Decimal(0)))
                    same = (mine is None) == (value is None) and off <= slack
                    worst = max(worst, off)
                elif isinstance(value, float) or isinstance(mine, float):
                    same = mine is not None and value is not None and abs(mine - value) < 1e-3
                else:
                    same = mine == value
                if not same:
                    raise SystemExit(
                        f"bench reports: {name} {table_name} {key_column}={key} {column}: "
                        f"JSON {mine!r}, SQL {value!r}"
                    )
                compared += 1
    return {"figures_compared": compared, "equal": True, "largest_money_difference": str(worst)}


def _cents(value: Any) -> Decimal | None:
    from goodword.reports.money import cents

    return None if value is None else cents(Decimal(str(value)))


def _params(today: dt.date) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    from goodword.reports.filters import Filters
    from goodword.reports.pipeline import quarters

    (this_start, this_end), (_, next_end) = quarters(today)
    start, end = Filters().period(today)
    ops = connection.ops
    first = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    from goodword.reports.services import quarter_of

    return {
        "today_start": ops.adapt_datetimefield_value(
            dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        ),
        "first_quarter": ops.adapt_datefield_value(quarter_of(start)),
        "first_month": ops.adapt_datefield_value(start.replace(day=1)),
        "end_day": ops.adapt_datefield_value(end),
        "home": str(settings.HOME_CURRENCY).upper(),
        "today": ops.adapt_datefield_value(today),
        "this_start": ops.adapt_datefield_value(this_start),
        "this_end": ops.adapt_datefield_value(this_end),
        "next_end": ops.adapt_datefield_value(next_end),
        "start": ops.adapt_datetimefield_value(first),
        "end": ops.adapt_datetimefield_value(after),
    }


def _fetch(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _latest_rate(currency: str, day: str) -> str:
    """The home-currency value of one unit of `currency` on `day`: 1 for the home currency,
    else the latest rate on or before the day (NULL without one)."""
    return (
        f"CASE WHEN {currency} = %(home)s THEN 1 ELSE (SELECT x.rate FROM reports_rate x "
        f"WHERE x.currency = {currency} AND x.day <= {day} ORDER BY x.day DESC LIMIT 1) END"
    )


# Pipeline's "open" table: open deals now per source, converted at today's rate (one rate per
# currency, looked up once in the CTE, MATERIALIZED so that it is not inlined into every row),
# weighted by the stage's probability, bucketed by close date. The sums come back unrounded;
# the total row is their sum; each is rounded once.
PIPELINE_SQL = f"""
WITH r AS MATERIALIZED (
    SELECT c.currency, {_latest_rate("c.currency", "%(today)s")} AS rate
    FROM (SELECT DISTINCT currency FROM crm_deal) c
), d AS (
    SELECT d.source, d.amount * r.rate AS home, s.probability AS p,
           CASE WHEN d.close_date IS NULL THEN 'none'
                WHEN d.close_date < %(this_start)s THEN 'past'
                WHEN d.close_date <= %(this_end)s THEN 'this'
                WHEN d.close_date <= %(next_end)s THEN 'next'
                ELSE 'later' END AS bucket
    FROM crm_deal d
    JOIN crm_stage s ON s.id = d.stage_id
    JOIN r ON r.currency = d.currency
    WHERE NOT s.is_won AND NOT s.is_lost
)
SELECT source,
       count(*) AS deals,
       sum(home) AS amount,
       sum(home * p) / 100 AS weighted,
       count(*) FILTER (WHERE bucket = 'this') AS this_deals,
       sum(home) FILTER (WHERE bucket = 'this') AS this_amount,
       sum(home * p) FILTER (WHERE bucket = 'this') / 100 AS this_weighted,
       count(*) FILTER (WHERE bucket = 'next') AS next_deals,
       sum(home) FILTER (WHERE bucket = 'next') AS next_amount,
       sum(home * p) FILTER (WHERE bucket = 'next') / 100 AS next_weighted,
       count(*) FILTER (WHERE bucket = 'past') AS past_due,
       count(*) FILTER (WHERE bucket = 'none') AS no_close_date,
       count(*) FILTER (WHERE home IS NULL) AS unconverted
FROM d GROUP BY source
"""
PIPELINE_MONEY = ("amount", "weighted", "this_amount", "this_weighted", "next_amount",
                  "next_weighted")  # fmt: skip


def pipeline_sql(today: dt.date) -> dict[str, dict[str, Any]]:
    rows = {r["source"]: r for r in _fetch(PIPELINE_SQL, _params(today))}
    total: dict[str, Any] = {}
    for row in rows.values():
        for column, value in row.items():
            if column != "source" and value is not None:
                total[column] = total.get(column, 0) + (
                    Decimal(str(value)) if column in PIPELINE_MONEY else value
                )
    rows[""] = {"source": "", **total}
    out = {}
    for key, row in rows.items():
        out[key] = {
            c: (_cents(row.get(c) or 0) if c in PIPELINE_MONEY else row.get(c, 0))
            for c in row
            if c != "source"
        }
    return out


def _days(later: str, earlier: str) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(({later} AT TIME ZONE 'UTC')::date - ({earlier} AT TIME ZONE 'UTC')::date)"
    return f"CAST(julianday(date({later})) - julianday(date({earlier})) AS INTEGER)"


def _day(value: str) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"({value} AT TIME ZONE 'UTC')::date"
    return f"date({value})"


def sources_query() -> str:
    """Sources' "sources" table: the new-business deals created in the period, per source
    and for every source but referral together ("others"): counts, win rate, the median
    days from creation to won (the middle two's mean, by window functions), the won amount
    converted at each won day's rate (grouped by source, currency and day before the rate is
    looked up) and the deals without a rate."""
    return f"""
WITH cohort AS (
    SELECT d.source, d.currency, d.amount, s.is_won, s.is_lost, d.closed_at,
           {_day("d.closed_at")} AS won_day, {_days("d.closed_at", "d.created_at")} AS days
    FROM crm_deal d JOIN crm_stage s ON s.id = d.stage_id
    WHERE d.kind = 'new' AND d.created_at >= %(start)s AND d.created_at < %(end)s
), grouped AS (
    SELECT source AS grp, cohort.* FROM cohort
    UNION ALL
    SELECT 'others' AS grp, cohort.* FROM cohort WHERE source <> 'referral'
), counts AS (
    SELECT grp, count(*) AS created,
           count(*) FILTER (WHERE is_won) AS won, count(*) FILTER (WHERE is_lost) AS lost
    FROM grouped GROUP BY grp
), won AS (
    SELECT grp, currency, won_day, days, amount FROM grouped
    WHERE is_won AND closed_at IS NOT NULL
), ranked AS (
    SELECT grp, days, row_number() OVER (PARTITION BY grp ORDER BY days) AS k,
           count(*) OVER (PARTITION BY grp) AS n
    FROM won
), medians AS (
    SELECT grp, avg(days) AS median_days FROM ranked
    WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY grp
), per_day AS (
    SELECT grp, currency, won_day, count(*) AS n, sum(amount) AS total
    FROM won GROUP BY grp, currency, won_day
), amounts AS (
    SELECT grp, sum(total * rate) AS won_amount,
           sum(n) FILTER (WHERE rate IS NOT NULL) AS converted,
           coalesce(sum(n) FILTER (WHERE rate IS NULL), 0) AS unconverted
    FROM (SELECT g.*, {_latest_rate("g.currency", "g.won_day")} AS rate FROM per_day g) p
    GROUP BY grp
)
SELECT counts.grp, created, won, lost, created - won - lost AS open, won + lost AS closed,
       CASE WHEN won + lost > 0 THEN 100.0 * won / (won + lost) END AS win_rate,
       median_days, won_amount, converted, coalesce(unconverted, 0) AS unconverted
FROM counts
LEFT JOIN medians ON medians.grp = counts.grp
LEFT JOIN amounts ON amounts.grp = counts.grp
"""


def sources_sql(today: dt.date) -> dict[str, dict[str, Any]]:
    out = {}
    for row in _fetch(sources_query(), _params(today)):
        amount = Decimal(str(row["won_amount"])) if row["won_amount"] is not None else Decimal(0)
        converted = int(row["converted"] or 0)
        median = row["median_days"]
        out[row["grp"]] = {
            "created": row["created"],
            "won": row["won"],
            "lost": row["lost"],
            "open": row["open"],
            "closed": row["closed"],
            "win_rate": None if row["win_rate"] is None else float(row["win_rate"]),
            "median_days": None if median is None else float(median),
            "won_amount": _cents(amount),
            "average_won": _cents(amount / converted) if converted else None,
            "unconverted": row["unconverted"],
        }
    return out


def _rated(rows: str, currency: str, day: str) -> str:
    """`rows` (a subquery) with its home-currency rate for (currency, day) as `rate`."""
    return f"(SELECT g.*, {_latest_rate(currency, day)} AS rate FROM ({rows}) g)"


def reps_query() -> str:
    """Reps' "reps" table: per user, the referral asks assigned (created in the period), made
    on time or late (done in the period, by or after their due time) and overdue today; the
    introductions they own created in the period; their referral deals created and won in
    the period, converted at the day's rate (grouped by user, currency and day before the
    rate is looked up); and the users with targets for a quarter the period touches."""
    in_period = "{0} >= %(start)s AND {0} < %(end)s"
    created, done = in_period.format("created_at"), in_period.format("completed_at")
    deals = """
        SELECT d.owner_id AS uid, d.currency, {day} AS day, count(*) AS n, sum(d.amount) AS total
        FROM crm_deal d {join}
        WHERE d.source = 'referral' AND d.owner_id IS NOT NULL AND {where}
        GROUP BY d.owner_id, d.currency, {day}"""
    created_deals = deals.format(
        day=_day("d.created_at"), join="", where=in_period.format("d.created_at")
    )
    won_deals = deals.format(
        day=_day("d.closed_at"),
        join="JOIN crm_stage s ON s.id = d.stage_id",
        where="s.is_won AND " + in_period.format("d.closed_at"),
    )
    return f"""
WITH asks AS (
    SELECT owner_id AS uid,
           count(*) FILTER (WHERE {created}) AS assigned,
           count(*) FILTER (WHERE status = 'done' AND {done} AND completed_at <= due_at)
               AS made_on_time,
           count(*) FILTER (WHERE status = 'done' AND {done} AND completed_at > due_at)
               AS made_late,
           count(*) FILTER (WHERE status = 'open' AND due_at < %(today_start)s) AS overdue
    FROM crm_task
    WHERE kind = 'referral_ask' AND owner_id IS NOT NULL
      AND (({created}) OR (status = 'done' AND {done})
           OR (status = 'open' AND due_at < %(today_start)s))
    GROUP BY owner_id
), intros AS (
    SELECT owner_id AS uid, count(*) AS introductions FROM referrals_introduction
    WHERE owner_id IS NOT NULL AND {created} GROUP BY owner_id
), pipe AS (
    SELECT uid, sum(n) AS pipeline_deals, sum(total * rate) AS pipeline_created,
           coalesce(sum(n) FILTER (WHERE rate IS NULL), 0) AS unconverted
    FROM {_rated(created_deals, "g.currency", "g.day")} c GROUP BY uid
), won AS (
    SELECT uid, sum(n) AS won_deals, sum(total * rate) AS revenue_won,
           coalesce(sum(n) FILTER (WHERE rate IS NULL), 0) AS unconverted
    FROM {_rated(won_deals, "g.currency", "g.day")} w GROUP BY uid
), everyone AS (
    SELECT uid FROM asks UNION SELECT uid FROM intros UNION SELECT uid FROM pipe
    UNION SELECT uid FROM won
    UNION SELECT user_id FROM reports_reptarget
          WHERE quarter >= %(first_quarter)s AND quarter <= %(end_day)s
)
SELECT e.uid AS user_id,
       coalesce(asks.assigned, 0) AS assigned, coalesce(asks.made_on_time, 0) AS made_on_time,
       coalesce(asks.made_late, 0) AS made_late, coalesce(asks.overdue, 0) AS overdue,
       coalesce(intros.introductions, 0) AS introductions,
       coalesce(pipe.pipeline_deals, 0) AS pipeline_deals, pipe.pipeline_created,
       coalesce(won.won_deals, 0) AS won_deals, won.revenue_won,
       coalesce(pipe.unconverted, 0) + coalesce(won.unconverted, 0) AS unconverted
FROM everyone e
LEFT JOIN asks ON asks.uid = e.uid
LEFT JOIN intros ON intros.uid = e.uid
LEFT JOIN pipe ON pipe.uid = e.uid
LEFT JOIN won ON won.uid = e.uid
"""


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def reps_sql(today: dt.date) -> dict[int, dict[str, Any]]:
    out = {}
    for row in _fetch(reps_query(), _params(today)):
        uid = row.pop("user_id")
        out[uid] = {
            k: _cents(_money(v)) if k in ("pipeline_created", "revenue_won") else int(v)
            for k, v in row.items()
        }
    return out


def roi_query() -> str:
    """ROI's "sources" table, its inputs: per source the deals won in the period and their
    amount at each won day's rate; the spend entered per source for the months the period
    touches at each month's first day's rate; and the referral programme's cost (rewards
    approved or fulfilled in the period at their decision day's rate, plus each ask made in
    the period at minutes per ask / 60 x the hourly cost, at the day's rate of the cost's
    currency), one row per part."""
    in_period = "{0} >= %(start)s AND {0} < %(end)s"
    won = f"""
        SELECT d.source, d.currency, {_day("d.closed_at")} AS day, count(*) AS n,
               sum(d.amount) AS total
        FROM crm_deal d JOIN crm_stage s ON s.id = d.stage_id
        WHERE s.is_won AND {in_period.format("d.closed_at")}
        GROUP BY d.source, d.currency, {_day("d.closed_at")}"""
    spend = """
        SELECT source, currency, month AS day, 1 AS n, amount AS total FROM reports_sourcespend
        WHERE month >= %(first_month)s AND month <= %(end_day)s"""
    rewards = f"""
        SELECT currency, {_day("decided_at")} AS day, count(*) AS n, sum(value) AS total
        FROM referrals_reward
        WHERE status IN ('approved', 'fulfilled') AND {in_period.format("decided_at")}
        GROUP BY currency, {_day("decided_at")}"""
    asks = f"""
        SELECT %(cost_currency)s AS currency, {_day("completed_at")} AS day, count(*) AS n
        FROM crm_task
        WHERE kind = 'referral_ask' AND status = 'done' AND {in_period.format("completed_at")}
        GROUP BY {_day("completed_at")}"""
    part = """
    SELECT {what} AS part, {source} AS source, sum(n) AS n, sum({amount} * rate) AS amount,
           coalesce(sum(n) FILTER (WHERE rate IS NULL), 0) AS unconverted
    FROM {rows} r {group}"""
    return " UNION ALL ".join([
        part.format(what="'won'", source="source", amount="total",
                    rows=_rated(won, "g.currency", "g.day"), group="GROUP BY source"),
        part.format(what="'spend'", source="source", amount="total",
                    rows=_rated(spend, "g.currency", "g.day"), group="GROUP BY source"),
        part.format(what="'rewards'", source="'referral'", amount="total",
                    rows=_rated(rewards, "g.currency", "g.day"), group=""),
        part.format(what="'asks'", source="'referral'",
                    amount="n * %(minutes_per_ask)s * %(hourly_cost)s / 60",
                    rows=_rated(asks, "g.currency", "g.day"), group=""),
    ])  # fmt: skip


def roi_sql(today: dt.date) -> dict[str, dict[str, Any]]:
    from goodword.crm.models import DealSource
    from goodword.reports.services import programme_costs

    costs = programme_costs()
    params = {
        **_params(today),
        "minutes_per_ask": costs.minutes_per_ask,
        "hourly_cost": costs.hourly_cost,
        "cost_currency": costs.currency,
    }
    parts: dict[tuple[str, str], dict[str, Any]] = {}
    for row in _fetch(roi_query(), params):
        parts[(row["part"], row["source"])] = row
    out = {}
    for source in DealSource.values:
        won = parts.get(("won", source), {})
        deals, revenue = int(won.get("n") or 0), _money(won.get("amount"))
        unconverted = int(won.get("unconverted") or 0)
        cost: Decimal | None = None
        if source == "referral":
            cost = Decimal(0)
            for what in ("rewards", "asks"):
                cost += _money(parts.get((what, source), {}).get("amount"))
                unconverted += int(parts.get((what, source), {}).get("unconverted") or 0)
        elif ("spend", source) in parts:
            cost = _money(parts["spend", source]["amount"])
            unconverted += int(parts["spend", source]["unconverted"])
        out[source] = {
            "won_deals": deals,
            "revenue_won": _cents(revenue),
            "spend": None if cost is None else _cents(cost),
            "cost_per_won_deal": _cents(cost / deals) if cost is not None and deals else None,
            "revenue_per_cost": float(revenue / cost) if cost else None,
            "unconverted": unconverted,
        }
    return out


FUNNEL_STEPS = ("moments", "asks", "made", "agreed", "consent", "accepted", "opportunity", "won")
FUNNEL_RECORD = ("moment", "ask", "ask", "intro", "intro", "intro", "deal", "deal")


def funnel_query() -> str:
    """Funnel's "funnel" table: every live moment of the period joined to its ask, the ask's
    introduction, the introduction's name, accept and open-opportunity steps and its deal;
    how many steps each got through (`reached`) and when it took each; then per step the
    moments reaching it, the distinct records (moments, asks, introductions, deals) and the
    median UTC calendar days from the step before (window functions, as for sources)."""
    emailed = "t.outcome = 'asked by email'"
    times = (
        "m.occurred_at", "t.created_at", "t.completed_at",
        f"CASE WHEN {emailed} THEN sn.at ELSE i.created_at END", "sn.at", "sa.at",
        "coalesce(so.at, d.created_at)", "coalesce(d.closed_at, d.updated_at)",
    )  # fmt: skip
    gaps = " UNION ALL ".join(
        f"SELECT '{FUNNEL_STEPS[k]}' AS step, {_days(f't{k}', f't{k - 1}')} AS gap "
        f"FROM m WHERE reached > {k} AND t{k} IS NOT NULL AND t{k - 1} IS NOT NULL"
        for k in range(1, len(FUNNEL_STEPS))
    )
    counts = ", ".join(
        f"count(DISTINCT CASE WHEN reached > {k} THEN {record} END) AS r{k}, "
        f"count(CASE WHEN reached > {k} THEN 1 END) AS n{k}"
        for k, record in enumerate(FUNNEL_RECORD)
    )
    step = "referrals_introductionstep {0} ON {0}.introduction_id = i.id AND {0}.event = '{1}'"
    return f"""
WITH m AS (
    SELECT m.id AS moment, m.ask_id AS ask, i.id AS intro, d.id AS deal,
           {", ".join(f"{t} AS t{k}" for k, t in enumerate(times))},
           CASE WHEN m.ask_id IS NULL THEN 1
                WHEN t.status <> 'done' THEN 2
                WHEN i.id IS NULL OR ({emailed} AND sn.at IS NULL) THEN 3
                WHEN sn.at IS NULL THEN 4
                WHEN sa.at IS NULL THEN 5
                WHEN d.id IS NULL THEN 6
                WHEN NOT s.is_won THEN 7
                ELSE 8 END AS reached
    FROM moments_moment m
    LEFT JOIN crm_task t ON t.id = m.ask_id
    LEFT JOIN referrals_introduction i ON i.ask_id = m.ask_id
    LEFT JOIN {step.format("sn", "name")}
    LEFT JOIN {step.format("sa", "accept")}
    LEFT JOIN {step.format("so", "open_opportunity")}
    LEFT JOIN crm_deal d ON d.id = i.deal_id
    LEFT JOIN crm_stage s ON s.id = d.stage_id
    WHERE m.retracted_at IS NULL AND m.occurred_at >= %(start)s AND m.occurred_at < %(end)s
), gaps AS ({gaps}
), ranked AS (
    SELECT step, gap, row_number() OVER (PARTITION BY step ORDER BY gap) AS k,
           count(*) OVER (PARTITION BY step) AS n
    FROM gaps
)
SELECT 'counts' AS step, NULL AS median, {counts} FROM (SELECT 1) one, m
UNION ALL
SELECT step, avg(gap), {", ".join("NULL" for _ in range(2 * len(FUNNEL_RECORD)))}
FROM ranked WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY step
"""


def funnel_sql(today: dt.date) -> dict[str, dict[str, Any]]:
    rows = _fetch(funnel_query(), _params(today))
    counts = next(r for r in rows if r["step"] == "counts")
    medians = {r["step"]: float(r["median"]) for r in rows if r["step"] != "counts"}
    out = {}
    first = counts["n0"]
    for k, step in enumerate(FUNNEL_STEPS):
        n, before = counts[f"n{k}"], counts[f"n{k - 1}"] if k else None
        out[step] = {
            "count": n,
            "records": counts[f"r{k}"],
            "conversion_previous": 100 * n / before if before else None,
            "conversion_first": 100 * n / first if first else None,
            "median_days": medians.get(step) if k else None,
        }
    return out


def advocates_query() -> str:
    """Advocates' "accounts" and "contacts" tables: per advocate account and per advocate
    contact ("a" or "c" rows), the credited deals won in the period (each deal's amount
    times the credit's share, at the won day's rate) and open today (at today's rate),
    counted once per account however many of its contacts share them; the introductions
    created and the rewards approved or fulfilled in the period (at the decision day's
    rate); the advocates that did any of these, with the day of their latest referral ask
    made (done, or closed as not appropriate) by the end of today. The credits in the
    window are read once (a MATERIALIZED CTE) for both tables, and the rate of each
    (currency, day) is looked up once."""
    in_period = "{0} >= %(start)s AND {0} < %(end)s"
    decided = "coalesce(decided_at, created_at)"
    made = (
        "kind = 'referral_ask' AND completed_at < %(end_today)s "
        "AND (status = 'done' OR (status = 'cancelled' AND outcome = 'not appropriate'))"
    )
    return f"""
WITH cr AS MATERIALIZED (
    SELECT c.advocate_account_id AS acc, c.advocate_id AS con, c.deal_id, c.share, d.amount,
           d.currency, s.is_won,
           CASE WHEN s.is_won THEN {_day("d.closed_at")} ELSE %(today)s END AS day
    FROM referrals_dealcredit c
    JOIN crm_deal d ON d.id = c.deal_id
    JOIN crm_stage s ON s.id = d.stage_id
    WHERE (s.is_won AND {in_period.format("d.closed_at")}) OR (NOT s.is_won AND NOT s.is_lost)
), rw AS MATERIALIZED (
    SELECT advocate_account_id AS acc, advocate_id AS con, currency, {_day(decided)} AS day,
           value
    FROM referrals_reward
    WHERE status IN ('approved', 'fulfilled') AND {in_period.format(decided)}
), days AS MATERIALIZED (
    SELECT currency, day, {_latest_rate("u.currency", "u.day")} AS rate
    FROM (SELECT currency, day FROM cr UNION SELECT currency, day FROM rw) u
), credited AS (
    SELECT 'a' AS lvl, acc AS id, deal_id, share, amount, is_won, rate
    FROM cr JOIN days ON days.currency = cr.currency AND days.day = cr.day
    UNION ALL
    SELECT 'c', con, deal_id, share, amount, is_won, rate
    FROM cr JOIN days ON days.currency = cr.currency AND days.day = cr.day
    WHERE con IS NOT NULL
), deals AS (
    SELECT lvl, id,
           count(DISTINCT CASE WHEN is_won THEN deal_id END) AS won_deals,
           sum(CASE WHEN is_won THEN amount * share / 100 * rate END) AS won,
           count(DISTINCT CASE WHEN NOT is_won THEN deal_id END) AS open_deals,
           sum(CASE WHEN NOT is_won THEN amount * share / 100 * rate END) AS pipeline,
           count(DISTINCT CASE WHEN rate IS NULL THEN deal_id END) AS unconverted
    FROM credited GROUP BY lvl, id
), rewarded AS (
    SELECT 'a' AS lvl, acc AS id, value, rate
    FROM rw JOIN days ON days.currency = rw.currency AND days.day = rw.day
    UNION ALL
    SELECT 'c', con, value, rate
    FROM rw JOIN days ON days.currency = rw.currency AND days.day = rw.day
    WHERE con IS NOT NULL
), rewards AS (
    SELECT lvl, id, count(*) AS rewards, sum(value * rate) AS reward_cost,
           count(CASE WHEN rate IS NULL THEN 1 END) AS unconverted
    FROM rewarded GROUP BY lvl, id
), intros AS (
    SELECT 'a' AS lvl, advocate_account_id AS id, count(*) AS introductions
    FROM referrals_introduction WHERE {in_period.format("created_at")}
    GROUP BY advocate_account_id
    UNION ALL
    SELECT 'c', advocate_id, count(*) FROM referrals_introduction
    WHERE advocate_id IS NOT NULL AND {in_period.format("created_at")}
    GROUP BY advocate_id
), counted AS (
    SELECT lvl, id FROM deals UNION SELECT lvl, id FROM rewards UNION SELECT lvl, id FROM intros
), asked AS (
    SELECT 'a' AS lvl, account_id AS id, max(completed_at) AS last FROM crm_task
    WHERE {made} AND account_id IN (SELECT id FROM counted WHERE lvl = 'a')
    GROUP BY account_id
    UNION ALL
    SELECT 'c', contact_id, max(completed_at) FROM crm_task
    WHERE {made} AND contact_id IN (SELECT id FROM counted WHERE lvl = 'c')
    GROUP BY contact_id
)
SELECT counted.lvl, counted.id,
       coalesce(intros.introductions, 0) AS introductions,
       coalesce(deals.won_deals, 0) AS won_deals, deals.won,
       coalesce(deals.open_deals, 0) AS open_deals, deals.pipeline, rewards.reward_cost,
       coalesce(deals.unconverted, 0) + coalesce(rewards.unconverted, 0) AS unconverted,
       {_day("asked.last")} AS last_asked
FROM counted
LEFT JOIN deals ON deals.lvl = counted.lvl AND deals.id = counted.id
LEFT JOIN rewards ON rewards.lvl = counted.lvl AND rewards.id = counted.id
LEFT JOIN intros ON intros.lvl = counted.lvl AND intros.id = counted.id
LEFT JOIN asked ON asked.lvl = counted.lvl AND asked.id = counted.id
"""


def advocates_sql(today: dt.date) -> dict[str, Rows]:
    from django.db import connection

    params = {
        **_params(today),
        "end_today": connection.ops.adapt_datetimefield_value(
            dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        ),
    }
    out: dict[str, Rows] = {"accounts": {}, "contacts": {}}
    for row in _fetch(advocates_query(), params):
        money = ("won", "pipeline", "reward_cost")
        last = row["last_asked"]
        table = "accounts" if row["lvl"] == "a" else "contacts"
        out[table][int(row["id"])] = {
            **{k: _cents(_money(row[k])) for k in money},
            **{k: int(row[k]) for k in ("introductions", "won_deals", "open_deals",
                                        "unconverted")},
            "last_asked": None if last is None else str(last),
        }  # fmt: skip
    return out


BASELINES: dict[str, Baseline] = {
    "pipeline": Baseline(
        {"open": "source"},
        one("open", pipeline_sql),
        "the referred-per-month table and the headline",
    ),
    "sources": Baseline(
        {"sources": "source"},
        one("sources", sources_sql),
        "the Wilson and bootstrap intervals (6 columns), the comparison table and the headline",
    ),
    "funnel": Baseline(
        {"funnel": "step"},
        one("funnel", funnel_sql),
        "the per-rule tables (the same figures per rule, the won amounts) and the headline",
    ),
    "advocates": Baseline(
        {"accounts": "account_id", "contacts": "contact_id"},
        advocates_sql,
        "the names, next eligible day (the cooldown and the fatigue rule), the untapped "
        "advocates table (health is the scan's Python) and the headline",
    ),
    "reps": Baseline(
        {"reps": "user_id"},
        one("reps", reps_sql),
        "the users' names and teams, the targets and attainment, the per-team table",
    ),
    "roi": Baseline(
        {"sources": "source"},
        one("sources", roi_sql),
        "the programme table (its figures are the referral row's parts) and the headline",
    ),
}


# --- printing ----------------------------------------------------------------------------------


def print_table(kind: str, found: dict[str, Any]) -> None:
    print(f"\n{kind}: {found['server']} {found['settings']}; data {found['data']}")
    print(
        f"{'report':<10} {'JSON p50':>9} {'p95':>7} {'max':>7}  {'SQL p50':>8} {'p95':>7} "
        f"{'max':>7}  {'ratio':>5}  {'< 500 ms':<8} {'≤ 2x':<7} queries  build  its SQL ms"
    )
    for name, f in found["reports"].items():
        j, s, w = f["json"], f.get("sql"), f["where"]
        under = "met" if j["p95_ms"] < TARGET_P95_MS else "not met"
        sql_part, ratio_part, within = f"{'-':>8} {'-':>7} {'-':>7}", f"{'-':>5}", "-"
        if s:
            ratio = j["p95_ms"] / s["p95_ms"]
            f["ratio_p95"] = round(ratio, 2)
            sql_part = f"{s['p50_ms']:8.1f} {s['p95_ms']:7.1f} {s['max_ms']:7.1f}"
            ratio_part = f"{ratio:5.2f}"
            within = "met" if ratio <= TARGET_RATIO else "not met"
        print(
            f"{name:<10} {j['p50_ms']:9.1f} {j['p95_ms']:7.1f} {j['max_ms']:7.1f}  {sql_part}  "
            f"{ratio_part}  {under:<8} {within:<7} {w['queries']:7}  {w['build_ms']:5.0f}  "
            f"{w['sql_ms']:.0f}"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
