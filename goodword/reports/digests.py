"""The weekly digests, e-mailed through the outbox: each manager gets every report's headline
with small charts; each owner gets their asks due this week and overdue, the introductions
waiting on them and the referred deals that moved stage in the last seven days.

The worker's upkeep (`digests_tend`) enqueues one `reports.digest` job per person and week
from DIGEST_HOUR UTC on DIGEST_WEEKDAY, so a worker that was down at that hour catches up later
the same day. The job builds the digest and writes the e-mail; nothing to say, no e-mail.
Twice is never: the job's key is unique per person, kind and week, and so is the e-mail's
(its outbox row is re-keyed in the transaction that writes it), so a job retried after a
crash finds the e-mail already written.

Mail clients do not render SVG reliably: the HTML part draws each chart as a table whose bars
are cells with an inline width, the text part as rows of #."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from goodword.crm.models import ASK_KINDS, Deal, DealSource, DealStageChange, Task, TaskStatus
from goodword.crm.selectors import deals_visible_to, tasks_visible_to
from goodword.engine.intros import FINAL, LABELS, IntroState
from goodword.jobs.models import Job
from goodword.jobs.services import PermanentFailure, email_enqueue, handler, job_enqueue
from goodword.lib.charts import format_value
from goodword.referrals.models import Introduction
from goodword.referrals.selectors import introductions_visible_to
from goodword.reports.catalogue import NAMES, TITLES, report_build
from goodword.reports.filters import Filters
from goodword.reports.money import money_text
from goodword.reports.report import Column, Report, Table
from goodword.users.models import Role, User

DIGEST_WEEKDAY = 0  # Monday (datetime.weekday())
DIGEST_HOUR = 7  # UTC
MOVED_WITHIN = dt.timedelta(days=7)
LIST_MAX = 20  # lines a section lists before "and N more"
CHART_ROWS = 12  # bars a chart draws at most
BAR_CHARS = 20  # the longest bar of a text chart
LABEL_CHARS = 28  # a text chart's labels are cut to this

Kind = Literal["manager", "owner"]


# --- when --------------------------------------------------------------------------------


def digest_due(now: dt.datetime) -> bool:
    """True from DIGEST_HOUR UTC to the end of DIGEST_WEEKDAY (UTC)."""
    utc = now.astimezone(dt.UTC)
    return utc.weekday() == DIGEST_WEEKDAY and utc.hour >= DIGEST_HOUR


def digest_week(now: dt.datetime) -> dt.date:
    """The digest week `now` falls in, named by its first day (a DIGEST_WEEKDAY, UTC)."""
    day = now.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=(day.weekday() - DIGEST_WEEKDAY) % 7)


def _job_key(week: dt.date, kind: str, user_id: int) -> str:
    return f"digest:{week.isoformat()}:{kind}:{user_id}"


def _email_key(week: dt.date, kind: str, user_id: int) -> str:
    return f"digest-email:{week.isoformat()}:{kind}:{user_id}"


# --- charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: str  # as printed
    share: int  # percent of the chart's longest bar, 0 to 100


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]

    @property
    def lines(self) -> list[str]:
        """The chart as text: label, a bar of #, the value."""
        width = max(len(b.label) for b in self.bars)
        return [
            f"{b.label:<{width}}  {'#' * round(b.share * BAR_CHARS / 100):<{BAR_CHARS}}  {b.value}"
            for b in self.bars
        ]


@dataclass(frozen=True)
class ChartSpec:
    """Which column of which table a report's digest draws, against which label column."""

    table: str
    label: str
    value: str
    title: str  # may name {currency}
    skip_blank: str = ""  # rows with this column empty are totals, not bars


# The charts chosen for a report; any other report gets one chart per table (see _guessed).
CHARTED: dict[str, list[ChartSpec]] = {
    "pipeline": [
        ChartSpec("open", "label", "amount", "Open amount by source ({currency})", "source"),
        ChartSpec(
            "referred_per_month",
            "month",
            "amount",
            "Referred amount created per month ({currency})",
        ),
    ],
}


