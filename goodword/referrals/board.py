"""Reads for two pages: the introductions board (every introduction a user may see, by state in
the order of the flow, with the e-mails of theirs that could not be sent) and an advocate
account's page (its moments, asks, introductions, credited deals and contacts' ask budget).

The board must stay quick with a hundred thousand introductions: it counts them per state in
one aggregate query and reads at most BOARD_CARDS cards per state as value rows, one LIMIT
query per state (eight at most); the rest of a state is paged on the board filtered on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from goodword.crm.models import Account, Contact, Task, TaskKind
from goodword.crm.selectors import _sees_all, deals_visible_to
from goodword.engine.gates import Block
from goodword.engine.intros import FINAL, LABELS, WAITING, IntroState, Timing
from goodword.jobs.selectors import failed_emails_for
from goodword.moments.models import Moment
from goodword.referrals import asks
from goodword.referrals.models import DealCredit, Introduction
from goodword.referrals.selectors import introductions_visible_to

if TYPE_CHECKING:
    from goodword.users.models import User

S = IntroState
# The flow's order: the waits and steps first, then where introductions end.
FLOW = (
    S.ADVOCATE_AGREED,
    S.AWAITING_CONSENT,
    S.ACCEPTED,
    S.INTRODUCED,
    S.OPPORTUNITY,
    S.DECLINED,
    S.EXPIRED,
    S.WITHDRAWN,
)
BOARD_CARDS = 25  # per state; "n more" opens the board filtered on that state, paged
FAILED_SHOWN = 20
# Accepting introduces the person in the same request: one still accepted a day on is stuck.
STUCK_ACCEPTED = dt.timedelta(days=1)
# Those who wait on someone come oldest first (the overdue on top); the others newest first.
OLDEST_FIRST = frozenset({S.ADVOCATE_AGREED, S.AWAITING_CONSENT, S.ACCEPTED})


# --- the board's filters and rows ----------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The board's filters; an empty one means "any". `account` is an advocate account's id
    (all digits) or part of its name."""

    owner: User | None = None
    account: str = ""
    state: IntroState | None = None
    since: dt.date | None = None


def introductions_on_board(user: User, filters: Filters) -> QuerySet[Introduction]:
    """The introductions `user` may see, narrowed by `filters`."""
    qs = introductions_visible_to(user)
    if filters.owner is not None:
        qs = qs.filter(owner=filters.owner)
    account = filters.account.strip()
    if account.isdigit():
        qs = qs.filter(advocate_account_id=int(account))
    elif account:
        qs = qs.filter(advocate_account__name__icontains=account)
    if filters.state is not None:
        qs = qs.filter(state=filters.state.value)
    if filters.since is not None:
        start = dt.datetime.combine(filters.since, dt.time.min, tzinfo=dt.UTC)
        qs = qs.filter(created_at__gte=start)
    return qs


CARD_FIELDS = (
    "pk",
    "state",
    "person_name",
    "person_company",
    "advocate__first_name",
    "advocate__last_name",
    "advocate__email",
    "advocate_account_id",
    "advocate_account__name",
    "owner__email",
    "waiting_since",
    "updated_at",
    "closed_at",
    "reminded_at",
    "flag",
    "deal_id",
)


@dataclass(frozen=True)
class Card:
    """One introduction as the board shows it: who, for whom, and how long it has been in
    its state (`since`), with `alert` saying why it is overdue ("" when it is not)."""

    pk: int
    state: IntroState
    person: str
    company: str
    advocate: str
    account_id: int
    account: str
    owner: str
    since: dt.datetime
    age: str
    alert: str
    flag: str
    deal_id: int | None

    @property
    def overdue(self) -> bool:
        return bool(self.alert)


def entered_at(
    state: IntroState,
    *,
    waiting_since: dt.datetime,
    updated_at: dt.datetime,
    closed_at: dt.datetime | None,
) -> dt.datetime:
    """When the introduction reached its state: a wait's start, the close of a final state,
    else the last change (accepted and introduced change only by moving on)."""
    if state in WAITING:
        return waiting_since
    if state in FINAL and closed_at is not None:
        return closed_at
    return updated_at


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def age_words(state: IntroState, waited: dt.timedelta) -> str:
    """How long the introduction has been in `state`, in words ("waiting 6 days")."""
    days = max(waited.days, 0)
    span = _days(days) if days else "less than a day"
    if state in WAITING:
        return f"waiting {span}"
    if state == S.OPPORTUNITY:
        return "deal opened today" if not days else f"deal opened {span} ago"
    if state in FINAL:
        return "closed today" if not days else f"closed {span} ago"
    return f"{span} in this state"


