"""The referral motion in the demo company: introductions with their history and consents,
the reward rules, and the rewards advocates earned, written a chunk at a time beside the
deals they led to.

Most referral deals (OPPORTUNITY_SHARE) came from an introduction that ran the whole double
opt-in path: the advocate agreed, named the person, the person accepted, was introduced, and
the deal opened at that moment (the services do the last three in one transaction). The last
RECENT_DAYS also hold introductions that ended otherwise or are still under way, about
RECENT_PER_CUSTOMER per customer account, in the proportions of STATE_WEIGHTS. Each path is
walked with the state machine (engine/intros.py) under the programme's timing, so reminders,
expiries and due dates fall where the worker would put them.

Rewards follow the rules written first (RULES): granted when the trigger happened, held, then
approved or rejected by the owner's manager and fulfilled, as far as the demo's "now" lets
them get; a reward for a colleague, an existing customer or a person referred before is
ineligible with the reason the product gives (rewards.ineligible_because), worked out here
from the chunk's own rows rather than asked of the database.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from goodword.crm.models import Account, Contact, Deal, Lifecycle
from goodword.demo import names
from goodword.demo.deals import DealPlan
from goodword.demo.plan import HISTORY_DAYS, AccountPlan, Ctx, company
from goodword.engine.domains import company_domain, same_domain
from goodword.engine.intros import (
    FINAL,
    WAITING,
    IntroEvent,
    IntroState,
    Timing,
    next_due_at,
    transition,
)
from goodword.referrals.models import (
    REMIND,
    START,
    Consent,
    ConsentChannel,
    ConsentDecision,
    DealCredit,
    Introduction,
    IntroductionStep,
    Reward,
    RewardKind,
    RewardRule,
    RewardStatus,
    RewardTrigger,
    Suppression,
)
from goodword.referrals.services import consent_text, intro_config
from goodword.users.models import User

S, E = IntroState, IntroEvent
BATCH_SIZE = 1000
OPPORTUNITY_SHARE = 0.8  # of referral deals, those that came through an introduction
RECENT_DAYS = 30
RECENT_PER_CUSTOMER = 0.06  # introductions begun lately (other than opportunities), per customer
# The introductions of the last RECENT_DAYS that did not become an opportunity: most waits
# run out; "accepted" is a moment (the services introduce the person in the same
# transaction), shown here once or twice only so that the demo has every state.
STATE_WEIGHTS = {
    S.ADVOCATE_AGREED: 14,
    S.AWAITING_CONSENT: 16,
    S.ACCEPTED: 3,
    S.INTRODUCED: 9,
    S.DECLINED: 17,
    S.EXPIRED: 27,
    S.WITHDRAWN: 14,
}
FORWARDED_SHARE = 0.3  # advocates who forward the consent link themselves
PREFILLED_SHARE = 0.4  # asks that already suggested whom to introduce
COLLEAGUE_SHARE = 0.3  # of the flagged introductions, a colleague of the advocate's
SUPPRESS_SHARE = 0.15  # of the declines, "never contact me again"
REJECT_SHARE = 0.07
DECIDE_DAYS = 7.0  # mean days from a reward's release to the manager's decision
FULFIL_DAYS = 10.0  # mean days from approval to hand-over
MIN_GAP = timedelta(minutes=10)
MATCHED = (S.INTRODUCED, S.OPPORTUNITY)  # states in which the person has a contact record


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    trigger: RewardTrigger
    kind: RewardKind
    value: Decimal
    hold_days: int


RULES = (
    RuleSpec("Thank-you note", RewardTrigger.ACCEPTED, RewardKind.THANK_YOU, Decimal(0), 0),
    RuleSpec("Donation for an opportunity", RewardTrigger.OPPORTUNITY, RewardKind.DONATION,
             Decimal(50), 14),
    RuleSpec("Gift card on a won deal", RewardTrigger.WON, RewardKind.GIFT_CARD, Decimal(100), 30),
)  # fmt: skip

WHY = (
    "promoter: scored us {score} in the NPS survey",
    "hours-saved: automations saved them {hours} hours",
    "reports: {reports} reports created",
    "goals: reached their rollout goal",
    "renewed: renewed for another year",
    "wau-surge: weekly active users up {surge}x",
    "praise: thanked support in a ticket",
)
WITHDRAWN_BY_OWNER = (
    "They are already talking to our sales team",
    "Wrong timing: their budget is frozen until next quarter",
    "The advocate asked us to hold off",
)
WITHDRAWN_BY_ADVOCATE = (
    "I can't make this introduction after all",
    "They have moved on; I'll suggest someone else",
)
REJECTIONS = (
    "Their employer does not allow gifts from suppliers",
    "Came through our partner; the partner fee covers it",
    "Rewarded already for an introduction to the same team",
)
FULFILMENTS = {
    RewardKind.THANK_YOU: ("Handwritten card posted", "Thank-you email sent by the owner"),
    RewardKind.DONATION: ("Donated to Code Club in their name", "Donated to the Red Cross"),
    RewardKind.GIFT_CARD: ("Gift card code emailed", "Gift card posted to their office"),
}
# Documentation addresses (RFC 5737) for the consent pages' visitors: never anyone's real one.
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile",
)
_TITLES = tuple(t[0] for t in names.TITLES)


# --- an introduction's path -------------------------------------------------------------


class History:
    """An introduction's steps as the services record them: each by the state machine's
    `transition`, and a reminder in each wait that lasted past the reminder day."""

    def __init__(self, start: datetime, owner: int | None, timing: Timing) -> None:
        self.timing = timing
        self.state = S.ADVOCATE_AGREED
        self.waiting_since, self.at = start, start
        self.reminded_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.steps = [_step(START, "", self.state.value, "owner", owner, "", start)]
        self.triggers: list[tuple[RewardTrigger, datetime]] = []

    def move(
        self, event: IntroEvent, at: datetime, by: str, *, actor: int | None = None, note: str = ""
    ) -> None:
        self._remind(until=at)
        before, after = self.state, transition(self.state, event)
        self.steps.append(_step(event.value, before.value, after.value, by, actor, note, at))
        if after in WAITING and after != before:
            self.waiting_since, self.reminded_at = at, None
        if after in FINAL:
            self.closed_at = at
        if event == E.ACCEPT:
            self.triggers.append((RewardTrigger.ACCEPTED, at))
        if event == E.OPEN_OPPORTUNITY:
            self.triggers.append((RewardTrigger.OPPORTUNITY, at))
        self.state, self.at = after, at

    def expire(self) -> None:
        at = self.waiting_since + timedelta(days=self.timing.expire_after_days)
        self.move(E.EXPIRE, at, "worker", note="nobody answered in time")

    def finish(self, now: datetime) -> None:
        self._remind(until=now)

    @property
    def due_at(self) -> datetime | None:
        return next_due_at(
            state=self.state,
            waiting_since=self.waiting_since,
            reminded=self.reminded_at is not None,
            timing=self.timing,
        )

    def _remind(self, *, until: datetime) -> None:
        if self.state not in WAITING or self.reminded_at is not None:
            return
        at = self.waiting_since + timedelta(days=self.timing.remind_after_days)
        if at < until:
            self.reminded_at, self.at = at, at
            state = self.state.value
            self.steps.append(_step(REMIND, state, state, "worker", None, "", at))


def _step(
    event: str, before: str, after: str, by: str, actor: int | None, note: str, at: datetime
) -> IntroductionStep:
    return IntroductionStep(
        event=event, from_state=before, to_state=after, by=by, actor_id=actor, note=note, at=at
    )


def _days(days: float) -> timedelta:
    return timedelta(seconds=int(days * 86400))


def _wait(rng: random.Random, mean_days: float, cap: timedelta) -> timedelta:
    """How long someone took to answer: mostly a day or two, never as long as `cap`."""
    return max(MIN_GAP, min(cap - MIN_GAP, _days(rng.expovariate(1 / mean_days))))


def _ago(rng: random.Random, now: datetime, length: timedelta) -> datetime:
    """When a path of `length` ended, so that it began within the last RECENT_DAYS."""
    room = max(MIN_GAP, timedelta(days=RECENT_DAYS) - length)
    return now - MIN_GAP - _days(rng.uniform(0, room.total_seconds() / 86400))


# --- who and what -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    company: str
    title: str
    contact: Contact | None = None
    account: Account | None = None  # the contact's, for the "already a customer" check


def _ascii(text: str) -> str:
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in flat.lower() if ch.isalnum())


def _contact_person(contact: Contact, account: Account) -> Person:
    return Person(
        contact.full_name, contact.email.lower(), account.name, contact.title, contact, account
    )


@dataclass(slots=True)
class Draft:
    """An introduction and what it left behind, before any of it is written."""

    intro: Introduction
    history: History
    person: Person | None
    answer: str = ""  # the person's answer: accepted, declined or suppressed
    deal: DealPlan | None = None
    credit: DealCredit | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """The chunk's rows the referral motion builds on, as the generator wrote them."""

    plans: Sequence[AccountPlan]
    accounts: Sequence[Account]
    contacts: Sequence[Sequence[Contact]]
    deals: Sequence[Sequence[Deal]]