def _guessed(report: Report) -> list[ChartSpec]:
    """A chart per table: its first money (else count) column against the text column
    nearest before it (a table names its rows on the left: a key, then a label)."""
    specs = []
    for table in report.tables:
        values = [c for c in table.columns if c.kind == "money"] or [
            c for c in table.columns if c.kind == "count"
        ]
        if not values:
            continue
        value = values[0]
        before = table.columns[: table.columns.index(value)]
        labels = [c for c in before if c.kind in ("text", "date")] or [
            c for c in table.columns if c.kind in ("text", "date")
        ]
        if labels:
            unit = " ({currency})" if value.kind == "money" else ""
            title = f"{table.title}: {value.label}{unit}"
            specs.append(ChartSpec(table.name, labels[-1].key, value.key, title))
    return specs


def report_charts(report: Report) -> list[Chart]:
    """The report's small charts; a chart with no figure but zero is left out."""
    specs = CHARTED.get(report.name) or _guessed(report)
    charts = [_chart(report, spec) for spec in specs]
    return [c for c in charts if c is not None]


def _chart(report: Report, spec: ChartSpec) -> Chart | None:
    try:
        table = report.table(spec.table)
    except KeyError:
        return None
    column = next(c for c in table.columns if c.key == spec.value)
    rows = [
        r
        for r in table.rows
        if r.get(spec.value) is not None and not (spec.skip_blank and not r.get(spec.skip_blank))
    ][:CHART_ROWS]
    top = max((max(Decimal(r[spec.value]), Decimal(0)) for r in rows), default=Decimal(0))
    if top == 0:
        return None
    bars = [
        Bar(
            label=_cut(str(r.get(spec.label) or "")),
            value=_printed(r[spec.value], column, report.currency),
            share=int((max(Decimal(r[spec.value]), Decimal(0)) * 100 / top).to_integral_value()),
        )
        for r in rows
    ]
    return Chart(spec.title.format(currency=report.currency), bars)


def _cut(label: str) -> str:
    return (
        label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
    )


def _printed(value: Any, column: Column, currency: str) -> str:
    if column.kind == "money":
        return money_text(Decimal(value), currency)
    if column.kind == "count":
        return f"{int(value):,}"
    return format_value(value, "%" if column.kind == "percent" else "")


# --- what each digest says ---------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    text: str
    url: str


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[Line]
    more: int = 0  # lines left out
    more_url: str = ""


@dataclass(frozen=True)
class ReportSection:
    title: str
    headline: str
    url: str
    charts: list[Chart]


@dataclass
class Digest:
    kind: Kind
    user: User
    week: dt.date
    subject_parts: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    reports: list[ReportSection] = field(default_factory=list)


def _url(name: str, *args: int | str) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def manager_digest(user: User, *, now: dt.datetime) -> Digest | None:
    """Every report's headline and charts over what `user` may see; None when no report has
    a figure other than zero."""
    built = [
        report_build(name, user=user, filters=Filters(), today=now.astimezone(dt.UTC).date())
        for name in NAMES
    ]
    if not any(_has_figures(r.tables) for r in built):
        return None
    reports = [
        ReportSection(
            title=TITLES.get(r.name, r.title),
            headline=r.headline,
            url=_url("report", r.name),
            charts=report_charts(r),
        )
        for r in built
    ]
    return Digest("manager", user, digest_week(now), reports=reports)


def _has_figures(tables: Sequence[Table]) -> bool:
    numeric = ("count", "money", "percent", "days", "ratio")
    return any(
        row.get(c.key) not in (None, 0)
        for table in tables
        for c in table.columns
        if c.kind in numeric and not c.given
        for row in table.rows
    )


type LineOf = Callable[[Any, dt.datetime], Line]


