"""Whom-to-ask-for benchmark: ranking the lookalikes of an ask among a million prospects with
goodword.engine.peers, against pandas and hand-written DuckDB SQL scoring the same features
in the same run.

    ./dev bench peers [--prospects 1000000] [--asks 200] [--limit 10] [--seed 1]
                      [--skip-pandas] [--skip-duckdb] [--skip-mentions]

The prospects are generated as columns, no database: names and industries as the demo names
companies (goodword.demo.plan.company: "Bluestone Analytics", the trade word naming the
industry), head counts log-normal around 150 (2 to 250,000), countries weighted as the demo's,
and gaps as real CRMs have them (4% without an industry, 8% without a head count, 3% without a
country); 2% of them tried the product (log-normal event counts). Each of the asks is a
customer profile drawn the same way, six in ten of them successful through usage, with 15
prospects excluded (those its relationships and mentions already named).

The index is built once from the columns (its time reported apart), then every ask is ranked
by `peers.rank` (top --limit, with the reasons) and by each baseline; their (id, points) lists
must be equal for every ask, or the benchmark stops. Baselines: pandas on a frame of the
same prepared columns (casefolded industry, size band, country, usage points), scoring with
vectorised column expressions and `nlargest(keep="all")` before the tie-break by id; DuckDB
SQL over the same columns in an in-memory table, ORDER BY points DESC, id LIMIT k. Each runs
3 warm-up asks first. --skip-mentions leaves out timing the mention finder
(engine.companies.Mentions) over every prospect's name, which whom-to-ask-for keeps beside
the index.

Figures go to bench/results/peers-<time>.json. Target: p95 under 100 ms per ask.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from bench.timing import percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P95_MS = 100.0
WARM_UP = 3
EXCLUDED_PER_ASK = 15
Ranked = list[tuple[int, int]]  # (account id, points) best first


@dataclass(frozen=True)
class Columns:
    ids: np.ndarray
    names: list[str]
    industries: list[str]
    employees: np.ndarray  # -1: unknown
    countries: list[str]
    events: np.ndarray


@dataclass(frozen=True)
class Ask:
    profile: Any  # engine.peers.Profile
    exclude: list[int]


# --- data -------------------------------------------------------------------------------------


def _head_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    staff = np.clip(rng.lognormal(math.log(150), 1.5, n), 2, 250_000).astype(np.int64)
    staff[rng.random(n) < 0.08] = -1
    return staff


def _countries(rng: np.random.Generator, n: int) -> list[str]:
    from goodword.demo import names

    codes = [c[0] for c in names.COUNTRIES]
    cumulative = np.array(list(accumulate(c[1] for c in names.COUNTRIES)), dtype=np.float64)
    picks = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    blank = rng.random(n) < 0.03
    return ["" if gap else codes[i] for i, gap in zip(picks.tolist(), blank.tolist(), strict=True)]


def generate(n: int, seed: int) -> Columns:
    from goodword.demo.plan import company

    rng = np.random.default_rng(seed)
    firms = [company(seed, i) for i in range(n)]
    no_industry = rng.random(n) < 0.04
    trying = rng.random(n) < 0.02
    events = np.where(trying, np.ceil(rng.lognormal(math.log(60), 1.2, n)), 0).astype(np.int64)
    return Columns(
        ids=rng.permutation(n).astype(np.int64) * 3 + 1000,  # gaps and disorder, as ids have
        names=[f.name for f in firms],
        industries=["" if gap else f.industry for f, gap in zip(firms, no_industry, strict=True)],
        employees=_head_counts(rng, n),
        countries=_countries(rng, n),
        events=events,
    )


def make_asks(columns: Columns, count: int, seed: int) -> list[Ask]:
    from goodword.engine.peers import Profile

    rng = np.random.default_rng(seed + 1)
    industries = sorted({i for i in columns.industries if i})
    staff = _head_counts(rng, count)
    countries = _countries(rng, count)
    asks = []
    for i in range(count):
        usage = ("report created milestones",) if rng.random() < 0.6 else ()
        profile = Profile(
            industry=str(rng.choice(industries)),
            employees=None if staff[i] < 0 else int(staff[i]),
            country=countries[i],
            success_usage=usage,
        )
        exclude = rng.choice(columns.ids, EXCLUDED_PER_ASK, replace=False).tolist()
        asks.append(Ask(profile, exclude))
    return asks


# --- the engine and the baselines -------------------------------------------------------------


def engine_ranker(columns: Columns, limit: int) -> tuple[Callable[[Ask], Ranked], Any]:
    from goodword.engine import peers

    index = peers.index_from_columns(
        ids=columns.ids,
        names=columns.names,
        industries=columns.industries,
        employees=columns.employees,
        countries=columns.countries,
        events=columns.events,
        usage_window="in the last 8 weeks",
    )

    def rank(ask: Ask) -> Ranked:
        found = peers.rank(index, ask.profile, exclude_ids=ask.exclude, limit=limit)
        return [(s.account_id, round(s.score * peers.SCALE)) for s in found]

    return rank, index


def _prepared(columns: Columns) -> dict[str, Any]:
    """The baselines' columns: what the index holds, as plain values."""
    from goodword.engine import peers

    staff = columns.employees
    band = np.searchsorted(peers.SIZE_BANDS, staff, side="right") - 1
    band[staff < 0] = -1
    usage = np.minimum(np.floor(1000 * np.log1p(columns.events) / math.log1p(1000)), 1000)
    return {
        "id": columns.ids,
        "industry": [" ".join(i.casefold().split()) for i in columns.industries],
        "band": band.astype(np.int64),
        "country": columns.countries,
        "usage": usage.astype(np.int64),
    }


