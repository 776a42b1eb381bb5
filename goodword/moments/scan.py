"""The scan: run the programme's rules over what arrived since the last scan (or over
everything), write the moments they find, and record what happened.

A scan reads the store up to its horizon (the latest committed batch), computes everything
first with the store open, closes it, then writes the moments, the progress the next scan
continues from (`Scan.state`, Parquet) and its own record in one database transaction: a
process killed before that commit leaves no trace but a running row, whose lease the next
scan sees expire, and the next scan reads the same events again. One scan runs at a time
(a partial unique constraint on running scans); the moment keys make any repeat harmless.

A rule runs in full when the scan is full, when the previous state lacks it, or when its
definition changed since (engine.rules.rule_fingerprint). Otherwise it continues from the
state: see detect.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from goodword.engine.programme import (
    EVENT_KINDS,
    GoalRule,
    MilestoneRule,
    Programme,
    Rule,
    SurgeRule,
)
from goodword.engine.rules import rule_fingerprint
from goodword.moments import records
from goodword.moments.models import Scan, ScanMode, ScanStatus
from goodword.moments.services import (
    FINDINGS,
    NO_FINDINGS,
    UTC_US,
    Found,
    Scope,
    Tally,
    findings,
    json_strings,
    moments_write,
    statistics_refresh,
    utc_minutes,
    write_cache,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from goodword.moments.detect import Slice

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=20)
FIRST = "@first"  # state rows holding each account's first event (last_at is its time)
# Progress per key (account, or goal for goal rules): the measure so far, the latest event
# in it, and for goals the fingerprint of the goal it was counted for.
KEYED = pa.schema(
    [("key", pa.int64()), ("total", pa.float64()), ("last_at", UTC_US), ("fp", pa.string())]
)
STATE = pa.schema([("rule_id", pa.string()), *KEYED])


class ScanBusy(Exception):
    """Another scan is running (and its lease has not run out)."""


class ScanLost(Exception):
    """This scan's lease ran out and another process took over; nothing was written."""


@dataclass
class Progress:
    total: float
    last_at: dt.datetime | None
    fp: str = ""


def keyed(keys: Any, totals: Any, last_at: Any, fps: Any = None) -> pa.Table:
    """A KEYED table from columns (Arrow arrays or lists)."""
    n = len(keys)
    return pa.table(
        {
            "key": pa.array(keys, pa.int64()) if isinstance(keys, list) else keys,
            "total": pa.array(totals, pa.float64()) if isinstance(totals, list) else totals,
            "last_at": pa.array(last_at, UTC_US) if isinstance(last_at, list) else last_at,
            "fp": pa.array(fps if fps is not None else [""] * n, pa.string()),
        },
        schema=KEYED,
    )


NOTHING = KEYED.empty_table()


def merged(old: pa.Table, new: pa.Table) -> pa.Table:
    """`old` with the keys `new` holds replaced by its rows."""
    if not new.num_rows:
        return old
    kept = old.filter(pc.invert(pc.is_in(old["key"], value_set=new["key"])))
    return pa.concat_tables([kept, new])


def as_progress(table: pa.Table) -> dict[int, Progress]:
    return {
        k: Progress(total, at, fp)
        for k, total, at, fp in zip(*(table[c].to_pylist() for c in KEYED.names), strict=True)
    }


def from_progress(rows: dict[int, Progress]) -> pa.Table:
    values = list(rows.values())
    return keyed(
        list(rows), [p.total for p in values], [p.last_at for p in values], [p.fp for p in values]
    )


@dataclass
class RuleResult:
    """What one rule found: groups of moments, each with the scope it is complete for (and
    a filter that takes in every stored moment the group may concern; None: the rule's)."""

    parts: list[tuple[pa.Table, Scope, set[int] | None, Q | None]] = field(default_factory=list)
    state: pa.Table = field(default_factory=lambda: NOTHING)  # KEYED
    full: str = ""  # why the rule ran in full ("" when it continued)


