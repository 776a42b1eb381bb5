"""Reads of signals: what the intake took in, and each account's signals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Model, Q, QuerySet, Sum

from goodword.crm.models import Account
from goodword.crm.selectors import accounts_visible_to
from goodword.engine import praise
from goodword.lib.errors import NotFound
from goodword.signals.models import (
    Event,
    EventState,
    EventWeek,
    Goal,
    IngestLog,
    Message,
    NpsCategory,
    NpsResponse,
    Ticket,
    WriteKey,
)

if TYPE_CHECKING:
    from goodword.users.models import User

COUNTS = ("received", "stored", "duplicates", "held")


@dataclass
class IngestStats:
    """Events received, stored, duplicates dropped and held on arrival, over a period (whole
    hours), with rejections by reason; `waiting` is how many are held right now."""

    since: dt.datetime | None
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    held: int = 0
    waiting: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "held_on_arrival": self.held,
            "waiting_for_account": self.waiting,
            "rejected": dict(sorted(self.rejected.items())),
        }


def ingest_stats(*, since: dt.datetime | None = None, source: str | None = None) -> IngestStats:
    """Counts since the start of the hour of `since` (all time when None)."""
    rows = IngestLog.objects.all()
    if since is not None:
        hour = since.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        rows = rows.filter(at__gte=hour)
    if source is not None:
        rows = rows.filter(source=source)
    sums = rows.aggregate(**{name: Sum(name) for name in COUNTS})
    stats = IngestStats(since=since)
    for name in COUNTS:
        setattr(stats, name, sums[name] or 0)
    for rejected in rows.exclude(rejected={}).values_list("rejected", flat=True).iterator():
        for reason, n in rejected.items():
            stats.rejected[reason] = stats.rejected.get(reason, 0) + int(n)
    stats.waiting = Event.objects.filter(state=EventState.HELD).count()
    return stats


@dataclass(frozen=True)
class Hour:
    at: dt.datetime
    received: int
    stored: int
    duplicates: int
    rejected: int


def ingest_hours(*, since: dt.datetime) -> list[Hour]:
    """Per hour since `since`, oldest first; hours with nothing logged are absent."""
    rows = (
        IngestLog.objects.filter(at__gte=since)
        .values("at")
        .annotate(r=Sum("received"), s=Sum("stored"), d=Sum("duplicates"))
        .order_by("at")
    )
    rejected: dict[dt.datetime, int] = {}
    for at, reasons in (
        IngestLog.objects.filter(at__gte=since).exclude(rejected={}).values_list("at", "rejected")
    ):
        rejected[at] = rejected.get(at, 0) + sum(int(n) for n in reasons.values())
    return [
        Hour(at, received, stored, duplicates, rejected.get(at, 0))
        for at, received, stored, duplicates in rows.values_list("at", "r", "s", "d")
    ]


# --- an account's signals -------------------------------------------------------------

WEEKS = 26  # the span of the activity chart, in ISO weeks
LATEST = 20  # rows of each kind on the account page; the rest are a link away

SIGNAL_MODELS: dict[str, type[Model]] = {
    "nps": NpsResponse,
    "tickets": Ticket,
    "messages": Message,
    "goals": Goal,
}
_NEWEST_FIRST: dict[str, tuple[str, ...]] = {
    "nps": ("-responded_at", "-pk"),
    "tickets": ("-opened_at", "-pk"),
    "messages": ("-received_at", "-pk"),
    "goals": ("-starts_at", "-pk"),
}


def signals_visible_to(user: User, kind: str) -> QuerySet[Any]:
    """The NPS answers, tickets, messages or goals (`kind`) a user may see: an account's
    signals are visible exactly when the account is. Newest first, account and contact
    joined."""
    if kind not in SIGNAL_MODELS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(SIGNAL_MODELS)}")
    qs = SIGNAL_MODELS[kind]._default_manager.filter(account__in=accounts_visible_to(user))
    related = ("account",) if kind == "goals" else ("account", "contact")
    return qs.select_related(*related).order_by(*_NEWEST_FIRST[kind])


def week_start(day: dt.date) -> dt.date:
    """The Monday of the ISO week `day` is in."""
    return day - dt.timedelta(days=day.weekday())


def event_weeks_visible_to(user: User) -> QuerySet[EventWeek]:
    """Events per account and week of the accounts the user may see, by account and week."""
    qs = EventWeek.objects.filter(account__in=accounts_visible_to(user))
    return qs.order_by("account_id", "week")


@dataclass(frozen=True)
class Week:
    start: dt.date  # a Monday, UTC
    events: int


def account_weeks(account: Account, *, now: dt.datetime, weeks: int = WEEKS) -> list[Week]:
    """Events per ISO week for the last `weeks` weeks up to `now`'s, oldest first; a week
    without events is there with 0."""
    last = week_start(now.astimezone(dt.UTC).date())
    starts = [last - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    counts = dict(
        EventWeek.objects.filter(account=account, week__range=(starts[0], last)).values_list(
            "week", "events"
        )
    )
    return [Week(start, counts.get(start, 0)) for start in starts]


@dataclass(frozen=True)
class Latest[T]:
    """The newest rows of one kind and how many there are in all."""

    rows: list[T]
    total: int

    @property
    def more(self) -> bool:
        return self.total > len(self.rows)


def _latest[T: Model](qs: QuerySet[T], limit: int = LATEST) -> Latest[T]:
    rows = list(qs[:limit])
    return Latest(rows, len(rows) if len(rows) < limit else qs.count())


@dataclass(frozen=True)
class NpsMix:
    """How an account's NPS answers split into promoters, passives and detractors."""

    promoters: int
    passives: int
    detractors: int

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        """Net Promoter Score, -100 to 100: % promoters minus % detractors."""
        if not self.total:
            return None
        return round(100 * (self.promoters - self.detractors) / self.total)

    @property
    def points(self) -> list[tuple[str, float]]:
        return [
            ("Promoters", self.promoters),
            ("Passives", self.passives),
            ("Detractors", self.detractors),
        ]

    classes = (NpsCategory.PROMOTER.value, NpsCategory.PASSIVE.value, NpsCategory.DETRACTOR.value)


