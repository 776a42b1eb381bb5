"""Inserting many new rows fast, returning their ids.

On PostgreSQL the ids are taken from the table's sequence in one query and the rows are sent
with COPY, which is several times faster than a multi-row INSERT built by the ORM (the
import benchmark is measured against COPY itself). Other databases get bulk_create.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection, models


def insert(model: type[models.Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` (field attname → value; missing fields get their defaults); returns the
    new primary keys in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**row) for row in rows]
        model._default_manager.bulk_create(objs, batch_size=500)
        return [int(obj.pk) for obj in objs]
    return _copy(model, rows)


def _copy(model: type[models.Model], rows: list[dict[str, Any]]) -> list[int]:
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key and not f.generated]
    # get_default() also gives what the ORM would store for a field without one ("" or None).
    defaults = {f.attname: f.get_default() for f in fields}
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    table = quote(meta.db_table)
    assert meta.pk is not None
    pk_column = quote(str(meta.pk.column))
    names = [f.attname for f in fields]
    json_positions = [i for i, name in enumerate(names) if name in json_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [int(r[0]) for r in cursor.fetchall()]
        sql = f"COPY {table} ({pk_column}, {columns}) FROM STDIN"
        # Django's cursor wrapper does not wrap COPY: translate the driver's errors (a unique
        # or foreign-key violation) into Django's, as for any other statement.
        with connection.wrap_database_errors, cursor.copy(sql) as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = [row[n] if n in row else defaults[n] for n in names]
                for i in json_positions:
                    values[i] = json.dumps(values[i])
                copy.write_row((pk, *values))
    return ids


def matching(model: type[models.Model], field: str, values: Iterable[Any]) -> models.QuerySet[Any]:
    """The rows whose `field` is one of `values`, the values bound as one parameter: on
    PostgreSQL an array (`= ANY(%s)`), on SQLite a JSON array read by json_each. The query
    text is then the same for every chunk, where an IN list of 2,000 placeholders is new
    text each time and costs the driver a parse per chunk (an eighth of an import's time on
    PostgreSQL; on SQLite, binding 4,000 ids one by one took 40 ms of the advocates
    report), and no list meets SQLite's limit of parameters."""
    wanted = list(values)
    manager = model._default_manager
    target = model._meta.get_field(field)
    assert isinstance(target, models.Field)
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(str(target.column))}"
    # Identifiers of our own model, quoted; the values are a bound parameter.
    if connection.vendor == "postgresql":
        return manager.extra(where=[f"{column} = ANY(%s)"], params=[wanted])  # noqa: S610
    if connection.vendor == "sqlite":
        where = f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608
        return manager.extra(where=[where], params=[json.dumps(wanted)])  # noqa: S610
    return manager.filter(**{f"{field}__in": wanted})
