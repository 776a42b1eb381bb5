"""Whom-to-ask-for benchmark, end to end: `goodword.referrals.peers.peers_for` against a
database holding a million prospects, on PostgreSQL and on SQLite, with a hand-written SQL
query ranking the same lookalikes in the database as the baseline.

    ./dev bench peers-db [--db postgres|sqlite|both] [--prospects 1000000] [--advocates 300]
                         [--asks 200] [--limit 10] [--seed 1] [--regenerate]
                         [--database-url URL] [--sqlite-path PATH] [--skip-sql]

The data is written once per database and reused by later runs (a marker account records
its size and seed; --regenerate writes it again). PostgreSQL: the database of --database-url
(created when missing), filled with COPY. SQLite: the file --sqlite-path, filled with
executemany. One transaction either way, then ANALYZE. What is written:

- the prospects: names, domains and industries as the demo names companies
  (goodword.demo.plan.company), head counts log-normal around 150 (8% unknown), countries
  weighted as the demo's (3% blank), 4% without an industry, 70% with an owner;
- two to four contacts each (three on average); 30% of them list one or two other prospects'
  domains as past employers, 2% an advocate's domain (a few advocates far more often than
  the rest), 3% opted out;
- 5% of the prospects in an open deal, 3% with a lost one; 2% of them trying the product
  (EventWeek rows over the last 16 weeks, half of them inside the 8-week usage window);
- the advocates: customers with five contacts each (60% of them list one to three prospects'
  domains as past employers), 20 to 260 messages, 10 to 60 tickets and 5 to 20 call notes
  over the last 14 months, a quarter of them naming a prospect (one in ten with a typo),
  product usage every week, and for six in ten of them a usage milestone moment.

Then, per database and in one process: the cached copies built from nothing once (the
prospects' index and mention finder, everyone's past employers) and a first ask building
them; `peers_for` for --asks asks (advocates in turn, each with one of its contacts) after 3
warm-up asks, copies cached: p50/p95/max; an ask just after a prospect's and then a
contact's updated_at moved (the copies then apply the rows changed since they were read;
the touched rows keep their values), median of five tries. A second pass times each part of
an ask (the copies' checks, relationships, alumni, mentions, open deals, lookalikes and the
rest) and records the lookalike inputs; the baseline then ranks the same lookalikes with one
SQL query per ask (industry, size band, country and usage points computed in the database,
prospects in an open deal and the ask's named prospects left out) whose (id, points) lists
must equal the engine's for every ask, or the benchmark stops.

Figures go to bench/results/peers-db-<time>.json. Target: peers_for p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import wraps
from itertools import accumulate
from pathlib import Path
from typing import Any

from bench.children import commit, open_database, run_child
from bench.timing import percentile, summary

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/goodword_bench_peers"
DEFAULT_SQLITE = Path(tempfile.gettempdir()) / "goodword-bench-peers" / "goodword.sqlite3"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
DATA_VERSION = 1
MARKER = "bench:peers-db"
MARK = "@@peers-db@@ "
TARGET_P95_MS = 100.0
WARM_UP = 3
CHUNK = 50_000
REPS = 20
# The parts of an ask timed in the second pass (functions of goodword.referrals.peers that
# exist are wrapped; the rest of peers_for is what their sum leaves).
PARTS = (
    "_prospects",
    "_alumni_index",
    "_stamp",
    "_refresh",
    "_build",
    "_refresh_alumni",
    "_profile",
    "_former_employers",
    "_alumni",
    "_texts",
    "_mentions",
    "_open_deals",
    "_lookalikes",
    "_free_prospects",
)
TOP_PARTS = (
    "_prospects",
    "_alumni_index",
    "_profile",
    "_former_employers",
    "_alumni",
    "_mentions",
    "_open_deals",
    "_lookalikes",
)
MENTIONING = (
    "We told our friends at {name} about the rollout; their ops team has the same backlog.",
    "{name} saw our dashboards at the conference and asked how we set them up.",
    "Our new COO came from {name} and wants the same reports there.",
    "Could you share the case study? {name} is evaluating tools like yours.",
    "Had lunch with the finance lead of {name}, they are drowning in spreadsheets.",
)
PLAIN = (
    "The weekly report saves our team hours every Monday, thank you.",
    "Export to CSV timed out again this morning, can you look into it?",
    "Loving the new board view, the pipeline review took ten minutes instead of an hour.",
    "Can we add two more seats for the analysts joining next month?",
    "The integration with our warehouse has been rock solid since the upgrade.",
    "Please reset the password for our new operations manager.",
    "The onboarding sessions were great; the team is fully up to speed.",
)
CHANNELS = ("email", "chat", "review", "call", "social", "survey")


# --- the parent: one child process per database ------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench peers-db",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--advocates", type=int, default=300)
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-sql", action="store_true", help="leave out the SQL baseline")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_PEERS_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--sqlite-path", type=Path, default=DEFAULT_SQLITE)
    parser.add_argument("--child", choices=("postgres", "sqlite"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prospects < 1000 or args.advocates < 1 or args.asks < 1 or args.limit < 1:
        parser.error("--prospects must be at least 1,000; --advocates, --asks, --limit 1")
    if args.child:
        print(MARK + json.dumps(child(args), default=str), flush=True)
        return 0
    kinds = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    figures: dict[str, Any] = {"arguments": {k: str(v) for k, v in vars(args).items()}}
    figures["databases"] = {
        kind: run_child("bench.peers_db", MARK, kind, argv, "goodword-bench-peers-home")
        for kind in kinds
    }
    figures["commit"] = commit()
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    figures["at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"peers-db-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"\nfigures written to {path.relative_to(ROOT)}")
    return 0


# --- the child: set up, fill, measure ----------------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    server = open_database(args.child, args.database_url, args.sqlite_path)
    from django.db import connection

    print(f"\n== {args.child}: {connection.vendor} {server}", flush=True)
    figures: dict[str, Any] = {"server": server, "fill": ensure_data(args)}
    figures.update(measure(args))
    return figures


# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    prospects: int
    advocates: int
    seed: int

    @property
    def marker_name(self) -> str:
        return (
            f"peers-db data v{DATA_VERSION}: {self.prospects} prospects, "
            f"{self.advocates} advocates, seed {self.seed}"
        )


def ensure_data(args: argparse.Namespace) -> dict[str, Any]:
    from goodword.crm.models import Account

    plan = Plan(args.prospects, args.advocates, args.seed)
    marker = Account.objects.filter(external_id=MARKER).values_list("name", flat=True).first()
    if marker == plan.marker_name and not args.regenerate:
        print(f"data: reusing {plan.marker_name}", flush=True)
        return {"reused": True}
    if marker is None and Account.objects.exists() and not args.regenerate:
        raise SystemExit(
            "bench peers-db: the database holds accounts this benchmark did not write; "
            "pass --regenerate to wipe it"
        )
    from goodword.demo.generator import wipe

    started = time.perf_counter()
    wipe()
    print(f"data: wiped in {time.perf_counter() - started:.0f} s; writing {plan.marker_name}")
    counts = Filler(plan).fill()
    seconds = time.perf_counter() - started
    print(f"data: written in {seconds:.0f} s: {counts}", flush=True)
    return {"reused": False, "seconds": round(seconds, 1), "rows": counts}


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _typo(name: str, rng: random.Random) -> str:
    """The name with two neighbouring letters of its first long word swapped."""
    words = name.split()
    for i, word in enumerate(words):
        if len(word) >= 6:
            at = rng.randrange(1, len(word) - 2)
            words[i] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            return " ".join(words)
    return name


@dataclass
class Filler:
    """Writes the benchmark's records with explicit ids, in one transaction."""

    plan: Plan
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from django.db import connection

        from goodword.demo import names

        self.postgres = connection.vendor == "postgresql"
        self.rng = random.Random(f"peers-db:{self.plan.seed}")
        self.countries = [c[0] for c in names.COUNTRIES]
        self.country_cum = list(accumulate(c[1] for c in names.COUNTRIES))
        self.first_names = names.FIRST_NAMES
        self.last_names = names.LAST_NAMES
        self.titles = [t[0] for t in names.TITLES]
        self.next_contact = 1

    # values as each database stores them
    def when(self, value: dt.datetime) -> Any:
        """Aware for PostgreSQL; naive UTC for SQLite, as Django writes it there."""
        return value if self.postgres else value.astimezone(dt.UTC).replace(tzinfo=None)

    def fill(self) -> dict[str, int]:
        from django.db import transaction

        with transaction.atomic():
            self.reps = self._users()
            self.stages = self._stages()
            self.week_rows = 0
            started = time.perf_counter()
            for start in range(0, self.plan.prospects, CHUNK):
                self._prospect_chunk(start, min(self.plan.prospects, start + CHUNK))
                done = min(self.plan.prospects, start + CHUNK)
                rate = done / (time.perf_counter() - started)
                print(f"  {done:>9,} prospects ({rate:,.0f}/s)", flush=True)
            self._advocates()
            self._sequences()
            self._marker()
        self._analyze()
        return self.counts

    def _users(self) -> list[int]:
        from goodword.users.models import User

        users = [
            User.objects.create_user(
                f"rep{i}@peers-bench.example", first_name=f"Rep{i}", role="rep"
            )
            for i in range(REPS)
        ]
        return [u.pk for u in users]

    def _stages(self) -> dict[str, list[int]]:
        from goodword.crm.models import Stage
        from goodword.demo.generator import stages_reset

        stages_reset()
        found: dict[str, list[int]] = {"open": [], "won": [], "lost": []}
        for stage in Stage.objects.order_by("position"):
            kind = "won" if stage.is_won else "lost" if stage.is_lost else "open"
            found[kind].append(stage.pk)
        return found

    def _load(self, model: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        from django.db import connection

        if not rows:
            return
        table = model._meta.db_table
        self.counts[table] = self.counts.get(table, 0) + len(rows)
        quote = connection.ops.quote_name
        names = ", ".join(quote(c) for c in columns)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)

    # --- prospects

    def _staff(self, rng: random.Random) -> int | None:
        return (
            None
            if rng.random() < 0.08
            else int(min(250_000, rng.lognormvariate(math.log(150), 1.5)) + 2)
        )

    def _country(self, rng: random.Random) -> str:
        at = rng.choices(range(len(self.countries)), cum_weights=self.country_cum, k=1)[0]
        return self.countries[at]

    def _prospect_chunk(self, start: int, end: int) -> None:
        from goodword.crm.models import Account
        from goodword.demo.plan import company

        rng = random.Random(f"peers-db:{self.plan.seed}:{start}")
        accounts, contacts, deals, weeks = [], [], [], []
        for index in range(start, end):
            pk = index + 1
            firm = company(self.plan.seed, index)
            created = NOW - dt.timedelta(seconds=rng.randrange(10 * 86400, 3 * 365 * 86400))
            updated = created + (NOW - created) * rng.random()
            accounts.append(
                (
                    pk, None, firm.name, firm.domain,
                    "" if rng.random() < 0.04 else firm.industry,
                    self._staff(rng),
                    "" if rng.random() < 0.03 else self._country(rng),
                    "prospect",
                    rng.choice(self.reps) if rng.random() < 0.7 else None,
                    None, None, Decimal("0"), "USD", self.when(created), self.when(updated),
                )
            )  # fmt: skip
            contacts.extend(self._prospect_contacts(rng, pk, firm.domain, created))
            deals.extend(self._prospect_deals(rng, pk, firm.name, created))
            if rng.random() < 0.02:
                weeks.extend(self._weeks(rng, pk, mean=20))
        self._load(Account, ACCOUNT_COLUMNS, accounts)
        self._load_contacts(contacts)
        self._load_deals(deals)
        self._load_weeks(weeks)

    def _other_domain(self, rng: random.Random) -> str:
        from goodword.demo.plan import company

        return company(self.plan.seed, rng.randrange(self.plan.prospects)).domain

    def _advocate_domain(self, rng: random.Random) -> str:
        from goodword.demo.plan import company

        # Squared: the first advocates' alumni are many, the last ones' few.
        index = int(self.plan.advocates * rng.random() ** 2)
        return company(self.plan.seed, self.plan.prospects + index).domain

    def _prospect_contacts(
        self, rng: random.Random, account: int, domain: str, since: dt.datetime
    ) -> Iterator[tuple[Any, ...]]:
        for k in range(rng.choice((2, 3, 3, 4))):
            past: list[str] = []
            if rng.random() < 0.3:
                past = [self._other_domain(rng) for _ in range(rng.choice((1, 1, 2)))]
            if rng.random() < 0.02:
                past.insert(rng.randrange(len(past) + 1), self._advocate_domain(rng))
            yield self._contact(rng, account, domain, k, past, since)

    def _contact(
        self,
        rng: random.Random,
        account: int,
        domain: str,
        k: int,
        past: list[str],
        since: dt.datetime,
    ) -> tuple[Any, ...]:
        first, last = rng.choice(self.first_names), rng.choice(self.last_names)
        created = since + (NOW - since) * rng.random()
        opted = created if rng.random() < 0.03 else None
        pk = self.next_contact
        self.next_contact += 1
        return (
            pk, None, account, first, last, f"{_ascii(first)}.{_ascii(last)}.{k}@{domain}",
            rng.choice(self.titles), "", json.dumps(past),
            None if opted is None else self.when(opted),
            "asked not to be asked" if opted else "", self.when(created), self.when(created),
        )  # fmt: skip

    def _prospect_deals(
        self, rng: random.Random, account: int, name: str, since: dt.datetime
    ) -> Iterator[tuple[Any, ...]]:
        roll = rng.random()
        if roll >= 0.08:
            return
        created = since + (NOW - since) * rng.random()
        owner = rng.choice(self.reps) if rng.random() < 0.95 else None
        if roll < 0.05:  # open, most in the first stages
            stage = self.stages["open"][
                min(int(rng.expovariate(0.5)), len(self.stages["open"]) - 1)
            ]
            yield (account, f"{name} new", stage, owner, created, None)
        else:
            closed = created + (NOW - created) * rng.random()
            yield (account, f"{name} new", self.stages["lost"][0], owner, created, closed)

    def _load_contacts(self, rows: list[tuple[Any, ...]]) -> None:
        from goodword.crm.models import Contact

        self._load(Contact, CONTACT_COLUMNS, rows)

    def _load_deals(self, deals: list[tuple[Any, ...]]) -> None:
        from goodword.crm.models import Deal

        first = self.counts.get(Deal._meta.db_table, 0) + 1
        rows = [
            (
                first + i, None, account, name, Decimal("25000.00"), "USD", stage, "new",
                "outbound", owner, self.when(created), self.when(closed or created),
                (closed or NOW).date(), None if closed is None else self.when(closed),
            )
            for i, (account, name, stage, owner, created, closed) in enumerate(deals)
        ]  # fmt: skip
        self._load(Deal, DEAL_COLUMNS, rows)

    def _weeks(self, rng: random.Random, account: int, mean: float) -> Iterator[tuple[Any, ...]]:
        monday = NOW.date() - dt.timedelta(days=NOW.weekday())
        for back in range(16):
            if rng.random() < 0.6:
                events = math.ceil(rng.lognormvariate(math.log(mean), 1.2))
                yield (account, monday - dt.timedelta(weeks=back), events)

    def _load_weeks(self, weeks: list[tuple[Any, ...]]) -> None:
        from goodword.signals.models import EventWeek

        rows = [(self.week_rows + i + 1, *w) for i, w in enumerate(weeks)]
        self.week_rows += len(rows)
        self._load(EventWeek, ["id", "account_id", "week", "events"], rows)

    # --- advocates

    def _advocates(self) -> None:
        from goodword.crm.models import Account
        from goodword.demo.plan import company

        rng = random.Random(f"peers-db:{self.plan.seed}:advocates")
        accounts, contacts, deals, weeks = [], [], [], []
        self.advocate_contacts: dict[int, list[int]] = {}
        for i in range(self.plan.advocates):
            pk = self.plan.prospects + i + 1
            firm = company(self.plan.seed, self.plan.prospects + i)
            since = NOW - dt.timedelta(days=rng.randrange(400, 1500))
            accounts.append(
                (
                    pk, f"ADV-{i}", firm.name, firm.domain, firm.industry, self._staff(rng),
                    self._country(rng), "customer", rng.choice(self.reps), None,
                    since.date(), Decimal("48000.00"), "USD", self.when(since), self.when(since),
                )
            )  # fmt: skip
            first = self.next_contact
            for k in range(5):
                past = []
                if rng.random() < 0.6:
                    past = [self._other_domain(rng) for _ in range(rng.randint(1, 3))]
                contacts.append(self._contact(rng, pk, firm.domain, k, past, since))
            self.advocate_contacts[pk] = list(range(first, self.next_contact))
            deals.append((pk, f"{firm.name} platform", self.stages["won"][0], None, since, since))
            weeks.extend(self._weeks(rng, pk, mean=400))
        self._load(Account, ACCOUNT_COLUMNS, accounts)
        self._load_contacts(contacts)
        self._load_deals(deals)
        self._load_weeks(weeks)
        self._words(rng)
        self._moments(rng)

    def _prospect_name(self, rng: random.Random) -> str:
        from goodword.demo.plan import company

        name = company(self.plan.seed, rng.randrange(self.plan.prospects)).name
        return _typo(name, rng) if rng.random() < 0.1 else name

    def _text(self, rng: random.Random, mentioning: float) -> str:
        if rng.random() < mentioning:
            return rng.choice(MENTIONING).format(name=self._prospect_name(rng))
        return rng.choice(PLAIN)

    def _words(self, rng: random.Random) -> None:
        """The advocates' messages, tickets and call notes."""
        from goodword.crm.models import Task
        from goodword.signals.models import Message, Ticket

        messages, tickets, tasks = [], [], []
        oldest = 425 * 86400
        for pk in self.advocate_contacts:
            for _ in range(rng.randint(20, 260)):
                at = NOW - dt.timedelta(seconds=rng.randrange(oldest))
                messages.append(
                    Message(
                        external_id=f"pdb-m-{len(messages)}",
                        account_id=pk,
                        received_at=at,
                        channel=rng.choice(CHANNELS),
                        text=self._text(rng, 0.25),
                        praise=0.5,
                        imported_at=at,
                    )
                )
            for _ in range(rng.randint(10, 60)):
                at = NOW - dt.timedelta(seconds=rng.randrange(oldest))
                tickets.append(
                    Ticket(
                        external_id=f"pdb-t-{len(tickets)}",
                        account_id=pk,
                        opened_at=at,
                        text=self._text(rng, 0.25),
                        praise=0.2,
                        imported_at=at,
                    )
                )
            for n in range(rng.randint(5, 20)):
                at = NOW - dt.timedelta(seconds=rng.randrange(oldest))
                tasks.append(
                    Task(
                        kind="call",
                        subject=f"Check-in {n}",
                        owner_id=rng.choice(self.reps),
                        account_id=pk,
                        due_at=at,
                        status="done",
                        notes=self._text(rng, 0.25),
                        created_at=at,
                        completed_at=at,
                    )
                )
        for model, objs in ((Message, messages), (Ticket, tickets), (Task, tasks)):
            model.objects.bulk_create(objs, batch_size=2000)
            self.counts[model._meta.db_table] = len(objs)

    def _moments(self, rng: random.Random) -> None:
        from goodword.moments.models import Moment

        at = NOW - dt.timedelta(days=20)
        moments = [
            Moment(
                account_id=pk,
                rule_id="reports",
                kind="milestone",
                key="100",
                occurred_at=at,
                evidence="report_created reached 100",
                data={"threshold": "100", "event": "report_created"},
                found_at=at,
                updated_at=at,
            )
            for pk in self.advocate_contacts
            if rng.random() < 0.6
        ]
        Moment.objects.bulk_create(moments)
        self.counts[Moment._meta.db_table] = len(moments)

    def _marker(self) -> None:
        from goodword.crm.models import Account

        Account.objects.create(
            external_id=MARKER,
            name=self.plan.marker_name,
            lifecycle="churned",
            created_at=NOW,
            updated_at=NOW,
        )

    def _sequences(self) -> None:
        """Move PostgreSQL's sequences past the explicit ids."""
        from django.db import connection

        from goodword.crm.models import Account, Contact, Deal
        from goodword.signals.models import EventWeek

        if not self.postgres:
            return
        with connection.cursor() as cursor:
            for model in (Account, Contact, Deal, EventWeek):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f"(SELECT max(id) FROM {connection.ops.quote_name(table)}))",
                    [table],
                )

    def _analyze(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


ACCOUNT_COLUMNS = [
    "id", "external_id", "name", "domain", "industry", "employees", "country", "lifecycle",
    "owner_id", "csm_id", "customer_since", "arr", "currency", "created_at", "updated_at",
]  # fmt: skip
CONTACT_COLUMNS = [
    "id", "external_id", "account_id", "first_name", "last_name", "email", "title", "phone",
    "past_employers", "opted_out_at", "opted_out_how", "created_at", "updated_at",
]  # fmt: skip
DEAL_COLUMNS = [
    "id", "external_id", "account_id", "name", "amount", "currency", "stage_id", "kind",
    "source", "owner_id", "created_at", "updated_at", "close_date", "closed_at",
]  # fmt: skip


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    account: Any  # crm.models.Account
    contact: Any  # crm.models.Contact


def make_asks(count: int) -> list[Ask]:
    from goodword.crm.models import Account, Contact

    advocates = list(Account.objects.filter(lifecycle="customer").order_by("pk"))
    people: dict[int, list[Any]] = {}
    for person in Contact.objects.filter(account__in=advocates).order_by("pk"):
        people.setdefault(person.account_id, []).append(person)
    asks = []
    for i in range(count):
        account = advocates[i % len(advocates)]
        mine = people[account.pk]
        asks.append(Ask(account, mine[(i // len(advocates)) % len(mine)]))
    return asks


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from goodword.referrals import peers

    asks = make_asks(args.asks)
    figures: dict[str, Any] = {"cold": cold(asks[0], args.limit)}

    def ask(a: Ask) -> list[Any]:
        return peers.peers_for(account=a.account, contact=a.contact, now=NOW, limit=args.limit)

    for a in asks[:WARM_UP]:
        ask(a)
    samples = []
    for a in asks:
        started = time.perf_counter()
        ask(a)
        samples.append((time.perf_counter() - started) * 1000)
    figures["peers_for"] = summary(samples, 2)
    figures["refresh"] = refresh(asks, args.limit)
    parts, inputs = time_parts(asks, ask)
    figures["parts"] = parts
    if not args.skip_sql:
        figures["sql"] = sql_baseline(inputs, args.limit)
    report(figures, len(asks))
    return figures


def cold(first: Ask, limit: int) -> dict[str, float]:
    """The copies built from nothing (the prospects' index and mention finder, everyone's
    past employers), then a first ask building both."""
    from goodword.referrals import peers

    peers.peers_cache_clear()
    before, started = rss_mb(), time.perf_counter()
    peers._prospects(NOW)
    prospects_s = time.perf_counter() - started
    started = time.perf_counter()
    peers._alumni_index()
    alumni_s = time.perf_counter() - started
    grown = rss_mb() - before
    peers.peers_cache_clear()
    started = time.perf_counter()
    peers.peers_for(account=first.account, contact=first.contact, now=NOW, limit=limit)
    first_s = time.perf_counter() - started
    print(
        f"cold: prospects' copy {prospects_s:.2f} s, past employers' copy {alumni_s:.2f} s "
        f"({grown:+.0f} MB RSS for both); a first peers_for building both {first_s:.2f} s",
        flush=True,
    )
    return {
        "prospects_build_s": round(prospects_s, 2),
        "alumni_build_s": round(alumni_s, 2),
        "build_rss_mb": round(grown),
        "first_ask_s": round(first_s, 2),
    }


REFRESH_TRIES = 5


def refresh(asks: list[Ask], limit: int) -> dict[str, float]:
    """An ask just after a prospect, or a contact, was updated (the cached copies then apply
    the rows changed since they were read), against the same ask with nothing changed:
    medians of REFRESH_TRIES tries, each touching another prospect or contact. The touched
    rows keep their values but not their updated_at."""
    from django.utils import timezone

    from goodword.crm.models import Account, Contact
    from goodword.referrals import peers

    def timed(ask: Ask) -> float:
        started = time.perf_counter()
        peers.peers_for(account=ask.account, contact=ask.contact, now=NOW, limit=limit)
        return (time.perf_counter() - started) * 1000

    prospects = list(Account.objects.filter(lifecycle="prospect").order_by("pk")[:REFRESH_TRIES])
    samples: dict[str, list[float]] = {"unchanged": [], "prospect": [], "contact": []}
    for i, prospect in enumerate(prospects):
        ask = asks[i % len(asks)]
        samples["unchanged"].append(timed(ask))
        Account.objects.filter(pk=prospect.pk).update(updated_at=timezone.now())
        samples["prospect"].append(timed(ask))
        person = Contact.objects.filter(account=prospect).order_by("pk").first()
        Contact.objects.filter(pk=person.pk).update(updated_at=timezone.now())
        samples["contact"].append(timed(ask))
    figures = {
        "unchanged_ms": percentile(samples["unchanged"], 0.5),
        "after_a_prospect_update_ms": percentile(samples["prospect"], 0.5),
        "after_a_contact_update_ms": percentile(samples["contact"], 0.5),
    }
    print(
        f"refresh: one ask, median of {len(prospects)}: unchanged "
        f"{figures['unchanged_ms']:.0f} ms, after a prospect update "
        f"{figures['after_a_prospect_update_ms']:.0f} ms, after a contact update "
        f"{figures['after_a_contact_update_ms']:.0f} ms",
        flush=True,
    )
    return {k: round(v, 1) for k, v in figures.items()}


@dataclass
class Lookalikes:
    """One ask's `_lookalikes` call: its inputs and what it returned."""

    profile: Any
    skip: set[int]
    limit: int
    found: list[tuple[int, int]]


def time_parts(
    asks: list[Ask], ask: Callable[[Ask], Any]
) -> tuple[dict[str, dict[str, float]], list[Lookalikes]]:
    """Each ask again with the parts of peers_for wrapped in timers; the lookalikes' inputs
    and results recorded for the SQL baseline."""
    from goodword.engine.peers import SCALE
    from goodword.referrals import peers

    spent: dict[str, float] = {}
    inputs: list[Lookalikes] = []
    originals = {name: getattr(peers, name) for name in PARTS if hasattr(peers, name)}

    def timer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def timed(*a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                out = fn(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + (time.perf_counter() - started) * 1000
            if name == "_lookalikes":
                found = [(s.account_id, round(s.score * SCALE)) for s in out]
                inputs.append(Lookalikes(a[1], set(kw["skip"]), kw["limit"], found))
            return out

        return timed

    samples: dict[str, list[float]] = {name: [] for name in [*originals, "peers_for", "rest"]}
    try:
        for name, fn in originals.items():
            setattr(peers, name, timer(name, fn))
        for a in asks:
            spent.clear()
            started = time.perf_counter()
            ask(a)
            total = (time.perf_counter() - started) * 1000
            for name in originals:
                samples[name].append(spent.get(name, 0.0))
            samples["peers_for"].append(total)
            samples["rest"].append(total - sum(spent.get(n, 0.0) for n in TOP_PARTS))
    finally:
        for name, fn in originals.items():
            setattr(peers, name, fn)
    return {name: summary(s, 2) for name, s in samples.items()}, inputs


def _band_sql(column: str) -> str:
    from goodword.engine.peers import SIZE_BANDS

    steps = " ".join(
        f"WHEN {column} < {upper} THEN {band}" for band, upper in enumerate(SIZE_BANDS[1:])
    )
    return f"CASE WHEN {column} IS NULL THEN -1 {steps} ELSE {len(SIZE_BANDS) - 1} END"


def lookalike_sql(skipped: int) -> str:
    """The lookalike ranking in one query: the same points as goodword.engine.peers (industry
    and country compared without case, the size band, usage log-scaled over the window),
    prospects in an open deal and the skipped ids left out, ties to the lower id. Parameters:
    since, today, industry x2, band x2, country x2, usage, the skipped ids, limit."""
    from goodword.engine import peers as engine

    marks = ", ".join(["%s"] * skipped) or "NULL"
    points = (
        f"CASE WHEN %s <> '' AND lower(trim(a.industry)) = %s THEN {engine.INDUSTRY} ELSE 0 END"
        f" + CASE WHEN %s < 0 OR a.employees IS NULL THEN 0"
        f"   WHEN {_band_sql('a.employees')} = %s THEN {engine.SAME_SIZE}"
        f"   WHEN abs({_band_sql('a.employees')} - %s) = 1 THEN {engine.NEAR_SIZE} ELSE 0 END"
        f" + CASE WHEN %s <> '' AND lower(a.country) = %s THEN {engine.COUNTRY} ELSE 0 END"
        f" + CASE WHEN %s AND EXISTS (SELECT 1 FROM usage) THEN floor("
        f"   min_usage * {engine.USAGE} / {float(engine.SCALE)}) ELSE 0 END"
    )
    return f"""
WITH usage AS (
    SELECT w.account_id, SUM(w.events) AS n
    FROM signals_eventweek w JOIN crm_account p ON p.id = w.account_id
    WHERE p.lifecycle = 'prospect' AND w.week >= %s AND w.week <= %s
    GROUP BY w.account_id
), scored AS (
    SELECT a.id, {points} AS points
    FROM (
        SELECT a.*, CASE WHEN u.n IS NULL THEN 0 ELSE {_least()}({engine.SCALE}, floor(
            {engine.SCALE} * ln(1 + CAST(u.n AS double precision))
            / ln(CAST({1 + engine.USAGE_SATURATES} AS double precision)))) END AS min_usage
        FROM crm_account a LEFT JOIN usage u ON u.account_id = a.id
        WHERE a.lifecycle = 'prospect' AND a.id NOT IN ({marks})
    ) a
    WHERE NOT EXISTS (
        SELECT 1 FROM crm_deal d JOIN crm_stage s ON s.id = d.stage_id
        WHERE d.account_id = a.id AND d.closed_at IS NULL AND NOT s.is_won AND NOT s.is_lost
    )
)
SELECT id, points FROM scored WHERE points >= {engine.MIN_POINTS}
ORDER BY points DESC, id LIMIT %s
"""


def _least() -> str:
    from django.db import connection

    return "least" if connection.vendor == "postgresql" else "min"


def sql_baseline(inputs: list[Lookalikes], limit: int) -> dict[str, Any]:
    from django.db import connection

    from goodword.engine.peers import size_band
    from goodword.referrals.peers import USAGE_WEEKS, _usage_since

    since, today = _usage_since(NOW), NOW.astimezone(dt.UTC).date()
    assert USAGE_WEEKS > 0

    def rank(item: Lookalikes) -> list[tuple[int, int]]:
        profile = item.profile
        industry = " ".join(profile.industry.casefold().split())
        band = size_band(profile.employees)
        country = profile.country.strip().lower()
        usage = bool(profile.success_usage)
        skip = sorted(item.skip)
        params = [since, today, industry, industry, band, band, band, country, country, usage]
        with connection.cursor() as cursor:
            cursor.execute(lookalike_sql(len(skip)), [*params, *skip, item.limit])
            return [(int(pk), int(points)) for pk, points in cursor.fetchall()]

    for item in inputs[:WARM_UP]:
        rank(item)
    samples = []
    for i, item in enumerate(inputs):
        started = time.perf_counter()
        got = rank(item)
        samples.append((time.perf_counter() - started) * 1000)
        if got != item.found:
            raise SystemExit(
                f"bench peers-db: ask {i} ({item.profile}) differs from the SQL baseline:\n"
                f"  engine {item.found}\n  SQL    {got}"
            )
    assert limit > 0
    return {**summary(samples, 2), "asks": len(inputs), "equal": True}


def report(figures: dict[str, Any], asks: int) -> None:
    whole = figures["peers_for"]
    print(f"\nper ask ({asks} asks after {WARM_UP} warm-up; target p95 < {TARGET_P95_MS:.0f} ms)")
    print(f"  {'':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    print(f"  {'peers_for (index cached)':<34} {whole['p50_ms']:8.1f} {whole['p95_ms']:8.1f} "
          f"{whole['max_ms']:8.1f}")  # fmt: skip
    print("  its parts (a second pass, timed each):")
    for name, f in figures["parts"].items():
        print(f"    {name:<32} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} {f['max_ms']:8.1f}")
    if "sql" in figures:
        sql = figures["sql"]
        print(f"  {'SQL lookalike query (baseline)':<34} {sql['p50_ms']:8.1f} {sql['p95_ms']:8.1f} "
              f"{sql['max_ms']:8.1f}")  # fmt: skip
        engine = figures["parts"]["_lookalikes"]
        figures["ratios"] = {
            "sql_p50_over_lookalikes_p50": round(sql["p50_ms"] / engine["p50_ms"], 1),
            "sql_p50_over_peers_for_p50": round(sql["p50_ms"] / whole["p50_ms"], 1),
        }
        ratios = figures["ratios"]
        print(
            f"  SQL / the engine's lookalikes (p50): {ratios['sql_p50_over_lookalikes_p50']}x;"
            f" SQL / the whole peers_for (p50): {ratios['sql_p50_over_peers_for_p50']}x;"
            f" equal results on all {sql['asks']} asks"
        )
    figures["target_met"] = whole["p95_ms"] < TARGET_P95_MS
    print(
        f"  peers_for p95 {whole['p95_ms']:.1f} ms: {'met' if figures['target_met'] else 'MISSED'}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
