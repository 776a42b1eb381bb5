"""Whom to ask for: the prospects an advocate is likely to know, best first, each with its
reasons in plain words (ranking and merging in goodword.engine.peers).

- relationships: the advocate contact's past employers that are prospects now, and people at
  prospects who once worked at the advocate's company (opted-out people never);
- mentions: prospects named in the advocate account's messages, tickets and call or meeting
  notes of the last year, newest first, with a typo forgiven (engine.companies.Mentions);
- lookalikes: prospects like the advocate's company (industry, size band, country, and product
  usage when the advocate's moments came from usage), left out when in an open deal.

Only prospects appear: never a customer or a churned account, never the advocate's own. A
prospect found by a relationship or a mention is kept when someone works it, flagged: "in an
open deal owned by Sam", or "already being worked by Sam" when the deal is past the first
open stage and owned by someone other than the ask's owner.

The prospects' index and mention finder, and an index of everyone's past employers, cover
every prospect and person, so they are built once and kept in this process. Each ask first
reads cheap stamps (the newest account and account update, the newest EventWeek row, the
newest contact and contact update: one indexed MAX each); when they moved, only the rows
changed since are read and applied over the copy, and the copy is built afresh when the
usage window moves on or more than REFRESH_AT_MOST rows changed since its build: in a thread,
the old copy answering meanwhile, so that no ask waits seconds for it. A stale copy
could name a prospect that just became a customer or entered a deal, or a person who opted
out or left, so the final candidates are checked against the records on every call.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections
from django.db.models import Exists, Max, Min, OuterRef, Q, Sum
from django.utils import timezone

from goodword.crm.models import Account, Contact, Deal, Lifecycle, Stage, Task, TaskKind
from goodword.engine import peers as engine
from goodword.engine.companies import Mention, Mentions
from goodword.engine.domains import same_domain
from goodword.engine.peers import Suggestion

if TYPE_CHECKING:
    from goodword.users.models import User

__all__ = ["Suggestion", "peers_cache_clear", "peers_cache_wait", "peers_cache_warm", "peers_for"]
logger = logging.getLogger(__name__)

MENTION_WINDOW = dt.timedelta(days=365)
TEXTS_PER_SOURCE = 200  # newest messages, tickets and notes read for mentions, each
MENTION_REASONS = 3  # quotes shown per prospect
SNIPPET = 40  # characters of context either side of a mention
PAST_EMPLOYERS = 20
ALUMNI = 200
USAGE_WEEKS = 8
USAGE_KINDS = ("milestone", "goal", "surge")  # moments that say usage made the advocate successful
LOOKALIKE_ROUNDS = 4  # re-ranks when the best lookalikes turn out to be taken
REFRESH_AT_MOST = 10_000  # rows changed since a copy's build that are applied over it
REFRESH_OVERLAP = dt.timedelta(minutes=5)  # a write may commit this long after its stamp
IN_CHUNK = 2_000  # ids sent to the database in one query
CHANNELS = {
    "email": "an email",
    "chat": "a chat message",
    "review": "a review",
    "call": "call notes",
    "social": "a social post",
    "survey": "a survey answer",
}


def peers_for(
    *,
    account: Account,
    contact: Contact | None,
    now: dt.datetime,
    limit: int = 10,
    owner: User | None = None,
) -> list[Suggestion]:
    """The prospects to ask `contact` (at `account`) about, best first, with reasons. `owner`
    is the ask's owner (the account's by default): another rep's open deal past the first
    stage reads "already being worked". Raises nothing of its own."""
    prospects = _prospects(now)
    alumni = _alumni_index()
    profile = _profile(account)
    named = [
        s
        for s in [*_relationships(account, contact, alumni), *_mentions(account, now, prospects)]
        if s.account_id != account.pk
    ]
    named_ids = sorted({s.account_id for s in named})
    deals = _open_deals(named_ids)
    alike = [engine.lookalike(prospects.index, profile, pk) for pk in named_ids if pk not in deals]
    skip = {account.pk, *named_ids}
    others = _lookalikes(prospects.index, profile, skip=skip, limit=limit)
    found = engine.merge([*named, *(a for a in alike if a), *others], limit=limit)
    owner_id = owner.pk if owner is not None else account.owner_id
    first = Stage.objects.filter(is_won=False, is_lost=False).aggregate(p=Min("position"))["p"]
    for item in found:
        if item.account_id in deals:
            item.reasons.append(_flag(deals[item.account_id], owner_id, first))
    return found


# --- the cached copies -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stamp:
    """How far a copy has read a table: its newest row and newest update."""

    top: int | None
    updated: dt.datetime | None


def _stamp(model: type[Account] | type[Contact]) -> _Stamp:
    # One aggregate per query: SQLite answers a lone MIN or MAX from an index, two at once
    # by reading the table.
    top = model.objects.aggregate(v=Max("pk"))["v"]
    return _Stamp(top, model.objects.aggregate(v=Max("updated_at"))["v"])


def _changed_since(model: type[Account] | type[Contact], stamp: _Stamp) -> list[int]:
    """The rows added or updated since `stamp` (those updated up to REFRESH_OVERLAP before
    it again, so that a write which committed after a later one is not missed); at most
    one more than REFRESH_AT_MOST."""
    changed = Q(pk__gt=stamp.top or 0)
    if stamp.updated is not None:
        changed |= Q(updated_at__gte=stamp.updated - REFRESH_OVERLAP)
    rows = model.objects.filter(changed).order_by().values_list("pk", flat=True)
    return list(rows[: REFRESH_AT_MOST + 1])


def _chunks(ids: Iterable[int]) -> Iterator[tuple[int, ...]]:
    return itertools.batched(sorted(ids), IN_CHUNK, strict=False)


@dataclass(frozen=True, eq=False)
class _Prospects:
    """Every prospect as the lookalikes rank them and as texts name them: the copy of the
    last full build, with the prospects changed since applied over it."""

    accounts: _Stamp
    weeks: int | None  # the newest EventWeek row read
    since: dt.date  # the usage window's first week
    index: engine.ProspectIndex
    mentions: Mentions  # the names at the last full build
    changed: dict[int, str] = field(default_factory=dict)  # since then: id → name ('' gone)
    changed_mentions: Mentions = field(default_factory=lambda: Mentions({}))

    @property
    def stamps(self) -> tuple[_Stamp, int | None, dt.date]:
        return (self.accounts, self.weeks, self.since)

    def find(self, text: str) -> list[Mention]:
        """The prospects named in `text`, as Mentions.find gives them, by current names."""
        found = [m for m in self.mentions.find(text) if m.key not in self.changed]
        found.extend(self.changed_mentions.find(text))
        return sorted(found, key=lambda m: (m.start, m.key))


@dataclass(frozen=True, eq=False)
class _Alumni:
    """Everyone's past employers: the copy of the last full build, with the people changed
    since applied over it."""

    contacts: _Stamp
    index: engine.PastEmployers  # the lists at the last full build
    changed: dict[int, list[Any]] = field(default_factory=dict)  # since then: id → list
    changed_index: engine.PastEmployers = field(
        default_factory=lambda: engine.past_employers_index([])
    )

    def listing(self, domain: str) -> list[int]:
        """The people who may list `domain` among their past employers (to be checked)."""
        found = [pk for pk in self.index.listing(domain) if pk not in self.changed]
        return sorted([*found, *self.changed_index.listing(domain)])


_cache: dict[str, Any] = {}
_lock = threading.Lock()
_building: dict[str, threading.Thread] = {}  # copies being built afresh, by name


def peers_cache_clear() -> None:
    """Forget the cached copies (tests, and after bulk changes the stamps miss)."""
    peers_cache_wait()
    with _lock:
        _cache.clear()


def peers_cache_wait() -> None:
    """Wait for the copies being built afresh in the background."""
    while _building:
        with _lock:
            threads = list(_building.values())
        for thread in threads:
            thread.join()


def _afresh[T](name: str, old: T | None, build: Callable[[], T]) -> T:
    """`build()`, or, with PEERS_BUILD_IN_BACKGROUND and an old copy, `old` while a thread
    builds the new copy (one at a time per name): a full build takes seconds at a million
    prospects, and serving the old copy that long is safe, as every candidate is checked
    against the records. Called holding _lock."""
    if old is None or not settings.PEERS_BUILD_IN_BACKGROUND:
        return build()
    _start(name, build)
    return old


def peers_cache_warm() -> None:
    """Build the copies in threads now (a web process starting), so that its first ask does
    not wait seconds for them."""

    def prospects() -> _Prospects:
        return _build(_stamp(Account), _newest_week(), timezone.now())

    def alumni() -> _Alumni:
        return _build_alumni(_stamp(Contact))

    with _lock:
        for name, build in (("prospects", prospects), ("alumni", alumni)):
            if name not in _cache:
                _start(name, build)


def _start(name: str, build: Callable[[], Any]) -> None:
    """Build the `name` copy in a thread, unless one is at it. Called holding _lock."""
    if name not in _building:
        thread = threading.Thread(
            target=_build_in_background, args=(name, build), name=f"peers-{name}", daemon=True
        )
        _building[name] = thread
        thread.start()


def _first_copy(name: str) -> None:
    """Wait for the first `name` copy when a thread is building it (the process is warming)."""
    thread = _building.get(name)
    if name not in _cache and thread is not None:
        thread.join()


def _build_in_background(name: str, build: Callable[[], Any]) -> None:
    try:
        fresh = build()
        with _lock:
            _cache[name] = fresh
    except Exception:
        logger.exception("building the %s copy for whom to ask for failed", name)
    finally:
        with _lock:
            del _building[name]
        connections.close_all()


def _usage_since(now: dt.datetime) -> dt.date:
    """The Monday (UTC) USAGE_WEEKS weeks back, this week included."""
    today = now.astimezone(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday(), weeks=USAGE_WEEKS - 1)


def _newest_week() -> int | None:
    from goodword.signals.models import EventWeek

    top: int | None = EventWeek.objects.aggregate(top=Max("pk"))["top"]
    return top


def _prospects(now: dt.datetime) -> _Prospects:
    """The prospects' copy, brought up to date when an account was added or updated through
    the services (which stamp updated_at, as a change of lifecycle does), an account's
    first events of a week arrived, or the usage window moved on. What the stamps miss
    (deletes, raw updates) cannot put a wrong prospect on the list: the candidates are
    checked against the records."""
    _first_copy("prospects")
    accounts, weeks, since = _stamp(Account), _newest_week(), _usage_since(now)
    cached: _Prospects | None = _cache.get("prospects")
    if cached is not None and cached.stamps == (accounts, weeks, since):
        return cached
    with _lock:  # one thread refreshes; the others wait for its copy
        cached = _cache.get("prospects")
        if cached is None or cached.stamps != (accounts, weeks, since):
            cached = _cache["prospects"] = _refresh(cached, accounts, weeks, now)
        return cached


def _refresh(
    old: _Prospects | None, accounts: _Stamp, weeks: int | None, now: dt.datetime
) -> _Prospects:
    """The copy with the prospects changed since `old` applied, or built afresh when there is
    no copy, the usage window moved on, or too much changed to apply row by row."""

    def build() -> _Prospects:
        return _build(accounts, weeks, now)

    if old is None or old.since != _usage_since(now):
        return _afresh("prospects", old, build)
    touched = set(_changed_since(Account, old.accounts))
    if weeks != old.weeks:
        from goodword.signals.models import EventWeek

        new_weeks = EventWeek.objects.filter(pk__gt=old.weeks or 0).order_by()
        touched.update(new_weeks.values_list("account_id", flat=True)[: REFRESH_AT_MOST + 1])
    if len(touched) > REFRESH_AT_MOST:
        return _afresh("prospects", old, build)
    rows = _prospect_rows(touched, now)
    # Only prospects, then and now, matter: a customer's new events are not tracked.
    left = {pk for pk in touched if pk in old.changed or old.index.position(pk) is not None}
    changed = {**old.changed, **dict.fromkeys(left, ""), **{r.id: r.name for r in rows}}
    if len(changed) > REFRESH_AT_MOST:
        return _afresh("prospects", old, build)
    return _Prospects(
        accounts,
        weeks,
        old.since,
        engine.index_update(old.index, rows, remove_ids=touched),
        old.mentions,
        changed,
        Mentions({pk: name for pk, name in changed.items() if name}),
    )


def _usage(now: dt.datetime, ids: Iterable[int] | None = None) -> dict[int, int]:
    """Prospects' events in the usage window, by account (of `ids` only, when given)."""
    from goodword.signals.models import EventWeek

    weeks = EventWeek.objects.filter(
        week__gte=_usage_since(now),
        week__lte=now.astimezone(dt.UTC).date(),
        account__lifecycle=Lifecycle.PROSPECT,
    )
    per_account = weeks.values("account_id").annotate(n=Sum("events")).order_by()
    if ids is None:
        return dict(per_account.values_list("account_id", "n"))
    found: dict[int, int] = {}
    for chunk in _chunks(ids):
        found.update(per_account.filter(account_id__in=chunk).values_list("account_id", "n"))
    return found


