"""The event rules (detect.py) find the same moments on DuckDB, PostgreSQL and PySpark (local).

One small data set, written out below so every expected row can be worked out by hand, is
loaded into each backend in two appends (batches 1 and 2): through the store into a DuckDB
file and a PostgreSQL schema, and as a Parquet file with a `batch` column that a Spark store
reads in place. Every case runs one detect function on each backend and must give exactly
the rows written here, with the same column types everywhere (timestamps UTC-aware).

The data has ties in time broken by message_id (appended in the other order), an ISO week
53 (2020-12-28) running over the new year, events at a week's first and last microsecond,
`minutes` that are numbers (one in exponent form), negative, a numeric string, true, null,
an object, missing, and events without properties; a late event (batch 2, before what batch
1 held) for the incremental paths; and enough users for surges, one after empty weeks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goodword.config import EventsConfig, events_config
from goodword.engine.scores import Measure
from goodword.moments import detect
from goodword.moments.detect import Slice
from goodword.signals import store
from goodword.signals.tests.conftest import (  # noqa: F401 - the event-store fixtures, shared
    pg_events_server,
    spark_session,
)

BACKENDS = ("duckdb", "postgres", "pyspark")
# week_index of the Mondays 2020-11-30, 2020-12-28 (ISO week 53), 2021-01-04 and 2021-01-11
W0, W4, W5, W6 = 2656, 2660, 2661, 2662
COUNT = Measure("count")
MINUTES = Measure("sum", "minutes")
NOT_SET = object()

Rows = list[tuple[Any, ...]]


def at(text: str) -> dt.datetime:
    """'2020-12-31 23:59:59.999999' as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def ev(mid: str, name: str, when: str, user: str = "u1", props: Any = NOT_SET) -> dict[str, Any]:
    """One event; the account is the number after "a" in the message id. `props` is a JSON
    text, a dict (made JSON), or None for an event without properties."""
    text: str | None
    if props is NOT_SET:
        text = "{}"
    elif props is None or isinstance(props, str):
        text = props
    else:
        text = json.dumps(props)
    return {
        "message_id": mid,
        "account_id": int(mid[1]),
        "user_id": user,
        "event": name,
        "timestamp": at(when),
        "properties": text,
        "received_at": at("2021-02-01 00:00"),
    }


BATCH_1 = [
    # account 1: reports (a tie at 12-02 10:00: a1-r2 counts before a1-r3) and runs
    ev("a1-r1", "report", "2020-12-01 09:00"),
    ev("a1-r3", "report", "2020-12-02 10:00", "u2"),
    ev("a1-r2", "report", "2020-12-02 10:00"),
    ev("a1-s2", "run", "2020-12-03 08:00", props={"minutes": "45"}),
    ev("a1-s1", "run", "2020-12-03 08:00", props={"minutes": 40}),
    ev("a1-s3", "run", "2020-12-04 12:00", props={"minutes": -10}),
    ev("a1-s4", "run", "2020-12-05 12:00", props={"minutes": None}),
    ev("a1-s5", "run", "2020-12-06 12:00", props={"plan": "pro"}),
    ev("a1-s7", "run", "2020-12-09 07:30", props={"minutes": 50.5}),
    ev("a1-s6", "run", "2020-12-09 07:30", props={"minutes": 20}),
    ev("a1-s8", "run", "2020-12-10 08:00", props={"minutes": True}),
    ev("a1-s9", "run", "2020-12-11 08:00", props=None),
    # account 2: one login user a week, then four in ISO week 53; runs
    ev("a2-l01", "login", "2020-11-30 00:00"),
    ev("a2-l02", "login", "2020-12-08 12:00"),
    ev("a2-l03", "login", "2020-12-15 12:00", "u2"),
    ev("a2-l04", "login", "2020-12-22 12:00"),
    ev("a2-l05", "login", "2020-12-28 00:00"),
    ev("a2-l06", "login", "2020-12-31 23:59:59.999999", "u2"),
    ev("a2-l07", "login", "2021-01-01 12:00", "u3"),
    ev("a2-s1", "run", "2020-12-10 12:00", props='{"minutes": 3e1}'),
    ev("a2-s2", "run", "2020-12-20 12:00", props={"minutes": 30}),
    # account 3: one login, then nothing for four weeks
    ev("a3-l1", "login", "2020-11-30 12:00"),
]
BATCH_2 = [
    ev("a1-r4", "report", "2021-01-01 00:00"),
    ev("a1-r5", "report", "2021-01-04 00:00"),
    ev("a1-r6", "report", "2021-01-05 12:00", "u3"),
    ev("a1-t0", "run", "2021-01-01 06:00", props={"minutes": {"value": 500}}),
    ev("a1-t1", "run", "2021-01-02 23:59:59.999999", props={"minutes": 139.5}),
    ev("a1-t2", "run", "2021-01-06 12:00", props={"minutes": 0.25, "other": 99}),
    ev("a2-l08", "login", "2021-01-03 23:59:59.999999", "u4"),
    ev("a2-l09", "login", "2021-01-04 12:00"),
    ev("a2-l10", "login", "2021-01-05 12:00", "u2"),
    *(ev(f"a2-l1{i}", "login", "2021-01-12 12:00", f"u{i}") for i in range(1, 6)),
    ev("a2-s3", "run", "2020-12-15 06:00", props={"minutes": 50}),  # late: before a2-s2
    ev("a2-s4", "run", "2021-01-07 12:00", props={"minutes": 25}),
    ev("a3-l2", "login", "2021-01-04 00:00"),
    ev("a3-l3", "login", "2021-01-10 23:59:59.999999", "u2"),
    ev("a3-l4", "login", "2021-01-11 00:00", "u3"),
    ev("a3-r1", "report", "2021-01-05 10:00"),
    ev("a3-r2", "report", "2021-01-05 11:00"),
    ev("a4-r2", "report", "2021-01-08 15:30"),
    ev("a4-r1", "report", "2021-01-08 15:30", "u2"),
]
BATCHES = (BATCH_1, BATCH_2)