def _wanted(ask: Ask, has_usage: bool) -> tuple[str, int, str, bool]:
    from goodword.engine import peers

    profile = ask.profile
    industry = " ".join(profile.industry.casefold().split())
    usage = bool(profile.success_usage) and has_usage
    return industry, peers.size_band(profile.employees), profile.country, usage


def pandas_ranker(columns: Columns, limit: int) -> Callable[[Ask], Ranked]:
    import pandas as pd

    from goodword.engine import peers

    frame = pd.DataFrame(_prepared(columns))
    has_usage = bool(columns.events.any())

    def rank(ask: Ask) -> Ranked:
        industry, band, country, usage = _wanted(ask, has_usage)
        points = pd.Series(0, index=frame.index, dtype="int64")
        if industry:
            points += (frame["industry"] == industry) * peers.INDUSTRY
        if band >= 0:
            gap = (frame["band"] - band).abs().where(frame["band"] >= 0, 99)
            points += (gap == 0) * peers.SAME_SIZE + (gap == 1) * peers.NEAR_SIZE
        if country:
            points += (frame["country"] == country) * peers.COUNTRY
        if usage:
            points += frame["usage"] * peers.USAGE // peers.SCALE
        scored = frame[["id"]].assign(points=points)
        scored = scored[(points >= peers.MIN_POINTS) & ~frame["id"].isin(ask.exclude)]
        best = scored.nlargest(limit, "points", keep="all")
        best = best.sort_values(["points", "id"], ascending=[False, True]).head(limit)
        return list(zip(best["id"].tolist(), best["points"].tolist(), strict=True))

    return rank


DUCKDB_SQL = """
SELECT id, points FROM (
    SELECT id,
        CASE WHEN $industry <> '' AND industry = $industry THEN {industry} ELSE 0 END
        + CASE WHEN $band < 0 OR band < 0 THEN 0
               WHEN band = $band THEN {same} WHEN abs(band - $band) = 1 THEN {near} ELSE 0 END
        + CASE WHEN $country <> '' AND country = $country THEN {country} ELSE 0 END
        + CASE WHEN $usage THEN usage * {usage} // {scale} ELSE 0 END AS points
    FROM prospects
    WHERE NOT list_contains($exclude, id)
)
WHERE points >= {min_points}
ORDER BY points DESC, id
LIMIT {limit}
"""


def duckdb_ranker(columns: Columns, limit: int) -> Callable[[Ask], Ranked]:
    import duckdb
    import pyarrow as pa

    from goodword.engine import peers

    con = duckdb.connect()
    con.register("staged", pa.table(_prepared(columns)))
    con.execute("CREATE TABLE prospects AS SELECT * FROM staged")
    con.unregister("staged")
    has_usage = bool(columns.events.any())
    sql = DUCKDB_SQL.format(
        industry=peers.INDUSTRY,
        same=peers.SAME_SIZE,
        near=peers.NEAR_SIZE,
        country=peers.COUNTRY,
        usage=peers.USAGE,
        scale=peers.SCALE,
        min_points=peers.MIN_POINTS,
        limit=limit,
    )

    def rank(ask: Ask) -> Ranked:
        industry, band, country, usage = _wanted(ask, has_usage)
        params = {
            "industry": industry,
            "band": band,
            "country": country,
            "usage": usage,
            "exclude": ask.exclude,
        }
        return [(int(i), int(p)) for i, p in con.execute(sql, params).fetchall()]

    return rank


# --- timing -----------------------------------------------------------------------------------


