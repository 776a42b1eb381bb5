"""The demo company as plain values, with no Django: each account's whole story follows from
(seed, account index) alone, so chunks can be planned in any order and written as they come.

Time is passed in (`today`), never read: the same seed and day give the same company.
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate

from goodword.demo import names
from goodword.demo.deals import DealPlan, deal_count, plan_deals

HISTORY_DAYS = 3 * 365
NEWEST_ACCOUNT_DAYS = 10
DEFAULT_CONTACTS_PER_ACCOUNT = 4.5
DEFAULT_DEALS_PER_ACCOUNT = 4.0
PAST_EMPLOYER_SHARE = 0.3
OPTED_OUT_SHARE = 0.03

# A user is named by role and index; the writer maps these to database ids.
UserRef = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Staff:
    """How many people of each role; rep r and CSM c work in team r % teams, c % teams."""

    teams: int
    reps: int
    csms: int

    def csm_for(self, rng: random.Random, team: int) -> int:
        in_team = len(range(team, self.csms, self.teams))
        return team + self.teams * rng.randrange(in_team)


def staff_for(accounts: int) -> Staff:
    """About one rep per 80 accounts, one CSM per two reps, two to six teams."""
    reps = max(4, round(accounts / 80))
    teams = min(len(names.TEAMS), max(2, math.ceil(reps / 6)))
    return Staff(teams=teams, reps=reps, csms=max(teams, round(reps / 2)))


@dataclass(frozen=True, slots=True)
class Ctx:
    seed: int
    accounts: int
    today: date
    contacts_per_account: float
    deals_per_account: float
    staff: Staff

    @property
    def now(self) -> datetime:
        return datetime.combine(self.today, time(), UTC)


def make_ctx(
    *,
    seed: int,
    accounts: int,
    today: date,
    contacts_per_account: float | None = None,
    deals_per_account: float | None = None,
) -> Ctx:
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    contacts = (
        DEFAULT_CONTACTS_PER_ACCOUNT if contacts_per_account is None else contacts_per_account
    )
    deals = DEFAULT_DEALS_PER_ACCOUNT if deals_per_account is None else deals_per_account
    if contacts < 1 or deals < 0:
        raise ValueError("need at least one contact per account and no negative deal density")
    return Ctx(seed, accounts, today, contacts, deals, staff_for(accounts))


@dataclass(frozen=True, slots=True)
class UserPlan:
    role: str
    index: int
    team: int | None
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    domain: str
    industry: str


@dataclass(slots=True)
class ContactPlan:
    first_name: str
    last_name: str
    email: str
    title: str
    phone: str
    past_employers: list[str]
    created_at: datetime
    opted_out_at: datetime | None
    opted_out_how: str


@dataclass(slots=True)
class TaskPlan:
    owner: UserRef
    kind: str
    subject: str
    due_at: datetime
    created_at: datetime
    deal: int | None = None  # index into the account's deals
    contact: int | None = None  # index into the account's contacts
    completed_at: datetime | None = None
    outcome: str = ""


@dataclass(slots=True)
class AccountPlan:
    index: int
    company: Company
    country: str
    employees: int
    created_at: datetime
    updated_at: datetime
    owner: int
    csm: int | None
    lifecycle: str
    customer_since: date | None
    arr: Decimal
    referred: bool
    churned_at: datetime | None
    contacts: list[ContactPlan] = field(default_factory=list)
    deals: list[DealPlan] = field(default_factory=list)
    tasks: list[TaskPlan] = field(default_factory=list)


# --- helpers ----------------------------------------------------------------------------


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(["goodword-demo", str(seed), *map(str, parts)]))


def _weighted[T](rng: random.Random, items: Sequence[T], cum: Sequence[float]) -> T:
    return rng.choices(items, cum_weights=cum, k=1)[0]


@functools.cache
def _ascii(text: str) -> str:
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in flat.lower() if ch.isalnum())


def _count(rng: random.Random, mean: float) -> int:
    """A whole number whose average is `mean`, spread symmetrically by up to three."""
    base = int(mean) + (rng.random() < mean - int(mean))
    spread = min(3, base - 1)
    return max(1, base + rng.randint(-spread, spread)) if spread > 0 else max(1, base)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, seconds))


_COUNTRY_CUM = tuple(accumulate(c[1] for c in names.COUNTRIES))
_TITLE_CUM = tuple(accumulate(t[1] for t in names.TITLES))
# Primes above every prime factor of the name space (60 * 60 * 24), so each is a permutation.
_PRIMES = (7919, 104729, 1299709, 15485863, 179424673)


# --- companies and people -------------------------------------------------------------------


def company(seed: int, index: int) -> Company:
    """The company of account `index`: a permutation of the name space picked by the seed, so
    names are unique until the space runs out, then numbered. Any index can be named without
    generating the others, which is how contacts get other companies as past employers."""
    heads, tails, trades = len(names.NAME_HEADS), len(names.NAME_TAILS), len(names.TRADES)
    space = heads * tails * trades
    k = ((index % space) * _PRIMES[seed % len(_PRIMES)] + seed * 2654435761) % space
    head, tail = names.NAME_HEADS[k % heads], names.NAME_TAILS[(k // heads) % tails]
    trade, industry = names.TRADES[k // (heads * tails)]
    lap = index // space
    number = f" {lap + 1}" if lap else ""
    slug = f"{head}{tail}-{trade}".lower() + (str(lap + 1) if lap else "")
    return Company(f"{head}{tail} {trade}{number}", f"{slug}.{names.ACCOUNT_TLD}", industry)


def plan_staff(ctx: Ctx) -> list[UserPlan]:
    """Everyone who logs in. The first rep, CSM and manager and the admin have short e-mails
    (rep@, csm@, manager@, admin@) so the demo's login is easy to type."""
    rng = _rng(ctx.seed, "staff")
    staff, used = ctx.staff, set[str]()
    people: list[UserPlan] = []
    roles = [("manager", staff.teams), ("rep", staff.reps), ("csm", staff.csms), ("admin", 1)]
    for role, count in roles:
        for index in range(count):
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            local = role if index == 0 else f"{_ascii(first)}.{_ascii(last)}"
            local = _unique(local, used)
            team = None if role == "admin" else index % staff.teams
            email = f"{local}@{names.DEMO_EMAIL_DOMAIN}"
            people.append(UserPlan(role, index, team, email, first, last))
    return people