def arrow(data: list[dict[str, Any]]) -> pa.Table:
    """The rows as the store holds them (store.conform: "{}" for missing properties)."""
    loose = pa.schema([f.with_nullable(True) for f in store.SCHEMA])
    return store.conform(pa.Table.from_pylist(data, schema=loose))


# --- the stores -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events_on(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Any]]:
    """backend → the events table holding both batches there (loaded once per module)."""
    folder = tmp_path_factory.mktemp("moment-stores")
    opened: dict[str, Any] = {}
    with ExitStack() as stack:

        def load(backend: str) -> Any:
            if backend not in opened:
                connected = stack.enter_context(store.connect(_config(backend, folder, request)))
                if not connected.read_only:
                    for number, batch in enumerate(BATCHES, start=1):
                        assert connected.append(arrow(batch)) == len(batch)
                        assert connected.horizon() == number
                opened[backend] = connected.events()
            return opened[backend]

        yield load


def _config(backend: str, folder: Path, request: pytest.FixtureRequest) -> EventsConfig:
    if backend == "duckdb":
        return events_config(f"duckdb://{folder / 'events.duckdb'}", folder)
    if backend == "postgres":
        server = request.getfixturevalue("pg_events_server")
        return events_config(f"{server}?schema=moments", folder)
    # Spark reads the same rows in place, numbered with the batches the stores gave them.
    request.getfixturevalue("spark_session")
    parts = [
        arrow(batch).append_column("batch", pa.array([n] * len(batch), pa.int64()))
        for n, batch in enumerate(BATCHES, start=1)
    ]
    path = folder / "events.parquet"
    pq.write_table(pa.concat_tables(parts), path)
    return events_config(f"spark://local[2]?path={path}", folder)


# --- the cases ----------------------------------------------------------------------------


def rows_of(table: pa.Table) -> tuple[list[str], Rows]:
    """The column names, and the rows as sorted tuples of Python values. Timestamps stay as
    they come: a naive one never equals the aware UTC one expected."""
    return table.column_names, sorted(tuple(row.values()) for row in table.to_pylist())


def milestone(events: Any, **kw: Any) -> tuple[list[str], Rows]:
    return rows_of(detect.milestone(events, **kw))


def offsets(**by_account: float) -> pa.Table:
    return pa.table(
        {
            "account_id": pa.array([int(k[1:]) for k in by_account], pa.int64()),
            "offset": pa.array(list(by_account.values()), pa.float64()),
        },
        schema=detect.OFFSETS,
    )


