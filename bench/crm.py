"""CRM benchmark on PostgreSQL: page latency at scale, and deals-CSV import against COPY.

    ./dev bench crm [--accounts 100000] [--contacts-per-account 5] [--deals-per-account 10]
                    [--requests 60] [--import-rows 200000] [--database-url URL]

Generates the data once (kept in the bench database for later runs; --regenerate to rebuild),
then for a manager and for a rep times the accounts list, an account page and the deals board
through Django's full request stack in-process (no network hop), and prints p50/p95. Then it
writes a deals CSV, loads it with PostgreSQL's COPY into an unindexed staging table (the floor),
imports the same file with `goodword import deals`' code path, and prints both rates and the
ratio. Targets: p95 under 100 ms; import at least 0.25 of COPY's rate.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from bench.timing import percentile

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/goodword_bench"


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    # Production-like: no DEBUG query log; the in-process client is "testserver" over HTTP.
    os.environ.update(
        DEBUG="0", SECURE_SSL="0", ALLOWED_HOSTS="testserver", SECRET_KEY=secrets.token_urlsafe(50)
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goodword.settings")
    os.environ.setdefault("GOODWORD_HOME", str(Path(tempfile.gettempdir()) / "goodword-bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def ensure_data(args: argparse.Namespace) -> None:
    from goodword.crm.models import Account, Contact, Deal
    from goodword.demo.generator import generate

    have = Account.objects.count()
    if have == args.accounts and not args.regenerate:
        print(
            f"data: reusing {have:,} accounts, {Contact.objects.count():,} contacts, "
            f"{Deal.objects.count():,} deals"
        )
        return
    started = time.perf_counter()
    summary = generate(
        accounts=args.accounts,
        seed=1,
        today=dt.date(2026, 11, 23),
        progress=True,
        contacts_per_account=args.contacts_per_account,
        deals_per_account=args.deals_per_account,
    )
    print(f"data: generated in {time.perf_counter() - started:.0f} s: {summary}")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def time_requests(client: object, paths: Callable[[int], str], n: int) -> list[float]:
    samples = []
    for i in range(n + 3):
        path = paths(i)
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"bench: GET {path} answered {response.status_code}")
        if i >= 3:  # the first requests warm caches and connections
            samples.append(elapsed)
    return samples


def _delete_bench_deals() -> None:
    """Remove the imported rows, then fold the board-total deltas the deletes appended, as
    the worker does every minute (the ORM deletes in batches of 100, one delta row each)."""
    from goodword.crm.models import Deal
    from goodword.crm.services import deal_totals_compact

    Deal.objects.filter(external_id__gte="BENCH-", external_id__lt="BENCH.").delete()
    deal_totals_compact()


def bench_pages(args: argparse.Namespace) -> bool:
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from goodword.crm.selectors import accounts_visible_to
    from goodword.crm.services import deal_totals_compact
    from goodword.users.models import Role, User

    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("pk").first()
    rep = (
        User.objects.filter(role=Role.REP, is_active=True)
        .annotate(n=Count("owned_accounts"))
        .order_by("-n", "pk")
        .first()
    )
    if manager is None or rep is None:
        raise SystemExit("bench: the generated data has no manager or rep")
    deal_totals_compact()  # as a running worker keeps them
    ok = True
    print(f"\npages ({args.requests} requests each, after 3 warm-up requests; target p95 < 100 ms)")
    print(f"{'user':<8} {'page':<14} {'p50 ms':>8} {'p95 ms':>8}  target")
    rng = random.Random(7)
    for label, user in (("manager", manager), ("rep", rep)):
        client = Client()
        client.force_login(user)
        ids = list(accounts_visible_to(user).values_list("pk", flat=True)[:5000])
        pages: dict[str, Callable[[int], str]] = {
            "accounts list": lambda i: reverse("accounts") + ("?page=2" if i % 2 else ""),
            "account page": lambda i, ids=ids: reverse("account-detail", args=[rng.choice(ids)]),
            "board": lambda i: reverse("deals-board"),
        }
        for page, paths in pages.items():
            samples = time_requests(client, paths, args.requests)
            p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
            met = p95 < 100
            ok &= met
            print(f"{label:<8} {page:<14} {p50:8.1f} {p95:8.1f}  {'met' if met else 'MISSED'}")
    return ok


def write_deals_csv(path: Path, rows: int) -> None:
    from goodword.crm.io.presets import KINDS
    from goodword.crm.models import Account, Stage
    from goodword.users.models import Role, User

    rng = random.Random(11)
    account_ids = list(
        Account.objects.exclude(external_id=None).values_list("external_id", flat=True)[:50000]
    )
    owners = list(User.objects.filter(role=Role.REP).values_list("email", flat=True))
    stages = list(Stage.objects.values_list("name", flat=True))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(KINDS["deals"])
        for i in range(rows):
            stage = rng.choice(stages)
            closed = stage.startswith("Closed")
            writer.writerow(
                [
                    f"BENCH-{i}",
                    rng.choice(account_ids),
                    f"Bench deal {i}",
                    f"{rng.randint(1000, 200000)}.00",
                    "USD",
                    stage,
                    rng.choice(["new", "expansion", "renewal"]),
                    rng.choice(["referral", "inbound", "outbound", "partner", "event", "other"]),
                    rng.choice(owners),
                    f"2025-{rng.randint(1, 12):02d}-15T10:00:00+00:00",
                    "2026-12-31",
                    "2026-01-20T10:00:00+00:00" if closed else "",
                ]
            )


def copy_rate(path: Path, rows: int) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy (external_id text, account_external_id text, "
            "name text, amount numeric, currency text, stage text, kind text, source text, "
            "owner_email text, created_at timestamptz, close_date date, closed_at timestamptz)"
        )
        started = time.perf_counter()
        with (
            path.open("rb") as handle,
            cursor.connection.cursor().copy(
                "COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true, NULL '')"
            ) as copy,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return rows / elapsed


def import_rate(path: Path, rows: int) -> float:
    from goodword.crm.io.importing import import_file
    from goodword.crm.models import Deal

    started = time.perf_counter()
    report = import_file("deals", path)
    elapsed = time.perf_counter() - started
    created = Deal.objects.filter(external_id__gte="BENCH-", external_id__lt="BENCH.").count()
    if created != rows:
        raise SystemExit(f"bench: import created {created} of {rows} deals: {report}")
    return rows / elapsed


class _Rollback(Exception):
    pass


def _floor_deals(rows: int) -> list[dict[str, object]]:
    from decimal import Decimal

    from django.utils import timezone

    from goodword.crm.models import Account, Stage
    from goodword.users.models import User

    rng = random.Random(5)
    accounts = list(Account.objects.values_list("pk", flat=True)[:50000])
    stages = list(Stage.objects.values_list("pk", flat=True))
    users = list(User.objects.values_list("pk", flat=True))
    now = timezone.now()
    return [
        {
            "external_id": f"FLOOR-{i}",
            "account_id": rng.choice(accounts),
            "name": f"Deal {i}",
            "amount": Decimal("1000.00"),
            "currency": "USD",
            "stage_id": rng.choice(stages),
            "kind": "new",
            "source": "referral",
            "owner_id": rng.choice(users),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(rows)
    ]


def schema_floor_rates(rows: int) -> tuple[float, float]:
    """COPY of `rows` deals already resolved to ids into Goodword's deal table (its indexes,
    foreign-key checks and totals trigger), then with each deal's first stage-history row and
    timeline row as the import writes them; both rolled back. No import that keeps these
    rows and constraints can beat them."""
    from django.db import connection, transaction

    from goodword.crm.io.bulk import insert
    from goodword.crm.models import Activity, Deal, DealStageChange

    deals = _floor_deals(rows)
    now = deals[0]["created_at"]
    rates = []
    for with_history in (False, True):
        started = time.perf_counter()
        try:
            with transaction.atomic():
                ids = insert(Deal, deals)
                if with_history:
                    insert(
                        DealStageChange,
                        [
                            {"deal_id": pk, "to_stage_id": d["stage_id"], "changed_at": now}
                            for pk, d in zip(ids, deals, strict=True)
                        ],
                    )
                    insert(
                        Activity,
                        [
                            {
                                "account_id": d["account_id"],
                                "verb": "deal.imported",
                                "object_type": "deal",
                                "object_id": pk,
                                "summary": d["name"],
                                "after": {"name": d["name"]},
                                "at": now,
                            }
                            for pk, d in zip(ids, deals, strict=True)
                        ],
                    )
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks a commit runs
                rates.append(rows / (time.perf_counter() - started))
                raise _Rollback
        except _Rollback:
            pass
    return rates[0], rates[1]


def bench_import(args: argparse.Namespace) -> bool:
    _delete_bench_deals()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deals.csv"
        write_deals_csv(path, args.import_rows)
        size = path.stat().st_size / 1e6
        copy = copy_rate(path, args.import_rows)
        imported = import_rate(path, args.import_rows)
    _delete_bench_deals()
    deal_floor, floor = schema_floor_rates(args.import_rows)
    ratio = imported / copy
    print(f"\ndeals CSV import ({args.import_rows:,} rows, {size:.0f} MB; target ≥ 0.25 of COPY)")
    lines = [
        ("PostgreSQL COPY of the file into a staging table", copy),
        ("COPY of the rows, resolved to ids, into crm_deal", deal_floor),
        ("  the same, with stage-history and timeline rows", floor),
        ("goodword import deals", imported),
    ]
    for label, rate in lines:
        print(f"  {label:<52} {rate:10,.0f} rows/s  ({rate / copy:.3f} of COPY)")
    print(f"  import / COPY into crm_deal: {imported / deal_floor:.2f}")
    print(f"  import / COPY with history and timeline: {imported / floor:.2f}")
    print(f"  ratio to the staging COPY: {ratio:.3f}  {'met' if ratio >= 0.25 else 'MISSED'}")
    return ratio >= 0.25


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench crm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--contacts-per-account", type=float, default=5.0)
    parser.add_argument("--deals-per-account", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--import-rows", type=int, default=200_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    ensure_data(args)
    ok = True
    if not args.skip_pages:
        ok &= bench_pages(args)
    if not args.skip_import:
        ok &= bench_import(args)
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
