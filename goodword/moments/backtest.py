"""The backtest: replay past weeks and report the referral asks a programme would have
created (per week, owner and rule) and how many due accounts each gate held back, so admins
can tune rules before they put them in force. It writes nothing: not even in a transaction
rolled back later, which on SQLite would hold the write lock for the whole replay.

Moments. An event rule whose definition the newest scan ran (its fingerprint is in the
scan's state) uses the stored moments; any other event rule, and every record rule (a scan
reads their records in full anyway), is detected in memory with the scan's own code, as a
full scan as of the last week end would. Rule weights always come from the given programme.

Replayed exactly as of each week end t (Monday 00:00 UTC): the moments by their time,
readiness, usage weeks, NPS and detractor answers, CSAT, open escalations, customer_since,
opt-outs, and the real asks: created by t, made (done or not appropriate) by t, open at t.
The backtest's own asks are kept in memory and count as asks made at t to the contact
named: later weeks see them in the cooldown and the contact limit, not as open asks.

Today's values, since no history of them is kept: the account's lifecycle, owner and CSM
(and whether they are active), whether a renewal deal is open, the goals set, the contact
chosen for an account whose moments name none (its most engaged contact over all time), and
the records the record rules read (a deal reopened since no longer counts). Events count at
their time, not their arrival: one that arrived late counts in the week it happened.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils import timezone

from goodword.crm.models import Task, TaskKind, TaskStatus
from goodword.engine.gates import GATES, GateFacts, gates_check
from goodword.engine.programme import EVENT_KINDS, Programme, Rule
from goodword.engine.rules import rule_fingerprint
from goodword.moments import records
from goodword.moments.facts import AccountFacts, assignee, gather, readiness_of
from goodword.moments.models import Moment, Scan, ScanStatus
from goodword.moments.services import Found, found_in
from goodword.users.models import User

MAX_YEARS = 3
STORED, DETECTED = "stored", "detected"
ASK_COLUMNS = (
    "week_end",
    "account_external_id",
    "account",
    "owner",
    "owner_email",
    "contact",
    "contact_email",
    "readiness",
    "rule",
    "rules",
)


class RangeError(ValueError):
    """A date range the backtest refuses; the message says why, for people."""


@dataclass(frozen=True)
class SimulatedAsk:
    at: dt.datetime  # the week end it would have been created at
    account_id: int
    account: str
    external_id: str
    owner: str
    owner_email: str
    contact_id: int
    contact: str
    contact_email: str
    readiness: float
    rules: tuple[str, ...]  # every rule behind it, the one adding most readiness first

    @property
    def rule(self) -> str:
        return self.rules[0] if self.rules else ""


@dataclass
class BacktestWeek:
    at: dt.datetime
    due: int = 0  # accounts whose readiness reached the threshold
    asks: list[SimulatedAsk] = field(default_factory=list)
    blocked: Counter[str] = field(default_factory=Counter)  # gate → due accounts it held back


@dataclass(frozen=True)
class RuleTotal:
    rule_id: str
    name: str
    moments: str  # STORED or DETECTED
    led: int  # asks whose readiness this rule added most to
    behind: int  # asks whose readiness it added to at all


@dataclass
class BacktestResult:
    programme: Programme
    start: dt.date
    end: dt.date
    weeks: list[BacktestWeek]
    sources: dict[str, str]  # active rule → STORED or DETECTED

    @property
    def asks(self) -> list[SimulatedAsk]:
        return [ask for week in self.weeks for ask in week.asks]

    @property
    def due(self) -> int:
        return sum(week.due for week in self.weeks)

    @property
    def blocked(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for week in self.weeks:
            total.update(week.blocked)
        return total

    @property
    def gates(self) -> list[str]:
        """The gates that held anyone back, in the order gates_check reports them."""
        blocked = self.blocked
        return [gate for gate in GATES if blocked[gate]]

    @property
    def week_rows(self) -> list[tuple[BacktestWeek, list[int]]]:
        """Each week with its blocked counts in the order of `gates`."""
        gates = self.gates
        return [(week, [week.blocked[gate] for gate in gates]) for week in self.weeks]

    @property
    def by_owner(self) -> list[tuple[str, str, int]]:
        """(owner, email, asks), most asks first."""
        counts = Counter((ask.owner, ask.owner_email) for ask in self.asks)
        return [(o, e, n) for (o, e), n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]

    @property
    def by_rule(self) -> list[RuleTotal]:
        """Every active rule, the ones behind most asks first: a rule behind none is news."""
        led = Counter(ask.rule for ask in self.asks)
        behind = Counter(rule for ask in self.asks for rule in ask.rules)
        totals = [
            RuleTotal(r.id, r.name, self.sources[r.id], led[r.id], behind[r.id])
            for r in self.programme.active_rules
        ]
        return sorted(totals, key=lambda t: (-t.led, -t.behind, t.rule_id))

    @property
    def chart_points(self) -> list[tuple[str, float]]:
        return [(f"{week.at:%Y-%m-%d}", len(week.asks)) for week in self.weeks]


# --- the range ------------------------------------------------------------------------


def week_ends(start: dt.date, end: dt.date) -> list[dt.datetime]:
    """Every Monday 00:00 UTC from start to end, both included: the end of each ISO week."""
    first = start + dt.timedelta(days=-start.weekday() % 7)
    if first > end:
        return []
    count = (end - first).days // 7 + 1
    return [
        dt.datetime.combine(first + dt.timedelta(weeks=i), dt.time(), dt.UTC) for i in range(count)
    ]


def range_check(start: dt.date, end: dt.date, *, today: dt.date) -> None:
    """Raises RangeError when the backtest cannot replay start to end."""
    if end < start:
        raise RangeError(f"the end {end} is before the start {start}")
    if end > today:
        raise RangeError(f"the end {end} is after today ({today}): the backtest replays the past")
    if end > _years_later(start, MAX_YEARS):
        raise RangeError(f"{start} to {end} is more than {MAX_YEARS} years")
    if not week_ends(start, end):
        raise RangeError(f"no week ends (a Monday) from {start} to {end}")


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- running it -----------------------------------------------------------------------


def backtest_run(
    *, programme: Programme, start: dt.date, end: dt.date, today: dt.date | None = None
) -> BacktestResult:
    """Replay each week end from start to end with `programme`; reads only. Raises
    RangeError for a range range_check refuses (today: the current date, UTC)."""
    range_check(start, end, today=today or timezone.now().date())
    ends = week_ends(start, end)
    horizon = dt.timedelta(days=programme.readiness.horizon_days)
    moments, sources = _moments(programme, since=ends[0] - horizon, until=ends[-1])
    replay = _Replay(programme, _real_asks(until=ends[-1]))
    times = [m.occurred_at for m in moments]
    weeks = [replay.week(t, _window(moments, times, t - horizon, t)) for t in ends]
    return BacktestResult(programme, start, end, weeks, sources)


def _window(
    moments: Sequence[Moment], times: Sequence[dt.datetime], since: dt.datetime, now: dt.datetime
) -> dict[int, list[Moment]]:
    """The moments from since to now by account, newest first, as moments_by_account gives."""
    picked = moments[bisect.bisect_left(times, since) : bisect.bisect_right(times, now)]
    out: dict[int, list[Moment]] = defaultdict(list)
    for moment in reversed(picked):
        out[moment.account_id].append(moment)
    return out


@dataclass
class _Replay:
    programme: Programme
    real: dict[int, list[tuple[dt.datetime, dt.datetime | None]]]  # account → (created, closed)
    simulated: dict[int, list[tuple[dt.datetime, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # account → (asked at, contact) for the backtest's own asks

    def week(self, now: dt.datetime, moments: dict[int, list[Moment]]) -> BacktestWeek:
        threshold = self.programme.readiness.threshold
        ready = [
            a for a, ms in moments.items() if readiness_of(ms, self.programme, now) >= threshold
        ]
        week = BacktestWeek(at=now, due=len(ready))
        facts = gather(ready, self.programme, now=now, moments=moments)
        for one in sorted(facts.values(), key=lambda f: (f.account.name, f.account.pk)):
            blocks = gates_check(self._gate(one, now), now=now, config=self.programme.gates)
            owner = assignee(one.account, self.programme)
            if blocks or owner is None:
                # Without an owner (the owner gate switched off) nobody could take the ask.
                week.blocked.update([b.gate for b in blocks] or ["owner"])
                continue
            week.asks.append(self._ask(one, owner, now))
        return week

    def _gate(self, facts: AccountFacts, now: dt.datetime) -> GateFacts:
        """The gate facts with the backtest's own asks added, and open asks as of now (gather
        reads a task's status today)."""
        gate = facts.gate
        mine = self.simulated.get(facts.account.pk, [])
        made = [at for at in (gate.last_account_ask_at, *(at for at, _ in mine)) if at is not None]
        contact = facts.contact.pk if facts.contact else None
        to_contact = tuple(at for at, c in mine if c == contact)
        return replace(
            gate,
            last_account_ask_at=max(made, default=None),
            contact_asks=gate.contact_asks + to_contact,
            contact_all_asks=gate.contact_all_asks + to_contact,
            open_ask=any(
                created <= now and (closed is None or closed > now)
                for created, closed in self.real.get(facts.account.pk, [])
            ),
        )

    def _ask(self, facts: AccountFacts, owner: User, now: dt.datetime) -> SimulatedAsk:
        contact = facts.contact
        assert contact is not None
        self.simulated[facts.account.pk].append((now, contact.pk))
        return SimulatedAsk(
            at=now,
            account_id=facts.account.pk,
            account=facts.account.name,
            external_id=facts.account.external_id or "",
            owner=str(owner),
            owner_email=owner.email,
            contact_id=contact.pk,
            contact=contact.full_name or contact.email,
            contact_email=contact.email,
            readiness=facts.readiness,
            rules=_rules_behind(facts.moments, self.programme, now),
        )