def since(**by_account: tuple[str, float]) -> pa.Table:
    """account → (the time it is recomputed from, its total so far), as scan._since."""
    return pa.table(
        {
            "account_id": pa.array([int(k[1:]) for k in by_account], pa.int64()),
            "since": pa.array([at(t) for t, _ in by_account.values()], detect.SINCE[1].type),
            "total": pa.array([total for _, total in by_account.values()], pa.float64()),
        },
        schema=detect.SINCE,
    )


def ids(*accounts: int) -> pa.Table:
    return pa.table({"account_id": pa.array(accounts, pa.int64())})


def goal_spec(*goals: tuple[int, int, str, float, float, str | None]) -> pa.Table:
    """Rows of (goal_id, account_id, starts_at, target, base, after), as scan._goal_spec."""
    columns = list(zip(*goals, strict=True))
    return pa.table(
        {
            "goal_id": columns[0],
            "account_id": columns[1],
            "starts_at": [at(t) for t in columns[2]],
            "target": columns[3],
            "base": columns[4],
            "after": [None if t is None else at(t) for t in columns[5]],
        },
        schema=detect.GOALS,
    )


FRESH_GOALS = goal_spec(
    (10, 1, "2020-12-01 00:00", 250.0, 0.0, None),
    (11, 2, "2020-12-12 00:00", 100.0, 0.0, None),
    (12, 1, "2021-01-06 12:00", 1000.0, 0.0, None),  # starts at a1-t2's very instant
    (13, 3, "2020-11-01 00:00", 1.0, 0.0, None),  # account 3 never runs
)
GOING_GOALS = goal_spec(
    (10, 1, "2020-12-01 00:00", 250.0, 110.5, "2020-12-11 08:00"),
    (11, 2, "2020-12-12 00:00", 100.0, 80.0, "2020-12-20 12:00"),
    (12, 1, "2021-01-06 12:00", 1000.0, 0.0, None),
    (14, 2, "2020-12-16 00:00", 10.0, 30.0, "2020-12-20 12:00"),
    (15, 1, "2021-01-02 00:00", 1000.0, 0.0, "2021-01-02 23:59:59.999999"),
)

# Recounted from a time on (starts_at), with their totals after batch 1 as base, as
# scan._goal_since: goal 11 from a2-s3, its late event; goal 10 from 01-02; goal 16 was
# past its target before its time.
RECOUNTED_GOALS = goal_spec(
    (11, 2, "2020-12-15 06:00", 100.0, 30.0, None),
    (10, 1, "2021-01-02 00:00", 250.0, 110.5, None),
    (16, 2, "2020-12-15 06:00", 20.0, 60.0, None),
)


def progress(**last_at: str) -> pa.Table:
    """account → the latest timestamp its progress holds, as scan._progress_table."""
    return pa.table(
        {
            "account_id": pa.array([int(k[1:]) for k in last_at], pa.int64()),
            "last_at": pa.array([at(t) for t in last_at.values()], pa.timestamp("us", tz="UTC")),
        }
    )


def ranges(*spec: tuple[int, int, int, int]) -> pa.Table:
    columns = list(zip(*spec, strict=True))
    names = detect.RANGES.names
    return pa.table(dict(zip(names, columns, strict=True)), schema=detect.RANGES)


WHOLE, FIRST, NEW = Slice(2), Slice(1), Slice(2, 1)


def login_surges(events: Any, part: Slice, last: int, spec: pa.Table | None = None) -> pa.Table:
    """Weeks of at least 2 login users, 1.5 × the mean of the 4 weeks before."""
    return detect.surges(
        events,
        event="login",
        ratio=1.5,
        min_users=2,
        part=part,
        last_complete=last,
        ranges=spec,
    )