def alert_words(state: IntroState, waited: dt.timedelta, timing: Timing) -> str:
    """Why an introduction is overdue ("" when it is not): a wait past its reminder, or an
    acceptance that did not lead to the introduction."""
    if state in WAITING:
        if waited >= dt.timedelta(days=timing.expire_after_days):
            return f"overdue: past the day-{timing.expire_after_days} expiry"
        if waited >= dt.timedelta(days=timing.remind_after_days):
            left = timing.expire_after_days - waited.days
            return (
                f"no answer since the day-{timing.remind_after_days} reminder: a word from "
                f"you may help; expires in {_days(max(left, 1))}"
            )
        return ""
    if state == S.ACCEPTED and waited >= STUCK_ACCEPTED:
        return "overdue: accepted but not introduced yet"
    return ""


def _name(first: str | None, last: str | None, email: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (email or "")


def card_from(row: tuple[Any, ...], *, now: dt.datetime, timing: Timing) -> Card:
    values = dict(zip(CARD_FIELDS, row, strict=True))
    state = IntroState(values["state"])
    since = entered_at(
        state,
        waiting_since=values["waiting_since"],
        updated_at=values["updated_at"],
        closed_at=values["closed_at"],
    )
    waited = now - since
    return Card(
        pk=values["pk"],
        state=state,
        person=values["person_name"],
        company=values["person_company"],
        advocate=_name(
            values["advocate__first_name"],
            values["advocate__last_name"],
            values["advocate__email"],
        ),
        account_id=values["advocate_account_id"],
        account=values["advocate_account__name"],
        owner=values["owner__email"] or "",
        since=since,
        age=age_words(state, waited),
        alert=alert_words(state, waited, timing),
        flag=values["flag"],
        deal_id=values["deal_id"],
    )


def cards(rows: Iterable[tuple[Any, ...]], *, now: dt.datetime, timing: Timing) -> list[Card]:
    return [card_from(row, now=now, timing=timing) for row in rows]


def ordered(qs: QuerySet[Introduction], state: IntroState) -> QuerySet[Introduction, Any]:
    """One state's introductions as card rows, in the order the board shows them."""
    if state in WAITING:
        order = [F("waiting_since").asc(), F("id").asc()]
    elif state in OLDEST_FIRST:
        order = [F("updated_at").asc(), F("id").asc()]
    else:
        order = [F("updated_at").desc(), F("id").desc()]
    return qs.filter(state=state.value).order_by(*order).values_list(*CARD_FIELDS)


# --- the board's columns --------------------------------------------------------------------


@dataclass
class Column:
    state: IntroState
    count: int = 0
    overdue: int = 0  # of all `count`, not only the cards shown
    cards: list[Card] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


def overdue_rule(*, now: dt.datetime, timing: Timing) -> Q:
    """The introductions alert_words calls overdue, as a filter."""
    waited = now - dt.timedelta(days=timing.remind_after_days)
    waiting = [state.value for state in WAITING]
    return Q(state__in=waiting, waiting_since__lte=waited) | Q(
        state=S.ACCEPTED.value, updated_at__lte=now - STUCK_ACCEPTED
    )


def state_counts(
    qs: QuerySet[Introduction], *, now: dt.datetime, timing: Timing
) -> dict[str, tuple[int, int]]:
    """How many introductions each state has, and how many of them are overdue, in one
    aggregate query."""
    overdue = Count("id", filter=overdue_rule(now=now, timing=timing))
    rows = qs.order_by().values("state").annotate(n=Count("id"), late=overdue)
    return {row["state"]: (row["n"], row["late"]) for row in rows}


def columns(
    user: User, filters: Filters, *, now: dt.datetime, timing: Timing, limit: int = BOARD_CARDS
) -> list[Column]:
    """One column per state in flow order (only the filtered state's when one is chosen),
    each with its count and its first `limit` cards."""
    qs = introductions_on_board(user, filters)
    counts = state_counts(qs, now=now, timing=timing)
    shown = [filters.state] if filters.state is not None else list(FLOW)
    result = [Column(state, *counts.get(state.value, (0, 0))) for state in shown]
    for column in result:
        if column.count and limit:
            rows = ordered(qs, column.state)[:limit]
            column.cards = cards(rows, now=now, timing=timing)
    return result


# --- the board's CSV ------------------------------------------------------------------------

EXPORT_HEADER = [
    "id",
    "state",
    "person",
    "email",
    "company",
    "advocate_email",
    "advocate_account",
    "owner_email",
    "created_at",
    "updated_at",
    "deal_id",
]
_EXPORT_FIELDS = (
    "pk",
    "state",
    "person_name",
    "person_email",
    "person_company",
    "advocate__email",
    "advocate_account__name",
    "owner__email",
    "created_at",
    "updated_at",
    "deal_id",
)


def export_rows(qs: QuerySet[Introduction]) -> Iterator[tuple[Any, ...]]:
    """The filtered introductions as CSV rows, newest first, read in chunks."""
    rows = qs.order_by("-created_at", "-id").values_list(*_EXPORT_FIELDS)
    return rows.iterator(chunk_size=2000)


# --- e-mails that could not be sent ---------------------------------------------------------


@dataclass(frozen=True)
class FailedEmail:
    pk: int
    to: str
    subject: str
    at: dt.datetime | None
    failure: str
    about: str


FAILED_HEADER = ["id", "to", "subject", "failed_at", "failure", "about"]


def failed_emails(user: User) -> QuerySet[Any, Any]:
    """The user's e-mails that failed for good, newest first, as (id, to, subject, failed
    at, failure, about) rows: the recipients and subject are read out of the payload in the
    query, so that no body is loaded."""
    return (
        failed_emails_for(user=user)
        .annotate(
            recipients=KeyTransform("to", "payload"),
            subject=KeyTextTransform("subject", "payload"),
        )
        .values_list("pk", "recipients", "subject", "finished_at", "failure", "about")
    )


def failed_email_from(row: tuple[Any, ...]) -> FailedEmail:
    pk, recipients, subject, at, failure, about = row
    to = ", ".join(str(r) for r in recipients) if isinstance(recipients, list) else ""
    return FailedEmail(pk, to, subject or "", at, failure, about)


def failed_email_rows(user: User) -> Iterator[tuple[Any, ...]]:
    for row in failed_emails(user).iterator(chunk_size=2000):
        email = failed_email_from(row)
        yield (email.pk, email.to, email.subject, email.at, email.failure, email.about)


# --- an advocate account -------------------------------------------------------------------

CENT = Decimal("0.01")


def moments_of(account: Account) -> QuerySet[Moment]:
    """The account's peaks of value still standing (not retracted), newest first."""
    return (
        Moment.objects.filter(account=account, retracted_at__isnull=True)
        .select_related("contact")
        .order_by("-occurred_at", "-id")
    )


def asks_of(account: Account) -> QuerySet[Task]:
    """The referral asks made to the account's contacts, newest first."""
    return (
        Task.objects.filter(account=account, kind=TaskKind.REFERRAL_ASK)
        .select_related("contact", "owner")
        .order_by("-created_at", "-id")
    )


def introductions_of(account: Account) -> QuerySet[Introduction]:
    """The introductions the account's contacts made, newest first. Whoever sees the account
    sees them all (the introductions' access rule includes the advocate account's)."""
    return (
        Introduction.objects.filter(advocate_account=account)
        .select_related("advocate", "owner", "deal")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class CreditRow:
    """A referred deal credited to the account. `deal_name` is None when the user may not
    see the deal (it belongs to an account of another team): its numbers still count."""

    deal_id: int
    deal_name: str | None
    deal_account: str | None
    advocate: str
    share: Decimal
    stage: str
    status: str  # won, lost or open
    amount: Decimal
    currency: str
    credited: Decimal  # amount × share / 100, to the cent
    closed_at: dt.datetime | None


_CREDIT_FIELDS = (
    "deal_id",
    "deal__name",
    "deal__account__name",
    "advocate__first_name",
    "advocate__last_name",
    "advocate__email",
    "share",
    "deal__stage__name",
    "deal__stage__is_won",
    "deal__stage__is_lost",
    "deal__amount",
    "deal__currency",
    "deal__closed_at",
)


def _status(won: bool, lost: bool) -> str:
    return "won" if won else "lost" if lost else "open"


def credits_of(user: User, account: Account) -> list[CreditRow]:
    """The deals credited to the account, newest deal first, each with its share and what
    that share is worth; the names of deals `user` may not see are left out."""
    rows = list(
        DealCredit.objects.filter(advocate_account=account)
        .order_by("-deal__created_at", "-deal_id", "id")
        .values_list(*_CREDIT_FIELDS)
    )
    ids = {row[0] for row in rows}
    seen = ids if _sees_all(user) else _visible_deals(user, ids)
    result = []
    for row in rows:
        values = dict(zip(_CREDIT_FIELDS, row, strict=True))
        shown = values["deal_id"] in seen
        amount, share = values["deal__amount"], values["share"]
        result.append(
            CreditRow(
                deal_id=values["deal_id"],
                deal_name=values["deal__name"] if shown else None,
                deal_account=values["deal__account__name"] if shown else None,
                advocate=_name(
                    values["advocate__first_name"],
                    values["advocate__last_name"],
                    values["advocate__email"],
                ),
                share=share,
                stage=values["deal__stage__name"],
                status=_status(values["deal__stage__is_won"], values["deal__stage__is_lost"]),
                amount=amount,
                currency=values["deal__currency"],
                credited=_cents(amount * share / 100),
                closed_at=values["deal__closed_at"],
            )
        )
    return result


def _visible_deals(user: User, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(deals_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Revenue:
    currency: str
    amount: Decimal
    deals: int


def won_revenue(rows: Iterable[CreditRow]) -> list[Revenue]:
    """Won referred revenue by currency: the sum of amount × share / 100 over the won deals,
    rounded to the cent once, after the sum."""
    sums: dict[str, Decimal] = {}
    deals: dict[str, int] = {}
    for row in rows:
        if row.status != "won":
            continue
        sums[row.currency] = sums.get(row.currency, Decimal(0)) + row.amount * row.share / 100
        deals[row.currency] = deals.get(row.currency, 0) + 1
    return [Revenue(c, _cents(sums[c]), deals[c]) for c in sorted(sums)]


@dataclass(frozen=True)
class AskBudget:
    """When a contact was last asked (any kind of ask) and when they may be asked next:
    `block` is asks.contact_fatigue's answer (None: they may be asked now)."""

    contact: Contact
    last_asked: dt.datetime | None
    block: Block | None

    @property
    def opted_out(self) -> bool:
        return self.contact.opted_out_at is not None

    @property
    def may_ask_now(self) -> bool:
        return not self.opted_out and self.block is None

    @property
    def next_ask(self) -> dt.date | None:
        """The first day they may be asked again; None when they may be asked now, or when
        nothing lifts the block by itself (opted out, a budget of zero asks)."""
        if self.opted_out or self.block is None:
            return None
        return self.block.until

    @property
    def next_words(self) -> str:
        if self.opted_out:
            return "never: opted out of referral asks"
        if self.block is None:
            return "now"
        if self.block.until is None:
            return "not until the ask budget changes"
        return self.block.until.isoformat()


def contacts_of(account: Account) -> QuerySet[Contact]:
    return Contact.objects.filter(account=account).order_by("first_name", "last_name", "id")


def ask_budgets(contacts: Iterable[Contact], *, now: dt.datetime) -> list[AskBudget]:
    """Each contact's last ask and next allowed ask, by the same rule the ask page and the
    scan apply (three small queries per contact: the caller pages the contacts)."""
    return [
        AskBudget(
            contact=contact,
            last_asked=max(asks.asks_made_to(contact, now=now), default=None),
            block=asks.contact_fatigue(contact, now=now),
        )
        for contact in contacts
    ]