@dataclass
class State:
    """Progress per rule (KEYED tables; FIRST for each account's first event) and the
    fingerprints of the rules it was made by. Arrow throughout: at 100,000 accounts the
    state has some 400,000 rows, which Python objects took seconds to build and save."""

    rules: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)

    def table(self, rule_id: str) -> pa.Table:
        return self.tables.get(rule_id, NOTHING)

    def to_parquet(self) -> bytes:
        parts = [
            table.add_column(0, "rule_id", pa.array([rule_id] * table.num_rows, pa.string()))
            for rule_id, table in self.tables.items()
        ]
        table = (pa.concat_tables(parts) if parts else STATE.empty_table()).replace_schema_metadata(
            {"rules": json.dumps(self.rules)}
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        return buffer.getvalue()

    @classmethod
    def from_parquet(cls, data: bytes) -> State:
        table = pq.read_table(io.BytesIO(data))
        rules = json.loads((table.schema.metadata or {}).get(b"rules", b"{}"))
        tables = {}
        for rule_id in pc.unique(table["rule_id"]).to_pylist():
            part = table.filter(pc.equal(table["rule_id"], rule_id))
            tables[rule_id] = part.drop_columns(["rule_id"]).cast(KEYED)
        return cls(rules=rules, tables=tables)


@dataclass(frozen=True)
class Context:
    events: ir.Table
    upto: int | None
    after: int | None  # None: a full scan
    now: dt.datetime
    previous_as_of: dt.datetime | None
    state: State

    def whole(self) -> Slice:
        from goodword.moments.detect import Slice

        return Slice(self.upto)

    def new(self) -> Slice:
        from goodword.moments.detect import Slice

        return Slice(self.upto, self.after)


# --- running a scan -------------------------------------------------------------------


def scan_run(
    *,
    full: bool = False,
    now: dt.datetime | None = None,
    trigger: str = "cli",
    programme: Programme | None = None,
    say: Callable[[str], None] | None = None,
) -> Scan:
    """Run one scan and return its record (status done, or failed with its errors).
    Raises ScanBusy when another scan is running, ScanLost when this one's lease ran out."""
    from goodword.moments.programmes import programme_current

    now = now or timezone.now()
    programme = programme or programme_current()[0]
    previous = Scan.objects.filter(status=ScanStatus.DONE, state__isnull=False).first()
    scan = scan_start(full=full or previous is None, trigger=trigger, now=now)
    try:
        _scan(scan, previous, programme, say or (lambda _: None))
        _asks(scan, programme, now, say or (lambda _: None))
    except ScanLost:
        raise
    except Exception as exc:
        log.exception("scan %s failed", scan.pk)
        Scan.objects.filter(pk=scan.pk, status=ScanStatus.RUNNING).update(
            status=ScanStatus.FAILED,
            finished_at=timezone.now(),
            lease_until=None,
            errors=[*scan.errors, f"{type(exc).__name__}: {exc}"],
        )
    scan.refresh_from_db()
    return scan


def scan_scheduled() -> Scan | None:
    """The worker's turn: scan when the last scan started SCAN_EVERY ago or more."""
    from django.conf import settings

    every = dt.timedelta(minutes=settings.SCAN_EVERY_MINUTES)
    last = Scan.objects.order_by("-started_at").first()
    if not every or (last is not None and last.started_at > timezone.now() - every):
        return None
    try:
        return scan_run(trigger="worker")
    except (ScanBusy, ScanLost) as exc:
        log.info("scan skipped: %s", exc)
        return None


def scan_start(*, full: bool, trigger: str, now: dt.datetime) -> Scan:
    """Record a running scan. Fails a running scan whose lease ran out; raises ScanBusy
    when one is running still."""
    for _ in range(2):
        started = timezone.now()
        try:
            with transaction.atomic():
                return Scan.objects.create(
                    mode=ScanMode.FULL if full else ScanMode.INCREMENTAL,
                    trigger=trigger,
                    as_of=now,
                    started_at=started,
                    lease_until=started + LEASE,
                )
        except IntegrityError:
            stale = Scan.objects.filter(status=ScanStatus.RUNNING, lease_until__lt=started)
            if not stale.update(
                status=ScanStatus.FAILED,
                finished_at=started,
                lease_until=None,
                errors=["its process stopped before it finished (lease expired)"],
            ):
                running = Scan.objects.filter(status=ScanStatus.RUNNING).first()
                since = f" since {running.started_at:%Y-%m-%d %H:%M:%S} UTC" if running else ""
                raise ScanBusy(f"another scan is running{since}") from None
    raise ScanBusy("another scan is running")


def _renew(scan: Scan) -> None:
    until = timezone.now() + LEASE
    if not Scan.objects.filter(pk=scan.pk, status=ScanStatus.RUNNING).update(lease_until=until):
        raise ScanLost(f"scan {scan.pk} lost its lease; another scan took over")


def _scan(
    scan: Scan, previous: Scan | None, programme: Programme, say: Callable[[str], None]
) -> None:
    from goodword.signals import store

    full = scan.mode == ScanMode.FULL
    state = (
        State() if full or previous is None else State.from_parquet(bytes(previous.state or b""))
    )
    results: dict[str, RuleResult] = {}
    errors: list[str] = []
    with store.connect() as opened:
        upto = opened.horizon() if opened.tracks_arrival else None
        if not opened.tracks_arrival and not full:
            full = True
            scan.mode = ScanMode.FULL
        after = None if full or previous is None else previous.batch_to
        ctx = Context(
            events=opened.events(),
            upto=upto,
            after=after,
            now=scan.as_of,
            previous_as_of=None if full or previous is None else previous.as_of,
            state=state,
        )
        scan.batch_from = after or 0
        scan.batch_to = upto
        scan.events_read = _count(ctx)
        say(f"reading {scan.events_read:,} events (batches {scan.batch_from} to {upto})")
        first = _firsts(ctx) if any(r.kind == "surge" for r in programme.active_rules) else None
        for rule in programme.active_rules:
            if rule.kind not in EVENT_KINDS:
                continue
            _renew(scan)
            try:
                results[rule.id] = _event_rule(ctx, rule, first)
            except Exception as exc:  # one broken rule must not stop the others
                log.exception("rule %s failed", rule.id)
                errors.append(f"rule {rule.id}: {type(exc).__name__}: {exc}")
            say(f"rule {rule.id}: done")
    for rule in programme.active_rules:
        if rule.kind not in EVENT_KINDS:
            found = findings(records.found_for(rule))
            results[rule.id] = RuleResult(parts=[(found, _everything, None, None)], full="records")
    _finish(scan, programme, results, first, errors)


def _asks(scan: Scan, programme: Programme, now: dt.datetime, say: Callable[[str], None]) -> None:
    """Queue the asks that are due after the moments are written. A failure here leaves the
    moments (already committed) and is recorded; the next scan queues what is still due."""
    from goodword.moments.asks import asks_queue

    try:
        queued = asks_queue(programme=programme, now=now)
    except Exception as exc:
        log.exception("queuing asks after scan %s failed", scan.pk)
        scan.refresh_from_db()
        Scan.objects.filter(pk=scan.pk).update(
            errors=[*scan.errors, f"asks: {type(exc).__name__}: {exc}"]
        )
        return
    say(f"{queued.due:,} accounts due, {len(queued.created):,} asks queued")
    Scan.objects.filter(pk=scan.pk).update(
        asks_created=len(queued.created), blocked=dict(queued.blocked)
    )


def _count(ctx: Context) -> int:
    from goodword.moments.detect import count_rows

    return count_rows(ctx.events, event=None, part=ctx.whole() if ctx.after is None else ctx.new())


def _everything(account_id: int, key: str) -> bool:
    return True


def _finish(
    scan: Scan,
    programme: Programme,
    results: dict[str, RuleResult],
    first: pa.Table | None,
    errors: list[str],
) -> None:
    now = timezone.now()
    state = State()
    for rule_id, result in results.items():
        rule = programme.rule(rule_id)
        if rule is not None and rule.kind in EVENT_KINDS:
            state.rules[rule_id] = rule_fingerprint(rule)
            state.tables[rule_id] = result.state
    if first is not None:
        state.tables[FIRST] = first
    with write_cache(), transaction.atomic():
        done = Scan.objects.filter(pk=scan.pk, status=ScanStatus.RUNNING).update(
            status=ScanStatus.DONE, finished_at=now, lease_until=None
        )
        if not done:
            raise ScanLost(f"scan {scan.pk} lost its lease; another scan took over")
        tallies = {}
        for rule_id, result in results.items():
            rule = programme.rule(rule_id)
            assert rule is not None
            tally = Tally()
            for found, scope, accounts, where in result.parts:
                tally.add(
                    moments_write(
                        rule_id=rule_id,
                        kind=rule.kind,
                        found=found,
                        scope=scope,
                        accounts=accounts,
                        now=now,
                        where=where,
                    )
                )
            tallies[rule_id] = tally.as_json()
        Scan.objects.filter(state__isnull=False).exclude(pk=scan.pk).update(state=None)
        Scan.objects.filter(pk=scan.pk).update(
            mode=scan.mode,
            batch_from=scan.batch_from,
            batch_to=scan.batch_to,
            events_read=scan.events_read,
            moments=tallies,
            full_rules={k: r.full for k, r in results.items() if r.full},
            errors=errors,
            state=state.to_parquet(),
        )
    statistics_refresh(sum(t["found"] for t in tallies.values()))


# --- event rules ----------------------------------------------------------------------


def _event_rule(ctx: Context, rule: Rule, first: pa.Table | None) -> RuleResult:
    fingerprint = rule_fingerprint(rule)
    if ctx.after is None:
        why = "full scan"
    elif ctx.state.rules.get(rule.id) != fingerprint:
        why = "new or changed rule"
    else:
        why = ""
    if isinstance(rule, MilestoneRule):
        return _milestone(ctx, rule, why)
    if isinstance(rule, GoalRule):
        return _goals(ctx, rule, why)
    if isinstance(rule, SurgeRule):
        assert first is not None
        return _surge(ctx, rule, why, first)
    raise ValueError(f"rule {rule.id}: {rule.kind} is not an event rule")


def _milestone(ctx: Context, rule: MilestoneRule, why: str) -> RuleResult:
    from goodword.moments import detect

    thresholds = [float(t) for t in rule.thresholds]

    def run(part: Slice, **kw: Any) -> pa.Table:
        return detect.milestone(
            ctx.events,
            event=rule.event,
            measure=rule.measure,
            thresholds=thresholds,
            part=part,
            **kw,
        )

    result = RuleResult(full=why)
    if why:
        table = run(ctx.whole())
        result.parts.append((_crossings(rule, table), _everything, None, None))
        result.state = _last_rows(table, "account_id")
        return result
    old = ctx.state.table(rule.id)
    late = detect.late_accounts(
        ctx.events, event=rule.event, part=ctx.new(), progress=_progress_table(old)
    )
    table = run(ctx.new(), offsets=_offsets(old, late), skip=_ids(late))
    result.parts.append((_crossings(rule, table), None, None, None))
    result.state = merged(old, _last_rows(table, "account_id"))
    if late:
        # Recomputed from each account's earliest new event: the thresholds its measure had
        # reached before then stand; the others are judged again.
        again = run(ctx.whole(), since=_since(old, late), after=ctx.after)
        bases = dict(zip(again["account_id"].to_pylist(), again["base"].to_pylist(), strict=True))

        def scope(account_id: int, key: str) -> bool:
            return account_id in late and float(key) > bases.get(account_id, -1.0)

        result.parts.append((_crossings(rule, again), scope, set(late), None))
        result.state = merged(result.state, _last_rows(again, "account_id"))
    return result


def _since(old: pa.Table, late: dict[int, dt.datetime]) -> pa.Table:
    from goodword.moments.detect import SINCE

    totals = dict(zip(old["key"].to_pylist(), old["total"].to_pylist(), strict=True))
    return pa.table(
        {
            "account_id": list(late),
            "since": list(late.values()),
            "total": [totals.get(a, 0.0) for a in late],
        },
        schema=SINCE,
    )


def _crossings(rule: MilestoneRule, table: pa.Table) -> pa.Table:
    """The FINDINGS of the rows where the measure reaches a threshold, built by Arrow."""
    what = (
        rule.event if rule.measure.kind == "count" else f"{rule.measure.property} of {rule.event}"
    )
    event = json.dumps(rule.event)
    parts = []
    for i, threshold in enumerate(rule.thresholds):
        rows = table.filter(table[f"hit_{i}"])  # the others are each account's last
        if not rows.num_rows:
            continue
        key = _number_key(threshold)
        shown = f"{threshold.normalize():,f}" if threshold % 1 else f"{int(threshold):,}"
        at = rows["timestamp"].cast(UTC_US)
        mid = rows["message_id"]
        parts.append(
            pa.table(
                [
                    rows["account_id"].cast(pa.int64()),
                    pa.nulls(rows.num_rows, pa.string()).fill_null(key),
                    at,
                    pa.nulls(rows.num_rows, pa.int64()),
                    pc.binary_join_element_wise(
                        f"{what} reached {shown} on ",
                        utc_minutes(at),
                        " UTC, event ",
                        mid,
                        "",
                    ),
                    pc.binary_join_element_wise(
                        f'{{"threshold": {json.dumps(key)}, "message_id": ',
                        json_strings(mid),
                        f', "event": {event}}}',
                        "",
                    ),
                ],
                schema=FINDINGS,
            )
        )
    return pa.concat_tables(parts) if parts else NO_FINDINGS


def _number_key(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _last_rows(table: pa.Table, key: str) -> pa.Table:
    last = table.filter(table["last"])
    return keyed(
        last[key].combine_chunks().cast(pa.int64()),
        last["total"].combine_chunks().cast(pa.float64()),
        last["timestamp"].combine_chunks().cast(UTC_US),
    )


def _progress_table(old: pa.Table) -> pa.Table:
    known = old.filter(pc.is_valid(old["last_at"]))
    return pa.table({"account_id": known["key"], "last_at": known["last_at"]})


def _offsets(old: pa.Table, late: Iterable[int]) -> pa.Table:
    kept = old.filter(pc.invert(pc.is_in(old["key"], value_set=pa.array(sorted(late), pa.int64()))))
    return pa.table({"account_id": kept["key"], "offset": kept["total"]})


def _ids(keys: Iterable[int]) -> pa.Table:
    return pa.table({"account_id": pa.array(sorted(keys), pa.int64())})


def _in(accounts: set[int]) -> Scope:
    return lambda account_id, key: account_id in accounts


# --- goals ----------------------------------------------------------------------------


def _goals(ctx: Context, rule: GoalRule, why: str) -> RuleResult:
    from goodword.engine.scores import parse_measure
    from goodword.moments import detect
    from goodword.signals.models import Goal

    result = RuleResult(full=why)
    old = {} if why else as_progress(ctx.state.table(rule.id))
    progress: dict[int, Progress] = {}
    goals = {g.pk: g for g in Goal.objects.all()}
    groups: dict[tuple[str, str], list[Any]] = {}
    for goal in goals.values():
        groups.setdefault((goal.event, goal.measure), []).append(goal)
    gone = {k for k in old if k not in goals}
    if gone:
        result.parts.append((NO_FINDINGS, _goal_keys(gone), None, None))
    for (event, measure_text), members in groups.items():
        measure = parse_measure(measure_text)
        fresh: list[Any] = []
        going: list[Any] = []
        for goal in members:
            known = old.get(goal.pk)
            (going if known is not None and known.fp == _goal_fp(goal) else fresh).append(goal)
        late: dict[int, dt.datetime] = {}
        if going and not why:
            spec = _goal_spec(going, old)
            late = detect.goal_late(ctx.events, event=event, goals=spec, part=ctx.new())
        for goal in going:
            progress[goal.pk] = old[goal.pk]
        on_time = [g for g in going if g.pk not in late]
        if on_time:
            table = detect.goals(
                ctx.events,
                event=event,
                measure=measure,
                goals=_goal_spec(on_time, old),
                part=ctx.new(),
            )
            result.parts.append((_goal_hits(table, goals, measure), None, None, None))
            _goal_state(progress, table, goals)
        if late:
            # Recounted from each goal's earliest new event: a goal reached before then
            # stands; the others are judged again.
            recount = [g for g in going if g.pk in late]
            table = detect.goals(
                ctx.events,
                event=event,
                measure=measure,
                goals=_goal_since(recount, old, late),
                part=ctx.whole(),
                after=ctx.after,
            )
            bases = dict(zip(table["goal_id"].to_pylist(), table["base"].to_pylist(), strict=True))
            again = {g.pk for g in recount if float(g.target) > bases.get(g.pk, -1.0)}
            # Unchanged goals (same fingerprint), so their moments lie in their accounts: the
            # write reads those, not every goal moment (no index leads with the rule).
            accounts = {g.account_id for g in recount}
            result.parts.append(
                (_goal_hits(table, goals, measure), _goal_keys(again), accounts, None)
            )
            _goal_state(progress, table, goals)
        if fresh:
            table = detect.goals(
                ctx.events,
                event=event,
                measure=measure,
                goals=_goal_spec(fresh, {}),
                part=ctx.whole(),
            )
            keys = {g.pk for g in fresh}
            result.parts.append((_goal_hits(table, goals, measure), _goal_keys(keys), None, None))
            for goal in fresh:
                progress[goal.pk] = Progress(0.0, None, _goal_fp(goal))
            _goal_state(progress, table, goals)
    result.state = from_progress(progress)
    return result


def _goal_fp(goal: Any) -> str:
    text = (
        f"{goal.account_id}|{goal.event}|{goal.measure}|{goal.target}|{goal.starts_at.isoformat()}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _goal_spec(members: list[Any], old: dict[int, Progress]) -> pa.Table:
    from goodword.moments.detect import GOALS

    progress = [old.get(g.pk) for g in members]
    return pa.table(
        {
            "goal_id": [g.pk for g in members],
            "account_id": [g.account_id for g in members],
            "starts_at": [g.starts_at for g in members],
            "target": [float(g.target) for g in members],
            "base": [p.total if p else 0.0 for p in progress],
            "after": [p.last_at if p else None for p in progress],
        },
        schema=GOALS,
    )


def _goal_since(
    members: list[Any], old: dict[int, Progress], since: dict[int, dt.datetime]
) -> pa.Table:
    """The spec that recounts `members` from their time in `since` on (detect.goals' `after`
    mode): the time as starts_at, their total so far as base."""
    table = _goal_spec(members, old)
    return table.set_column(
        table.schema.get_field_index("starts_at"),
        "starts_at",
        pa.array([since[g.pk] for g in members], table.schema.field("starts_at").type),
    ).set_column(
        table.schema.get_field_index("after"),
        "after",
        pa.nulls(len(members), table.schema.field("after").type),
    )


def _goal_hits(table: pa.Table, goals: dict[int, Any], measure: Any) -> pa.Table:
    hits = table.filter(table["hit"])
    out = []
    for goal_id, at, mid, total in zip(
        *(hits[c].to_pylist() for c in ("goal_id", "timestamp", "message_id", "total")), strict=True
    ):
        goal = goals[goal_id]
        target = goal.target.normalize()
        what = goal.event if measure.kind == "count" else f"{measure.property} of {goal.event}"
        out.append(
            Found(
                account_id=goal.account_id,
                key=f"goal:{goal_id}",
                occurred_at=at,
                evidence=(
                    f"Goal “{goal.name}” reached: {what} {total:,.0f} ≥ {target:,f} on "
                    f"{at:%Y-%m-%d %H:%M} UTC, event {mid}"
                ),
                data={"goal_id": goal_id, "message_id": mid, "target": format(target, "f")},
            )
        )
    return findings(out)


def _goal_state(progress: dict[int, Progress], table: pa.Table, goals: dict[int, Any]) -> None:
    for goal_id, made in as_progress(_last_rows(table, "goal_id")).items():
        made.fp = _goal_fp(goals[goal_id])
        progress[goal_id] = made


def _goal_keys(ids: set[int]) -> Scope:
    keys = {f"goal:{i}" for i in ids}
    return lambda account_id, key: key in keys


# --- surges ---------------------------------------------------------------------------


def _firsts(ctx: Context) -> pa.Table:
    """Each account's first event (KEYED, last_at its time), carried over from the state and
    lowered by new events."""
    from goodword.moments import detect

    part = ctx.whole() if ctx.after is None else ctx.new()
    table = detect.first_events(ctx.events, part=part)
    found = keyed(
        table["account_id"].combine_chunks().cast(pa.int64()),
        pa.array([0.0] * table.num_rows, pa.float64()),
        table["first_at"].combine_chunks().cast(UTC_US),
    )
    if ctx.after is None:
        return found
    both = (
        pa.concat_tables([ctx.state.table(FIRST), found])
        .group_by("key")
        .aggregate([("last_at", "min")])
    )
    return keyed(
        both["key"].combine_chunks(),
        pa.array([0.0] * both.num_rows, pa.float64()),
        both["last_at_min"].combine_chunks(),
    )


def _weeks(first: pa.Table) -> dict[int, int]:
    """account → week_index of its first event."""
    from goodword.moments.detect import MONDAY_1970, WEEK_SECONDS

    micros = first["last_at"].cast(pa.int64()).to_pylist()
    week = WEEK_SECONDS * 1_000_000
    monday = MONDAY_1970 * 1_000_000
    return {
        k: (us - monday) // week
        for k, us in zip(first["key"].to_pylist(), micros, strict=True)
        if us is not None
    }


def last_complete_week(now: dt.datetime) -> int:
    """The week_index of the latest ISO week (UTC) that ended by `now`."""
    from goodword.moments.detect import index_of

    return index_of(now.astimezone(dt.UTC).date()) - 1


RECENT_WEEKS = 13  # ranges starting this close to the last complete week are read by time


def _surge(ctx: Context, rule: SurgeRule, why: str, first: pa.Table) -> RuleResult:
    from goodword.moments import detect

    last = last_complete_week(ctx.now)
    result = RuleResult(full=why)

    def run(ranges: pa.Table | None) -> pa.Table:
        return detect.surges(
            ctx.events, event=rule.event, ratio=rule.ratio, min_users=rule.min_users,
            part=ctx.whole(), last_complete=last, ranges=ranges,
        )  # fmt: skip

    if why:
        result.parts.append((_surge_found(rule, run(None)), _everything, None, None))
        return result
    ranges = _surge_ranges(ctx, last, first)
    if not ranges:
        return result
    # Most accounts are judged for the weeks that ended since the last scan: the store reads
    # those weeks only. Accounts with late events go back further; they are read apart.
    recent = {a: r for a, r in ranges.items() if r[0] >= last - RECENT_WEEKS}
    older = {a: r for a, r in ranges.items() if r[0] < last - RECENT_WEEKS}
    found = pa.concat_tables(
        [NO_FINDINGS, *(_surge_found(rule, run(_ranges_table(g))) for g in (recent, older) if g)]
    )

    def scope(account_id: int, key: str) -> bool:
        judged = ranges.get(account_id)
        if judged is None:
            return False
        week = detect.index_of(dt.date.fromisoformat(key))
        return judged[0] <= week <= judged[1]

    # The stored moments the write compares with: the recent group's weeks, and every week
    # of the older group's accounts (all of the rule's when those are very many).
    where: Q | None = None
    if len(older) <= 5000:
        where = Q(account_id__in=list(older))
        if recent:
            since = detect.week_start(min(r[0] for r in recent.values()))
            where |= Q(key__gte=since.isoformat())
    result.parts.append((found, scope, set(ranges), where))
    return result


def _ranges_table(ranges: dict[int, tuple[int, int, int]]) -> pa.Table:
    from goodword.moments.detect import RANGES

    return pa.table(
        {
            "account_id": list(ranges),
            "lo": [r[0] for r in ranges.values()],
            "hi": [r[1] for r in ranges.values()],
            "first": [r[2] for r in ranges.values()],
        },
        schema=RANGES,
    )


def _surge_ranges(ctx: Context, last: int, first: pa.Table) -> dict[int, tuple[int, int, int]]:
    """account → (lo, hi, first week): the weeks whose judgement new events (or the end of a
    week since the last scan) may have changed."""
    from goodword.moments import detect

    first_week = _weeks(first)
    old_first = _weeks(ctx.state.table(FIRST))
    out: dict[int, tuple[int, int, int]] = {}

    def widen(account_id: int, lo: int, hi: int) -> None:
        hi = min(hi, last)
        if lo > hi:
            return
        if account_id in out:
            lo, hi = min(lo, out[account_id][0]), max(hi, out[account_id][1])
        out[account_id] = (lo, hi, first_week[account_id])

    touched = detect.touched_weeks(ctx.events, part=ctx.new())
    for account_id, lo, hi in zip(
        *(touched[c].to_pylist() for c in ("account_id", "lo", "hi")), strict=True
    ):
        top = hi + 4
        old_week = old_first.get(account_id)
        if old_week is not None and lo < old_week:
            # Older history now: weeks after the old first become eligible.
            top = max(top, old_week + 3)
        widen(account_id, lo, top)
    assert ctx.previous_as_of is not None
    since = last_complete_week(ctx.previous_as_of)
    if last > since:
        for account_id in detect.accounts_active(
            ctx.events, part=ctx.whole(), lo=since + 1, hi=last
        ):
            widen(account_id, since + 1, last)
    return out


def _surge_found(rule: SurgeRule, table: pa.Table) -> pa.Table:
    """The FINDINGS of the surging weeks. A scan finds many moments per week and per pair
    of (users, users the 4 weeks before): the words are made once for each, in Python, and
    Arrow puts them together."""
    from goodword.moments.detect import week_start

    if not table.num_rows:
        return NO_FINDINGS
    what = f" of {rule.event}" if rule.event else ""
    week = table["week"].cast(pa.int64()).combine_chunks()
    weeks = pc.unique(week)
    starts = [week_start(w) for w in weeks.to_pylist()]
    at_week = pc.index_in(week, value_set=weeks)
    keys = pa.array([s.isoformat() for s in starts], pa.string()).take(at_week)
    ends = [dt.datetime.combine(s + dt.timedelta(days=7), dt.time(), dt.UTC) for s in starts]
    users = table["users"].cast(pa.int64()).combine_chunks()
    before = table["before"].cast(pa.int64()).combine_chunks()
    pair = pc.add(pc.multiply(users, 1 << 32), before)
    pairs = pc.unique(pair)
    heads, tails, data = [], [], []
    for code in pairs.to_pylist():
        count, prior = divmod(code, 1 << 32)
        mean = prior / 4
        versus = (
            f"{count / mean:.1f}× the mean of the 4 weeks before ({mean:.1f})"
            if mean
            else "none in the 4 weeks before"
        )
        heads.append(f"{count:,} weekly active users{what} in the week of ")
        tails.append(f", {versus}")
        data.append(f'", "users": {count}, "before_mean": {mean!r}}}')
    at_pair = pc.index_in(pair, value_set=pairs)

    def each(texts: list[str]) -> pa.Array:
        return pa.array(texts, pa.string()).take(at_pair)

    return pa.table(
        [
            table["account_id"].cast(pa.int64()),
            keys,
            pa.array(ends, UTC_US).take(at_week),
            pa.nulls(table.num_rows, pa.int64()),
            pc.binary_join_element_wise(each(heads), keys, each(tails), ""),
            pc.binary_join_element_wise('{"week": "', keys, each(data), ""),
        ],
        schema=FINDINGS,
    )
