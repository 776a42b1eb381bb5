"""What the four importers share: cleaning a row with the services' cleaners, the lookups
that are the same for every chunk (users, stages), and writing a chunk in bulk.

An importer plans each row of a chunk into "create", "update" or "unchanged", then writes the
chunk with a constant number of queries: one lookup of existing rows, one bulk insert, one
bulk update, and bulk inserts of their timeline rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.db import IntegrityError, models, transaction

from goodword.crm.cleaning import Cleaner
from goodword.crm.io.bulk import insert, matching
from goodword.crm.io.dedupe import DuplicateFinder
from goodword.crm.io.reading import Header, Row
from goodword.crm.io.report import ImportReport
from goodword.crm.models import Activity

# Choice and currency columns left empty mean "the default" on create and "keep" on update,
# as when a service is called without them.
DEFAULTED = frozenset({"lifecycle", "currency", "kind", "source", "role"})


class RowError(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(problems)


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def clean_row(spec: Mapping[str, Cleaner], cells: Mapping[str, str]) -> dict[str, Any]:
    """Clean the cells that `spec` knows with the services' own cleaners (as clean_fields
    with partial=True, without its per-call overhead); raises RowError naming every bad column.
    """
    cleaned: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column, value in cells.items():
        cleaner = spec.get(column)
        if cleaner is None or (column in DEFAULTED and not value.strip()):
            continue
        try:
            cleaned[column] = cleaner(value)
        except ValueError as exc:
            problems.append((column, str(exc)))
    if problems:
        raise RowError(problems)
    return cleaned


class UserDirectory:
    """Every user, loaded once: the people an import may name as owner or CSM. Staff are few
    (thousands at most), unlike the records, so this does not grow with the file."""

    def __init__(self) -> None:
        from goodword.users.models import User

        self.by_email: dict[str, tuple[int, bool]] = {}
        self.by_name: dict[str, list[tuple[int, bool]]] = {}
        rows = User.objects.values_list("pk", "email", "first_name", "last_name", "is_active")
        for pk, email, first, last, active in rows:
            self.by_email[email.lower()] = (pk, active)
            name = f"{first} {last}".strip().casefold()
            if name:
                self.by_name.setdefault(name, []).append((pk, active))

    def resolve(self, value: str) -> int | None:
        """The id of the active user with this e-mail (or, for CRM exports that show owners by
        name, this full name). Raises ValueError naming the problem."""
        raw = value.strip()
        if not raw:
            return None
        if "@" in raw:
            found = self.by_email.get(raw.lower())
            if found is None:
                raise ValueError(f"no user with e-mail {raw} (create the user first)")
            matches = [found]
        else:
            matches = self.by_name.get(raw.casefold(), [])
            if len(matches) != 1:
                how = "no user" if not matches else f"{len(matches)} users"
                raise ValueError(f"{how} named {raw!r}; use the owner's e-mail")
        pk, active = matches[0]
        if not active:
            raise ValueError(f"{raw} is not an active user")
        return pk


@dataclass
class Batch:
    """One chunk's planned writes. A batch is written by itself (possibly by another thread
    while the next chunk is planned), so everything its writing needs is in it."""

    first: int
    last: int
    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[Any, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)  # deals' stage changes
    # Referral deals' first credit: (the planned create row, or None, and the existing
    # deal's id, or None), then the advocate's account and contact ids.
    credits: list[tuple[dict[str, Any] | None, int | None, int, int | None]] = field(
        default_factory=list
    )


Keyed = list[tuple[Row, str]]


class Importer:
    """Plans and writes one chunk at a time. Subclasses say how a row becomes a record.

    A chunk goes through `key_rows` (no database), `load` (reads), `plan_rows` (no
    database) and `write_batch` (writes, touching nothing but the batch and the database),
    then `finish` counts the outcome. `process` runs them in turn; an importer whose `load`
    does not depend on the previous chunk being written sets `pipelined`, and the import may
    then write a batch while it plans the next (see importing.py)."""

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    key: ClassVar[str] = "external_id"
    activity_type: ClassVar[str] = ""
    pipelined: ClassVar[bool] = False

    def __init__(self, report: ImportReport, header: Header, now: dt.datetime) -> None:
        self.report = report
        self.header = header
        self.now = now
        self.duplicates = DuplicateFinder()
        self.batch = Batch(0, 0)
        self.existing: dict[str, Any] = {}

    # --- per chunk -------------------------------------------------------------------

    def process(self, rows: list[Row]) -> None:
        keyed = self.key_rows(rows)
        self.load([k for _, k in keyed], [r for r, _ in keyed])
        batch = self.plan_rows(rows, keyed)
        self.finish(batch, self.write_batch(batch))

    def key_rows(self, rows: list[Row]) -> Keyed:
        """The chunk's rows with their keys, each key once; counts and reports rows without
        a key, and notes every key for the file's repeat check."""
        keyed: Keyed = []
        in_chunk: set[str] = set()
        for row in rows:
            key = self.key_of(row.cells)
            if key is None:
                self._refuse(row, [(self.key, "is required")])
                continue
            self.duplicates.add(key)
            if key in in_chunk:
                continue  # reported with every other repeat after the file is read
            in_chunk.add(key)
            keyed.append((row, key))
        self.report.rows += len(rows)
        return keyed

    def plan_rows(self, rows: list[Row], keyed: Keyed) -> Batch:
        self.batch = Batch(rows[0].line, rows[-1].line)
        for row, key in keyed:
            try:
                self.plan(row, key)
            except RowError as exc:
                self._refuse(row, exc.problems)
        return self.batch

    def key_of(self, cells: Mapping[str, str]) -> str | None:
        return cells.get(self.key, "").strip() or None

    def load(self, keys: list[str], rows: list[Row]) -> None:
        """Fetch the chunk's existing records (and what they refer to) in a few queries."""
        found = matching(self.model, self.key, keys)
        self.existing = {getattr(obj, self.key): obj for obj in found}

    def plan(self, row: Row, key: str) -> None:
        raise NotImplementedError

    def _refuse(self, row: Row, problems: list[tuple[str, str]]) -> None:
        self.report.refused += 1
        for column, reason in problems:
            self.report.error(row.line, self.header.label(column), reason)

    # --- planning helpers ------------------------------------------------------------

    def change(self, obj: Any, values: Mapping[str, Any]) -> None:
        """Count the row as updated (and remember the change) or as unchanged."""
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for attr, value in values.items():
            old = getattr(obj, attr)
            if old != value:
                name = attr.removesuffix("_id") if attr != "external_id" else attr
                before[name], after[name] = jsonable(old), jsonable(value)
                setattr(obj, attr, value)
        if not after:
            self.report.unchanged += 1
            return
        for name in self.touched():
            setattr(obj, name, self.now)
        self.report.updated += 1
        self.batch.updates.append((obj, before, after))

    def create(self, row: dict[str, Any]) -> None:
        """Plan a new record: its field values by attname (defaults fill the rest)."""
        self.report.created += 1
        self.batch.creates.append(row)

    # --- writing ---------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> str | None:
        """Write the batch; returns why the database refused it, or None. Touches neither
        the report nor the importer's state, so it may run in another thread."""
        if not batch.creates and not batch.updates:
            return None
        try:
            # A savepoint per chunk: a constraint the checks missed spoils only this chunk's
            # statement, and the report says where instead of the database aborting the file.
            with transaction.atomic():
                self.write(batch)
        except IntegrityError as exc:
            return str(exc).splitlines()[0]
        return None

    def finish(self, batch: Batch, refusal: str | None) -> None:
        if refusal is None:
            return
        self.report.created -= len(batch.creates)
        self.report.updated -= len(batch.updates)
        self.report.refused += len(batch.creates) + len(batch.updates)
        where = f"rows {batch.first}-{batch.last}"
        self.report.error(batch.first, self.key, f"{where} refused by the database: {refusal}")

    def write(self, batch: Batch) -> None:
        model = self.model
        for row, pk in zip(batch.creates, insert(model, batch.creates), strict=True):
            row["id"] = pk
        if batch.updates:
            fields = sorted({f for _, _, after in batch.updates for f in after} | self.touched())
            objs = [obj for obj, _, _ in batch.updates]
            model._default_manager.bulk_update(objs, self.update_fields(fields))
        self.after_write(batch)

    def touched(self) -> set[str]:
        return {"updated_at"}

    def update_fields(self, names: list[str]) -> list[str]:
        fields = {f.name for f in self.model._meta.concrete_fields}
        return [n for n in names if n in fields]

    def after_write(self, batch: Batch) -> None:
        """Write the timeline rows of the chunk's created and updated records."""
        activities = [self.created_activity(row) for row in batch.creates]
        activities += [self.updated_activity(obj, b, a) for obj, b, a in batch.updates]
        insert(Activity, activities)

    def activity(
        self,
        account_id: int,
        pk: int,
        verb: str,
        summary: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> dict[str, Any]:
        """An Activity row (actor None: the import was run from the command line)."""
        return {
            "account_id": account_id,
            "actor_id": None,
            "verb": verb,
            "object_type": self.activity_type,
            "object_id": pk,
            "summary": summary[:300],
            "before": before,
            "after": after,
            "at": self.now,
        }

    def created_activity(self, row: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def updated_activity(
        self, obj: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError
