"""The shared queries over the event store, as Ibis expressions: the same function gives the
same rows on DuckDB, PostgreSQL and PySpark. Each takes the store's `events` table (see
store.py for its columns) and returns an expression; nothing runs until it is executed.

Days and ISO weeks (starting Monday) are UTC: every backend's session runs in UTC.
A property counts as a number only when its JSON value is a number: "12.5" (a string),
true, null or an object do not, and sums skip them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def events_per_day(events: ir.Table, *, event: str | None = None) -> ir.Table:
    """account_id, day (a UTC date), events: how many events each account had each day."""
    rows = _named(events, event)
    return rows.group_by(account_id=rows.account_id, day=rows.timestamp.date()).aggregate(
        events=rows.count()
    )


def running_totals(
    events: ir.Table, *, sum_of: str | None = None, event: str | None = None
) -> ir.Table:
    """Every event with, per account and event name, the count so far (1 for the first)
    and the total so far of the numeric property `sum_of` (0 until one is seen), in order of
    timestamp and then message_id, so ties are broken the same way everywhere.

    Columns: account_id, event, timestamp, message_id, value (the property's number or
    NULL), count, total. A milestone is the row where `count` or `total` first reaches a
    target. Raises ValueError for a property name that is not a plain identifier."""
    rows = _named(events, event)
    value = number(rows, sum_of) if sum_of else ibis.null("float64")
    window = ibis.cumulative_window(
        group_by=[rows.account_id, rows.event], order_by=[rows.timestamp, rows.message_id]
    )
    return rows.select(
        rows.account_id,
        rows.event,
        rows.timestamp,
        rows.message_id,
        value=value,
        count=rows.message_id.count().over(window),
        total=value.sum().over(window).fill_null(0.0),
    )


def weekly_active_users(events: ir.Table, *, event: str | None = None) -> ir.Table:
    """account_id, week (the Monday, UTC), users: distinct user_ids with an event (of that
    name, if given) in the ISO week."""
    rows = _named(events, event)
    return rows.group_by(
        account_id=rows.account_id, week=rows.timestamp.truncate("W").date()
    ).aggregate(users=rows.user_id.nunique())


def number(events: ir.Table, key: str) -> ir.FloatingValue:
    """The top-level property `key` as a float64 when its JSON value is a number, else NULL.
    Raises ValueError for a key that is not a plain identifier (it is put into a JSON path).

    DuckDB's and PostgreSQL's JSON functions say a value's type; Spark (4.0 or newer) reads
    the text as a VARIANT and asks its schema. Ibis's own JSON unwrapping is not used: on
    Spark it runs a Python UDF that fails on string values, and on PostgreSQL it renders
    SQL that sqlglot 30 garbles."""
    if not KEY.match(key):
        raise ValueError(f"{key!r} is not a property name (letters, digits and _)")
    backend = ibis.get_backend(events).name
    if backend == "pyspark":
        return _spark_number(events.properties, key)
    if backend == "postgres":
        return _postgres_number(events.properties, key)
    return _duckdb_number(events.properties, key)


def _named(events: ir.Table, event: str | None) -> ir.Table:
    return events if event is None else events.filter(events.event == event)


def _builtin(name: str, signature: tuple[tuple[Any, ...], Any]) -> Callable[..., Any]:
    """A function of the backend's own SQL, declared for Ibis with its argument and return
    types (its body never runs)."""
    arity = len(signature[0])
    shapes: dict[int, Callable[..., None]] = {
        1: lambda doc: None,
        2: lambda doc, path: None,
        3: lambda doc, path, type_: None,
    }
    return ibis.udf.scalar.builtin(shapes[arity], name=name, signature=signature)  # type: ignore[no-any-return]


# DuckDB: json_type says BIGINT, UBIGINT, HUGEINT, DOUBLE, VARCHAR, BOOLEAN, OBJECT, ARRAY…
_duckdb_json_get = _builtin("json_extract", ((str, str), str))
_duckdb_json_type = _builtin("json_type", ((str,), str))


def _duckdb_number(properties: ir.StringValue, key: str) -> ir.FloatingValue:
    value = _duckdb_json_get(properties, f"$.{key}")
    numeric = _duckdb_json_type(value).isin(("BIGINT", "UBIGINT", "HUGEINT", "DOUBLE"))
    return ibis.cases((numeric, value.cast("float64")), else_=ibis.null("float64"))


# PostgreSQL: json_typeof says number, string, boolean, null, object or array.
_pg_json_type = _builtin("json_typeof", ((dt.JSON(),), str))
_pg_json_get = _builtin("json_extract_path", ((dt.JSON(), str), dt.JSON()))
_pg_json_text = _builtin("json_extract_path_text", ((dt.JSON(), str), str))


def _postgres_number(properties: ir.StringValue, key: str) -> ir.FloatingValue:
    doc = properties.cast("json")
    numeric = _pg_json_type(_pg_json_get(doc, key)) == "number"
    return ibis.cases(
        (numeric, _pg_json_text(doc, key).cast("float64")), else_=ibis.null("float64")
    )


# Spark 4: the text as a VARIANT (NULL when it is not JSON), whose schema_of_variant says
# BIGINT, DOUBLE, DECIMAL(p,s), STRING, BOOLEAN, OBJECT<…>… (typed str here for Ibis).
_spark_variant = _builtin("try_parse_json", ((str,), str))
_spark_variant_get = _builtin("variant_get", ((str, str), str))
_spark_schema = _builtin("schema_of_variant", ((str,), str))
_spark_variant_as = _builtin("try_variant_get", ((str, str, str), float))


def _spark_number(properties: ir.StringValue, key: str) -> ir.FloatingValue:
    doc = _spark_variant(properties)
    kind = _spark_schema(_spark_variant_get(doc, f"$.{key}"))
    numeric = kind.re_search(r"^(BIGINT|INT|SMALLINT|TINYINT|DOUBLE|FLOAT|DECIMAL)")
    value = _spark_variant_as(doc, f"$.{key}", "double")
    return ibis.cases((numeric, value), else_=ibis.null("float64"))
