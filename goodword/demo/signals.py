"""The demo's customer signals as plain values: product usage events, NPS answers, tickets,
messages and goals, each account's following from (seed, account index) alone.

An account that became a customer gets a health: healthy accounts adopt the product, grow
and now and then surge; at-risk ones fade over the last quarter and complain more; churning
ones (every churned account, and a few current ones) fade to nothing and say so. Events are
drawn week by week with numpy, so five million of them take seconds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from goodword.demo import texts
from goodword.demo.plan import AccountPlan, Ctx

HEALTHS = ("healthy", "at_risk", "churning")
EVENTS = ("login", "report_created", "dashboard_shared", "automation_run", "user_invited")
# Events per active user and week at full adoption, by EVENTS position (invites: see below).
WEEKLY_RATES = np.array([4.3, 1.3, 0.4, 1.8, 0.0])
WEEK = timedelta(days=7)
MICROS_PER_WEEK = 7 * 86_400 * 1_000_000
DAY_WEIGHTS = np.array([1, 1, 1, 1, 0.9, 0.15, 0.1]) / 5.15  # Monday first


@dataclass(frozen=True, slots=True)
class Life:
    """When an account used the product, and how it went."""

    start: datetime
    end: datetime
    health: str
    users: int


@dataclass(frozen=True, slots=True)
class Events:
    """One account's events as columns: microseconds since the epoch (UTC), the user's number
    within the account, the EVENTS index, and minutes saved (automation runs; else 0)."""

    micros: npt.NDArray[np.int64]
    user: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    minutes: npt.NDArray[np.int64]


def life_of(ctx: Ctx, plan: AccountPlan) -> Life | None:
    """None for a prospect, which has no product to use."""
    if plan.lifecycle == "prospect":
        return None
    rng = random.Random(f"{ctx.seed}:{plan.index}:life")
    won = [d.closed_at for d in plan.deals if d.closed_at is not None and d.stage == "Closed Won"]
    if plan.customer_since is not None:
        start = datetime.combine(plan.customer_since, datetime.min.time(), UTC)
    else:
        start = min(won) if won else plan.created_at + timedelta(days=30)
    end = plan.churned_at or ctx.now
    if plan.lifecycle == "churned":
        health = "churning"
    else:
        health = rng.choices(HEALTHS, weights=(0.68, 0.24, 0.08))[0]
    users = int(min(40, max(3, round(math.sqrt(plan.employees) * rng.uniform(0.6, 1.3)))))
    return Life(start=min(start, end), end=end, health=health, users=users)


def _curve(life: Life, weeks: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Activity per week, 1 being full adoption."""
    w = np.arange(weeks, dtype=np.float64)
    level = 1 - np.exp(-(w + 1) / 6)  # adoption over the first weeks
    if life.health == "healthy":
        level *= 1 + 0.35 * w / 52
        for week in rng.integers(8, max(9, weeks), size=2 if weeks > 20 else 0):
            level[week] *= 2.4  # a surge: a new team onboarded
    else:
        fade = 13 if life.health == "at_risk" else 26
        floor = 0.3 if life.health == "at_risk" else 0.0
        left = np.clip((weeks - w) / fade, 0, 1)  # 1 until the fade starts, down to 0
        level *= floor + (1 - floor) * left
    return level


