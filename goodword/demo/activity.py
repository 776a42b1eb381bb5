"""Writing the demo's customer signals (planned in goodword/demo/signals.py): NPS answers,
tickets, messages and goals into the database, usage events into the event store, and the
events' weekly counts (EventWeek) that pages chart."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from goodword.crm.models import Account, Contact
from goodword.demo.plan import AccountPlan, Ctx
from goodword.demo.signals import EVENTS, Life, Said, life_of, plan_events, plan_goals, plan_said
from goodword.engine import praise
from goodword.engine.scores import csat_normalise
from goodword.signals import store
from goodword.signals.models import EventWeek, Goal, Message, NpsResponse, Ticket
from goodword.users.models import User

if TYPE_CHECKING:
    from goodword.demo.generator import DemoSummary

BATCH_SIZE = 1000


COUNTERS: dict[type[Any], str] = {
    NpsResponse: "nps_responses",
    Ticket: "tickets",
    Message: "messages",
}


@functools.lru_cache(maxsize=4096)
def _praise(text: str) -> float:
    return praise.score(text)  # the demo's texts repeat: score each once


def signals_write(
    ctx: Ctx,
    plans: Sequence[AccountPlan],
    accounts: Sequence[Account],
    contacts: Sequence[Sequence[Contact]],
    summary: DemoSummary,
) -> None:
    owners = dict(
        User.objects.filter(pk__in={a.owner_id for a in accounts}).values_list("pk", "first_name")
    )
    lives = [life_of(ctx, plan) for plan in plans]
    said: list[Any] = []
    goals: list[Goal] = []
    for plan, account, people, life in zip(plans, accounts, contacts, lives, strict=True):
        if life is None:
            continue
        rep = owners.get(account.owner_id or 0) or "the team"
        said += [
            _said_row(s, account, people, plan.index, k, ctx.now)
            for k, s in enumerate(plan_said(ctx, plan, life, rep))
        ]
        goals += [
            _goal(g, account, plan.index, k, ctx.now)
            for k, g in enumerate(plan_goals(ctx, plan, life))
        ]
    for model, counter in COUNTERS.items():
        rows = [r for r in said if isinstance(r, model)]
        model._default_manager.bulk_create(rows, batch_size=BATCH_SIZE)
        setattr(summary, counter, getattr(summary, counter) + len(rows))
    Goal.objects.bulk_create(goals, batch_size=BATCH_SIZE)
    summary.goals += len(goals)
    summary.events += events_write(ctx, plans, accounts, lives)


def _person(people: Sequence[Contact], k: int) -> tuple[int | None, str]:
    if not people:
        return None, ""
    contact = people[k % len(people)]
    return contact.pk, contact.email


def _said_row(
    s: Said, account: Account, people: Sequence[Contact], index: int, k: int, now: datetime
) -> NpsResponse | Ticket | Message:
    contact_id, email = _person(people, s.contact)
    common = {"account_id": account.pk, "contact_id": contact_id, "contact_email": email}
    ext = f"demo-a{index + 1}"
    if s.kind == "nps":
        return NpsResponse(
            external_id=f"{ext}-n{k + 1}",
            score=s.score,
            comment=s.text,
            responded_at=s.at,
            imported_at=now,
            **common,
        )
    if s.kind == "ticket":
        closed = s.closed_at if s.closed_at is not None and s.closed_at < now else None
        return Ticket(
            external_id=f"{ext}-t{k + 1}",
            opened_at=s.at,
            closed_at=closed,
            priority=s.priority,
            escalated=s.escalated,
            csat_raw=s.csat if closed else "",
            csat_scale=s.csat_scale if closed else "",
            csat=csat_normalise(s.csat, s.csat_scale) if closed and s.csat else None,
            text=s.text,
            praise=_praise(s.text),
            imported_at=now,
            **common,
        )
    return Message(
        external_id=f"{ext}-m{k + 1}",
        received_at=s.at,
        channel=s.channel,
        text=s.text,
        praise=_praise(s.text),
        imported_at=now,
        **common,
    )


def _goal(g: Any, account: Account, index: int, k: int, now: datetime) -> Goal:
    return Goal(
        external_id=f"demo-a{index + 1}-g{k + 1}",
        account_id=account.pk,
        name=g.name,
        event=g.event,
        measure=g.measure,
        target=Decimal(g.target),
        starts_at=g.starts_at,
        due_at=g.due_at,
        imported_at=now,
    )


# --- usage events -------------------------------------------------------------------------


def events_write(
    ctx: Ctx,
    plans: Sequence[AccountPlan],
    accounts: Sequence[Account],
    lives: Sequence[Life | None],
) -> int:
    """Plan the chunk's events, add them to the event store, count them per week. They go
    through a Parquet file that the store reads itself: handing DuckDB a million rows from
    Python would hold them twice over."""
    columns = [
        (plan, account, plan_events(ctx, plan, life))
        for plan, account, life in zip(plans, accounts, lives, strict=True)
        if life is not None
    ]
    if not columns:
        return 0
    table = _events_table(columns)
    with tempfile.TemporaryDirectory(dir=settings.GOODWORD_HOME) as folder:
        path = Path(folder) / "events.parquet"
        pq.write_table(table, path)
        with store.connect() as opened:
            if opened.read_only:
                return 0  # a team's own events, read in place: the demo adds none
            weeks = opened.append_file(path, received_at=ctx.now)
    EventWeek.objects.bulk_create(
        [
            EventWeek(account_id=account_id, week=week, events=events)
            for (account_id, week), events in weeks.items()
        ],
        batch_size=BATCH_SIZE,
    )
    return sum(weeks.values())


def _events_table(columns: list[tuple[AccountPlan, Account, Any]]) -> pa.Table:
    n = [len(ev.kind) for _, _, ev in columns]
    account_id = np.repeat([a.pk for _, a, _ in columns], n)
    index = np.repeat([p.index + 1 for p, _, _ in columns], n)
    seq = np.concatenate([np.arange(k) for k in n]) + 1
    micros = np.concatenate([ev.micros for _, _, ev in columns])
    user = np.concatenate([ev.user for _, _, ev in columns]) + 1
    kind = np.concatenate([ev.kind for _, _, ev in columns])
    minutes = np.concatenate([ev.minutes for _, _, ev in columns])
    text = functools.partial(pc.cast, target_type=pa.string())
    prefix = pc.binary_join_element_wise("demo-a", text(pa.array(index)), "")
    message_id = pc.binary_join_element_wise(prefix, "-e", text(pa.array(seq)), "")
    user_id = pc.binary_join_element_wise(prefix, "-u", text(pa.array(user)), "")
    saved = pc.binary_join_element_wise('{"minutes_saved":', text(pa.array(minutes)), "}", "")
    properties = pc.if_else(pa.array(kind == 3), saved, "{}")
    timestamp = pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "message_id": message_id,
            "account_id": pa.array(account_id, type=pa.int64()),
            "user_id": user_id,
            "event": pa.array(np.array(EVENTS, dtype=object)[kind], type=pa.string()),
            "timestamp": timestamp,
            "properties": properties,
        }
    )
