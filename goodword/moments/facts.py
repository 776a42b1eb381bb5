"""What health, readiness and the gates look at, gathered from the database for many
accounts at once (the scan) or one (the account page, the API), as of a given time.

Asks are referral_ask tasks. An ask counts as made when it was done (at completed_at) or
closed as not appropriate (at completed_at: the owner judged the account, which starts the
cooldown too); an open one blocks the account with the open_ask gate."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import Case, Count, FloatField, Q, QuerySet, Sum, Value, When

from goodword.crm.models import (
    ASK_KINDS,
    NOT_APPROPRIATE,
    Account,
    Contact,
    Deal,
    Task,
    TaskKind,
    TaskStatus,
)
from goodword.engine.gates import GateFacts, decay_steps, readiness
from goodword.engine.health import Health, HealthFacts, health_score, next_renewal
from goodword.engine.programme import Programme
from goodword.moments.models import Moment
from goodword.signals.models import EventWeek, Message, NpsResponse, Ticket
from goodword.users.models import User

CHUNK = 500  # accounts per query (SQLite allows 32,766 parameters per statement)


@dataclass
class AccountFacts:
    account: Account
    health: Health
    readiness: float
    moments: list[Moment]  # live moments that count towards readiness, newest first
    contact: Contact | None
    gate: GateFacts


@dataclass
class _Bulk:
    weeks: dict[int, dict[dt.date, int]] = field(default_factory=lambda: defaultdict(dict))
    nps: dict[int, str] = field(default_factory=dict)
    detractor: dict[int, dt.datetime] = field(default_factory=dict)
    csat: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    escalations: dict[int, int] = field(default_factory=dict)
    renewal_open: set[int] = field(default_factory=set)
    asks: dict[int, list[Task]] = field(default_factory=lambda: defaultdict(list))
    engaged: dict[int, int] = field(default_factory=dict)  # account → most engaged contact


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def moments_by_account(
    programme: Programme, *, now: dt.datetime, accounts: Collection[int] | None = None
) -> dict[int, list[Moment]]:
    """Live moments of the programme's active rules within the readiness horizon, by account,
    newest first. Moments after `now` are left out (a backtest replays the past)."""
    # No ORDER BY in SQL: with it the planner walks the time index for every chunk of
    # accounts instead of looking the accounts up. Sorted here instead.
    qs = _in_horizon(programme, now)
    out: dict[int, list[Moment]] = defaultdict(list)
    if accounts is None:
        parts = [qs]
    else:
        ids = list(accounts)
        parts = [qs.filter(account_id__in=ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
    for part in parts:
        for moment in part:
            out[moment.account_id].append(moment)
    for mine in out.values():
        mine.sort(key=lambda m: (m.occurred_at, m.pk), reverse=True)
    return out


def _in_horizon(programme: Programme, now: dt.datetime) -> QuerySet[Moment]:
    """Live moments of the programme's active rules within the readiness horizon up to
    `now`, unordered: a range of the moments_live_time index, which holds the account and
    the rule too."""
    since = now - dt.timedelta(days=programme.readiness.horizon_days)
    return Moment.objects.filter(
        retracted_at__isnull=True,
        rule_id__in=[r.id for r in programme.active_rules],
        occurred_at__gte=since,
        occurred_at__lte=now,
    ).order_by()


def ready_moments(programme: Programme, *, now: dt.datetime) -> dict[int, list[Moment]]:
    """The accounts whose readiness reaches the threshold at `now`, each with its moments
    (as moments_by_account gives them). The database sums an upper bound of every account's
    readiness (engine.gates.decay_steps: a CASE on the moment's rule for its weight times a
    CASE on its time for the decay, so no powers in SQL), and only the accounts whose bound
    reaches the threshold are read and computed exactly, with readiness_of as the verdicts
    do: a few thousand moments of 100,000 accounts' rather than every one in the horizon."""
    config = programme.readiness
    weight = Case(
        *(When(rule_id=r.id, then=Value(float(r.weight))) for r in programme.active_rules),
        default=Value(0.0),
        output_field=FloatField(),
    )
    decay = Case(
        *(
            When(occurred_at__gte=since, then=Value(f))
            for since, f in decay_steps(now=now, config=config)
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )
    # A hair below the threshold: the database adds the same terms in another order.
    floor = config.threshold - abs(config.threshold) * 1e-9
    # The database reads moments_live_time alone (0.14 s for 256,000 moments in the
    # horizon on SQLite).
    bounds = (
        _in_horizon(programme, now)
        .values("account_id")
        .annotate(bound=Sum(weight * decay, output_field=FloatField()))
        .filter(bound__gte=floor)
        .values_list("account_id", flat=True)
    )
    moments = moments_by_account(programme, now=now, accounts=list(bounds))
    return {
        account_id: mine
        for account_id, mine in moments.items()
        if readiness_of(mine, programme, now) >= config.threshold
    }


def readiness_of(moments: list[Moment], programme: Programme, now: dt.datetime) -> float:
    weights = {r.id: r.weight for r in programme.active_rules}
    pairs = [(m.occurred_at, weights.get(m.rule_id, 0.0)) for m in moments]
    return readiness(pairs, now=now, config=programme.readiness)


def gather(
    account_ids: Collection[int],
    programme: Programme,
    *,
    now: dt.datetime,
    moments: dict[int, list[Moment]] | None = None,
    contacts: bool = True,
) -> dict[int, AccountFacts]:
    """Facts for each account, as of `now`. Without `contacts`, no contact is chosen (the
    most engaged one costs three queries per chunk): for a caller that reads only the
    account's health and the gates on it."""
    ids = list(account_ids)
    if moments is None:
        moments = moments_by_account(programme, now=now, accounts=ids)
    out: dict[int, AccountFacts] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        bulk = _bulk(part, programme, now)
        accounts = Account.objects.filter(pk__in=part).select_related("owner", "csm")
        chosen = _contacts(part, moments, bulk) if contacts else {}
        for account in accounts:
            mine = moments.get(account.pk, [])
            contact = chosen.get(account.pk)
            health = health_score(_health_facts(account, bulk, now, programme), programme.health)
            out[account.pk] = AccountFacts(
                account=account,
                health=health,
                readiness=readiness_of(mine, programme, now),
                moments=mine,
                contact=contact,
                gate=_gate_facts(account, contact, health, bulk, programme, now),
            )
    return out


def _bulk(ids: list[int], programme: Programme, now: dt.datetime) -> _Bulk:
    bulk = _Bulk()
    config = programme.health
    this_week = monday(now.date())
    weeks = config.usage_recent_weeks + config.usage_baseline_weeks
    first = this_week - dt.timedelta(weeks=weeks)
    for row in EventWeek.objects.filter(
        account_id__in=ids, week__gte=first, week__lt=this_week
    ).values_list("account_id", "week", "events"):
        bulk.weeks[row[0]][row[1]] = row[2]
    nps_since = now - dt.timedelta(days=config.nps_days)
    for account_id, category, at in (
        NpsResponse.objects.filter(account_id__in=ids, responded_at__lte=now)
        .order_by("account_id", "responded_at", "id")
        .values_list("account_id", "category", "responded_at")
    ):
        if at >= nps_since:
            bulk.nps[account_id] = category  # the latest wins: rows come oldest first
        if category == "detractor":
            bulk.detractor[account_id] = at
    _tickets(bulk, ids, programme, now)
    renewals = Deal.objects.filter(
        account_id__in=ids, kind="renewal", stage__is_won=False, stage__is_lost=False
    )
    bulk.renewal_open = set(renewals.values_list("account_id", flat=True))
    asks = Task.objects.filter(account_id__in=ids, kind__in=ASK_KINDS)
    for task in asks.only(
        "id", "account_id", "kind", "contact_id", "status", "outcome", "created_at", "completed_at"
    ):
        if task.account_id is not None:
            bulk.asks[task.account_id].append(task)
    return bulk


def _tickets(bulk: _Bulk, ids: list[int], programme: Programme, now: dt.datetime) -> None:
    since = now - dt.timedelta(days=programme.health.csat_days)
    rated = Ticket.objects.filter(
        account_id__in=ids, closed_at__gte=since, closed_at__lte=now, csat__isnull=False
    )
    for account_id, csat in rated.values_list("account_id", "csat"):
        if csat is not None:
            bulk.csat[account_id].append(csat)
    escalated = (
        Ticket.objects.filter(account_id__in=ids, escalated=True, opened_at__lte=now)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=now))
        .values("account_id")
        .annotate(n=Count("id"))
    )
    bulk.escalations = {row["account_id"]: row["n"] for row in escalated}


