"""The event rules (milestone, surge, goal) as Ibis queries: the same expression runs on
DuckDB, PostgreSQL and PySpark. Each function reads the store's `events` table and returns
Arrow tables small enough for Python: the rows where a moment happens, and each account's
progress so far, which the next incremental scan continues from.

Events are read up to a batch (`upto`, see store.py) so a scan sees a fixed set; `after`
limits a query to what arrived since the last scan. Progress carries, per account (or goal),
the measure so far and the latest timestamp in it: new events all later than that continue
the running measure from there; an account with a late event (at or before it) is
recomputed from its earliest new event (a milestone's `since`, a goal's `after`), so an
incremental scan finds what a full one would.

Measures: `count` counts events; `sum:<p>` adds the property's numbers above zero (zero,
negative and non-numbers add nothing), so a measure never falls and the first row at or
above a threshold is the one whose own value took it there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from goodword.engine.scores import Measure
from goodword.signals.queries import number

WEEK_SECONDS = 604_800
MONDAY_1970 = 345_600  # 1970-01-05, the first Monday after the epoch
EPOCH_MONDAY = dt.date(1970, 1, 5)
OFFSETS = pa.schema([("account_id", pa.int64()), ("offset", pa.float64())])
SINCE = pa.schema(
    [
        ("account_id", pa.int64()),
        ("since", pa.timestamp("us", tz="UTC")),
        ("total", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Slice:
    """Which events a query reads: batches up to `upto` (None: a store without batches,
    every row), and only those after `after` when it is set."""

    upto: int | None
    after: int | None = None


def rows(events: ir.Table, part: Slice, *, event: str | None = None) -> ir.Table:
    out = events if event is None else events.filter(events.event == event)
    if part.upto is not None:
        out = out.filter(out.batch <= part.upto)
    if part.after is not None:
        out = out.filter(out.batch > part.after)
    return out


def value_of(table: ir.Table, measure: Measure) -> ir.FloatingValue:
    if measure.kind == "count":
        # A cast, not a float literal: PostgreSQL reads 1.0 as numeric, and its sum as a
        # Decimal, which the float64 Ibis expects cannot hold.
        return ibis.literal(1).cast("float64")
    # greatest() skips the NULL of a non-number on every backend; the coalesce is for one
    # that does not. One CASE over the JSON value (not two): 1.7 times faster on DuckDB.
    return ibis.greatest(number(table, measure.property), 0.0).fill_null(0.0)


@ibis.udf.scalar.builtin(name="epoch_us")  # type: ignore[untyped-decorator]
def _epoch_us(ts: dt.datetime) -> int:  # type: ignore[empty-body]
    """DuckDB's microseconds since the epoch of a timestamp (an integer, no time zone)."""