def nps_mix(account: Account) -> NpsMix:
    counts = NpsResponse.objects.filter(account=account).aggregate(
        **{c.value: Count("pk", filter=Q(category=c.value)) for c in NpsCategory}
    )
    return NpsMix(counts["promoter"], counts["passive"], counts["detractor"])


@dataclass(frozen=True)
class AccountSignals:
    weeks: list[Week]
    nps: Latest[NpsResponse]
    nps_mix: NpsMix
    tickets: Latest[Ticket]
    messages: Latest[Message]
    goals: Latest[Goal]
    praise_threshold: float

    @property
    def week_points(self) -> list[tuple[str, float]]:
        return [(week.start.isoformat(), week.events) for week in self.weeks]

    @property
    def events_total(self) -> int:
        return sum(week.events for week in self.weeks)


def account_signals(*, account: Account, now: dt.datetime) -> AccountSignals:
    """What an account did and said, bounded for one page: events per week for the last
    WEEKS weeks, the LATEST newest of each kind of row with their totals, the NPS mix. The
    caller has the account from crm.selectors.account_get_for: an account's signals are
    visible exactly when the account is."""
    with_contact = ("account", "contact")
    return AccountSignals(
        weeks=account_weeks(account, now=now),
        nps=_latest(
            NpsResponse.objects.filter(account=account)
            .select_related(*with_contact)
            .order_by(*_NEWEST_FIRST["nps"])
        ),
        nps_mix=nps_mix(account),
        tickets=_latest(
            Ticket.objects.filter(account=account)
            .select_related(*with_contact)
            .order_by(*_NEWEST_FIRST["tickets"])
        ),
        messages=_latest(
            Message.objects.filter(account=account)
            .select_related(*with_contact)
            .order_by(*_NEWEST_FIRST["messages"])
        ),
        goals=_latest(
            Goal.objects.filter(account=account)
            .select_related("account")
            .order_by(*_NEWEST_FIRST["goals"])
        ),
        praise_threshold=praise.THRESHOLD,
    )


# --- the intake, for admins -----------------------------------------------------------

INTAKE_HOURS = 48  # the span of the per-hour chart
# What a page or an export may show of a write key: never its hash.
KEY_COLUMNS = ("prefix", "name", "rate_limit", "created_at", "last_used_at", "revoked_at")


@dataclass(frozen=True)
class IntakeStatus:
    day: IngestStats  # the last 24 whole hours, this one included
    total: IngestStats  # all time
    hours: list[Hour]  # the last INTAKE_HOURS hours, oldest first, an empty hour with zeros
    keys: list[WriteKey]

    @property
    def rejected(self) -> list[tuple[str, int, int]]:
        """(reason, in the last 24 hours, all time), the most rejected first."""
        reasons = set(self.total.rejected) | set(self.day.rejected)
        rows = [(r, self.day.rejected.get(r, 0), self.total.rejected.get(r, 0)) for r in reasons]
        return sorted(rows, key=lambda row: (-row[2], -row[1], row[0]))


def intake_status_for(*, user: User, now: dt.datetime) -> IntakeStatus:
    """What the event intake took in and the write keys it takes. For admins only: raises
    NotFound for anyone else, to whom the page does not exist."""
    if not user.is_admin_role:
        raise NotFound("intake status")
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    first = hour - dt.timedelta(hours=INTAKE_HOURS - 1)
    logged = {h.at: h for h in ingest_hours(since=first)}
    every = [first + dt.timedelta(hours=n) for n in range(INTAKE_HOURS)]
    keys = WriteKey.objects.only(*KEY_COLUMNS).order_by("-created_at", "-pk")
    return IntakeStatus(
        day=ingest_stats(since=hour - dt.timedelta(hours=23)),
        total=ingest_stats(),
        hours=[logged.get(at) or Hour(at, 0, 0, 0, 0) for at in every],
        keys=list(keys),
    )