Case = Callable[[Any], Any]
CASES: dict[str, Case] = {
    "milestone_count": lambda e: milestone(
        e, event="report", measure=COUNT, thresholds=[2, 3, 5], part=WHOLE
    ),
    "milestone_count_everything": lambda e: milestone(
        e, event="report", measure=COUNT, thresholds=[2, 3, 5], part=Slice(None)
    ),
    "milestone_count_continued": lambda e: milestone(
        e,
        event="report",
        measure=COUNT,
        thresholds=[2, 3, 5],
        part=NEW,
        offsets=offsets(a1=3.0, a3=1.0),
        skip=ids(3),
    ),
    "milestone_count_of_accounts": lambda e: milestone(
        e, event="report", measure=COUNT, thresholds=[2, 3, 5], part=FIRST, accounts=ids(1, 3)
    ),
    "milestone_minutes": lambda e: milestone(
        e, event="run", measure=MINUTES, thresholds=[50, 100, 150, 250], part=WHOLE
    ),
    "milestone_minutes_continued": lambda e: milestone(
        e,
        event="run",
        measure=MINUTES,
        thresholds=[50, 100, 150, 250],
        part=NEW,
        offsets=offsets(a1=110.5, a2=60.0),
        skip=ids(2),
    ),
    "milestone_minutes_since": lambda e: milestone(
        e,
        event="run",
        measure=MINUTES,
        thresholds=[50, 100, 150, 250],
        part=WHOLE,
        since=since(a1=("2021-01-02 00:00", 110.5), a2=("2020-12-15 06:00", 60.0)),
        after=1,
    ),
    "goals_fresh": lambda e: rows_of(
        detect.goals(e, event="run", measure=MINUTES, goals=FRESH_GOALS, part=WHOLE)
    ),
    "goals_going": lambda e: rows_of(
        detect.goals(e, event="run", measure=MINUTES, goals=GOING_GOALS, part=NEW)
    ),
    "goals_counted": lambda e: rows_of(
        detect.goals(e, event="login", measure=COUNT, goals=FRESH_GOALS, part=WHOLE)
    ),
    "goals_recounted": lambda e: rows_of(
        detect.goals(e, event="run", measure=MINUTES, goals=RECOUNTED_GOALS, part=WHOLE, after=1)
    ),
    "goal_late": lambda e: sorted(
        detect.goal_late(e, event="run", goals=GOING_GOALS, part=NEW).items()
    ),
    "goal_late_of_fresh_goals": lambda e: sorted(
        detect.goal_late(e, event="run", goals=FRESH_GOALS, part=NEW)
    ),
    "late_accounts_of_runs": lambda e: sorted(
        detect.late_accounts(
            e,
            event="run",
            part=NEW,
            progress=progress(a1="2020-12-11 08:00", a2="2020-12-20 12:00"),
        )
    ),
    "late_accounts_of_any_event": lambda e: sorted(
        detect.late_accounts(
            e,
            event=None,
            part=NEW,
            progress=progress(a1="2020-12-11 08:00", a2="2021-01-01 12:00", a3="2021-01-04 00:00"),
        )
    ),
    "first_events": lambda e: rows_of(detect.first_events(e, part=WHOLE)),
    "first_events_new": lambda e: rows_of(detect.first_events(e, part=NEW)),
    "touched_weeks": lambda e: rows_of(detect.touched_weeks(e, part=WHOLE)),
    "touched_weeks_new": lambda e: rows_of(detect.touched_weeks(e, part=NEW)),
    "accounts_active_week_53": lambda e: sorted(
        detect.accounts_active(e, part=WHOLE, lo=W4, hi=W4)
    ),
    "accounts_active_week_53_of_batch_1": lambda e: sorted(
        detect.accounts_active(e, part=FIRST, lo=W4, hi=W4)
    ),
    "surges_of_logins": lambda e: rows_of(login_surges(e, WHOLE, W5)),
    "surges_of_logins_to_week_6": lambda e: rows_of(login_surges(e, WHOLE, W6)),
    "surges_of_logins_in_batch_1": lambda e: rows_of(login_surges(e, FIRST, W6)),
    "surges_of_any_event": lambda e: rows_of(
        detect.surges(
            e, event=None, ratio=1.5, min_users=2, part=WHOLE, last_complete=W5, ranges=None
        )
    ),
    "surges_of_logins_in_ranges": lambda e: rows_of(
        login_surges(e, WHOLE, W6, ranges((2, W5, W6, W0), (3, W4, W5, W0), (1, W4, W6, W0)))
    ),
}

MILESTONE = ["account_id", "timestamp", "message_id", "value", "total", "last"]
COUNTED = [*MILESTONE, "hit_0", "hit_1", "hit_2"]
SUMMED = [*COUNTED, "hit_3"]
GOALED = ["goal_id", "account_id", "timestamp", "message_id", "total", "last", "hit"]
SURGED = ["account_id", "week", "users", "before"]
T, F = True, False

