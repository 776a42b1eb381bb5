"""Writing the demo company into the database: wipe, people, then accounts a chunk at a time.

The plan (goodword/demo/plan.py) decides everything from the seed; this module only turns a
chunk of planned accounts into rows with bulk_create, so memory stays flat however many
accounts are asked for. The rows are written directly rather than through crm/services.py:
services write one row and its timeline entry at a time, which would take hours for a million
accounts; the demo writes a few timeline rows per account itself instead.
"""

from __future__ import annotations

import importlib
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from graphlib import TopologicalSorter
from itertools import pairwise

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import connection, models, reset_queries, transaction
from tqdm import tqdm

from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange, Stage, Task
from goodword.crm.services import deal_totals_compact
from goodword.demo import names
from goodword.demo.activity import signals_write
from goodword.demo.deals import Advocacy, AdvocatePool, DealPlan, customer_span
from goodword.demo.money import currency_of, rates_write
from goodword.demo.plan import (
    AccountPlan,
    ContactPlan,
    Ctx,
    TaskPlan,
    UserPlan,
    make_ctx,
    plan_account,
    plan_staff,
    staff_tasks,
)
from goodword.demo.referrals import Chunk, ReferralWriter
from goodword.referrals.models import DealCredit
from goodword.signals import store
from goodword.users.models import Team, User

DEMO_PASSWORD = "goodword-demo"
CHUNK_ACCOUNTS = 500
BATCH_SIZE = 1000
LOGIN_ROLES = ("rep", "csm", "manager", "admin")


class NotDemoData(Exception):
    """The database holds records that the demo did not make; wiping needs `force`."""


@dataclass
class DemoSummary:
    """How many rows of each kind were written, and how to log in."""

    teams: int = 0
    users: int = 0
    accounts: int = 0
    contacts: int = 0
    deals: int = 0
    stage_changes: int = 0
    tasks: int = 0
    activities: int = 0
    events: int = 0
    nps_responses: int = 0
    tickets: int = 0
    messages: int = 0
    goals: int = 0
    seconds: float = 0.0
    logins: dict[str, str] = field(default_factory=dict)  # role -> e-mail
    password: str = DEMO_PASSWORD

    def counts(self) -> dict[str, int]:
        keys = ("teams", "users", "accounts", "contacts", "deals", "stage_changes", "tasks")
        signals = ("events", "nps_responses", "tickets", "messages", "goals")
        return {k: getattr(self, k) for k in (*keys, "activities", *signals)}


def generate(
    *,
    accounts: int,
    seed: int,
    today: date,
    progress: bool = False,
    contacts_per_account: float | None = None,
    deals_per_account: float | None = None,
    force: bool = False,
) -> DemoSummary:
    """Replace everything in the database with the demo company for (seed, today).

    Raises NotDemoData, having changed nothing, when the database holds users outside the
    demo's e-mail domain (or records without any users) and `force` is not set."""
    if not force and holds_other_data():
        raise NotDemoData(
            "the database holds data that is not the demo's (users outside "
            f"@{names.DEMO_EMAIL_DOMAIN}); wiping it needs --force"
        )
    started = time.perf_counter()
    ctx = make_ctx(
        seed=seed,
        accounts=accounts,
        today=today,
        contacts_per_account=contacts_per_account,
        deals_per_account=deals_per_account,
    )
    summary = DemoSummary()
    pool = AdvocatePool(random.Random(f"goodword-demo:{seed}:advocates"))
    with transaction.atomic():  # never leave a wiped database without a pipeline or users
        wipe(progress=progress)
        store_wipe()
        stages = stages_reset()
        people = _people_write(ctx, summary)
        referrals = ReferralWriter.start(ctx)
    with _bar(progress, accounts, "accounts") as bar:
        for start in range(0, accounts, CHUNK_ACCOUNTS):
            plans = [
                plan_account(ctx, i) for i in range(start, min(accounts, start + CHUNK_ACCOUNTS))
            ]
            with transaction.atomic():
                _chunk_write(ctx, plans, people, stages, summary, pool, referrals)
            reset_queries()  # with DEBUG on, Django keeps each query's SQL: drop them per chunk
            bar.update(len(plans))
            bar.set_postfix(contacts=summary.contacts, deals=summary.deals, tasks=summary.tasks)
    deal_totals_compact()
    with transaction.atomic():
        rates_write(seed=seed, today=today, now=ctx.now)
        _handoffs(ctx, summary)
    summary.seconds = time.perf_counter() - started
    return summary