def plan_events(ctx: Ctx, plan: AccountPlan, life: Life) -> Events:
    rng = np.random.default_rng([ctx.seed, plan.index, 7])
    start_us = int(life.start.timestamp() * 1_000_000)
    end_us = int(life.end.timestamp() * 1_000_000)
    weeks = max(1, math.ceil((end_us - start_us) / MICROS_PER_WEEK))
    level = _curve(life, weeks, rng)
    rates = np.outer(level * life.users, WEEKLY_RATES)  # weeks x event kinds
    rates[: min(weeks, 8), 4] = life.users / 8  # invites while the team is brought in
    counts = rng.poisson(rates)
    week_of = np.repeat(np.repeat(np.arange(weeks), counts.shape[1]), counts.ravel())
    kind = np.tile(np.arange(counts.shape[1]), weeks).repeat(counts.ravel())
    n = len(kind)
    day = rng.choice(7, size=n, p=DAY_WEIGHTS)
    offset = (day * 86_400 + rng.normal(14 * 3600, 3 * 3600, size=n).clip(0, 86_399)) * 1e6
    micros = start_us + week_of * MICROS_PER_WEEK + offset.astype(np.int64)
    keep = micros < end_us
    # A few power users do most of the work.
    user = np.floor(life.users * rng.random(n) ** 1.7).astype(np.int64)
    minutes = np.where(kind == 3, rng.gamma(2.0, 7.0, size=n).round() + 1, 0).astype(np.int64)
    return Events(micros[keep], user[keep], kind[keep], minutes[keep])


# --- what customers said ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Said:
    """An NPS answer, ticket or message; `contact` is the index of the account's contact."""

    kind: str  # nps, ticket, message
    at: datetime
    contact: int
    text: str
    score: int = 0  # NPS
    mood: str = ""  # ticket kind or message kind
    closed_at: datetime | None = None
    priority: str = "normal"
    escalated: bool = False
    csat: str = ""
    csat_scale: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class GoalPlan:
    name: str
    event: str
    measure: str
    target: int
    starts_at: datetime
    due_at: datetime


NPS_SCORES = {
    "healthy": ((6, 7, 8, 9, 10), (2, 6, 20, 36, 36)),
    "at_risk": ((3, 4, 5, 6, 7, 8, 9), (6, 10, 16, 22, 22, 16, 8)),
    "churning": ((0, 1, 2, 3, 4, 5, 6, 7), (8, 8, 12, 16, 18, 16, 14, 8)),
}
TICKET_MOODS = {
    "healthy": (("question", "problem", "angry", "grateful"), (50, 30, 3, 17)),
    "at_risk": (("question", "problem", "angry", "grateful"), (32, 40, 18, 10)),
    "churning": (("question", "problem", "angry", "grateful"), (20, 40, 35, 5)),
}
MESSAGE_MOODS = {
    "healthy": (("praise", "neutral", "complaint"), (60, 37, 3)),
    "at_risk": (("praise", "neutral", "complaint"), (12, 48, 40)),
    "churning": (("praise", "neutral", "complaint"), (3, 37, 60)),
}
CHANNELS = ("email", "chat", "review", "call")


def _fill(rng: random.Random, template: str, rep: str) -> str:
    return template.format(
        feature=rng.choice(texts.FEATURES),
        team=rng.choice(texts.TEAMS),
        n=rng.choice((12, 25, 40, 60, 150, 500)),
        rep=rep,
    )


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(1.0, (end - start).total_seconds())
    return start + timedelta(seconds=int(rng.uniform(0, span)))


def _health_at(life: Life, at: datetime) -> str:
    """Unhappy accounts were happy once: their mood turns in the last months."""
    turns = {"healthy": None, "at_risk": 120, "churning": 200}[life.health]
    if turns is None or at < life.end - timedelta(days=turns):
        return "healthy" if life.health == "healthy" or at < life.start + WEEK * 20 else "at_risk"
    return life.health


def plan_said(ctx: Ctx, plan: AccountPlan, life: Life, rep: str) -> list[Said]:
    rng = random.Random(f"{ctx.seed}:{plan.index}:said")
    contacts = max(1, len(plan.contacts))
    said = _nps(rng, life, contacts, rep) + _tickets(rng, life, contacts, rep)
    return said + _messages(rng, life, contacts, rep)


def _nps(rng: random.Random, life: Life, contacts: int, rep: str) -> list[Said]:
    out = []
    at = life.start + timedelta(days=75)
    while at < life.end:
        for contact in rng.sample(range(contacts), k=min(contacts, rng.choice((1, 1, 2)))):
            if rng.random() > 0.7:
                continue
            scores, weights = NPS_SCORES[_health_at(life, at)]
            score = rng.choices(scores, weights=weights)[0]
            band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            text = _fill(rng, rng.choice(texts.NPS_COMMENTS[band]), rep)
            out.append(Said("nps", at + timedelta(hours=rng.randrange(72)), contact, text, score))
        at += timedelta(days=91)
    return out