def time_asks(rank: Callable[[Ask], Ranked], asks: list[Ask]) -> tuple[list[float], list[Ranked]]:
    for ask in asks[:WARM_UP]:
        rank(ask)
    samples, results = [], []
    for ask in asks:
        started = time.perf_counter()
        results.append(rank(ask))
        samples.append((time.perf_counter() - started) * 1000)
    return samples, results


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(label: str, build: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    before, started = rss_mb(), time.perf_counter()
    built = build()
    figures = {"seconds": time.perf_counter() - started, "rss_mb": rss_mb() - before}
    print(f"  {label:<40} {figures['seconds']:7.2f} s  {figures['rss_mb']:+8.0f} MB RSS")
    return built, figures


def check_equal(name: str, expected: list[Ranked], got: list[Ranked], asks: list[Ask]) -> None:
    for i, (ours, theirs) in enumerate(zip(expected, got, strict=True)):
        if ours != theirs:
            raise SystemExit(
                f"bench: ask {i} ({asks[i].profile}) differs from {name}:\n"
                f"  engine {ours}\n  {name} {theirs}"
            )


def bench_mentions(columns: Columns) -> dict[str, float]:
    from goodword.engine.companies import Mentions

    names = dict(zip(columns.ids.tolist(), columns.names, strict=True))
    finder, figures = timed("mention finder over every name", lambda: Mentions(names))
    texts = [
        f"We told our friends at {columns.names[i * 997 % len(columns.names)]} about the "
        "rollout; their ops team struggles with the same reporting backlog we had."
        for i in range(200)
    ]
    started = time.perf_counter()
    found = sum(len(finder.find(text)) for text in texts)
    figures["find_200_texts_ms"] = (time.perf_counter() - started) * 1000
    print(f"  {'200 texts searched (' + str(found) + ' mentions)':<40} "
          f"{figures['find_200_texts_ms']:7.1f} ms")  # fmt: skip
    return figures


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"arguments": vars(args), "build": {}, "asks": {}}
    print(f"peers: {args.prospects:,} prospects, {args.asks} asks, top {args.limit}")
    columns, figures["build"]["generate"] = timed(
        "generate the columns", lambda: generate(args.prospects, args.seed)
    )
    asks = make_asks(columns, args.asks, args.seed)
    rankers: dict[str, Callable[[Ask], Ranked]] = {}
    (rankers["engine"], index), figures["build"]["engine index"] = timed(
        "engine index from the columns", lambda: engine_ranker(columns, args.limit)
    )
    figures["index_mb"] = (
        sum(
            getattr(index, name).nbytes
            for name in ("ids", "industry", "band", "country", "usage", "events")
        )
        / 1e6
    )
    if not args.skip_pandas:
        rankers["pandas"], figures["build"]["pandas frame"] = timed(
            "pandas frame", lambda: pandas_ranker(columns, args.limit)
        )
    if not args.skip_duckdb:
        rankers["duckdb"], figures["build"]["duckdb table"] = timed(
            "DuckDB table", lambda: duckdb_ranker(columns, args.limit)
        )
    if not args.skip_mentions:
        figures["build"]["mentions"] = bench_mentions(columns)
    return compare(figures, rankers, asks)


def compare(
    figures: dict[str, Any], rankers: dict[str, Callable[[Ask], Ranked]], asks: list[Ask]
) -> dict[str, Any]:
    results: dict[str, list[Ranked]] = {}
    for name, rank in rankers.items():
        samples, results[name] = time_asks(rank, asks)
        figures["asks"][name] = {
            "p50_ms": percentile(samples, 0.5),
            "p95_ms": percentile(samples, 0.95),
            "max_ms": max(samples),
        }
    for name in rankers:
        if name != "engine":
            check_equal(name, results["engine"], results[name], asks)
    engine = figures["asks"]["engine"]
    print(
        f"\nper ask ({len(asks)} asks after {WARM_UP} warm-up; target p95 < {TARGET_P95_MS:.0f} ms)"
    )
    print(f"  {'ranker':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  {'p50 / engine':>12}")
    for name, f in figures["asks"].items():
        ratio = f["p50_ms"] / engine["p50_ms"]
        print(
            f"  {name:<10} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} {f['max_ms']:8.1f}  {ratio:12.1f}"
        )
    print(f"  results equal to every baseline's top {figures['arguments']['limit']}: yes")
    figures["target_met"] = engine["p95_ms"] < TARGET_P95_MS
    print(f"  engine p95 {engine['p95_ms']:.1f} ms: {'met' if figures['target_met'] else 'MISSED'}")
    return figures


def _commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--skip-mentions", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args)
    figures["commit"] = _commit()
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    figures["at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"peers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"figures written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