def _contacts(ids: list[int], moments: dict[int, list[Moment]], bulk: _Bulk) -> dict[int, Contact]:
    """The contact to ask: the newest moment's contact, else the account's most engaged
    contact (most NPS answers, tickets and messages; the oldest record breaks ties).
    Contacts who opted out are still returned: the gate says so."""
    wanted: dict[int, int] = {}
    for account_id in ids:
        named = next((m.contact_id for m in moments.get(account_id, []) if m.contact_id), None)
        if named is not None:
            wanted[account_id] = named
    missing = [a for a in ids if a not in wanted]
    if missing:
        wanted.update(_most_engaged(missing))
    found = Contact.objects.in_bulk(list(wanted.values()))
    return {a: found[c] for a, c in wanted.items() if c in found}


def _most_engaged(ids: list[int]) -> dict[int, int]:
    score: dict[tuple[int, int], int] = defaultdict(int)
    for model in (NpsResponse, Ticket, Message):
        rows = (
            model.objects.filter(account_id__in=ids, contact_id__isnull=False)
            .values_list("account_id", "contact_id")
            .annotate(n=Count("id"))
        )
        for account_id, contact_id, n in rows:
            score[(account_id, contact_id)] += n
    best: dict[int, tuple[int, int]] = {}
    for (account_id, contact_id), n in score.items():
        known = best.get(account_id)
        if known is None or (-n, contact_id) < (-known[0], known[1]):
            best[account_id] = (n, contact_id)
    out = {a: c for a, (_, c) in best.items()}
    for account_id, contact_id in (
        Contact.objects.filter(account_id__in=[a for a in ids if a not in out])
        .order_by("account_id", "created_at", "id")
        .values_list("account_id", "id")
    ):
        out.setdefault(account_id, contact_id)
    return out