def holds_other_data() -> bool:
    """True when wiping would lose something the demo did not write."""
    if User.objects.exclude(email__iendswith=f"@{names.DEMO_EMAIL_DOMAIN}").exists():
        return True
    return not User.objects.exists() and (Account.objects.exists() or Deal.objects.exists())


def _bar(progress: bool, total: int | None, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit="", file=sys.stderr, disable=not progress)


# --- wiping -------------------------------------------------------------------------------


def _handoffs(ctx: Ctx, summary: DemoSummary) -> None:
    """The new-business deals won in the last weeks are handed to customer success, as the
    app does when a deal is won (older wins are history, already with their CSMs)."""
    from goodword.handoffs.services import RECENT_WIN, handoff_for_won_deal

    won = Deal.objects.filter(
        kind="new", stage__is_won=True, closed_at__gte=ctx.now - RECENT_WIN
    ).select_related("stage", "account__csm", "owner")
    activities, tasks = Activity.objects.count(), Task.objects.count()
    for deal in won.order_by("closed_at", "pk"):
        assert deal.closed_at is not None
        handoff_for_won_deal(actor=None, deal=deal, now=deal.closed_at)
    # Each handoff is audited, and a referred one gives its owner a thank-you task.
    summary.activities += Activity.objects.count() - activities
    summary.tasks += Task.objects.count() - tasks


def _wiped_models() -> list[type[models.Model]]:
    """Every table of Goodword's apps, with Django's sessions and admin log (which point at
    users), children before parents so foreign keys hold at each step, and last the tables
    that triggers write to (DealTotal): deleting deals appends to them."""
    chosen = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_config is not None
        and (
            m._meta.app_config.name.startswith("goodword.")
            or m._meta.app_label in {"admin", "sessions"}
        )
    ]
    graph: TopologicalSorter[type[models.Model]] = TopologicalSorter()
    for model in chosen:
        graph.add(model)
        for f in model._meta.concrete_fields:
            parent = f.related_model if f.is_relation else None
            if parent in chosen and parent is not model:
                graph.add(parent, model)
    ordered = list(graph.static_order())
    return [m for m in ordered if m._meta.managed] + [m for m in ordered if not m._meta.managed]


def store_wipe() -> None:
    """Empty the event store, unless it is read in place (a team's own data is never
    deleted there; the demo's events are then not written either)."""
    with store.connect() as opened:
        if not opened.read_only:
            opened.clear()


def wipe(*, progress: bool = False) -> None:
    """Empty Goodword's tables (TRUNCATE on PostgreSQL, DELETE in dependency order elsewhere)."""
    tables = [m._meta.db_table for m in _wiped_models()]
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Foreign keys are checked at commit; rows written earlier in this transaction
            # leave checks pending, which TRUNCATE refuses, so run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(map(quote, tables))} CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return
        for table in tqdm(tables, desc="wiping", file=sys.stderr, disable=not progress):
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - our own table names


def stages_reset() -> dict[str, int]:
    """Recreate the default pipeline (the one the first migration adds); returns name -> id."""
    defaults = importlib.import_module("goodword.crm.migrations.0003_default_stages").STAGES
    Stage.objects.all().delete()
    rows = [
        Stage(name=name, position=position, probability=probability, is_won=won, is_lost=lost)
        for position, (name, probability, won, lost) in enumerate(defaults, start=1)
    ]
    Stage.objects.bulk_create(rows)
    return {s.name: s.pk for s in rows}


# --- people -------------------------------------------------------------------------------


def _people_write(ctx: Ctx, summary: DemoSummary) -> dict[str, list[int]]:
    """Teams and users; returns role -> user ids by index. One password hash serves everyone:
    hashing is slow on purpose, and every demo user has the same documented password."""
    hashed = make_password(DEMO_PASSWORD)
    staff = plan_staff(ctx)
    with transaction.atomic():
        teams = [Team(name=names.TEAMS[t]) for t in range(ctx.staff.teams)]
        Team.objects.bulk_create(teams)
        users = [_user(p, teams, hashed, ctx.now) for p in staff]
        User.objects.bulk_create(users, batch_size=BATCH_SIZE)
        ids: dict[str, list[int]] = {}
        for person, user in zip(staff, users, strict=True):
            ids.setdefault(person.role, []).append(user.pk)
        tasks = [_task(t, ids, {}, [], []) for p in staff for t in staff_tasks(ctx, p)]
        Task.objects.bulk_create(tasks, batch_size=BATCH_SIZE)
    summary.teams, summary.users, summary.tasks = len(teams), len(users), len(tasks)
    first = {p.role: p.email for p in staff if p.index == 0}
    summary.logins = {role: first[role] for role in LOGIN_ROLES}
    return ids