# Worked out by hand from the data above (see the comments there).
EXPECTED: dict[str, Any] = {
    # the tie at 12-02 10:00 counts a1-r2 second and a1-r3 third; a4's tie likewise
    "milestone_count": (
        COUNTED,
        [
            (1, at("2020-12-02 10:00"), "a1-r2", 1.0, 2.0, F, T, F, F),
            (1, at("2020-12-02 10:00"), "a1-r3", 1.0, 3.0, F, F, T, F),
            (1, at("2021-01-04 00:00"), "a1-r5", 1.0, 5.0, F, F, F, T),
            (1, at("2021-01-05 12:00"), "a1-r6", 1.0, 6.0, T, F, F, F),
            (3, at("2021-01-05 11:00"), "a3-r2", 1.0, 2.0, T, T, F, F),
            (4, at("2021-01-08 15:30"), "a4-r2", 1.0, 2.0, T, T, F, F),
        ],
    ),
    # batch 1 from 3 on: 5 is reached again by a1-r5, 2 and 3 are not; account 3 is skipped
    "milestone_count_continued": (
        COUNTED,
        [
            (1, at("2021-01-04 00:00"), "a1-r5", 1.0, 5.0, F, F, F, T),
            (1, at("2021-01-05 12:00"), "a1-r6", 1.0, 6.0, T, F, F, F),
            (4, at("2021-01-08 15:30"), "a4-r2", 1.0, 2.0, T, T, F, F),
        ],
    ),
    "milestone_count_of_accounts": (
        COUNTED,
        [
            (1, at("2020-12-02 10:00"), "a1-r2", 1.0, 2.0, F, T, F, F),
            (1, at("2020-12-02 10:00"), "a1-r3", 1.0, 3.0, T, F, T, F),
        ],
    ),
    # only numbers above zero add up: "45", -10, null, missing, true, no properties and an
    # object add nothing; a1-s6 (20) counts before a1-s7 (50.5) at one instant; a1-t1 takes
    # the total from 110.5 to exactly 250, crossing 150 and 250 at once; 3e1 is 30
    "milestone_minutes": (
        SUMMED,
        [
            (1, at("2020-12-09 07:30"), "a1-s6", 20.0, 60.0, F, T, F, F, F),
            (1, at("2020-12-09 07:30"), "a1-s7", 50.5, 110.5, F, F, T, F, F),
            (1, at("2021-01-02 23:59:59.999999"), "a1-t1", 139.5, 250.0, F, F, F, T, T),
            (1, at("2021-01-06 12:00"), "a1-t2", 0.25, 250.25, T, F, F, F, F),
            (2, at("2020-12-15 06:00"), "a2-s3", 50.0, 80.0, F, T, F, F, F),
            (2, at("2020-12-20 12:00"), "a2-s2", 30.0, 110.0, F, F, T, F, F),
            (2, at("2021-01-07 12:00"), "a2-s4", 25.0, 135.0, T, F, F, F, F),
        ],
    ),
    "milestone_minutes_continued": (
        SUMMED,
        [
            (1, at("2021-01-02 23:59:59.999999"), "a1-t1", 139.5, 250.0, F, F, F, T, T),
            (1, at("2021-01-06 12:00"), "a1-t2", 0.25, 250.25, T, F, F, F, F),
        ],
    ),
    # from a1's 110.5 (nothing counted at or after 01-02 yet) and a2's 60 less a2-s2's 30,
    # counted already and read again: the rows of "milestone_minutes" from those times on
    "milestone_minutes_since": (
        [*SUMMED, "base"],
        [
            (1, at("2021-01-02 23:59:59.999999"), "a1-t1", 139.5, 250.0, F, F, F, T, T, 110.5),
            (1, at("2021-01-06 12:00"), "a1-t2", 0.25, 250.25, T, F, F, F, F, 110.5),
            (2, at("2020-12-15 06:00"), "a2-s3", 50.0, 80.0, F, T, F, F, F, 30.0),
            (2, at("2020-12-20 12:00"), "a2-s2", 30.0, 110.0, F, F, T, F, F, 30.0),
            (2, at("2021-01-07 12:00"), "a2-s4", 25.0, 135.0, T, F, F, F, F, 30.0),
        ],
    ),
    # goal 12 counts the event at its start; goal 13's account never runs
    "goals_fresh": (
        GOALED,
        [
            (10, 1, at("2021-01-02 23:59:59.999999"), "a1-t1", 250.0, F, T),
            (10, 1, at("2021-01-06 12:00"), "a1-t2", 250.25, T, F),
            (11, 2, at("2021-01-07 12:00"), "a2-s4", 105.0, T, T),
            (12, 1, at("2021-01-06 12:00"), "a1-t2", 0.25, T, F),
        ],
    ),
    # from each goal's base after its `after`: the same hits as from scratch; goal 14 was
    # past its target already, goal 15 counts only what follows its after
    "goals_going": (
        GOALED,
        [
            (10, 1, at("2021-01-02 23:59:59.999999"), "a1-t1", 250.0, F, T),
            (10, 1, at("2021-01-06 12:00"), "a1-t2", 250.25, T, F),
            (11, 2, at("2021-01-07 12:00"), "a2-s4", 105.0, T, T),
            (12, 1, at("2021-01-06 12:00"), "a1-t2", 0.25, T, F),
            (14, 2, at("2021-01-07 12:00"), "a2-s4", 55.0, T, F),
            (15, 1, at("2021-01-06 12:00"), "a1-t2", 0.25, T, F),
        ],
    ),
    # account 3's login a3-l1 (2020-11-30) reaches goal 13's target of one
    "goals_counted": (
        GOALED,
        [
            (11, 2, at("2021-01-12 12:00"), "a2-l15", 13.0, T, F),
            (13, 3, at("2020-11-30 12:00"), "a3-l1", 1.0, F, T),
            (13, 3, at("2021-01-11 00:00"), "a3-l4", 4.0, T, F),
        ],
    ),
    # a2-s2 (30, batch 1) is read again and taken off each base: goal 11's is 0, and its
    # totals are those of "goals_fresh"; goal 10 had nothing counted after 01-02 yet; goal
    # 16's base of 30 is at its target already, so it has no hit, only its last row
    "goals_recounted": (
        [*GOALED, "base"],
        [
            (10, 1, at("2021-01-02 23:59:59.999999"), "a1-t1", 250.0, F, T, 110.5),
            (10, 1, at("2021-01-06 12:00"), "a1-t2", 250.25, T, F, 110.5),
            (11, 2, at("2021-01-07 12:00"), "a2-s4", 105.0, T, T, 0.0),
            (16, 2, at("2021-01-07 12:00"), "a2-s4", 135.0, T, F, 30.0),
        ],
    ),
    # a2-s3 (12-15) is within goal 11's counted span; before goal 14's start; a1-t1 is at
    # goal 15's after exactly; each with its earliest such event
    "goal_late": [(11, at("2020-12-15 06:00")), (15, at("2021-01-02 23:59:59.999999"))],
    "goal_late_of_fresh_goals": [],
    "late_accounts_of_runs": [2],
    # account 3's first new event is at its last_at exactly; account 4 has no progress
    "late_accounts_of_any_event": [2, 3],
    "first_events": (
        ["account_id", "first_at"],
        [
            (1, at("2020-12-01 09:00")),
            (2, at("2020-11-30 00:00")),
            (3, at("2020-11-30 12:00")),
            (4, at("2021-01-08 15:30")),
        ],
    ),
    "first_events_new": (
        ["account_id", "first_at"],
        [
            (1, at("2021-01-01 00:00")),
            (2, at("2020-12-15 06:00")),
            (3, at("2021-01-04 00:00")),
            (4, at("2021-01-08 15:30")),
        ],
    ),
    "touched_weeks": (
        ["account_id", "lo", "hi", "first_at"],
        [
            (1, W0, W5, at("2020-12-01 09:00")),
            (2, W0, W6, at("2020-11-30 00:00")),
            (3, W0, W6, at("2020-11-30 12:00")),
            (4, W5, W5, at("2021-01-08 15:30")),
        ],
    ),
    # 2021-01-01..03 are in ISO week 53 of 2020; 01-11 00:00 is the next week's first instant
    "touched_weeks_new": (
        ["account_id", "lo", "hi", "first_at"],
        [
            (1, W4, W5, at("2021-01-01 00:00")),
            (2, W4 - 2, W6, at("2020-12-15 06:00")),
            (3, W5, W6, at("2021-01-04 00:00")),
            (4, W5, W5, at("2021-01-08 15:30")),
        ],
    ),
    # a3-l2 at 2021-01-04 00:00 is the week after's
    "accounts_active_week_53": [1, 2],
    "accounts_active_week_53_of_batch_1": [2],
    # account 2: 4 users in week 53 after 1 a week; account 3: 2 after 4 empty weeks; week 6
    # (5 users) is not complete; week 5's 2 is not 1.5 × the mean 7/4
    "surges_of_logins": (SURGED, [(2, W4, 4, 4), (3, W5, 2, 0)]),
    "surges_of_logins_to_week_6": (SURGED, [(2, W4, 4, 4), (2, W6, 5, 8), (3, W5, 2, 0)]),
    "surges_of_logins_in_batch_1": (SURGED, [(2, W4, 3, 4)]),
    # every event's users: account 1 has 2 in week 5 after 1, 0, 0, 1; account 2's runs add
    # a user in week 2; account 4 is active only since week 5
    "surges_of_any_event": (SURGED, [(1, W5, 2, 2), (2, W4, 4, 5), (3, W5, 2, 0)]),
    "surges_of_logins_in_ranges": (SURGED, [(2, W6, 5, 8), (3, W5, 2, 0)]),
}
EXPECTED["milestone_count_everything"] = EXPECTED["milestone_count"]