def _prospect_rows(ids: Iterable[int], now: dt.datetime) -> list[engine.ProspectRow]:
    """The prospects among `ids`, with their usage."""
    wanted = set(ids)
    usage = _usage(now, wanted)
    found: list[engine.ProspectRow] = []
    for chunk in _chunks(wanted):
        prospects = Account.objects.filter(pk__in=chunk, lifecycle=Lifecycle.PROSPECT)
        found.extend(
            engine.ProspectRow(pk, name, industry, employees, country, usage.get(pk, 0))
            for pk, name, industry, employees, country in prospects.order_by().values_list(
                "pk", "name", "industry", "employees", "country"
            )
        )
    return found


def _build(accounts: _Stamp, weeks: int | None, now: dt.datetime) -> _Prospects:
    usage = _usage(now)
    rows = (
        Account.objects.filter(lifecycle=Lifecycle.PROSPECT)
        .order_by()
        .values_list("pk", "name", "industry", "employees", "country")
    )
    found = list(rows.iterator(chunk_size=20_000))
    ids = [r[0] for r in found]
    names = [r[1] for r in found]
    index = engine.index_from_columns(
        ids=ids,
        names=names,
        industries=[r[2] for r in found],
        employees=[-1 if r[3] is None else r[3] for r in found],
        countries=[r[4] for r in found],
        events=[usage.get(pk, 0) for pk in ids],
        usage_window=f"in the last {USAGE_WEEKS} weeks",
    )
    mentions = Mentions(dict(zip(ids, names, strict=True)))
    return _Prospects(accounts, weeks, _usage_since(now), index, mentions)