def _rules_behind(moments: list[Moment], programme: Programme, now: dt.datetime) -> tuple[str, ...]:
    """The rules whose moments add to readiness now, the one adding most first."""
    adds: dict[str, float] = defaultdict(float)
    for moment in moments:
        adds[moment.rule_id] += readiness_of([moment], programme, now)
    ranked = sorted(adds.items(), key=lambda item: (-item[1], item[0]))
    return tuple(rule_id for rule_id, value in ranked if value > 0)


def _real_asks(*, until: dt.datetime) -> dict[int, list[tuple[dt.datetime, dt.datetime | None]]]:
    """Each account's referral asks created by `until`: (created, closed; None while open).
    A closed ask without a completion time counts as closed since it was created."""
    out: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    rows = Task.objects.filter(
        kind=TaskKind.REFERRAL_ASK, created_at__lte=until, account__isnull=False
    ).values_list("account_id", "created_at", "status", "completed_at")
    for account_id, created, status, completed in rows:
        closed = None if status == TaskStatus.OPEN else (completed or created)
        out[account_id].append((created, closed))
    return out


# --- the moments ----------------------------------------------------------------------


def _moments(
    programme: Programme, *, since: dt.datetime, until: dt.datetime
) -> tuple[list[Moment], dict[str, str]]:
    """The live moments of the active rules from since to until, oldest first, and where
    each rule's came from."""
    scanned = _scanned_fingerprints()
    sources = {
        r.id: STORED
        if r.kind in EVENT_KINDS and scanned.get(r.id) == rule_fingerprint(r)
        else DETECTED
        for r in programme.active_rules
    }
    stored = [rule_id for rule_id, source in sources.items() if source == STORED]
    found = list(
        Moment.objects.filter(
            retracted_at__isnull=True,
            rule_id__in=stored,
            occurred_at__gte=since,
            occurred_at__lte=until,
        ).only("id", "account_id", "rule_id", "occurred_at", "contact_id")
    )
    wanted = [r for r in programme.active_rules if sources[r.id] == DETECTED]
    found += [m for m in _detected(wanted, now=until) if since <= m.occurred_at <= until]
    found.sort(key=lambda m: (m.occurred_at, m.pk or 0))
    return found, sources