def kinds(answer: Any) -> Any:
    """The answer with each value's Python type beside it: 4 and 4.0 differ here."""
    if isinstance(answer, tuple):
        names, found = answer
        return names, [tuple((type(v).__name__, v) for v in row) for row in found]
    return [(type(v).__name__, v) for v in answer]


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_rule_finds_the_same_moments_on_every_backend(events_on, case, backend):
    # given the two batches in the backend (and in DuckDB, the default)
    events = events_on(backend)
    # when the rule's query runs there
    got = CASES[case](events)
    # then it finds exactly the rows worked out by hand, with DuckDB's types
    assert got == EXPECTED[case]
    assert kinds(got) == kinds(CASES[case](events_on("duckdb")))


def test_every_backend_returns_the_same_arrow_types(events_on):
    # given a rule of each kind's tables; when each backend runs them
    def types(events: Any) -> list[list[tuple[str, pa.DataType]]]:
        tables = [
            detect.milestone(events, event="report", measure=COUNT, thresholds=[2], part=WHOLE),
            detect.milestone(events, event="run", measure=MINUTES, thresholds=[50], part=WHOLE),
            detect.goals(events, event="run", measure=MINUTES, goals=FRESH_GOALS, part=WHOLE),
            detect.first_events(events, part=WHOLE),
            detect.touched_weeks(events, part=WHOLE),
            login_surges(events, WHOLE, W5),
        ]
        return [[(f.name, f.type) for f in table.schema] for table in tables]

    found = {backend: types(events_on(backend)) for backend in BACKENDS}
    # then each column has one type everywhere (whether it may be null aside): timestamps
    # in UTC, measures float64, weeks and users int64
    assert found["postgres"] == found["duckdb"]
    assert found["pyspark"] == found["duckdb"]
    utc = pa.timestamp("us", tz="UTC")
    assert found["duckdb"][0][:5] == [
        ("account_id", pa.int64()),
        ("timestamp", utc),
        ("message_id", pa.string()),
        ("value", pa.float64()),
        ("total", pa.float64()),
    ]
    assert found["duckdb"][3] == [("account_id", pa.int64()), ("first_at", utc)]
    assert [t for _, t in found["duckdb"][5]] == [pa.int64()] * 4