def _user(person: UserPlan, teams: list[Team], hashed: str, now: datetime) -> User:
    admin = person.role == "admin"
    return User(
        email=person.email,
        username=person.email,
        password=hashed,
        first_name=person.first_name,
        last_name=person.last_name,
        role=person.role,
        team_id=None if person.team is None else teams[person.team].pk,
        is_staff=admin,
        is_superuser=admin,
        date_joined=now - timedelta(days=3 * 365),
    )


# --- accounts, a chunk at a time ------------------------------------------------------------


def _chunk_write(
    ctx: Ctx,
    plans: list[AccountPlan],
    people: dict[str, list[int]],
    stages: dict[str, int],
    summary: DemoSummary,
    pool: AdvocatePool,
    referrals: ReferralWriter,
) -> None:
    reps, csms = people["rep"], people["csm"]
    accounts = [_account(p, reps, csms) for p in plans]
    Account.objects.bulk_create(accounts, batch_size=BATCH_SIZE)
    contacts = [
        [_contact(c, a.pk, p.index, k) for k, c in enumerate(p.contacts)]
        for p, a in zip(plans, accounts, strict=True)
    ]
    Contact.objects.bulk_create(_flat(contacts), batch_size=BATCH_SIZE)
    deals = [
        [_deal(d, a, stages, p.index, k) for k, d in enumerate(p.deals)]
        for p, a in zip(plans, accounts, strict=True)
    ]
    credits = _credits(plans, accounts, contacts, deals, pool)
    Deal.objects.bulk_create(_flat(deals), batch_size=BATCH_SIZE)
    for credit in credits:
        credit.deal_id = credit.deal.pk
    referrals.write(Chunk(plans, accounts, contacts, deals), credits)  # sets their introductions
    DealCredit.objects.bulk_create(credits, batch_size=BATCH_SIZE)
    changes = [
        _changes(d, plan_deal, stages)
        for p, ds in zip(plans, deals, strict=True)
        for d, plan_deal in zip(ds, p.deals, strict=True)
    ]
    DealStageChange.objects.bulk_create(_flat(changes), batch_size=BATCH_SIZE)
    tasks = [
        _task(t, people, {"account": a.pk}, [c.pk for c in cs], [d.pk for d in ds])
        for p, a, cs, ds in zip(plans, accounts, contacts, deals, strict=True)
        for t in p.tasks
    ]
    Task.objects.bulk_create(tasks, batch_size=BATCH_SIZE)
    activities = [
        row for p, a, ds in zip(plans, accounts, deals, strict=True) for row in _timeline(p, a, ds)
    ]
    Activity.objects.bulk_create(activities, batch_size=BATCH_SIZE)
    summary.accounts += len(accounts)
    summary.contacts += sum(map(len, contacts))
    summary.deals += sum(map(len, deals))
    summary.stage_changes += sum(map(len, changes))
    summary.tasks += len(tasks)
    summary.activities += len(activities)
    signals_write(ctx, plans, accounts, contacts, summary)


def _credits(
    plans: list[AccountPlan],
    accounts: list[Account],
    contacts: list[list[Contact]],
    deals: list[list[Deal]],
    pool: AdvocatePool,
) -> list[DealCredit]:
    """Each referral deal's credit (100 %) to an account that was a customer when the deal
    began, and one of its contacts. A referral with no other customer to credit (a demo of a
    single account) is recorded as an inbound deal instead: no referral is uncredited."""
    for p, a, cs in zip(plans, accounts, contacts, strict=True):
        span = customer_span(
            lifecycle=p.lifecycle,
            customer_since=p.customer_since,
            churned_at=p.churned_at,
            deals=p.deals,
        )
        if span is not None:
            contact = pool.rng.choice(cs).pk if cs else None
            pool.add(Advocacy(span[0], span[1], a.pk, contact))
    credits = []
    for a, ds in zip(accounts, deals, strict=True):
        for deal in ds:
            if deal.source != "referral":
                continue
            advocate = pool.pick(deal.created_at, not_account=a.pk)
            if advocate is None:
                deal.source = "inbound"
                continue
            credits.append(_credit(deal, advocate))
    return credits


def _credit(deal: Deal, advocate: Advocacy) -> DealCredit:
    return DealCredit(
        deal=deal,
        advocate_account_id=advocate.account,
        advocate_id=advocate.contact,
        share=Decimal(100),
        created_at=deal.created_at,
    )