def owner_digest(user: User, *, now: dt.datetime) -> Digest | None:
    """`user`'s asks overdue and due this week, their introductions still under way, and
    their referred deals that moved stage in the last MOVED_WITHIN; None when all are empty.
    Everything is read through the access selectors, so it shows only what `user` may see."""
    week = digest_week(now)
    week_end = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    asks = (
        tasks_visible_to(user)
        .filter(owner=user, kind__in=ASK_KINDS, status=TaskStatus.OPEN, due_at__lt=week_end)
        .select_related("account")
        .order_by("due_at", "id")
    )
    sections: list[tuple[str, str, str, QuerySet[Any], LineOf, str]] = [
        ("Asks overdue", "ask overdue", "asks overdue", asks.filter(due_at__lt=now),
         _ask_line, "my-tasks"),
        ("Asks due this week", "ask due", "asks due", asks.filter(due_at__gte=now),
         _ask_line, "my-tasks"),
        ("Introductions waiting", "introduction waiting", "introductions waiting",
         _intros(user), _intro_line, "intro-board"),
        ("Referred deals that moved this week", "referred deal moved", "referred deals moved",
         _moves(user, now), _move_line, "deals"),
    ]  # fmt: skip
    digest = Digest("owner", user, week)
    for title, one, many, rows, line, more_url in sections:
        section = _section(title, rows, line, now=now, more_url=_url(more_url))
        if section is not None:
            count = len(section.lines) + section.more
            digest.subject_parts.append(f"{count} {one if count == 1 else many}")
            digest.sections.append(section)
    return digest if digest.sections else None


def _section(
    title: str, rows: QuerySet[Any], line: LineOf, *, now: dt.datetime, more_url: str
) -> Section | None:
    shown = list(rows[: LIST_MAX + 1])
    if not shown:
        return None
    more = rows.count() - LIST_MAX if len(shown) > LIST_MAX else 0
    return Section(title, [line(row, now) for row in shown[:LIST_MAX]], more, more_url)


def _intros(user: User) -> QuerySet[Introduction]:
    return (
        introductions_visible_to(user)
        .filter(owner=user)
        .exclude(state__in=[s.value for s in FINAL])
        .select_related("advocate_account")
        .order_by("waiting_since", "id")
    )


def _moves(user: User, now: dt.datetime) -> QuerySet[DealStageChange]:
    deals = deals_visible_to(user).filter(owner=user, source=DealSource.REFERRAL)
    return (
        DealStageChange.objects.filter(
            deal__in=deals.values("pk"),
            from_stage__isnull=False,  # a deal's first row is its creation, not a move
            changed_at__gt=now - MOVED_WITHIN,
            changed_at__lte=now,
        )
        .select_related("deal__account", "from_stage", "to_stage")
        .order_by("changed_at", "id")
    )


def _day(at: dt.datetime) -> str:
    utc = at.astimezone(dt.UTC)
    return f"{utc:%a} {utc.day} {utc:%b}"


def _days(span: dt.timedelta) -> str:
    days = span.days
    return "less than a day" if days < 1 else "1 day" if days == 1 else f"{days} days"


def _ask_line(task: Task, now: dt.datetime) -> Line:
    where = f" ({task.account.name})" if task.account else ""
    text = f"{task.subject}{where}, due {_day(task.due_at)}"
    if task.due_at < now:
        text += f", {_days(now - task.due_at)} overdue"
    return Line(text, _url("task-detail", task.pk))


def _intro_line(intro: Introduction, now: dt.datetime) -> Line:
    who = intro.person_name or "A person not yet named"
    if intro.person_company:
        who += f" ({intro.person_company})"
    state = LABELS[IntroState(intro.state)]
    text = (
        f"{who}, introduced by {intro.advocate_account.name}: "
        f"{state} for {_days(now - intro.waiting_since)}"
    )
    return Line(text, _url("intro-detail", intro.pk))


def _move_line(move: DealStageChange, now: dt.datetime) -> Line:
    deal: Deal = move.deal
    assert move.from_stage is not None  # _moves leaves out a deal's first row
    text = (
        f"{deal.name} ({deal.account.name}): {move.from_stage.name} \N{RIGHTWARDS ARROW} "
        f"{move.to_stage.name} on {_day(move.changed_at)}"
    )
    return Line(text, _url("deal-detail", deal.pk))


BUILDERS: dict[Kind, Callable[..., Digest | None]] = {
    "manager": manager_digest,
    "owner": owner_digest,
}


# --- sending -----------------------------------------------------------------------------