def _alumni_index() -> _Alumni:
    """Everyone's past employers, brought up to date when a person was added or updated
    through the services (which stamp updated_at). People deleted, opted out or at an
    account that is no longer a prospect are left out when the candidates are read."""
    _first_copy("alumni")
    contacts = _stamp(Contact)
    cached: _Alumni | None = _cache.get("alumni")
    if cached is not None and cached.contacts == contacts:
        return cached
    with _lock:
        cached = _cache.get("alumni")
        if cached is None or cached.contacts != contacts:
            cached = _cache["alumni"] = _refresh_alumni(cached, contacts)
        return cached


def _refresh_alumni(old: _Alumni | None, contacts: _Stamp) -> _Alumni:
    """The copy with the people changed since `old` applied, or built afresh when there is
    no copy or more than REFRESH_AT_MOST people changed since its build."""
    touched = set() if old is None else set(_changed_since(Contact, old.contacts))
    if old is None or len(touched | old.changed.keys()) > REFRESH_AT_MOST:
        return _afresh("alumni", old, lambda: _build_alumni(contacts))
    changed: dict[int, Any] = {**old.changed, **{pk: [] for pk in touched}}
    for chunk in _chunks(touched):
        people = Contact.objects.filter(pk__in=chunk).order_by()
        changed.update(people.values_list("pk", "past_employers"))
    index = engine.past_employers_index(changed.items())
    return _Alumni(contacts, old.index, changed, index)