def _health_facts(
    account: Account, bulk: _Bulk, now: dt.datetime, programme: Programme
) -> HealthFacts:
    config = programme.health
    this_week = monday(now.date())
    weeks = config.usage_recent_weeks + config.usage_baseline_weeks
    mine = bulk.weeks.get(account.pk, {})
    series = tuple(mine.get(this_week - dt.timedelta(weeks=weeks - i), 0) for i in range(weeks))
    days = None
    if account.customer_since is not None:
        days = (next_renewal(account.customer_since, now.date()) - now.date()).days
    return HealthFacts(
        weekly_events=series,
        nps_category=bulk.nps.get(account.pk),
        csat=tuple(bulk.csat.get(account.pk, [])),
        open_escalations=bulk.escalations.get(account.pk, 0),
        days_to_renewal=days,
        renewal_deal_open=account.pk in bulk.renewal_open,
    )


def _gate_facts(
    account: Account,
    contact: Contact | None,
    health: Health,
    bulk: _Bulk,
    programme: Programme,
    now: dt.datetime,
) -> GateFacts:
    every = [t for t in bulk.asks.get(account.pk, []) if t.created_at <= now]
    asks = [t for t in every if t.kind == TaskKind.REFERRAL_ASK]
    made_any = [(t, at) for t in every if _made(t) and (at := t.completed_at) and at <= now]
    made = [(t.contact_id, at) for t, at in made_any if t.kind == TaskKind.REFERRAL_ASK]
    to_contact = tuple(at for who, at in made if contact is not None and who == contact.pk)
    # The fatigue budget: every kind of ask made to the contact.
    spent = tuple(at for t, at in made_any if contact is not None and t.contact_id == contact.pk)
    owner = assignee(account, programme)
    opted_out = (
        contact is not None and contact.opted_out_at is not None and contact.opted_out_at <= now
    )
    return GateFacts(
        lifecycle=account.lifecycle,
        customer_since=account.customer_since,
        health=health.score,
        last_detractor_at=bulk.detractor.get(account.pk),
        open_escalations=bulk.escalations.get(account.pk, 0),
        last_account_ask_at=max(at for _, at in made) if made else None,
        contact_name=(contact.full_name or contact.email) if contact else None,
        contact_opted_out=opted_out,
        contact_asks=to_contact,
        open_ask=any(t.status == TaskStatus.OPEN for t in asks),
        owner_name=str(owner) if owner else None,
        owner_active=bool(owner and owner.is_active),
        contact_all_asks=spent,
    )


def _made(task: Task) -> bool:
    return task.status == TaskStatus.DONE or (
        task.status == TaskStatus.CANCELLED and task.outcome == NOT_APPROPRIATE
    )


def assignee(account: Account, programme: Programme) -> User | None:
    """Who gets the ask: the owner (or the CSM, as configured), else the other one."""
    first, second = (
        (account.csm, account.owner)
        if programme.asks.assign_to == "csm"
        else (account.owner, account.csm)
    )
    return first or second
