"""Queuing the referral ask: for every account whose readiness reached the threshold and
that passes every gate, a referral_ask task for its owner, naming the contact to ask, the
moments behind it and a one-line why-now. The database allows one open ask per account
(crm_task_one_open_ask_per_account), so two scans at once cannot queue two."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction

from goodword.crm.models import Activity, Task, TaskKind
from goodword.engine.gates import Block, add_business_days, explain, gates_check
from goodword.engine.programme import Programme
from goodword.moments.facts import (
    AccountFacts,
    assignee,
    gather,
    moments_by_account,
    readiness_of,
    ready_moments,
)
from goodword.moments.models import Moment
from goodword.moments.services import moments_table


@dataclass
class Queued:
    created: list[Task] = field(default_factory=list)
    blocked: Counter[str] = field(default_factory=Counter)  # gate → accounts it blocked
    due: int = 0  # accounts whose readiness reached the threshold


@dataclass(frozen=True)
class Verdict:
    """Whether an account would be asked now, and why not."""

    facts: AccountFacts
    threshold: float
    blocks: tuple[Block, ...]

    @property
    def reasons(self) -> list[str]:
        return explain(readiness=self.facts.readiness, threshold=self.threshold, blocks=self.blocks)

    @property
    def due(self) -> bool:
        return not self.reasons


def verdicts(
    programme: Programme,
    *,
    now: dt.datetime,
    accounts: list[int] | None = None,
    moments: dict[int, list[Moment]] | None = None,
) -> dict[int, Verdict]:
    """The verdict for each account with moments in the readiness horizon (or for the
    accounts given, moments or not). `moments` (from moments_by_account) saves reading
    them again."""
    if moments is None:
        moments = moments_by_account(programme, now=now, accounts=accounts)
    ids = accounts if accounts is not None else list(moments)
    facts = gather(ids, programme, now=now, moments=moments)
    return {
        account_id: Verdict(
            facts=f,
            threshold=programme.readiness.threshold,
            blocks=gates_check(f.gate, now=now, config=programme.gates),
        )
        for account_id, f in facts.items()
    }


def asks_queue(*, programme: Programme, now: dt.datetime) -> Queued:
    """Create the asks that are due now; returns them and how many accounts each gate
    blocked (among those whose readiness reached the threshold)."""
    moments = ready_moments(programme, now=now)
    ready = sorted(moments)
    out = Queued(due=len(ready))
    due = []
    for verdict in verdicts(programme, now=now, accounts=ready, moments=moments).values():
        if verdict.blocks:
            out.blocked.update(block.gate for block in verdict.blocks)
        else:
            due.append(verdict.facts)
    out.created = asks_create(due, programme=programme, now=now)
    if refused := len(due) - len(out.created):
        out.blocked["open_ask"] += refused
    return out


def asks_create(due: list[AccountFacts], *, programme: Programme, now: dt.datetime) -> list[Task]:
    """The asks for many accounts in one transaction, the same rows ask_create writes: the
    tasks and their timeline rows inserted in bulk, each ask's moments linked by one UPDATE
    (547 asks one by one took 1 s of a 7 s incremental scan, most of it in commits). When
    the database refuses the batch (an open ask appeared meanwhile: another scan, an
    owner), each is created on its own, so only the refused ones are left out."""
    made = [(facts, task) for facts in due if (task := _ask(facts, programme, now)) is not None]
    try:
        with transaction.atomic():
            tasks = Task.objects.bulk_create([task for _, task in made])
            _link(made, now)
    except IntegrityError:
        return [t for f in due if (t := ask_create(facts=f, programme=programme, now=now))]
    return tasks


def ask_create(*, facts: AccountFacts, programme: Programme, now: dt.datetime) -> Task | None:
    """The ask for one account, with its moments linked; None when an open ask exists (the
    unique constraint refused it) or nobody can own it."""
    task = _ask(facts, programme, now)
    if task is None:
        return None
    try:
        with transaction.atomic():
            task.save(force_insert=True)
            _link([(facts, task)], now)
    except IntegrityError:
        return None
    return task


def _ask(facts: AccountFacts, programme: Programme, now: dt.datetime) -> Task | None:
    """The ask's task, not saved yet; None when nobody can own it."""
    owner = assignee(facts.account, programme)
    if owner is None:
        return None
    contact = facts.contact
    who = (contact.full_name or contact.email) if contact else "a contact"
    return Task(
        kind=TaskKind.REFERRAL_ASK,
        subject=f"Ask {who} at {facts.account.name} for a referral"[:200],
        owner=owner,
        account=facts.account,
        contact=contact,
        due_at=add_business_days(now, programme.asks.due_business_days),
        notes=why_now(facts, programme, now),
        created_at=now,
    )


def _link(made: list[tuple[AccountFacts, Task]], now: dt.datetime) -> None:
    """Saved asks: their moments point at them, and each has its timeline row. One
    statement for every moment (an UPDATE per ask took 0.4 s for 547 asks)."""
    table, qn = moments_table()
    sql = (
        f"UPDATE {qn(table)} SET {qn('ask_id')} = %s "  # noqa: S608 - our names, quoted
        f"WHERE {qn('id')} = %s AND {qn('ask_id')} IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(task.pk, m.pk) for facts, task in made for m in facts.moments])
    Activity.objects.bulk_create(
        Activity(
            account=facts.account,
            verb="ask.queued",
            object_type="task",
            object_id=task.pk,
            summary=f"Referral ask queued for {task.owner}: {task.notes}"[:300],
            at=now,
        )
        for facts, task in made
    )


def why_now(facts: AccountFacts, programme: Programme, now: dt.datetime) -> str:
    """One line: the moment that adds most to readiness now, and how many more there are."""
    names = {r.id: r.name for r in programme.active_rules}
    if not facts.moments:
        return f"readiness {facts.readiness:.0f} ≥ {programme.readiness.threshold:g}"
    top = max(facts.moments, key=lambda m: readiness_of([m], programme, now))
    more = len(facts.moments) - 1
    tail = f" (and {more} more moment{'s' if more != 1 else ''})" if more else ""
    return (
        f"{names.get(top.rule_id, top.rule_id)}: {top.evidence}{tail}; readiness "
        f"{facts.readiness:.0f} ≥ {programme.readiness.threshold:g}"
    )[:1000]