def _render(digest: Digest) -> tuple[str, str, str]:
    context = {
        "digest": digest,
        "user": digest.user,
        "week_text": f"{digest.week.day} {digest.week:%B %Y}",
        "settings_url": _url("account-digests"),
    }
    base = f"reports/emails/digest-{digest.kind}"
    subject = " ".join(render_to_string(f"{base}-subject.html", context).split())
    rendered = render_to_string(f"{base}-body-text.html", context)
    # Template tags leave blank lines where they stood: keep at most one.
    text = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", rendered).strip() + "\n"
    return subject, text, render_to_string(f"{base}-body-html.html", context)


def digest_send(*, user: User, kind: Kind, now: dt.datetime) -> bool:
    """Build `user`'s digest of `kind` for the week of `now` and write it to the outbox;
    False when nothing was written: an inactive or opted-out user, nothing to say, or the
    digest of that week already written."""
    if not user.is_active or user.digest_opt_out_at is not None:
        return False
    digest = BUILDERS[kind](user, now=now)
    if digest is None:
        return False
    subject, text, html = _render(digest)
    try:
        with transaction.atomic():
            job = email_enqueue(
                to=[user.email],
                subject=subject,
                body_text=text,
                body_html=html,
                owner_id=user.pk,
                about=f"weekly {kind} digest to {user.email} (week of {digest.week})",
            )
            # The outbox keys an e-mail by its Message-ID; this one is also once a week.
            Job.objects.filter(pk=job.pk).update(key=_email_key(digest.week, kind, user.pk))
    except IntegrityError:
        return False
    return True


@handler("reports.digest")
def _digest_job(payload: dict[str, Any]) -> None:
    if payload.get("kind") not in BUILDERS:
        raise PermanentFailure(f"no digest of kind {payload.get('kind')!r}")
    user = User.objects.filter(pk=payload["user_id"]).first()
    if user is not None:  # a user deleted since the job was queued gets nothing
        digest_send(user=user, kind=payload["kind"], now=dt.datetime.fromisoformat(payload["at"]))


def digest_recipients(*, now: dt.datetime) -> dict[Kind, list[int]]:
    """The ids of the active users who get each kind of digest this week (not opted out):
    the managers; and the owners of open asks due by the week's end, of introductions under
    way, or of referred deals that moved within MOVED_WITHIN."""
    week_end = dt.datetime.combine(
        digest_week(now) + dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC
    )
    people = User.objects.filter(is_active=True, digest_opt_out_at__isnull=True).order_by("pk")
    asks = Task.objects.filter(kind__in=ASK_KINDS, status=TaskStatus.OPEN, due_at__lt=week_end)
    intros = Introduction.objects.exclude(state__in=[s.value for s in FINAL])
    moves = DealStageChange.objects.filter(
        deal__source=DealSource.REFERRAL, changed_at__gt=now - MOVED_WITHIN, changed_at__lte=now
    )
    owners = people.filter(
        Q(pk__in=asks.values("owner_id"))
        | Q(pk__in=intros.values("owner_id"))
        | Q(pk__in=moves.values("deal__owner_id"))
    )
    return {
        "manager": list(people.filter(role=Role.MANAGER).values_list("pk", flat=True)),
        "owner": list(owners.values_list("pk", flat=True)),
    }


def digests_enqueue(*, now: dt.datetime) -> int:
    """Queue this week's digest job for each recipient who has none yet; returns how many
    were queued. The existing keys are read first, so that the upkeep repeating all day
    costs one query per recipient list rather than a refused insert per person."""
    week = digest_week(now)
    queued = set(
        Job.objects.filter(key__startswith=f"digest:{week.isoformat()}:").values_list(
            "key", flat=True
        )
    )
    count = 0
    for kind, user_ids in digest_recipients(now=now).items():
        for user_id in user_ids:
            key = _job_key(week, kind, user_id)
            if key in queued:
                continue
            payload = {"user_id": user_id, "kind": kind, "at": now.isoformat()}
            job_enqueue(kind="reports.digest", key=key, payload=payload)
            count += 1
    return count


def digests_tend(*, now: dt.datetime) -> int:
    """The worker's upkeep: on the digest day from the digest hour, queue the week's
    digests; at any other time, nothing. Returns how many were queued."""
    return digests_enqueue(now=now) if digest_due(now) else 0