def _unique(local: str, used: set[str]) -> str:
    candidate, n = local, 1
    while candidate in used:
        n += 1
        candidate = f"{local}{n}"
    used.add(candidate)
    return candidate


_EMAIL_PATTERNS: tuple[Callable[[str, str], str], ...] = (
    lambda f, last: f"{f}.{last}",
    lambda f, last: f"{f[0]}{last}",
    lambda f, last: f,
    lambda f, last: f"{f}_{last}",
)


def _phone(rng: random.Random, country: int) -> str:
    code, _, prefix, digits = names.COUNTRIES[country]
    areas = names.AREA_CODES.get(code)
    head = prefix.format(area=rng.choice(areas)) if areas else prefix
    return f"{head}{rng.randrange(10**digits):0{digits}d}"


def _contacts(
    rng: random.Random, ctx: Ctx, index: int, domain: str, country: int, since: datetime
) -> list[ContactPlan]:
    pattern = rng.choice(_EMAIL_PATTERNS)
    used: set[str] = set()
    people = []
    for _ in range(_count(rng, ctx.contacts_per_account)):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        local = _unique(pattern(_ascii(first), _ascii(last)), used)
        created = _between(rng, since, ctx.now - timedelta(hours=1))
        opted = created + (ctx.now - created) / 2 if rng.random() < OPTED_OUT_SHARE else None
        people.append(
            ContactPlan(
                first_name=first,
                last_name=last,
                email=f"{local}@{domain}",
                title=_weighted(rng, [t[0] for t in names.TITLES], _TITLE_CUM),
                phone=_phone(rng, country),
                past_employers=_past_employers(rng, ctx, index),
                created_at=created,
                opted_out_at=opted,
                opted_out_how="asked not to be asked for referrals" if opted else "",
            )
        )
    return people


def _past_employers(rng: random.Random, ctx: Ctx, index: int) -> list[str]:
    if ctx.accounts < 2 or rng.random() >= PAST_EMPLOYER_SHARE:
        return []
    picks = {rng.randrange(ctx.accounts) for _ in range(rng.choice((1, 1, 2)))} - {index}
    return [company(ctx.seed, j).domain for j in sorted(picks)]


# --- accounts -------------------------------------------------------------------------------


