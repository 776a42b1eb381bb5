"""The four importers. Each keeps the semantics of the matching service (account_create /
account_update, contact_create / contact_update / contact_opt_out, deal_create / deal_update /
deal_move, user_create) but works on a whole chunk at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password

from goodword.crm.cleaning import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    DEAL_FIELDS,
    boolean,
    choice,
    text,
)
from goodword.crm.io.base import Batch, Importer, RowError, UserDirectory, clean_row
from goodword.crm.io.bulk import insert, matching
from goodword.crm.io.reading import Header, Row
from goodword.crm.io.report import ImportReport
from goodword.crm.models import (
    Account,
    Contact,
    Deal,
    DealKind,
    DealSource,
    DealStageChange,
    Lifecycle,
    Stage,
)
from goodword.lib.validators import clean_domain, clean_email
from goodword.referrals.models import DealCredit
from goodword.users.models import Role, Team, User


class References(Importer):
    """An importer whose rows name users (owner, CSM) and accounts by external id."""

    def __init__(self, report: ImportReport, header: Header, now: dt.datetime) -> None:
        super().__init__(report, header, now)
        self.users = UserDirectory()
        self.accounts: dict[str, int] = {}

    def load_accounts(self, rows: list[Row]) -> None:
        wanted = {r.cells.get("account_external_id", "").strip() for r in rows} - {""}
        found = matching(Account, "external_id", wanted).values_list("external_id", "pk")
        self.accounts = {ext: pk for ext, pk in found if ext is not None}

    def user(self, cells: Mapping[str, str], column: str, problems: list[tuple[str, str]]) -> Any:
        try:
            return self.users.resolve(cells[column])
        except ValueError as exc:
            problems.append((column, str(exc)))
            return None

    def account(self, cells: Mapping[str, str], problems: list[tuple[str, str]]) -> int | None:
        ext = cells.get("account_external_id", "").strip()
        if not ext:
            problems.append(("account_external_id", "is required"))
            return None
        pk = self.accounts.get(ext)
        if pk is None:
            problems.append(
                (
                    "account_external_id",
                    f"no account with external_id {ext!r} in the database (import accounts first)",
                )
            )
        return pk


def _clean(
    spec: Mapping[str, Any], cells: Mapping[str, str], problems: list[tuple[str, str]]
) -> dict[str, Any]:
    try:
        return clean_row(spec, cells)
    except RowError as exc:
        problems.extend(exc.problems)
        return {}


# --- accounts -------------------------------------------------------------------------


class AccountImporter(References):
    kind = "accounts"
    model = Account
    activity_type = "account"

    def plan(self, row: Row, key: str) -> None:
        cells, problems = row.cells, list[tuple[str, str]]()
        values = _clean(ACCOUNT_FIELDS, cells, problems)
        for column in ("owner_email", "csm_email"):
            if column in cells:
                values[column.replace("_email", "_id")] = self.user(cells, column, problems)
        if problems:
            raise RowError(problems)
        existing = self.existing.get(key)
        if existing is None:
            self.create({**values, "created_at": self.now, "updated_at": self.now})
            return
        # As account_update: becoming a customer without a date means "since today"; and an
        # empty cell does not erase a date we already have (so re-import changes nothing).
        lifecycle = values.get("lifecycle", existing.lifecycle)
        if lifecycle == Lifecycle.CUSTOMER and values.get("customer_since", 1) is None:
            values["customer_since"] = existing.customer_since or self.now.date()
        self.change(existing, values)

    def created_activity(self, row: dict[str, Any]) -> dict[str, Any]:
        after: dict[str, Any] = {"external_id": row["external_id"], "name": row["name"]}
        summary = f"Account {row['name']} imported"
        return self.activity(row["id"], row["id"], "account.imported", summary, {}, after)

    def updated_activity(
        self, obj: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        summary = f"Account changed by import: {', '.join(after)}"
        return self.activity(obj.pk, obj.pk, "account.updated", summary, before, after)


# --- contacts -------------------------------------------------------------------------


class ContactImporter(References):
    kind = "contacts"
    model = Contact
    activity_type = "contact"

    def load(self, keys: list[str], rows: list[Row]) -> None:
        super().load(keys, rows)
        self.load_accounts(rows)
        emails = {r.cells.get("email", "").strip().lower() for r in rows}
        # Who already holds each (account, e-mail): earlier chunks of this file are written
        # already, so this also catches a repeat from far up the file.
        self.holders: dict[tuple[int, str], str | None] = {
            (account_id, email): ext
            for account_id, email, ext in Contact.objects.filter(
                account_id__in=set(self.accounts.values()), email__in=emails
            ).values_list("account_id", "email", "external_id")
        }

    def plan(self, row: Row, key: str) -> None:
        cells, problems = row.cells, list[tuple[str, str]]()
        values = _clean(CONTACT_FIELDS, cells, problems)
        account_id = self.account(cells, problems)
        opted_out = False
        if "opted_out" in cells:
            try:
                opted_out = boolean(cells["opted_out"])
            except ValueError as exc:
                problems.append(("opted_out", str(exc)))
        if account_id is not None and "email" in values:
            holder = self.holders.get((account_id, values["email"]), key)
            if holder != key:
                problems.append(
                    ("email", "another contact at this account has this e-mail address")
                )
            self.holders[(account_id, values["email"])] = key
        if problems:
            raise RowError(problems)
        values["account_id"] = account_id
        self._plan_contact(key, values, opted_out)

    def _plan_contact(self, key: str, values: dict[str, Any], opted_out: bool) -> None:
        existing = self.existing.get(key)
        # As contact_opt_out: an opt-out is recorded once, with when and how, and an import
        # never clears one (only the person can take it back).
        if opted_out and (existing is None or existing.opted_out_at is None):
            values["opted_out_at"], values["opted_out_how"] = self.now, "import"
        if existing is None:
            self.create({**values, "created_at": self.now, "updated_at": self.now})
        else:
            self.change(existing, values)

    def created_activity(self, row: dict[str, Any]) -> dict[str, Any]:
        after = {"external_id": row["external_id"], "email": row["email"]}
        name = f"{row.get('first_name', '')} {row.get('last_name', '')}".strip() or row["email"]
        summary = f"Contact {name} imported"
        return self.activity(row["account_id"], row["id"], "contact.imported", summary, {}, after)

    def updated_activity(
        self, obj: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        summary = f"Contact {obj} changed by import: {', '.join(after)}"
        return self.activity(obj.account_id, obj.pk, "contact.updated", summary, before, after)


# --- deals ----------------------------------------------------------------------------


HUNDRED = Decimal(100)
Advocate = tuple[int, int | None]  # account id, contact id (None: the account alone)


class Advocates:
    """The referred_by column of a chunk: the advocate's e-mail (a contact) or their
    account's domain, looked up for the whole chunk in at most three queries, and the rule
    of deal_create / deal_update: a referral deal is credited to whoever referred it when it
    becomes one, keeps its source, and no other deal names an advocate."""

    def __init__(self) -> None:
        self.contacts: dict[str, list[Advocate]] = {}
        self.domains: dict[str, list[int]] = {}
        self.credited: dict[int, set[Advocate]] = {}

    def load(self, rows: list[Row], existing: Iterable[Deal]) -> None:
        given = {r.cells.get("referred_by", "").strip().lower() for r in rows} - {""}
        emails = {v for v in given if "@" in v}
        domains = {_domain(v) for v in given - emails} - {""}
        self.contacts, self.domains = {}, {}
        if emails:
            found = matching(Contact, "email", emails).values_list("email", "account_id", "pk")
            for email, account_id, pk in found:
                self.contacts.setdefault(email, []).append((account_id, pk))
        if domains:
            for domain, pk in matching(Account, "domain", domains).values_list("domain", "pk"):
                self.domains.setdefault(domain, []).append(pk)
        referred = [d.pk for d in existing if d.source == DealSource.REFERRAL]
        self.credited = {}
        if referred and given:
            credits = DealCredit.objects.filter(deal_id__in=referred)
            for deal_id, *who in credits.values_list(
                "deal_id", "advocate_account_id", "advocate_id"
            ):
                self.credited.setdefault(deal_id, set()).add((who[0], who[1]))

    def credit(
        self,
        cells: Mapping[str, str],
        values: dict[str, Any],
        existing: Deal | None,
        problems: list[tuple[str, str]],
    ) -> Advocate | None:
        """The advocate to credit when this row makes a deal a referral (else None); adds
        the row's problems with its source and referred_by."""
        raw = cells.get("referred_by", "").strip()
        was = existing is not None and existing.source == DealSource.REFERRAL
        source = values.get("source") or (existing.source if existing else DealSource.OTHER)
        if source != DealSource.REFERRAL:
            if was:
                problems.append(("source", STAYS_REFERRED))
            elif raw:
                problems.append(("referred_by", "only a referral deal is referred by someone"))
            return None
        if not raw:
            if not was:
                problems.append(("referred_by", NEEDS_ADVOCATE))
            return None
        advocate = self._resolve(raw, problems)
        if advocate is None:
            return None
        if advocate[0] == values.get("account_id"):
            problems.append(("referred_by", "is the deal's own account, which cannot refer it"))
        elif was and existing is not None:
            if advocate not in self.credited.get(existing.pk, set()):
                problems.append(("referred_by", CREDITED_ELSEWHERE))
            return None
        return advocate

    def _resolve(self, raw: str, problems: list[tuple[str, str]]) -> Advocate | None:
        if "@" in raw:
            found = self.contacts.get(raw.lower(), [])
            what = f"contact with e-mail {raw}"
        else:
            domain = _domain(raw)
            found = [(pk, None) for pk in self.domains.get(domain, [])] if domain else []
            what = f"account with domain {domain or raw}"
        if len(found) == 1:
            return found[0]
        if not found:
            problems.append(("referred_by", f"no {what} (import it first)"))
        else:
            hint = "their account's domain" if "@" in raw else "the advocate's e-mail"
            problems.append(("referred_by", f"{len(found)} records match ({what}); give {hint}"))
        return None


