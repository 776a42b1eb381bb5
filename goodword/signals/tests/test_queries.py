"""The shared queries give the same rows on DuckDB, PostgreSQL and PySpark (local), and the
rows a plain pandas computation of the same question gives.

One generated data set (eventdata.rows) is loaded into each: through the store's append
into a DuckDB file and a PostgreSQL schema, and as a Parquet file a Spark store reads in
place. Results are compared as sorted tuples of Python values, so only types and order are
normalised; sums are exact because every amount is a multiple of 0.25.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from goodword.config import events_config
from goodword.signals import queries, store
from goodword.signals.tests import eventdata

DATA = eventdata.rows()
BACKENDS = ("duckdb", "postgres", "pyspark")
Rows = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def events_on(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Any]]:
    """backend → the events table holding DATA there (loaded once per module)."""
    folder = tmp_path_factory.mktemp("stores")
    opened: dict[str, Any] = {}
    with ExitStack() as stack:

        def load(backend: str) -> Any:
            if backend not in opened:
                config = _config(backend, folder, request)
                connected = stack.enter_context(store.connect(config))
                if not connected.read_only:
                    assert connected.append(eventdata.table(DATA)) == len(DATA)
                opened[backend] = connected.events()
            return opened[backend]

        yield load


def _config(backend: str, folder: Path, request: pytest.FixtureRequest) -> Any:
    if backend == "duckdb":
        return events_config(f"duckdb://{folder / 'events.duckdb'}", folder)
    if backend == "postgres":
        server = request.getfixturevalue("pg_events_server")
        return events_config(f"{server}?schema=queries", folder)
    request.getfixturevalue("spark_session")
    path = folder / "events.parquet"
    pq.write_table(eventdata.table(DATA), path)
    return events_config(f"spark://local[2]?path={path}", folder)


# --- what pandas says -----------------------------------------------------------------


def frame() -> pd.DataFrame:
    data = pd.DataFrame(DATA)
    data["day"] = [t.date() for t in data["timestamp"]]
    data["week"] = [d - dt.timedelta(days=d.weekday()) for d in data["day"]]
    data["value"] = [_number(row["properties"]) for row in DATA]
    return data


def _number(properties: str | None) -> float | None:
    value = json.loads(properties or "{}").get("amount")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def expected_per_day(event: str | None) -> Rows:
    data = frame()
    data = data if event is None else data[data["event"] == event]
    counted = data.groupby(["account_id", "day"]).size()
    return sorted((int(a), d, int(n)) for (a, d), n in counted.items())


def expected_running(sum_of: str) -> Rows:
    data = frame().sort_values(["account_id", "event", "timestamp", "message_id"])
    rows: Rows = []
    for _, group in data.groupby(["account_id", "event"], sort=False):
        total = 0.0
        for count, row in enumerate(group.itertuples(), start=1):
            total += 0.0 if pd.isna(row.value) else row.value
            rows.append((row.account_id, row.event, row.timestamp, row.message_id, count, total))
    return sorted(rows)


def expected_wau(event: str | None) -> Rows:
    data = frame()
    data = data if event is None else data[data["event"] == event]
    users = data.groupby(["account_id", "week"])["user_id"].nunique()
    return sorted((int(a), w, int(n)) for (a, w), n in users.items())


# --- what each backend says -------------------------------------------------------------


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime | pd.Timestamp) else value


def _utc(value: Any) -> dt.datetime:
    stamp = pd.Timestamp(value)
    utc: dt.datetime = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()
    return utc


def per_day(events: Any, event: str | None) -> Rows:
    result = queries.events_per_day(events, event=event).to_pyarrow().to_pylist()
    return sorted((r["account_id"], _day(r["day"]), r["events"]) for r in result)


def running(events: Any, sum_of: str) -> Rows:
    result = queries.running_totals(events, sum_of=sum_of).to_pyarrow().to_pylist()
    return sorted(
        (r["account_id"], r["event"], _utc(r["timestamp"]), r["message_id"], r["count"], r["total"])
        for r in result
    )


def wau(events: Any, event: str | None) -> Rows:
    result = queries.weekly_active_users(events, event=event).to_pyarrow().to_pylist()
    return sorted((r["account_id"], _day(r["week"]), r["users"]) for r in result)


CASES: dict[str, tuple[Callable[[Any], Rows], Callable[[], Rows]]] = {
    "per_day": (lambda t: per_day(t, None), lambda: expected_per_day(None)),
    "per_day_of_login": (lambda t: per_day(t, "login"), lambda: expected_per_day("login")),
    "running_totals": (lambda t: running(t, "amount"), lambda: expected_running("amount")),
    "wau": (lambda t: wau(t, None), lambda: expected_wau(None)),
    "wau_of_page": (lambda t: wau(t, "page"), lambda: expected_wau("page")),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_query_gives_what_pandas_computes(events_on, case, backend):
    # given the data set in the backend; when the query runs
    ask, expect = CASES[case]
    got = ask(events_on(backend))
    # then its rows are pandas' rows, exactly
    assert got == expect()


@pytest.mark.parametrize("case", list(CASES))
def test_a_query_gives_the_same_rows_on_every_backend(events_on, case):
    ask, _ = CASES[case]
    answers = {backend: ask(events_on(backend)) for backend in BACKENDS}
    assert answers["duckdb"] == answers["postgres"] == answers["pyspark"]
    assert len(answers["duckdb"]) > 10  # the comparison is not of empty results


def test_the_data_set_has_the_cases_it_is_for():
    # ties, week and year boundaries, day edges, and every kind of non-number
    data = frame()
    ties = data.groupby(["account_id", "event", "timestamp"]).size()
    assert (ties > 1).sum() > 20
    assert {dt.date(2020, 12, 28), dt.date(2021, 1, 4), dt.date(2024, 12, 30)} <= set(data["week"])
    times = {t.time() for t in data["timestamp"]}
    assert {dt.time(0, 0), dt.time(23, 59, 59, 999999)} <= times
    amounts = [json.loads(row["properties"] or "{}").get("amount", "absent") for row in DATA]
    kinds = {type(a).__name__ for a in amounts}
    assert {"float", "NoneType", "str", "bool", "dict"} <= kinds
    assert "absent" in amounts
    assert sum(row["properties"] is None for row in DATA) > 0


def test_running_totals_count_json_numbers_only_and_break_ties_by_message_id(duckdb_events):
    # given one account's events: two at one instant (m2 before m3 by id), and properties
    # that are a number, a numeric string, true, null, nothing, and a number again
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    given = [
        ("m3", at, '{"amount": "7"}'),
        ("m2", at, '{"amount": 2}'),
        ("m4", at + dt.timedelta(seconds=1), '{"amount": true}'),
        ("m5", at + dt.timedelta(seconds=2), '{"amount": null}'),
        ("m6", at + dt.timedelta(seconds=3), None),
        ("m7", at + dt.timedelta(seconds=4), '{"amount": 0.5, "other": 9}'),
    ]
    data = [
        {
            "message_id": m,
            "account_id": 1,
            "user_id": "u",
            "event": "x",
            "timestamp": t,
            "properties": p,
            "received_at": at,
        }
        for m, t, p in given
    ]
    with store.connect(duckdb_events) as opened:
        opened.append(eventdata.table(data))
        # when the running totals of amount are read
        result = queries.running_totals(opened.events(), sum_of="amount").to_pyarrow()
    rows = sorted(result.to_pylist(), key=lambda r: r["count"])
    # then the count goes up by one each event, in time then id order, and the total only
    # on numbers
    assert [(r["message_id"], r["count"], r["value"], r["total"]) for r in rows] == [
        ("m2", 1, 2.0, 2.0),
        ("m3", 2, None, 2.0),
        ("m4", 3, None, 2.0),
        ("m5", 4, None, 2.0),
        ("m6", 5, None, 2.0),
        ("m7", 6, 0.5, 2.5),
    ]


def test_a_property_name_that_is_not_an_identifier_is_refused(events_on):
    with pytest.raises(ValueError, match="not a property name"):
        queries.number(events_on("duckdb"), "a.b')")