def _build_alumni(contacts: _Stamp) -> _Alumni:
    listed = Contact.objects.exclude(past_employers=[]).order_by()
    rows = listed.values_list("pk", "past_employers").iterator(chunk_size=20_000)
    return _Alumni(contacts, engine.past_employers_index(rows))


# --- relationships -----------------------------------------------------------------------------


def _relationships(account: Account, contact: Contact | None, alumni: _Alumni) -> list[Suggestion]:
    return [*_former_employers(contact), *_alumni(account, alumni)]


def _domain_variants(domain: str) -> list[str]:
    """A domain and its parents (eu.globex.com, globex.com), as Goodword stores domains."""
    labels = domain.strip().lower().rstrip(".").removeprefix("www.").split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 0))]


def _former_employers(contact: Contact | None) -> list[Suggestion]:
    """Prospects the advocate used to work at."""
    if contact is None:
        return []
    domains = [d for d in contact.past_employers or [] if isinstance(d, str) and d.strip()]
    variants = {v for d in domains[:PAST_EMPLOYERS] for v in _domain_variants(d)}
    if not variants:
        return []
    prospects = Account.objects.filter(lifecycle=Lifecycle.PROSPECT, domain__in=variants)
    return [
        Suggestion(
            account_id=p.pk,
            name=p.name,
            company=p.name,
            kind=engine.RELATIONSHIP,
            score=engine.ADVOCATE_WORKED_THERE,
            reasons=[f"{contact} used to work at {p.name} ({p.domain})"],
        )
        for p in prospects.order_by("name", "pk")[:50]
        if any(same_domain(d, p.domain) for d in domains)
    ]