NEEDS_ADVOCATE = "is required for a referral deal: the advocate's e-mail, or their account's domain"
STAYS_REFERRED = (
    "a referral deal keeps its source; a manager takes it out of the referrals on its page"
)
CREDITED_ELSEWHERE = (
    "the deal is credited to someone else; a manager changes its credit on its page"
)


def _domain(value: str) -> str:
    try:
        return clean_domain(value)
    except ValueError:
        return ""


class DealImporter(References):
    kind = "deals"
    model = Deal
    activity_type = "deal"
    # A chunk's lookups need no earlier chunk written: a key repeated across chunks is a
    # repeat the file check reports, and accounts and users come from other imports.
    pipelined = True

    def __init__(self, report: ImportReport, header: Header, now: dt.datetime) -> None:
        super().__init__(report, header, now)
        self.stages = {s.name.casefold(): s for s in Stage.objects.all()}
        self.stage_names = ", ".join(s.name for s in self.stages.values())
        self.stage_names_by_id = {s.pk: s.name for s in self.stages.values()}
        self.advocates = Advocates()

    def load(self, keys: list[str], rows: list[Row]) -> None:
        super().load(keys, rows)
        self.load_accounts(rows)
        self.advocates.load(rows, self.existing.values())

    def plan(self, row: Row, key: str) -> None:
        cells, problems = row.cells, list[tuple[str, str]]()
        values = _clean(DEAL_FIELDS, cells, problems)
        values["account_id"] = self.account(cells, problems)
        stage = self.stages.get(cells.get("stage", "").strip().casefold())
        if stage is None:
            problems.append(
                ("stage", f"{cells.get('stage', '')!r} is not one of {self.stage_names}")
            )
        if "owner_email" in cells:
            values["owner_id"] = self.user(cells, "owner_email", problems)
        existing = self.existing.get(key)
        credit = self.advocates.credit(cells, values, existing, problems)
        if problems or stage is None:
            raise RowError(problems)
        values["closed_at"] = self._closed_at(values, stage, existing)
        if existing is None:
            planned = self._plan_new(values, stage)
            if credit is not None:
                self.batch.credits.append((planned, None, *credit))
            return
        if credit is not None:
            self.batch.credits.append((None, existing.pk, *credit))
        if values.get("created_at", 1) is None:
            del values["created_at"]  # deal_update keeps the creation time
        old_stage_id = existing.stage_id
        values["stage_id"] = stage.pk
        self.change(existing, values)
        if old_stage_id != stage.pk:
            # As deal_move: the move is recorded with its time.
            self.batch.moves.append(
                {
                    "deal_id": existing.pk,
                    "from_stage_id": old_stage_id,
                    "to_stage_id": stage.pk,
                    "changed_at": self.now,
                    "changed_by_id": None,
                }
            )

    def _closed_at(self, values: dict[str, Any], stage: Stage, existing: Deal | None) -> Any:
        """As deal_create and deal_move: a closed stage needs a close time, an open one none
        unless the file gives one."""
        given = values.get("closed_at")
        if given is not None or not stage.is_closed:
            return given
        if existing is not None and existing.closed_at is not None:
            return existing.closed_at
        close_date = values.get("close_date")
        if close_date is not None:
            return dt.datetime.combine(close_date, dt.time(), tzinfo=dt.UTC)
        return self.now

    def _plan_new(self, values: dict[str, Any], stage: Stage) -> dict[str, Any]:
        values["created_at"] = values.get("created_at") or self.now
        planned = {**values, "stage_id": stage.pk, "updated_at": self.now}
        self.create(planned)
        return planned

    def after_write(self, batch: Batch) -> None:
        # deal_create's first stage row, with no from_stage, at the deal's creation time.
        moves = [
            {
                "deal_id": r["id"],
                "from_stage_id": None,
                "to_stage_id": r["stage_id"],
                "changed_at": r["created_at"],
                "changed_by_id": None,
            }
            for r in batch.creates
        ]
        insert(DealStageChange, moves + batch.moves)
        insert(DealCredit, [self._credit_row(*c) for c in batch.credits])
        self._hand_over([r["id"] for r in batch.creates] + [m["deal_id"] for m in batch.moves])
        super().after_write(batch)

    def _hand_over(self, deal_ids: list[int]) -> None:
        """New-business deals the file made won, lately, go to customer success as the
        services' do (handoffs.services.handoff_for_won_deal; older wins are history)."""
        from goodword.handoffs.services import RECENT_WIN, handoff_for_won_deal

        won = Deal.objects.filter(
            pk__in=deal_ids,
            kind=DealKind.NEW,
            stage__is_won=True,
            closed_at__gte=self.now - RECENT_WIN,
        ).select_related("stage", "account__csm", "owner")
        for deal in won.iterator(chunk_size=500):
            handoff_for_won_deal(actor=None, deal=deal, now=self.now)

    def _credit_row(
        self, planned: dict[str, Any] | None, deal_id: int | None, account_id: int, pk: int | None
    ) -> dict[str, Any]:
        """As deal_create with referred_by: all the credit to the advocate."""
        return {
            "deal_id": planned["id"] if planned is not None else deal_id,
            "advocate_account_id": account_id,
            "advocate_id": pk,
            "share": HUNDRED,
            "introduction_id": None,
            "created_at": self.now,
        }

    def created_activity(self, row: dict[str, Any]) -> dict[str, Any]:
        stage = self.stage_names_by_id[row["stage_id"]]
        after = {"external_id": row["external_id"], "name": row["name"], "stage": stage}
        summary = f"Deal {row['name']} imported in {stage}"
        return self.activity(row["account_id"], row["id"], "deal.imported", summary, {}, after)

    def updated_activity(
        self, obj: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> dict[str, Any]:
        names = self.stage_names_by_id
        if "stage" in after:
            before["stage"], after["stage"] = names[before["stage"]], names[after["stage"]]
        summary = f"Deal {obj.name} changed by import: {', '.join(after)}"
        return self.activity(obj.account_id, obj.pk, "deal.updated", summary, before, after)


# --- users ----------------------------------------------------------------------------

USER_FIELDS = {
    "email": clean_email,
    "first_name": text(150),
    "last_name": text(150),
    "role": choice(Role),
    "team": text(100),
}


class UserImporter(Importer):
    """Users are keyed by e-mail. New users get no password (as user_create without one):
    they set one through the password reset or an admin."""

    kind = "users"
    model = User
    key = "email"

    def __init__(self, report: ImportReport, header: Header, now: dt.datetime) -> None:
        super().__init__(report, header, now)
        self.teams = dict(Team.objects.values_list("name", "pk"))

    def key_of(self, cells: Mapping[str, str]) -> str | None:
        return cells.get("email", "").strip().lower() or None

    def plan(self, row: Row, key: str) -> None:
        values = clean_row(USER_FIELDS, row.cells)
        if "team" in values:
            values["team_id"] = self._team(values.pop("team"))
        role = values.get("role")
        if role is not None:
            values["is_staff"] = values["is_superuser"] = role == Role.ADMIN
        existing = self.existing.get(key)
        if existing is None:
            values.setdefault("role", Role.REP)
            self.create({**values, "username": values["email"], "password": make_password(None)})
        else:
            self.change(existing, values)

    def _team(self, name: str) -> int | None:
        if not name:
            return None
        if name not in self.teams:
            # Teams are few; creating one here is a rare query, rolled back with the file.
            self.teams[name] = Team.objects.get_or_create(name=name)[0].pk
        return self.teams[name]

    def touched(self) -> set[str]:
        return set()

    def after_write(self, batch: Batch) -> None:
        """Users have no account timeline."""


IMPORTERS: dict[str, type[Importer]] = {
    "users": UserImporter,
    "accounts": AccountImporter,
    "contacts": ContactImporter,
    "deals": DealImporter,
}