def test_the_data_set_has_the_cases_it_is_for():
    data = BATCH_1 + BATCH_2
    # ties in time within an account, the later message id appended first
    ties: dict[tuple[int, dt.datetime], list[str]] = {}
    for row in data:
        ties.setdefault((row["account_id"], row["timestamp"]), []).append(row["message_id"])
    tied = [mids for mids in ties.values() if len(mids) > 1]
    assert len(tied) == 5
    assert sum(mids[0] > mids[1] for mids in tied) == 4
    # ISO week 53 of 2020 running into 2021, and the weeks after it
    weeks = {row["timestamp"].isocalendar()[:2] for row in data}
    assert {(2020, 49), (2020, 53), (2021, 1), (2021, 2)} <= weeks
    assert dt.date(2021, 1, 3).isocalendar()[:2] == (2020, 53)
    # minutes of every kind, and events without properties
    minutes = [json.loads(row["properties"] or "{}").get("minutes", "absent") for row in data]
    assert {type(m).__name__ for m in minutes} == {
        "int",
        "float",
        "str",
        "bool",
        "NoneType",
        "dict",
    }
    assert {"absent", "45", -10, None} <= set(map(_hashable, minutes))
    assert sum(row["properties"] is None for row in data) == 1
    assert sum("3e1" in (row["properties"] or "") for row in data) == 1


def _hashable(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value