def _scanned_fingerprints() -> dict[str, str]:
    """rule → fingerprint of the event rules the newest scan state holds moments for."""
    from goodword.moments.scan import State

    newest = Scan.objects.filter(status=ScanStatus.DONE, state__isnull=False).only("state").first()
    if newest is None:
        return {}
    return State.from_parquet(bytes(newest.state or b"")).rules


def _detected(rules: list[Rule], *, now: dt.datetime) -> list[Moment]:
    """What a full scan as of `now` would find for these rules, as unsaved moments."""
    found = _event_found([r for r in rules if r.kind in EVENT_KINDS], now=now)
    for rule in rules:
        if rule.kind not in EVENT_KINDS:
            found += [(rule, item) for item in records.found_for(rule)]
    return [_unsaved(rule, item) for rule, item in found]


def _event_found(rules: list[Rule], *, now: dt.datetime) -> list[tuple[Rule, Found]]:
    # The scan's own pieces, run as a full scan over a fresh state, so the backtest finds
    # what a scan would; they read the event store and write nothing.
    from goodword.moments import scan
    from goodword.signals import store

    if not rules:
        return []
    with store.connect() as opened:
        ctx = scan.Context(
            events=opened.events(),
            upto=opened.horizon() if opened.tracks_arrival else None,
            after=None,
            now=now,
            previous_as_of=None,
            state=scan.State(),
        )
        first = scan._firsts(ctx) if any(r.kind == "surge" for r in rules) else None
        return [
            (rule, item)
            for rule in rules
            for found, *_ in scan._event_rule(ctx, rule, first).parts
            for item in found_in(found)
        ]