def week_index(ts: ir.TimestampValue, *, duckdb: bool) -> ir.IntegerValue:
    """Weeks since 1970-01-05 of the ISO week (UTC) `ts` falls in. Plain arithmetic on the
    epoch: truncating to the week first made the surge query take 1.6 times as long. On
    DuckDB the integer `epoch_us`: Ibis's epoch_seconds casts to a zoneless timestamp and
    takes a float, which made the surge query take 1.6 times as long again (38 s against
    24 s on 100M events)."""
    if duckdb:
        return (_epoch_us(ts) - MONDAY_1970 * 1_000_000) // (WEEK_SECONDS * 1_000_000)
    return ((ts.epoch_seconds() - MONDAY_1970) // WEEK_SECONDS).cast("int64")


def on_duckdb(table: ir.Table) -> bool:
    return bool(table.get_backend().name == "duckdb")


def week_start(index: int) -> dt.date:
    return EPOCH_MONDAY + dt.timedelta(weeks=index)


def index_of(day: dt.date) -> int:
    return (day - EPOCH_MONDAY).days // 7


def memtable(table: pa.Table) -> ir.Table:
    return ibis.memtable(table)


def fetch(expr: ir.Table) -> pa.Table:
    """The rows of `expr`, timestamps in UTC on every backend. PySpark's come without a
    zone; they hold UTC (Spark keeps instants), so only the zone is added."""
    table = expr.to_pyarrow()
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            utc = pa.timestamp(field.type.unit, tz="UTC")
            table = table.set_column(i, field.with_type(utc), table.column(i).cast(utc))
    return table


# --- milestones -----------------------------------------------------------------------


def milestone(
    events: ir.Table,
    *,
    event: str,
    measure: Measure,
    thresholds: Sequence[float],
    part: Slice,
    accounts: pa.Table | None = None,
    offsets: pa.Table | None = None,
    skip: pa.Table | None = None,
    since: pa.Table | None = None,
    after: int | None = None,
) -> pa.Table:
    """The running measure of `event` per account, in order of timestamp then message_id,
    starting from each account's `offsets` (account_id, offset; 0 when absent). Returns the
    rows where it reaches a threshold (`hit_<i>` true for threshold i) and each account's last
    row (`last` true), with account_id, timestamp, message_id, value and
    total. `accounts` (account_id) limits the accounts read; `skip` (account_id) leaves some
    out.

    `since` (SINCE: account_id, since, total) recomputes accounts from a time on instead:
    only their events at or after `since` are read, and the measure before it is their
    `total` so far less what the events read that were already counted (batch <= `after`)
    added; each row then carries that `base`. Late events a few days old so cost a few days
    of events, not the accounts' whole history (the store skips older blocks by time).

    One sort per query, over as few columns as will do: a count is the row number (no value
    column: a constant carried through the sort made it take 1.4 times as long), and the last
    row is the one without a next (lead) in the same window."""
    src = rows(events, part, event=event)
    if accounts is not None:
        keep = memtable(accounts)
        src = src.semi_join(keep, src.account_id == keep.account_id)
    if skip is not None and skip.num_rows:
        drop = memtable(skip)
        src = src.anti_join(drop, src.account_id == drop.account_id)
    if since is not None:
        spec = memtable(since)
        src = src.filter(src.timestamp >= pc.min(since["since"]).as_py())
        src = src.join(spec, src.account_id == spec.account_id).filter(src.timestamp >= spec.since)
    counting = measure.kind == "count"
    picked = {
        "account_id": src.account_id,
        "timestamp": src.timestamp,
        "message_id": src.message_id,
    }
    if not counting:
        picked["value"] = value_of(src, measure)
    if since is not None:
        assert after is not None
        one = ibis.literal(1).cast("float64")
        picked["prior"] = src.total
        picked["seen"] = ibis.cases(
            (src.batch <= after, one if counting else picked["value"]), else_=0.0
        )
    src = src.select(**picked)
    if offsets is not None:
        start = memtable(offsets)
        src = src.left_join(start, src.account_id == start.account_id).select(
            *(src[name] for name in picked), base=start.offset.fill_null(0.0)
        )
    order = [src.timestamp, src.message_id]
    ordered = ibis.window(group_by=src.account_id, order_by=order)
    if counting:
        total = (ibis.row_number().over(ordered) + 1).cast("float64")
    else:
        total = src.value.sum().over(
            ibis.cumulative_window(group_by=src.account_id, order_by=order)
        )
    if offsets is not None:
        total = src.base + total
    extra = {}
    if since is not None:
        base = src.prior - src.seen.sum().over(ibis.window(group_by=src.account_id))
        total = base + total
        extra["base"] = base
    seen = src.mutate(total=total, last=src.message_id.lead().over(ordered).isnull(), **extra)
    step = ibis.literal(1).cast("float64") if counting else seen.value  # see value_of
    hits = {
        f"hit_{i}": (seen.total >= t) & (seen.total - step < t) for i, t in enumerate(thresholds)
    }
    wanted = seen.last
    for hit in hits.values():
        wanted = wanted | hit
    return fetch(
        seen.filter(wanted).select(
            "account_id", "timestamp", "message_id", value=step, total=seen.total,
            last=seen.last, **hits, **({"base": seen.base} if since is not None else {}),
        )
    )  # fmt: skip


def late_accounts(
    events: ir.Table, *, event: str | None, part: Slice, progress: pa.Table
) -> dict[int, dt.datetime]:
    """Accounts with a new event (in `part`) at or before the latest one their progress
    (account_id, last_at) already holds, each with its earliest new event: their running
    measure must be recomputed from there."""
    src = rows(events, part, event=event)
    first = src.group_by(src.account_id).aggregate(first=src.timestamp.min())
    known = memtable(progress.select(["account_id", "last_at"]))
    late = fetch(
        first.join(known, first.account_id == known.account_id)
        .filter(first.first <= known.last_at)
        .select(first.account_id, first.first)
    )
    return dict(zip(late["account_id"].to_pylist(), late["first"].to_pylist(), strict=True))


def count_rows(events: ir.Table, *, event: str | None, part: Slice) -> int:
    return int(rows(events, part, event=event).count().to_pyarrow().as_py())


# --- goals ----------------------------------------------------------------------------


GOALS = pa.schema(
    [
        ("goal_id", pa.int64()),
        ("account_id", pa.int64()),
        ("starts_at", pa.timestamp("us", tz="UTC")),
        ("target", pa.float64()),
        ("base", pa.float64()),
        ("after", pa.timestamp("us", tz="UTC")),
    ]
)


def goals(
    events: ir.Table,
    *,
    event: str,
    measure: Measure,
    goals: pa.Table,
    part: Slice,
    after: int | None = None,
) -> pa.Table:
    """Goals of one event and measure (GOALS: each counts events from starts_at, and from
    the progress `base` for events later than the spec's `after` when those are set).
    Returns the row where each reaches its target (`hit`) and each goal's last row (`last`).

    With `after` (a batch) the goals are recounted from a time on instead, the way
    `milestone`'s `since` recounts accounts: each spec's starts_at is that time and its
    `base` the goal's total so far, less what the events read that were already counted
    (batch <= `after`) had added; each row then carries that `base`."""
    src = rows(events, part, event=event)
    spec = memtable(goals)
    if after is None:
        joined = src.join(spec, src.account_id == spec.account_id).filter(
            src.timestamp >= spec.starts_at,
            spec.after.isnull() | (src.timestamp > spec.after),
        )
    else:
        src = src.filter(src.timestamp >= pc.min(goals["starts_at"]).as_py())
        joined = src.join(spec, src.account_id == spec.account_id).filter(
            src.timestamp >= spec.starts_at
        )
    value = value_of(joined, measure)
    seen = {} if after is None else {"seen": ibis.cases((joined.batch <= after, value), else_=0.0)}
    picked = joined.select(
        spec.goal_id,
        spec.target,
        spec.base,
        src.account_id,
        src.timestamp,
        src.message_id,
        value=value,
        **seen,
    )
    running = ibis.cumulative_window(
        group_by=picked.goal_id, order_by=[picked.timestamp, picked.message_id]
    )
    whole = ibis.window(group_by=picked.goal_id)
    base = picked.base if after is None else picked.base - picked.seen.sum().over(whole)
    seen = picked.mutate(
        base=base,
        total=base + picked.value.sum().over(running),
        n=picked.message_id.count().over(running),
        size=picked.message_id.count().over(whole),
    )
    marked = seen.mutate(
        last=seen.n == seen.size,
        hit=(seen.total >= seen.target) & (seen.total - seen.value < seen.target),
    )
    return fetch(
        marked.filter(marked.last | marked.hit).select(
            "goal_id", "account_id", "timestamp", "message_id", "total", "last", "hit",
            *(() if after is None else ("base",)),
        )
    )  # fmt: skip


def goal_late(
    events: ir.Table, *, event: str, goals: pa.Table, part: Slice
) -> dict[int, dt.datetime]:
    """Goals with a new event (in `part`) counted by them (from starts_at) at or before the
    latest event their progress holds (`after`), each with its earliest such event: they are
    recounted from there."""
    src = rows(events, part, event=event)
    spec = memtable(goals.filter(pc.is_valid(goals["after"])))
    late = src.join(spec, src.account_id == spec.account_id).filter(
        src.timestamp >= spec.starts_at, src.timestamp <= spec.after
    )
    found = fetch(late.group_by(spec.goal_id).aggregate(first=late.timestamp.min()))
    return dict(
        zip((int(x) for x in found["goal_id"].to_pylist()), found["first"].to_pylist(), strict=True)
    )


# --- surges ---------------------------------------------------------------------------


RANGES = pa.schema(
    [
        ("account_id", pa.int64()),
        ("lo", pa.int64()),  # the first week to judge (week_index)
        ("hi", pa.int64()),  # the last
        ("first", pa.int64()),  # the week of the account's first event
    ]
)


def first_events(events: ir.Table, *, part: Slice) -> pa.Table:
    """account_id, first_at: each account's earliest event (of any name) in `part`."""
    src = rows(events, part)
    return fetch(src.group_by(src.account_id).aggregate(first_at=src.timestamp.min()))


def touched_weeks(events: ir.Table, *, part: Slice) -> pa.Table:
    """account_id, lo, hi (week_index), first_at of the events in `part` per account."""
    src = rows(events, part)
    week = week_index(src.timestamp, duckdb=on_duckdb(events))
    return fetch(
        src.group_by(src.account_id).aggregate(
            lo=week.min(), hi=week.max(), first_at=src.timestamp.min()
        )
    )


def accounts_active(events: ir.Table, *, part: Slice, lo: int, hi: int) -> list[int]:
    """Accounts with an event in weeks lo to hi (week_index)."""
    src = rows(events, part)
    start = dt.datetime.combine(week_start(lo), dt.time(), dt.UTC)
    end = dt.datetime.combine(week_start(hi + 1), dt.time(), dt.UTC)
    found = src.filter(src.timestamp >= start, src.timestamp < end).select("account_id")
    return [int(x) for x in found.distinct().to_pyarrow()["account_id"].to_pylist()]


def surges(
    events: ir.Table,
    *,
    event: str | None,
    ratio: float,
    min_users: int,
    part: Slice,
    last_complete: int,
    ranges: pa.Table | None,
) -> pa.Table:
    """Weeks where an account's weekly active users reach `ratio` × the mean of the 4 weeks
    before (missing weeks are 0) and `min_users`, at least 4 weeks after its first event's
    week, up to week `last_complete`. `ranges` (RANGES) limits the accounts and weeks judged;
    without it every account and week is. Returns account_id, week (week_index), users,
    before (the 4 weeks' sum)."""
    src = rows(events, part, event=event)
    fast = on_duckdb(events)
    if ranges is None:
        everything = rows(events, part)
        first = everything.group_by(everything.account_id).aggregate(
            first=week_index(everything.timestamp.min(), duckdb=fast)
        )
        src = src.filter(src.timestamp < _monday(last_complete + 1))
    else:
        spec = memtable(ranges)
        # The weeks as times too, so the store skips what lies outside them (its blocks
        # know their smallest and largest timestamp).
        lo, hi = pc.min(ranges["lo"]).as_py(), pc.max(ranges["hi"]).as_py()
        src = src.filter(src.timestamp >= _monday(lo - 4), src.timestamp < _monday(hi + 1))
        src = src.join(spec, src.account_id == spec.account_id).filter(
            week_index(src.timestamp, duckdb=fast) >= spec.lo - 4,
            week_index(src.timestamp, duckdb=fast) <= spec.hi,
        )
        first = spec.select(spec.account_id, spec.first, spec.lo, spec.hi)
    # Distinct (account, week, user) rows counted per group: COUNT(DISTINCT) kept every
    # group's set of users in memory at once (out of memory at 256 MB on 100M events).
    seen = src.select(
        account_id=src.account_id, week=week_index(src.timestamp, duckdb=fast), user_id=src.user_id
    ).distinct()
    weekly = seen.group_by(seen.account_id, seen.week).aggregate(users=seen.count())
    window = ibis.window(group_by=weekly.account_id, order_by=weekly.week, range=(-4, -1))
    judged = weekly.mutate(before=weekly.users.sum().over(window).fill_null(0))
    judged = judged.join(first, judged.account_id == first.account_id)
    keep = [
        judged.week <= last_complete,
        judged.week - judged.first >= 4,
        judged.users >= min_users,
        judged.users * 4 >= judged.before * ratio,
    ]
    if ranges is not None:
        keep += [judged.week >= judged.lo, judged.week <= judged.hi]
    return (
        judged.filter(*keep)
        .select(judged.account_id, judged.week, judged.users, judged.before)
        .to_pyarrow()
    )


def _monday(index: int) -> Any:
    return ibis.literal(dt.datetime.combine(week_start(index), dt.time(), dt.UTC))
