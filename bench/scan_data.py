"""Generated usage events for the scan benchmark (bench/scan.py): numpy and pyarrow, seeded,
written a week at a time so 100 million rows never exist as Python objects.

Each account starts at some week of the two years before NOW (40% were already customers
then), grows or shrinks along its own trend, has weekly noise and now and then a week of two
to four times its usual activity, so milestones and surges happen as they would. Its events
are spread over its weeks by one multinomial draw over every (account, week), so the file
holds exactly the number of events asked for, in time order as an append-only log would.

Files of one data set (keyed by accounts, events and seed) in bench/data/scan/<key>/:
    events.parquet  the store's columns but received_at, row groups of one week
    new.parquet     1% more: most after NOW, some late (before what their account had)
    goals.parquet   goals for 10% of the accounts (goal_id, account_id, event, measure,
                    target, starts_at)
    accounts.parquet  account_id, customer_since
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data" / "scan"
START = dt.datetime(2024, 11, 18, tzinfo=dt.UTC)  # a Monday
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)  # a Friday noon: the full scan's now
LATER = NOW + dt.timedelta(hours=6)  # the incremental scan's now (the same week)
WEEK_US = 7 * 86_400 * 1_000_000
START_US = int(START.timestamp()) * 1_000_000
NOW_US = int(NOW.timestamp()) * 1_000_000
LATER_US = int(LATER.timestamp()) * 1_000_000
WEEKS = -(-(NOW_US - START_US) // WEEK_US)  # the last one is partial
EVENTS = ("dashboard_viewed", "report_created", "automation_run", "user_invited", "page")
SHARES = (0.45, 0.25, 0.15, 0.03, 0.12)
AUTOMATION = EVENTS.index("automation_run")
# properties of the other events (one of these at random), automation_run's are built
PLAIN = {
    "dashboard_viewed": ('{"dashboard": "overview"}', '{"dashboard": "pipeline"}', "{}"),
    "report_created": ('{"format": "pdf"}', '{"format": "csv", "rows": 120}'),
    "user_invited": ('{"role": "member"}', '{"role": "admin"}'),
    "page": ('{"path": "/home"}', '{"path": "/settings", "minutes_saved": 5}'),
}
# minutes_saved of automation_run: a positive number (halves, so every sum is exact in
# float64 and no backend's order of adding changes a crossing), or one of the values the
# rule must skip: negative, a numeric string, null, missing.
HEADS = ('{"minutes_saved": ', '{"minutes_saved": -', '{"minutes_saved": "')
HEADS += ('{"minutes_saved": null', "{")
MIDS = (", ", ", ", '", ', ", ", "")
KIND_SHARES = (0.94, 0.03, 0.015, 0.01, 0.005)
GOAL_KINDS = (
    ("report_created", "count", (25, 50, 100, 250, 500)),
    ("automation_run", "sum:minutes_saved", (300, 600, 1200, 3000)),
)
SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("account_id", pa.int64()),
        ("user_id", pa.string()),
        ("event", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
    ]
)


@dataclass(frozen=True)
class DataSet:
    accounts: int
    events: int
    seed: int

    @property
    def key(self) -> str:
        return f"a{self.accounts}-e{self.events}-s{self.seed}"

    @property
    def folder(self) -> Path:
        return DATA / self.key

    @property
    def events_path(self) -> Path:
        return self.folder / "events.parquet"

    @property
    def new_path(self) -> Path:
        return self.folder / "new.parquet"

    @property
    def goals_path(self) -> Path:
        return self.folder / "goals.parquet"

    @property
    def accounts_path(self) -> Path:
        return self.folder / "accounts.parquet"

    @property
    def done_path(self) -> Path:
        return self.folder / "generated.json"


def ensure(data: DataSet, say=print) -> dict[str, float]:
    """Generate the data set unless it is there; returns what generating it took."""
    if data.done_path.exists():
        return json.loads(data.done_path.read_text())
    data.folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(data.seed)
    plan = _plan(rng, data.accounts, data.events)
    _write_events(rng, plan, data.events_path, say)
    _write_new(rng, plan, data.new_path, data.events // 100)
    _write_goals(rng, data)
    _write_accounts(plan, data.accounts_path)
    figures = {
        "seconds": round(time.perf_counter() - started, 1),
        "events_mb": round(data.events_path.stat().st_size / 1e6),
    }
    data.done_path.write_text(json.dumps(figures))
    return figures


@dataclass
class _Plan:
    counts: np.ndarray  # events per (account, week), accounts × WEEKS
    users: np.ndarray  # product users of each account
    start: np.ndarray  # each account's first week


def _plan(rng: np.random.Generator, accounts: int, events: int) -> _Plan:
    weeks = np.arange(WEEKS)
    start = np.where(rng.random(accounts) < 0.4, 0, rng.integers(0, WEEKS - 8, accounts))
    trend = rng.normal(0.5, 0.6, accounts)
    age = np.clip(weeks[None, :] - start[:, None], 0, None) / WEEKS
    rate = np.exp(trend[:, None] * age)
    rate *= rng.gamma(16.0, 1 / 16, (accounts, WEEKS))  # weekly noise, CV 25%
    busy = rng.random((accounts, WEEKS)) < 0.02
    rate[busy] *= rng.uniform(2.0, 4.0, int(busy.sum()))
    rate[weeks[None, :] < start[:, None]] = 0.0
    rate[:, -1] *= ((NOW_US - START_US) % WEEK_US) / WEEK_US  # the week so far
    rate *= (rng.lognormal(0.0, 1.0, accounts) / rate.sum(axis=1))[:, None]
    share = (rate / rate.sum()).ravel()
    counts = rng.multinomial(events, share).reshape(accounts, WEEKS)
    users = np.clip(np.rint(np.exp(rng.normal(2.3, 0.9, accounts))), 3, 400).astype(np.int64)
    return _Plan(counts=counts, users=users, start=start)


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _rows(
    rng: np.random.Generator, plan: _Plan, account: np.ndarray, ts: np.ndarray, prefix: str
) -> pa.Table:
    """Rows for the given accounts (0-based) and times (µs), numbered from prefix."""
    n = len(account)
    event = rng.choice(len(EVENTS), n, p=SHARES)
    user = (plan.users[account] * rng.random(n) ** 2).astype(np.int64)
    ids = account + 1
    text_ids = _text(ids)
    props = pa.nulls(n, pa.string())
    for i, name in enumerate(EVENTS):
        if name in PLAIN:
            choices = pa.array(PLAIN[name])
            pick = rng.integers(0, len(choices), n)
            props = pc.if_else(pa.array(event == i), pc.take(choices, pick), props)
    auto = np.flatnonzero(event == AUTOMATION)
    kind = rng.choice(len(HEADS), len(auto), p=KIND_SHARES)
    value = _text(rng.integers(1, 80, len(auto)) / 2)
    value = pc.if_else(pa.array(kind >= 3), "", value)
    built = pc.binary_join_element_wise(
        pc.take(pa.array(HEADS), kind),
        value,
        pc.take(pa.array(MIDS), kind),
        '"workflow": "w',
        _text(rng.integers(1, 20, len(auto))),
        '"}',
        "",
    )
    mask = np.zeros(n, dtype=bool)
    mask[auto] = True
    props = pc.replace_with_mask(props, pa.array(mask), built)
    return pa.table(
        {
            "message_id": pc.binary_join_element_wise(prefix, _text(np.arange(n)), ""),
            "account_id": pa.array(ids, pa.int64()),
            "user_id": pc.binary_join_element_wise("u", text_ids, ".", _text(user), ""),
            "event": pc.take(pa.array(EVENTS), event),
            "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "properties": props,
        },
        schema=SCHEMA,
    )


def _write_events(rng: np.random.Generator, plan: _Plan, path: Path, say) -> None:
    accounts = np.arange(plan.counts.shape[0])
    written = 0
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
        for week in range(WEEKS):
            account = np.repeat(accounts, plan.counts[:, week])
            begin = START_US + week * WEEK_US
            length = min(WEEK_US, NOW_US - begin)
            ts = begin + (rng.random(len(account)) * length).astype(np.int64)
            order = np.argsort(ts, kind="stable")
            rows = _rows(rng, plan, account[order], ts[order], f"e{week:03d}-")
            writer.write_table(rows, row_group_size=rows.num_rows or 1)
            written += rows.num_rows
            if week % 10 == 9 or week == WEEKS - 1:
                say(f"  generated week {week + 1}/{WEEKS}: {written:,} events")
    tmp.rename(path)


def _write_new(rng: np.random.Generator, plan: _Plan, path: Path, total: int) -> None:
    """1% more events: 95% between NOW and LATER from the accounts active last week, 5% late
    (in the two weeks before NOW) from 1% of the accounts."""
    recent = plan.counts[:, -1].astype(np.float64)
    late_n = total // 20
    on_time = rng.choice(len(recent), total - late_n, p=recent / recent.sum())
    on_time_ts = NOW_US + (rng.random(len(on_time)) * (LATER_US - NOW_US)).astype(np.int64)
    active = np.flatnonzero(plan.counts[:, -4:].sum(axis=1) > 0)
    late_accounts = rng.choice(active, max(1, len(recent) // 100), replace=False)
    late = rng.choice(late_accounts, late_n)
    late_ts = NOW_US - (rng.random(late_n) * 14 * 86_400e6).astype(np.int64) - 1
    account = np.concatenate([on_time, late])
    ts = np.concatenate([on_time_ts, late_ts])
    order = np.argsort(ts, kind="stable")
    pq.write_table(_rows(rng, plan, account[order], ts[order], "n-"), path, compression="zstd")


def _write_goals(rng: np.random.Generator, data: DataSet) -> None:
    n = max(1, data.accounts // 10)
    account = np.sort(rng.choice(data.accounts, n, replace=False)) + 1
    kind = rng.integers(0, len(GOAL_KINDS), n)
    target = [GOAL_KINDS[k][2][j] for k, j in zip(kind, rng.integers(0, 4, n), strict=True)]
    span = NOW_US - START_US - 4 * WEEK_US
    starts = START_US + (rng.random(n) * span).astype(np.int64) // 1_000_000 * 1_000_000
    table = pa.table(
        {
            "goal_id": pa.array(np.arange(1, n + 1), pa.int64()),
            "account_id": pa.array(account, pa.int64()),
            "event": [GOAL_KINDS[k][0] for k in kind],
            "measure": [GOAL_KINDS[k][1] for k in kind],
            "target": pa.array(target, pa.float64()),
            "starts_at": pa.array(starts, pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, data.goals_path)


def _write_accounts(plan: _Plan, path: Path) -> None:
    rng = np.random.default_rng(0)
    before = rng.integers(30, 900, len(plan.start))
    days = plan.start * 7 - before
    since = np.datetime64(START.date()) + days.astype("timedelta64[D]")
    table = pa.table(
        {
            "account_id": pa.array(np.arange(1, len(plan.start) + 1), pa.int64()),
            "customer_since": pa.array(since, pa.date32()),
        }
    )
    pq.write_table(table, path)
