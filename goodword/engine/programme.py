"""The referral programme as plain data: the rules that find success moments, and the
settings for health, readiness, gates and asks. rules.py reads it from YAML; the scan, the
gates and the backtest take it as values.

Every default here is documented in the README (Success moments) and in the example file
`goodword/engine/data/programme.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from goodword.engine.scores import Measure

KINDS = ("milestone", "surge", "goal", "renewal", "expansion", "nps", "support", "praise")
# Kinds whose moments come from usage events in the event store; the others from records
# in the database (deals, NPS answers, tickets, messages).
EVENT_KINDS = ("milestone", "surge", "goal")
# Where a customer's message came from; the same values as signals.MessageChannel.
CHANNELS = ("email", "chat", "review", "call", "social", "survey", "other")


@dataclass(frozen=True)
class Rule:
    """What every rule has. `weight` is what one of its moments adds to readiness."""

    id: str
    kind: str
    weight: float
    enabled: bool = True
    label: str = ""  # a name for people; the id when empty

    @property
    def name(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class MilestoneRule(Rule):
    """An account's running measure of `event` over all time reaches each threshold."""

    event: str = ""
    measure: Measure = field(default_factory=lambda: Measure("count"))
    thresholds: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class SurgeRule(Rule):
    """Weekly active users (of `event`, or of any event when None) reach `ratio` times the
    mean of the 4 weeks before and at least `min_users`."""

    event: str | None = None
    ratio: float = 1.5
    min_users: int = 5


@dataclass(frozen=True)
class GoalRule(Rule):
    """An account's goal (signals.Goal) is reached."""


@dataclass(frozen=True)
class DealRule(Rule):
    """A deal of the rule's kind (renewal or expansion) is won."""


@dataclass(frozen=True)
class NpsRule(Rule):
    min_score: int = 9


@dataclass(frozen=True)
class SupportRule(Rule):
    """A closed ticket rated at least `min_csat` (0 to 1), or whose text reads as praise
    (score at least `min_praise`) when `praise` is true."""

    min_csat: float = 0.8
    praise: bool = True
    min_praise: float = 0.5


@dataclass(frozen=True)
class PraiseRule(Rule):
    """A message whose text reads as praise (score at least `min_praise`)."""

    min_praise: float = 0.5
    channels: tuple[str, ...] = ()  # empty: every channel


@dataclass(frozen=True)
class HealthConfig:
    """The health score's components and their points (they sum to 100 by default).

    usage: the mean weekly events of the last `usage_recent_weeks` complete weeks against the
        mean of the `usage_baseline_weeks` before them; full points at a ratio of
        `usage_full_ratio` or more, none at `usage_zero_ratio` or less, linear between. An
        account without a baseline (new, or silent before) gets `usage_no_baseline` of them.
    nps: the latest answer's category within `nps_days`: promoter all, passive
        `nps_passive`, detractor none; no answer gets `nps_none`.
    csat: the mean CSAT (0 to 1) of tickets closed in the last `csat_days`, times the points;
        no rated ticket gets `csat_none`.
    escalations: all points with no open escalated ticket, none with one.
    renewal: all points when the renewal (the next anniversary of customer_since) is more than
        `renewal_days` away or a renewal deal is open; within `renewal_days` without one,
        in proportion to the days left.
    """

    usage: float = 35
    nps: float = 25
    csat: float = 20
    escalations: float = 10
    renewal: float = 10
    usage_recent_weeks: int = 4
    usage_baseline_weeks: int = 8
    usage_full_ratio: float = 1.0
    usage_zero_ratio: float = 0.5
    usage_no_baseline: float = 0.5
    nps_days: int = 365
    nps_passive: float = 0.6
    nps_none: float = 0.6
    csat_days: int = 90
    csat_none: float = 0.75
    renewal_days: int = 60


@dataclass(frozen=True)
class ReadinessConfig:
    """Readiness is the sum of each moment's rule weight, halved every `half_life_days`
    since the moment; an ask is due at `threshold` or more. Moments older than
    `horizon_days` no longer count."""

    threshold: float = 40
    half_life_days: float = 14
    horizon_days: int = 180


@dataclass(frozen=True)
class GateConfig:
    """The checks every due ask must pass; each can be switched off with its value null
    (`None`) in YAML, except the ones that are plain yes/no."""

    customer: bool = True  # the account's lifecycle is customer
    min_customer_days: int | None = 90
    min_health: float | None = 70
    detractor_days: int | None = 180  # no detractor NPS answer from the account
    no_open_escalation: bool = True
    account_cooldown_days: int | None = 90  # since the last ask to anyone at the account
    contact_max_asks: int | None = 2  # asks to one contact within contact_window_days
    contact_window_days: int = 365
    # Ask fatigue: one budget per contact across every kind of ask the team records
    # (referral, reference call, review).
    fatigue_max_asks: int | None = 3  # asks of any kind within fatigue_window_days
    fatigue_window_days: int = 365
    fatigue_gap_days: int | None = 30  # days at least between two asks of any kind
    contact_opted_out: bool = True  # the contact to ask has not opted out
    no_open_ask: bool = True
    owner_active: bool = True


@dataclass(frozen=True)
class AskConfig:
    """Who gets the ask and when it is due."""

    assign_to: str = "owner"  # owner or csm (falls back to the other when unset)
    due_business_days: int = 2


ROUTES = ("prospect_owner", "advocate_owner", "ask_owner")


@dataclass(frozen=True)
class IntroConfig:
    """How introductions run once an advocate agrees: whom the referred deal goes to, when
    an unanswered ask is followed up, and when a waiting introduction is reminded and
    expires."""

    # prospect_owner: the referred company's owner when it has one, else the advocate
    # account's owner; advocate_owner: always the advocate account's owner; ask_owner:
    # whoever made the ask.
    route_to: str = "prospect_owner"
    follow_up_days: int = 7  # an ask with no answer yet gets a follow-up task this many days on
    remind_after_days: int = 5
    expire_after_days: int = 14


@dataclass(frozen=True)
class Programme:
    rules: tuple[Rule, ...] = ()
    health: HealthConfig = field(default_factory=HealthConfig)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)
    gates: GateConfig = field(default_factory=GateConfig)
    asks: AskConfig = field(default_factory=AskConfig)
    introductions: IntroConfig = field(default_factory=IntroConfig)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)
