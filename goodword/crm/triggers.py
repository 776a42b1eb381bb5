"""SQLite's triggers that keep DealTotal (PostgreSQL's are in migration 0006).

SQLite drops a table's triggers whenever a migration rebuilds the table (its ALTER TABLE
copies the rows into a new table), so these are checked after every `migrate`. When any was
missing, the kept totals are rebuilt from the deals, since writes made meanwhile were not
counted. SQLite has only row triggers; its data is small.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL is assembled from this file's own constants, never from input
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

KEY = "stage_id, currency, source, kind, closed_on, deals, amount"
NAMES = ("crm_deal_totals_insert", "crm_deal_totals_update", "crm_deal_totals_delete")


def _row(prefix: str, sign: str) -> str:
    return (
        f"INSERT INTO crm_dealtotal ({KEY}) VALUES ("
        f"{prefix}.stage_id, {prefix}.currency, {prefix}.source, {prefix}.kind, "
        f"date({prefix}.closed_at), {sign}1, {sign}{prefix}.amount);"
    )


_CHANGED = " OR ".join(
    f"OLD.{column} IS NOT NEW.{column}"
    for column in ("stage_id", "currency", "source", "kind", "amount")
)

TRIGGERS = [
    f"CREATE TRIGGER crm_deal_totals_insert AFTER INSERT ON crm_deal BEGIN {_row('NEW', '')} END",
    f"""CREATE TRIGGER crm_deal_totals_update AFTER UPDATE ON crm_deal
    WHEN {_CHANGED} OR date(OLD.closed_at) IS NOT date(NEW.closed_at)
    BEGIN {_row("OLD", "-")} {_row("NEW", "")} END""",
    f"CREATE TRIGGER crm_deal_totals_delete AFTER DELETE ON crm_deal BEGIN {_row('OLD', '-')} END",
]

REBUILD = [
    "DELETE FROM crm_dealtotal",
    f"""INSERT INTO crm_dealtotal ({KEY})
    SELECT stage_id, currency, source, kind, date(closed_at), count(*), sum(amount)
    FROM crm_deal GROUP BY 1, 2, 3, 4, 5""",
]


def sqlite_ensure(connection: BaseDatabaseWrapper) -> bool:
    """Create the triggers that are missing and rebuild the totals; False when all were
    there (or the database is not SQLite, or has no totals table yet)."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name FROM sqlite_master WHERE name = 'crm_dealtotal' "
            "OR (type = 'trigger' AND tbl_name = 'crm_deal')"
        )
        found = {name for _, name in cursor.fetchall()}
        missing = [sql for name, sql in zip(NAMES, TRIGGERS, strict=True) if name not in found]
        if "crm_dealtotal" not in found or not missing:
            return False
        for name in NAMES:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in [*TRIGGERS, *REBUILD]:
            cursor.execute(statement)
    return True


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    from django.db import connections, transaction

    connection = connections[using]
    with transaction.atomic(using=using):
        sqlite_ensure(connection)