def _alumni(account: Account, alumni: _Alumni) -> list[Suggestion]:
    """People at prospects whose past employers list the advocate account's domain: the
    first ALUMNI by company and name."""
    home = account.domain.strip().lower().removeprefix("www.")
    people = [
        person
        for person in _alumni_people(account, alumni.listing(home) if home else [])
        if home in [engine.employer_key(d) for d in person.past_employers or []]
    ]
    return [
        Suggestion(
            account_id=person.account_id,
            name=str(person),
            company=person.account.name,
            kind=engine.RELATIONSHIP,
            score=engine.ALUMNUS_THERE,
            reasons=[_alumnus_reason(person, account)],
            contact_id=person.pk,
        )
        for person in people
    ]


def _alumni_people(account: Account, ids: list[int]) -> list[Contact]:
    """The people of `ids` at a prospect other than `account`, not opted out: the first
    ALUMNI by company and name. More ids than IN_CHUNK are sent a chunk at a time (the
    database takes only so many at once) and the first ALUMNI picked here, sorting their
    names as Python does."""
    order = ("account__name", "last_name", "first_name", "pk")
    people = (
        Contact.objects.filter(account__lifecycle=Lifecycle.PROSPECT, opted_out_at__isnull=True)
        .exclude(account=account)
        .select_related("account")
        .order_by(*order)
    )
    if len(ids) <= IN_CHUNK:
        return list(people.filter(pk__in=ids)[:ALUMNI]) if ids else []
    best: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        best.extend(people.filter(pk__in=chunk).values_list(*order))
    chosen = [row[-1] for row in sorted(best)[:ALUMNI]]
    found = {p.pk: p for p in people.filter(pk__in=chosen)}
    return [found[pk] for pk in chosen]


def _alumnus_reason(person: Contact, account: Account) -> str:
    who = f"{person} ({person.title})" if person.title else str(person)
    return f"{who} used to work at {account.name} (your advocate's company)"


# --- mentions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    at: dt.datetime
    where: str
    text: str


def _day(at: dt.datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.day} {local:%B %Y}"


def _texts(account: Account, now: dt.datetime) -> list[_Text]:
    """The advocate account's words of the last year, newest first, bounded per source."""
    from goodword.signals.models import Message, Ticket

    window = (now - MENTION_WINDOW, now)
    found = []
    messages = Message.objects.filter(account=account, received_at__range=window)
    for m in messages.order_by("-received_at")[:TEXTS_PER_SOURCE]:
        where = CHANNELS.get(m.channel, "a message")
        found.append(_Text(m.received_at, f"{where} on {_day(m.received_at)}", m.text))
    tickets = Ticket.objects.filter(account=account, opened_at__range=window).exclude(text="")
    for t in tickets.order_by("-opened_at")[:TEXTS_PER_SOURCE]:
        found.append(_Text(t.opened_at, f"a support ticket on {_day(t.opened_at)}", t.text))
    notes = Task.objects.filter(
        account=account, kind__in=[TaskKind.CALL, TaskKind.MEETING], created_at__range=window
    ).exclude(notes="")
    for task in notes.order_by("-created_at")[:TEXTS_PER_SOURCE]:
        what = f"the notes of the {task.get_kind_display().lower()} “{task.subject}”"
        found.append(_Text(task.created_at, f"{what} on {_day(task.created_at)}", task.notes))
    return sorted(found, key=lambda t: t.at, reverse=True)


def _snippet(text: str, mention: Mention) -> str:
    """The words around a mention, cut at spaces, with … where the text goes on."""
    end = mention.start + len(mention.said)
    lo, hi = max(0, mention.start - SNIPPET), min(len(text), end + SNIPPET)
    if lo > 0 and (space := text.find(" ", lo, mention.start)) != -1:
        lo = space + 1
    if hi < len(text) and (space := text.rfind(" ", end, hi)) != -1:
        hi = space
    words = " ".join(text[lo:hi].split())
    return f"{'…' if lo > 0 else ''}{words}{'…' if hi < len(text) else ''}"