def _unsaved(rule: Rule, item: Found) -> Moment:
    return Moment(
        account_id=item.account_id,
        rule_id=rule.id,
        kind=rule.kind,
        key=item.key,
        occurred_at=item.occurred_at,
        contact_id=item.contact_id,
        evidence=item.evidence[:500],
    )


# --- output ---------------------------------------------------------------------------


def ask_rows(result: BacktestResult) -> Iterator[tuple[Any, ...]]:
    """The simulated asks as tuples in ASK_COLUMNS order (rules joined by spaces)."""
    for ask in result.asks:
        yield (
            f"{ask.at:%Y-%m-%d}",
            ask.external_id,
            ask.account,
            ask.owner,
            ask.owner_email,
            ask.contact,
            ask.contact_email,
            round(ask.readiness, 1),
            ask.rule,
            " ".join(ask.rules),
        )


def summary(result: BacktestResult) -> dict[str, Any]:
    """The result without its asks, as JSON-ready values."""
    return {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "moments": dict(sorted(result.sources.items())),
        "asks": len(result.asks),
        "due": result.due,
        "blocked": {gate: result.blocked[gate] for gate in result.gates},
        "weeks": [
            {
                "week_end": f"{week.at:%Y-%m-%d}",
                "due": week.due,
                "asks": len(week.asks),
                "blocked": {gate: week.blocked[gate] for gate in GATES if week.blocked[gate]},
            }
            for week in result.weeks
        ],
        "by_owner": [{"owner": o, "email": e, "asks": n} for o, e, n in result.by_owner],
        "by_rule": [
            {"rule": t.rule_id, "moments": t.moments, "led": t.led, "behind": t.behind}
            for t in result.by_rule
        ],
    }