class ReferralWriter:
    """Writes each chunk's introductions, consents and rewards; holds what every chunk
    shares (the rules, the users, the timing), the count of people invented so far and the
    states no recent introduction has shown yet."""

    def __init__(self, ctx: Ctx, rules: dict[RewardTrigger, RewardRule]) -> None:
        self.ctx, self.rules = ctx, rules
        config = intro_config()
        self.timing = Timing(config.remind_after_days, config.expire_after_days)
        self.users = User.objects.in_bulk()
        managers = sorted((u for u in self.users.values() if u.role == "manager"), key=_pk)
        self.managers = {u.team_id: u for u in reversed(managers)}
        self.any_manager = managers[0] if managers else None
        self.invented = 0
        self.unseen = list(STATE_WEIGHTS)  # states no recent introduction has shown yet

    @classmethod
    def start(cls, ctx: Ctx) -> ReferralWriter:
        """Write the reward rules (in force since before the demo's history begins, so no
        earlier won deal waits for the worker to reward it) and load the users."""
        created = ctx.now - timedelta(days=HISTORY_DAYS + RECENT_DAYS)
        rows = [
            RewardRule(
                name=r.name,
                trigger=r.trigger,
                kind=r.kind,
                value=r.value,
                currency="USD",
                hold_days=r.hold_days,
                active=True,
                created_at=created,
            )
            for r in RULES
        ]
        RewardRule.objects.bulk_create(rows)
        return cls(ctx, {RewardTrigger(r.trigger): r for r in rows})

    # --- one chunk ------------------------------------------------------------------------

    def write(self, chunk: Chunk, credits: Sequence[DealCredit]) -> None:
        """The chunk's introductions with their steps, consents and rewards. The deals must
        be written; the credits not yet: the opportunities' introductions are set on them."""
        first = chunk.plans[0].index if chunk.plans else 0
        rng = random.Random(f"goodword-demo:{self.ctx.seed}:referrals:{first}")
        drafts = self._opportunities(rng, chunk, credits) + self._recent(rng, chunk)
        drafts.sort(key=lambda d: d.intro.created_at)  # ids in order: the first referral wins
        Introduction.objects.bulk_create([d.intro for d in drafts], batch_size=BATCH_SIZE)
        for d in drafts:
            for step in d.history.steps:
                step.introduction_id = d.intro.pk
            if d.credit is not None:
                d.credit.introduction_id = d.intro.pk
        steps = [step for d in drafts for step in d.history.steps]
        IntroductionStep.objects.bulk_create(steps, batch_size=BATCH_SIZE)
        consents = [self._consent(rng, d) for d in drafts if d.answer]
        Consent.objects.bulk_create(consents, batch_size=BATCH_SIZE)
        suppressed = [
            Suppression(
                email=c.email,
                reason=f"asked on the consent page of introduction #{c.introduction_id}",
                at=c.at,
            )
            for c in consents
            if c.decision == ConsentDecision.SUPPRESSED
        ]
        Suppression.objects.bulk_create(suppressed, batch_size=BATCH_SIZE)
        rewards = self._rewards(rng, drafts)
        Reward.objects.bulk_create(rewards, batch_size=BATCH_SIZE)

    # --- the introductions behind referral deals ------------------------------------------

    def _opportunities(
        self, rng: random.Random, chunk: Chunk, credits: Sequence[DealCredit]
    ) -> list[Draft]:
        where = {  # by id: the generator set the credits' deal ids, which drops their deals
            deal.pk: (deal, plan_deal, account, people)
            for p, account, people, ds in zip(
                chunk.plans, chunk.accounts, chunk.contacts, chunk.deals, strict=True
            )
            for deal, plan_deal in zip(ds, p.deals, strict=True)
        }
        chosen = [c for c in credits if rng.random() < OPPORTUNITY_SHARE]
        advocates = Account.objects.in_bulk({c.advocate_account_id for c in chosen})
        contacts = Contact.objects.in_bulk({c.advocate_id for c in chosen if c.advocate_id})
        drafts = []
        referred: dict[int, int] = {}  # account id -> its introductions so far
        for credit in chosen:
            deal, plan_deal, account, people = where[credit.deal_id]
            if not people:
                continue  # nobody to have introduced: the credit stands without one
            advocate = contacts.get(credit.advocate_id) if credit.advocate_id else None
            # Its first contact; a company referred again was referred through someone else
            # (while it has other contacts), as a second advocate would know another person.
            k = referred[account.pk] = referred.get(account.pk, -1) + 1
            person = _contact_person(people[k % len(people)], account)
            account_of = advocates[credit.advocate_account_id]
            draft = self._opportunity(rng, deal, credit, account_of, advocate, person)
            draft.deal = plan_deal
            drafts.append(draft)
        return drafts

    def _opportunity(
        self,
        rng: random.Random,
        deal: Deal,
        credit: DealCredit,
        advocate_account: Account,
        advocate: Contact | None,
        person: Person,
    ) -> Draft:
        """The whole path, ending when the deal opened: the person accepted, was introduced
        and the deal was created in one transaction, as the services do it."""
        cap = timedelta(days=self.timing.expire_after_days)
        named = deal.created_at - _wait(rng, 2.5, cap)
        history = History(named - _wait(rng, 3.0, cap), deal.owner_id, self.timing)
        history.move(E.NAME, named, "advocate")
        history.move(E.ACCEPT, deal.created_at, "contact")
        history.move(E.INTRODUCE, deal.created_at, "worker")
        history.move(E.OPEN_OPPORTUNITY, deal.created_at, "worker")
        intro = self._intro(rng, history, advocate_account, advocate, deal.owner_id, person)
        intro.deal = deal
        return Draft(intro, history, person, ConsentDecision.ACCEPTED, credit=credit)

    # --- the introductions of the last weeks ----------------------------------------------

    def _recent(self, rng: random.Random, chunk: Chunk) -> list[Draft]:
        """About RECENT_PER_CUSTOMER introductions per customer account of the chunk, begun
        in the last RECENT_DAYS, by a contact who may still be asked."""
        since = (self.ctx.now - timedelta(days=RECENT_DAYS)).date()
        customers = [
            (account, people)
            for account, people in zip(chunk.accounts, chunk.contacts, strict=True)
            if account.lifecycle == Lifecycle.CUSTOMER
            and account.customer_since is not None
            and account.customer_since < since
        ]
        drafts = []
        for account, people in customers:
            if rng.random() >= RECENT_PER_CUSTOMER:
                continue
            askable = [c for c in people if c.opted_out_at is None]
            if askable:
                advocate = rng.choice(askable)
                named = self._flaggable(rng, account, advocate, people, customers)
                drafts.append(self._recent_one(rng, account, advocate, named))
        return drafts

    def _flaggable(
        self,
        rng: random.Random,
        account: Account,
        advocate: Contact,
        people: Sequence[Contact],
        customers: list[tuple[Account, Sequence[Contact]]],
    ) -> Person | None:
        """Whom a flagged introduction (introduced, no deal) would have named: a colleague
        of the advocate, or someone at another account that was a customer before the last
        RECENT_DAYS; None when the chunk has neither."""
        colleagues = [c for c in people if c.pk != advocate.pk]
        others = [(a, theirs[0]) for a, theirs in customers if a.pk != account.pk and theirs]
        if colleagues and (not others or rng.random() < COLLEAGUE_SHARE):
            return _contact_person(rng.choice(colleagues), account)
        if others:
            other, contact = rng.choice(others)
            return _contact_person(contact, other)
        return None

    def _next_state(self, rng: random.Random, *, flaggable: bool) -> IntroState:
        """The states not shown yet first (so even a small demo shows each), then by weight;
        never introduced when there is nobody a flagged introduction could have named."""
        allowed = [s for s in STATE_WEIGHTS if flaggable or s != S.INTRODUCED]
        unseen = [s for s in self.unseen if s in allowed]
        if unseen:
            self.unseen.remove(unseen[0])
            return unseen[0]
        weights = [STATE_WEIGHTS[s] for s in allowed]
        return rng.choices(allowed, weights=weights)[0]

    def _recent_one(
        self, rng: random.Random, account: Account, advocate: Contact, flaggable: Person | None
    ) -> Draft:
        state = self._next_state(rng, flaggable=flaggable is not None)
        history = self._path(rng, state, account.owner_id)
        person: Person | None
        if state == S.INTRODUCED and flaggable is not None:
            person = flaggable
        elif state == S.ADVOCATE_AGREED:
            suggested = self._invent(rng) if rng.random() < PREFILLED_SHARE else None
            person = Person(suggested.name, "", suggested.company, "") if suggested else None
        else:
            person = self._invent(rng)
        intro = self._intro(rng, history, account, advocate, account.owner_id, person)
        if state == S.INTRODUCED and flaggable is not None and flaggable.account is not None:
            intro.flag = (
                f"{flaggable.account.name} is already a customer: talk to its owner before "
                "opening a deal"
            )
        answer = ""
        if history.triggers:
            answer = ConsentDecision.ACCEPTED
        elif state == S.DECLINED:
            declined = history.steps[-1].note == "suppress"
            answer = ConsentDecision.SUPPRESSED if declined else ConsentDecision.DECLINED
        return Draft(intro, history, person, answer)

    def _path(self, rng: random.Random, state: IntroState, owner: int | None) -> History:
        """A path ending in `state`, begun within the last RECENT_DAYS, that the worker
        would have left so: a wait still under way is shorter than the expiry."""
        now, t = self.ctx.now, self.timing
        cap = timedelta(days=t.expire_after_days)
        first, second = _wait(rng, 3.0, cap), _wait(rng, 2.5, cap)
        if state == S.ADVOCATE_AGREED:
            history = History(now - MIN_GAP - _days(rng.uniform(0, cap.days - 0.1)), owner, t)
        elif state == S.AWAITING_CONSENT:
            named = now - MIN_GAP - _days(rng.uniform(0, cap.days - 0.1))
            history = History(named - first, owner, t)
            history.move(E.NAME, named, "advocate")
        elif state == S.EXPIRED:
            named_first = rng.random() < 0.45  # the advocate named someone who never answered
            ends = _ago(rng, now, cap + (first if named_first else timedelta(0)))
            if named_first:
                history = History(ends - cap - first, owner, t)
                history.move(E.NAME, ends - cap, "advocate")
            else:
                history = History(ends - cap, owner, t)
            history.expire()
        elif state == S.WITHDRAWN:
            history = self._withdrawn(rng, owner, first, second)
        else:
            answered = _ago(rng, now, first + second)
            history = History(answered - second - first, owner, t)
            history.move(E.NAME, answered - second, "advocate")
            if state == S.DECLINED:
                note = "suppress" if rng.random() < SUPPRESS_SHARE else "decline"
                history.move(E.DECLINE, answered, "contact", note=note)
            else:
                history.move(E.ACCEPT, answered, "contact")
                if state == S.INTRODUCED:
                    history.move(E.INTRODUCE, answered, "worker")
        history.finish(now)
        return history

    def _withdrawn(
        self, rng: random.Random, owner: int | None, first: timedelta, second: timedelta
    ) -> History:
        named = rng.random() < 0.4
        ends = _ago(rng, self.ctx.now, first + (second if named else timedelta(0)))
        history = History(ends - first - (second if named else timedelta(0)), owner, self.timing)
        if named:
            history.move(E.NAME, ends - second, "advocate")
        if rng.random() < 0.7:
            note = rng.choice(WITHDRAWN_BY_OWNER)
            history.move(E.WITHDRAW, ends, "owner", actor=owner, note=note)
        else:
            history.move(E.WITHDRAW, ends, "advocate", note=rng.choice(WITHDRAWN_BY_ADVOCATE))
        return history

    def _invent(self, rng: random.Random) -> Person:
        """Someone at a company outside the CRM: each invented person gets a company of
        their own (beyond the demo's account indexes), so no two share an address."""
        firm = company(self.ctx.seed, self.ctx.accounts + self.invented)
        self.invented += 1
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        email = f"{_ascii(first)}.{_ascii(last)}@{firm.domain}"
        return Person(f"{first} {last}", email, firm.name, rng.choice(_TITLES))

    def _intro(
        self,
        rng: random.Random,
        history: History,
        account: Account,
        advocate: Contact | None,
        owner_id: int | None,
        person: Person | None,
    ) -> Introduction:
        named = any(step.event == E.NAME for step in history.steps)
        forwarded = rng.random() < FORWARDED_SHARE
        channel = ConsentChannel.FORWARDED if forwarded else ConsentChannel.GOODWORD
        why = rng.choice(WHY).format(
            score=rng.choice((9, 10, 10)),
            hours=rng.choice((100, 250, 400)),
            reports=rng.choice(("100", "1,000")),
            surge=rng.choice(("1.5", "1.8", "2.1")),
        )
        person = person or Person("", "", "", "")
        intro = Introduction(
            state=history.state.value,
            advocate_account=account,
            advocate=advocate,
            owner=self.users.get(owner_id) if owner_id is not None else None,
            person_name=person.name[:200],
            person_email=person.email,
            person_company=person.company[:200],
            person_title=person.title[:200],
            why=f"{why}; readiness {rng.randint(40, 95)} ≥ 40",
            channel=channel if named else "",
            waiting_since=history.waiting_since,
            reminded_at=history.reminded_at,
            due_at=history.due_at,
            person_contact=person.contact if history.state in MATCHED else None,
            created_at=history.steps[0].at,
            updated_at=history.at,
            closed_at=history.closed_at,
        )
        return intro

    # --- consents and rewards -------------------------------------------------------------

    def _consent(self, rng: random.Random, d: Draft) -> Consent:
        intro = d.intro
        answered = next(s.at for s in d.history.steps if s.event in (E.ACCEPT, E.DECLINE))
        return Consent(
            introduction_id=intro.pk,
            email=intro.person_email.lower(),
            name=intro.person_name,
            decision=d.answer,
            purpose=f"introduction to {intro.owner or 'our team'} (introduction #{intro.pk})",
            text_shown=consent_text(intro),
            channel=intro.channel or ConsentChannel.GOODWORD,
            ip=f"{rng.choice(IP_PREFIXES)}{rng.randint(1, 254)}",
            user_agent=rng.choice(USER_AGENTS),
            at=answered,
        )

    def _rewards(self, rng: random.Random, drafts: list[Draft]) -> list[Reward]:
        """The rewards of the introductions that reached acceptance, in the order they were
        made (the first referral of a person is the one that counts)."""
        first: dict[str, Introduction] = {}
        rows = []
        for d in drafts:
            if not d.history.triggers:
                continue
            why = _ineligible_because(d, first)
            first.setdefault(d.intro.person_email.lower(), d.intro)
            triggers = list(d.history.triggers)
            if d.deal is not None and d.deal.won and d.deal.closed_at is not None:
                granted = d.deal.closed_at + timedelta(seconds=rng.randint(60, 300))  # worker
                triggers.append((RewardTrigger.WON, min(granted, self.ctx.now)))
            rows += [self._reward(rng, d, trigger, at, why) for trigger, at in triggers]
        return rows

    def _reward(
        self, rng: random.Random, d: Draft, trigger: RewardTrigger, at: datetime, why: str
    ) -> Reward:
        rule, intro = self.rules[trigger], d.intro
        reward = Reward(
            rule=rule,
            introduction_id=intro.pk,
            # The accepted reward is granted before the deal opens, as in the services.
            deal_id=None if trigger == RewardTrigger.ACCEPTED else intro.deal_id,
            advocate_account_id=intro.advocate_account_id,
            advocate_id=intro.advocate_id,
            kind=rule.kind,
            value=rule.value,
            currency=rule.currency,
            status=RewardStatus.INELIGIBLE if why else RewardStatus.HELD,
            ineligible_because=why[:300],
            available_at=at + timedelta(days=rule.hold_days),
            created_at=at,
        )
        if not why:
            self._settle(rng, reward, intro)
        return reward

    def _settle(self, rng: random.Random, reward: Reward, intro: Introduction) -> None:
        """As far as the reward got by now: held, waiting for the manager, rejected,
        approved, or handed over."""
        now = self.ctx.now
        if reward.available_at > now:
            return
        decided = reward.available_at + _days(rng.expovariate(1 / DECIDE_DAYS))
        if decided > now:
            reward.status = RewardStatus.PENDING
            return
        reward.decided_by = self._manager_of(intro)
        reward.decided_at = decided
        if rng.random() < REJECT_SHARE:
            reward.status, reward.decision_note = RewardStatus.REJECTED, rng.choice(REJECTIONS)
            return
        fulfilled = decided + _days(rng.expovariate(1 / FULFIL_DAYS))
        if fulfilled > now:
            reward.status = RewardStatus.APPROVED
            return
        reward.status, reward.fulfilled_at = RewardStatus.FULFILLED, fulfilled
        reward.fulfilment_note = rng.choice(FULFILMENTS[RewardKind(reward.kind)])

    def _manager_of(self, intro: Introduction) -> User | None:
        owner = intro.owner
        team = owner.team_id if owner is not None else None
        return self.managers.get(team, self.any_manager)


def _pk(user: User) -> int:
    return user.pk


def _ineligible_because(d: Draft, first: dict[str, Introduction]) -> str:
    """rewards.ineligible_because, from the drafts: a colleague of the advocate, a person at
    an account that was a customer before the introduction began, or one referred before."""
    intro = d.intro
    who = intro.person_name or intro.person_email
    domain, advocate = company_domain(intro.person_email), intro.advocate_account.domain
    if domain and advocate and same_domain(domain, advocate):
        return f"{who} is a colleague of the advocate at {advocate}"
    account = d.person.account if d.person is not None else None
    day = intro.created_at.astimezone(UTC).date()
    if account is not None and _customer_before(account, day):
        return f"{who} is already a customer, at {account.name}"
    earlier = first.get(intro.person_email.lower())
    if earlier is None:
        return ""
    when = earlier.created_at.astimezone(UTC)
    name = earlier.advocate_account.name
    return f"already referred by {name} on {when.day} {when:%B %Y}; the first referral wins"


def _customer_before(account: Account, day: date) -> bool:
    """A customer now that was one before `day` (one since unknown counts)."""
    if account.lifecycle != Lifecycle.CUSTOMER:
        return False
    return account.customer_since is None or account.customer_since < day