def _flat[T](rows: list[list[T]]) -> Iterator[T]:
    return (row for group in rows for row in group)


def _account(p: AccountPlan, reps: list[int], csms: list[int]) -> Account:
    return Account(
        external_id=f"demo-a{p.index + 1}",
        name=p.company.name,
        domain=p.company.domain,
        industry=p.company.industry,
        employees=p.employees,
        country=p.country,
        lifecycle=p.lifecycle,
        owner_id=reps[p.owner],
        csm_id=None if p.csm is None else csms[p.csm],
        customer_since=p.customer_since,
        arr=p.arr,
        currency=currency_of(p.country),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _contact(c: ContactPlan, account_id: int, index: int, k: int) -> Contact:
    return Contact(
        external_id=f"demo-a{index + 1}-c{k + 1}",
        account_id=account_id,
        first_name=c.first_name,
        last_name=c.last_name,
        email=c.email,
        title=c.title,
        phone=c.phone,
        past_employers=c.past_employers,
        opted_out_at=c.opted_out_at,
        opted_out_how=c.opted_out_how,
        created_at=c.created_at,
        updated_at=c.opted_out_at or c.created_at,
    )


def _deal(d: DealPlan, account: Account, stages: dict[str, int], index: int, k: int) -> Deal:
    return Deal(
        external_id=f"demo-a{index + 1}-d{k + 1}",
        account_id=account.pk,
        name=d.name[:200],
        amount=d.amount,
        currency=account.currency,
        stage_id=stages[d.stage],
        kind=d.kind,
        source=d.source,
        owner_id=account.owner_id,
        created_at=d.created_at,
        updated_at=d.history[-1][1],
        close_date=d.close_date,
        closed_at=d.closed_at,
    )


def _changes(deal: Deal, d: DealPlan, stages: dict[str, int]) -> list[DealStageChange]:
    rows, previous = [], None
    for stage, at in d.history:
        to_stage = stages[stage]
        rows.append(
            DealStageChange(
                deal_id=deal.pk,
                from_stage_id=previous,
                to_stage_id=to_stage,
                changed_at=at,
                changed_by_id=deal.owner_id,
            )
        )
        previous = to_stage
    return rows


def _task(
    t: TaskPlan,
    people: dict[str, list[int]],
    links: dict[str, int],
    contact_ids: list[int],
    deal_ids: list[int],
) -> Task:
    role, index = t.owner
    return Task(
        kind=t.kind,
        subject=t.subject,
        owner_id=people[role][index],
        account_id=links.get("account"),
        contact_id=None if t.contact is None else contact_ids[t.contact],
        deal_id=None if t.deal is None else deal_ids[t.deal],
        due_at=t.due_at,
        status="open" if t.completed_at is None else "done",
        outcome=t.outcome,
        created_at=t.created_at,
        completed_at=t.completed_at,
    )


TIMELINE_DEALS = 2  # the latest deals of each account get timeline rows
TIMELINE_MOVES = 2  # and so do their latest stage changes


def _timeline(p: AccountPlan, account: Account, deals: list[Deal]) -> list[Activity]:
    """A few timeline rows per account, worded as the services word them."""
    actor = account.owner_id
    rows = [
        Activity(
            account_id=account.pk,
            actor_id=actor,
            verb="account.created",
            object_type="account",
            object_id=account.pk,
            summary=f"Account {account.name} created",
            at=account.created_at,
        )
    ]
    for deal, plan in list(zip(deals, p.deals, strict=True))[-TIMELINE_DEALS:]:
        first_stage, created = plan.history[0]
        rows.append(
            _activity(
                account,
                deal,
                "deal.created",
                f"Deal {deal.name} created in {first_stage}",
                created,
                {"stage": first_stage},
            )
        )
        moves = list(pairwise(plan.history))[-TIMELINE_MOVES:]
        for (old, _), (new, at) in moves:
            summary = f"Deal {deal.name} moved from {old} to {new}"
            rows.append(
                _activity(
                    account, deal, "deal.stage_changed", summary, at, {"stage": new}, {"stage": old}
                )
            )
    return rows


def _activity(
    account: Account,
    deal: Deal,
    verb: str,
    summary: str,
    at: datetime,
    after: dict[str, str],
    before: dict[str, str] | None = None,
) -> Activity:
    return Activity(
        account_id=account.pk,
        actor_id=deal.owner_id,
        verb=verb,
        object_type="deal",
        object_id=deal.pk,
        summary=summary[:300],
        before=before or {},
        after=after,
        at=at,
    )