def _tickets(rng: random.Random, life: Life, contacts: int, rep: str) -> list[Said]:
    months = max(1, (life.end - life.start).days // 30)
    rate = 0.5 + life.users / 40
    out = []
    for month in range(months):
        start = life.start + timedelta(days=30 * month)
        for _ in range(_poisson(rng, rate)):
            at = _moment(rng, start, min(life.end, start + timedelta(days=30)))
            moods, weights = TICKET_MOODS[_health_at(life, at)]
            out.append(_ticket(rng, at, rng.choices(moods, weights=weights)[0], contacts, rep))
    return out


CSAT_BY_MOOD = {"question": (4, 5), "problem": (2, 5), "angry": (1, 2), "grateful": (5, 5)}


def _ticket(rng: random.Random, at: datetime, mood: str, contacts: int, rep: str) -> Said:
    text = _fill(rng, rng.choice(texts.TICKETS[mood]), rep)
    priority = {"angry": "urgent", "problem": "high", "question": "low"}.get(mood, "normal")
    if rng.random() < 0.4:
        priority = "normal"
    closed = at + timedelta(hours=rng.gammavariate(2, 10 if mood != "angry" else 30))
    csat = scale = ""
    if rng.random() < 0.55:
        low, high = CSAT_BY_MOOD[mood]
        rating = rng.randint(low, high)
        scale = rng.choices(("1-5", "1-10", "good-bad"), weights=(70, 15, 15))[0]
        if scale == "1-10":
            csat = str(min(10, rating * 2))
        else:
            csat = str(rating) if scale == "1-5" else ("good" if rating >= 4 else "bad")
    return Said(
        "ticket",
        at,
        rng.randrange(contacts),
        text,
        mood=mood,
        closed_at=closed,
        priority=priority,
        escalated=mood == "angry" and rng.random() < 0.5,
        csat=csat,
        csat_scale=scale,
    )


def _messages(rng: random.Random, life: Life, contacts: int, rep: str) -> list[Said]:
    years = max(0.25, (life.end - life.start).days / 365)
    out = []
    for _ in range(_poisson(rng, 3 * years)):
        at = _moment(rng, life.start, life.end)
        moods, weights = MESSAGE_MOODS[_health_at(life, at)]
        mood = rng.choices(moods, weights=weights)[0]
        text = _fill(rng, rng.choice(texts.MESSAGES[mood]), rep)
        channel = rng.choice(CHANNELS if mood != "praise" else (*CHANNELS, "review"))
        out.append(Said("message", at, rng.randrange(contacts), text, mood=mood, channel=channel))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


GOALS = (
    ("Automate the weekly reporting", "report_created", "count", 8.0),
    ("Save 100 hours of manual work", "automation_run", "sum:minutes_saved", 6000.0),
    ("Roll out to the whole team", "user_invited", "count", 1.0),
    ("Share dashboards with leadership", "dashboard_shared", "count", 3.0),
)


def plan_goals(ctx: Ctx, plan: AccountPlan, life: Life) -> list[GoalPlan]:
    """What the customer bought the product for; targets scale with the team."""
    rng = random.Random(f"{ctx.seed}:{plan.index}:goals")
    chosen = rng.sample(GOALS, k=rng.choice((1, 2, 2, 3)))
    out = []
    for name, event, measure, per_user in chosen:
        target = per_user * (1 if measure.startswith("sum:") else life.users)
        target *= rng.uniform(0.8, 1.6)
        out.append(
            GoalPlan(
                name=name,
                event=event,
                measure=measure,
                target=int(max(1, round(target, -1) if target > 50 else round(target))),
                starts_at=life.start,
                due_at=life.start + timedelta(days=rng.choice((90, 180, 180, 365))),
            )
        )
    return out