def _mentions(account: Account, now: dt.datetime, prospects: _Prospects) -> list[Suggestion]:
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}
    more: dict[int, int] = {}
    for item in _texts(account, now):  # newest first: a prospect's first text is its newest
        for mention in prospects.find(item.text):
            key = mention.key
            if key not in scores:
                scores[key] = engine.mention_score((now - item.at).total_seconds() / 86_400)
            said = reasons.setdefault(key, [])
            if len(said) < MENTION_REASONS:
                said.append(f"named in {item.where}: “{_snippet(item.text, mention)}”")
            else:
                more[key] = more.get(key, 0) + 1
    for key, extra in more.items():
        reasons[key].append(f"and named {extra} more time{'s' if extra > 1 else ''}")
    names = _current_names(list(scores))  # the index may be older than the records
    return [
        Suggestion(key, names[key], names[key], engine.MENTION, score, reasons[key])
        for key, score in scores.items()
        if key in names
    ]


def _current_names(ids: list[int]) -> dict[int, str]:
    prospects = Account.objects.filter(pk__in=ids, lifecycle=Lifecycle.PROSPECT)
    return dict(prospects.values_list("pk", "name"))


# --- lookalikes --------------------------------------------------------------------------------


def _usage_words(kind: str, data: Any) -> str:
    if kind == "milestone":
        event = data.get("event") if isinstance(data, dict) else None
        return f"{str(event).replace('_', ' ')} milestones" if event else "usage milestones"
    return "a success goal reached" if kind == "goal" else "a surge of active users"


def _profile(account: Account) -> engine.Profile:
    """The advocate's company, and the usage its live moments say made it successful."""
    from goodword.moments.models import Moment

    moments = Moment.objects.filter(
        account=account, retracted_at__isnull=True, kind__in=USAGE_KINDS
    ).order_by("-occurred_at", "-pk")[:20]
    usage = dict.fromkeys(_usage_words(m.kind, m.data) for m in moments)
    return engine.Profile(
        industry=account.industry,
        employees=account.employees,
        country=account.country,
        success_usage=tuple(usage)[:3],
    )


def _open_deal_rule() -> Q:
    return Q(closed_at__isnull=True, stage__is_won=False, stage__is_lost=False)


def _lookalikes(
    index: engine.ProspectIndex, profile: engine.Profile, *, skip: set[int], limit: int
) -> list[Suggestion]:
    """The best lookalikes still prospects and in no open deal. The index does not know
    deals, so the ranked few are checked; taken ones are excluded and the rest re-ranked."""
    excluded = set(skip)
    kept: list[Suggestion] = []
    for round_ in range(LOOKALIKE_ROUNDS):
        wanted = limit << (round_ + 1)  # room for some being taken
        ranked = engine.rank(index, profile, exclude_ids=excluded, limit=wanted)
        free = _free_prospects([s.account_id for s in ranked])
        kept = [s for s in ranked if s.account_id in free]
        for item in kept:
            item.name = item.company = free[item.account_id]
        if len(kept) >= limit or len(ranked) < wanted:
            break
        excluded.update(s.account_id for s in ranked if s.account_id not in free)
    return kept[:limit]


def _free_prospects(ids: list[int]) -> dict[int, str]:
    busy = Deal.objects.filter(_open_deal_rule(), account_id=OuterRef("pk"))
    free = Account.objects.filter(pk__in=ids, lifecycle=Lifecycle.PROSPECT).exclude(Exists(busy))
    return dict(free.values_list("pk", "name"))


# --- who works them ----------------------------------------------------------------------------


def _open_deals(ids: list[int]) -> dict[int, Deal]:
    """Each prospect's most advanced open deal."""
    deals = (
        Deal.objects.filter(_open_deal_rule(), account_id__in=ids)
        .select_related("owner", "stage")
        .order_by("account_id", "-stage__position", "pk")
    )
    found: dict[int, Deal] = {}
    for deal in deals:
        found.setdefault(deal.account_id, deal)
    return found


def _flag(deal: Deal, owner_id: int | None, first_position: int | None) -> str:
    if deal.owner is None:
        return f"in an open deal with no owner ({deal.stage})"
    later = first_position is not None and deal.stage.position > first_position
    if later and deal.owner_id != owner_id:
        return (
            f"already being worked by {deal.owner} (open deal at {deal.stage}): talk to them first"
        )
    return f"in an open deal owned by {deal.owner} ({deal.stage})"