def plan_account(ctx: Ctx, index: int) -> AccountPlan:
    """Account `index` with its contacts, deals and open tasks; depends on nothing else."""
    rng = _rng(ctx.seed, index)
    firm = company(ctx.seed, index)
    country = rng.choices(range(len(names.COUNTRIES)), cum_weights=_COUNTRY_CUM, k=1)[0]
    employees = int(min(250_000, max(2, rng.lognormvariate(math.log(150), 1.5))))
    age = rng.uniform(NEWEST_ACCOUNT_DAYS, HISTORY_DAYS)
    created = ctx.now - timedelta(seconds=int(age * 86400))
    owner = rng.randrange(ctx.staff.reps)
    csm = ctx.staff.csm_for(rng, owner % ctx.staff.teams)
    contacts = _contacts(rng, ctx, index, firm.domain, country, created)
    lifetime = age / ((HISTORY_DAYS + NEWEST_ACCOUNT_DAYS) / 2)
    deals, story = plan_deals(
        rng,
        company=firm.name,
        employees=employees,
        created=created,
        now=ctx.now,
        count=deal_count(rng, ctx.deals_per_account, lifetime),
    )
    standing = story.standing(ctx.now)
    lifecycle = "customer" if standing.since else "churned" if standing.churned else "prospect"
    last_change = max([created, *(at for d in deals for _, at in d.history[-1:])])
    account = AccountPlan(
        index=index,
        company=firm,
        country=names.COUNTRIES[country][0],
        employees=employees,
        created_at=created,
        updated_at=last_change,
        owner=owner,
        csm=None if lifecycle == "prospect" else csm,
        lifecycle=lifecycle,
        customer_since=standing.since.date() if standing.since else None,
        arr=standing.arr,
        referred=standing.referred,
        churned_at=standing.churned_at,
        contacts=contacts,
        deals=deals,
    )
    account.tasks = _tasks(rng, ctx, account)
    return account


def _due(rng: random.Random, now: datetime) -> datetime:
    """A quarter overdue, a fifth due today, the rest in the next three weeks (UTC office hours)."""
    r = rng.random()
    days = -rng.randint(1, 14) if r < 0.25 else 0 if r < 0.45 else rng.randint(1, 21)
    return now + timedelta(days=days, hours=rng.randint(9, 16), minutes=rng.choice((0, 30)))


def _tasks(rng: random.Random, ctx: Ctx, account: AccountPlan) -> list[TaskPlan]:
    tasks = []
    contacts = account.contacts
    for k, deal in enumerate(account.deals):
        if deal.closed_at is not None or rng.random() >= 0.6:
            continue
        c = rng.randrange(len(contacts))
        kind, subject = rng.choice(names.FOLLOW_UPS)
        text = subject.format(contact=contacts[c].first_name, deal=deal.name)
        tasks.append(_task(rng, ctx, ("rep", account.owner), kind, text, account, k, c))
    if account.csm is not None and account.lifecycle == "customer" and rng.random() < 0.3:
        c = rng.randrange(len(contacts))
        kind, subject = rng.choice(names.CSM_TASKS)
        text = subject.format(contact=contacts[c].first_name, account=account.company.name)
        tasks.append(_task(rng, ctx, ("csm", account.csm), kind, text, account, None, c))
    if rng.random() < 0.2:
        tasks.append(_done_task(rng, ctx, account))
    return tasks


def _task(
    rng: random.Random,
    ctx: Ctx,
    owner: UserRef,
    kind: str,
    subject: str,
    account: AccountPlan,
    deal: int | None,
    contact: int,
) -> TaskPlan:
    due = _due(rng, ctx.now)
    created = max(account.created_at, min(due, ctx.now) - timedelta(days=rng.uniform(1, 10)))
    return TaskPlan(owner, kind, subject[:200], due, created, deal, contact)


def _done_task(rng: random.Random, ctx: Ctx, account: AccountPlan) -> TaskPlan:
    c = rng.randrange(len(account.contacts))
    done = _between(rng, account.created_at, ctx.now - timedelta(hours=1))
    subject = f"Intro call with {account.contacts[c].first_name}"
    return TaskPlan(
        owner=("rep", account.owner),
        kind="call",
        subject=subject[:200],
        due_at=done,
        created_at=max(account.created_at, done - timedelta(days=3)),
        contact=c,
        completed_at=done,
        outcome="Held",
    )


def staff_tasks(ctx: Ctx, person: UserPlan) -> list[TaskPlan]:
    """Managers' and the admin's own to-dos, so their "My tasks" is not empty."""
    if person.role not in ("manager", "admin"):
        return []
    rng = _rng(ctx.seed, "tasks", person.role, person.index)
    templates = names.MANAGER_TASKS if person.role == "manager" else names.ADMIN_TASKS
    team = names.TEAMS[person.team] if person.team is not None else ""
    offsets = (-2, 0, 3)  # one overdue, one today, one upcoming
    return [
        TaskPlan(
            owner=(person.role, person.index),
            kind=kind,
            subject=subject.format(team=team),
            due_at=ctx.now + timedelta(days=days, hours=rng.randint(9, 16)),
            created_at=ctx.now - timedelta(days=rng.randint(3, 20)),
        )
        for (kind, subject), days in zip(templates, offsets, strict=True)
    ]
