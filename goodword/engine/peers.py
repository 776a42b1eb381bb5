"""Whom to ask for: prospects an advocate is likely to know, ranked, each with its reasons in
plain words. Values in, values out; `now` never read.

Three sources, strongest first:

- relationship: the advocate used to work at the prospect (3 points), or someone at the
  prospect used to work at the advocate's company (2.5);
- mention: the advocate's account named the prospect in a message, ticket or call note
  (2 points, plus up to 0.5 for a mention today, fading to nothing over a year);
- lookalike: a prospect like the advocate's company, 0 to 1 point: industry 0.4, same size
  band 0.25 (or the next band 0.1), country 0.2, and product usage up to 0.15 when the
  advocate's success came from usage. A lookalike needs 0.3 at least: a shared country
  alone says little.

One suggestion per prospect: within a source the best score counts (two people who once
worked at the advocate's company do not make the prospect twice as likely), across sources
the scores add up (being named by the advocate and looking alike are separate evidence).

The lookalikes are ranked over a columnar index of all prospects built once (numpy arrays of
codes), so an ask costs a few vector operations over a million rows and a partial sort.
Similarity is counted in whole points (1,000 = 1.0) so that ties are exact and broken the same
way everywhere: the lower account id first. Prospects changed since the build are applied
over the index (`index_update`) rather than building it again.

The people who once worked at a company are found in an index of everyone's past employers
(`PastEmployers`), without reading every person's list.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

RELATIONSHIP = "relationship"
MENTION = "mention"
LOOKALIKE = "lookalike"
KINDS = (RELATIONSHIP, MENTION, LOOKALIKE)  # strongest first

ADVOCATE_WORKED_THERE = 3.0
ALUMNUS_THERE = 2.5
MENTION_BASE = 2.0
MENTION_RECENCY = 0.5
MENTION_FADES_DAYS = 365

# Lookalike points (1,000 = a score of 1.0).
INDUSTRY = 400
SAME_SIZE = 250
NEAR_SIZE = 100
COUNTRY = 200
USAGE = 150
MIN_POINTS = 300
SCALE = 1000
# Usage is counted on a log scale: 1,000 events in the window is as much as counts.
USAGE_SATURATES = 1000

# Lower bounds of the size bands (staff), as company databases band them.
SIZE_BANDS = (0, 11, 51, 201, 501, 1001, 5001, 10001)
NO_CODE = -1


@dataclass
class Suggestion:
    account_id: int
    name: str  # the person to ask about, or the company when no person is known
    company: str
    kind: str  # the strongest source
    score: float
    reasons: list[str] = field(default_factory=list)
    contact_id: int | None = None


@dataclass(frozen=True)
class Profile:
    """The advocate's company as the lookalikes compare it."""

    industry: str = ""
    employees: int | None = None
    country: str = ""
    success_usage: tuple[str, ...] = ()  # the usage that made the advocate successful, in words


@dataclass(frozen=True)
class ProspectRow:
    id: int
    name: str
    industry: str
    employees: int | None
    country: str
    events: int = 0  # product events in the index's usage window


@dataclass(frozen=True, eq=False)
class ProspectIndex:
    """Prospects as columns sorted by id; codes index `industries` and `countries`."""

    ids: npt.NDArray[np.int64]
    names: npt.NDArray[np.object_]  # of str: a selection or reorder copies pointers only
    industry: npt.NDArray[np.int16]
    band: npt.NDArray[np.int8]
    country: npt.NDArray[np.int16]
    usage: npt.NDArray[np.int16]  # 0 to 1,000
    events: npt.NDArray[np.int64]
    industries: tuple[str, ...]
    countries: tuple[str, ...]
    has_usage: bool  # any prospect used the product in the window
    usage_window: str = "recently"  # how the reasons name the window of `events`

    def __len__(self) -> int:
        return int(self.ids.size)

    def position(self, account_id: int) -> int | None:
        at = int(np.searchsorted(self.ids, account_id))
        return at if at < self.ids.size and self.ids[at] == account_id else None


# --- the index ---------------------------------------------------------------------------------


def size_band(employees: int | None) -> int:
    """The size band of a head count (-1 when unknown)."""
    if employees is None or employees < 0:
        return NO_CODE
    return int(np.searchsorted(SIZE_BANDS, employees, side="right")) - 1


def band_label(band: int) -> str:
    lower = SIZE_BANDS[band]
    if band + 1 == len(SIZE_BANDS):
        return f"{lower:,}+ staff"
    return f"{max(lower, 1):,}\u2013{SIZE_BANDS[band + 1] - 1:,} staff"  # an en dash


def _key(label: str) -> str:
    return " ".join(label.casefold().split())


def _encode(
    labels: Iterable[str], known: tuple[str, ...] = ()
) -> tuple[npt.NDArray[np.int16], tuple[str, ...]]:
    """Codes for labels compared without case or spacing; the first spelling names a code.
    The `known` labels keep their codes (0, 1, …); new ones are numbered after them."""
    shown = list(known)
    table = {_key(label): code for code, label in enumerate(shown)}
    codes = []
    for label in labels:
        key = _key(label)
        if not key:
            codes.append(NO_CODE)
            continue
        code = table.get(key)
        if code is None:
            code = table[key] = len(shown)
            shown.append(" ".join(label.split()))
        codes.append(code)
    if len(shown) > np.iinfo(np.int16).max:
        raise ValueError(f"{len(shown):,} distinct labels; at most 32,767 are supported")
    return np.asarray(codes, dtype=np.int16), tuple(shown)


def usage_points(events: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """0 to 1,000 by how many events: log-scaled, full at USAGE_SATURATES."""
    counts = np.maximum(np.asarray(events, dtype=np.float64), 0)
    scaled = np.floor(SCALE * np.log1p(counts) / math.log1p(USAGE_SATURATES))
    return np.minimum(scaled, SCALE).astype(np.int16)


def index_from_columns(
    *,
    ids: npt.ArrayLike,
    names: Sequence[str],
    industries: Iterable[str],
    employees: npt.ArrayLike,
    countries: Iterable[str],
    events: npt.ArrayLike | None = None,
    usage_window: str = "recently",
) -> ProspectIndex:
    """The index of prospects given as columns (employees below 0: unknown)."""
    id_array = np.asarray(ids, dtype=np.int64)
    order = np.argsort(id_array, kind="stable")
    industry, industry_labels = _encode(industries)
    country, country_labels = _encode(countries)
    band = _bands(np.asarray(employees, dtype=np.int64))
    counts = np.zeros(id_array.size, np.int64) if events is None else np.asarray(events, np.int64)
    return ProspectIndex(
        ids=id_array[order],
        names=_strings(names)[order],
        industry=industry[order],
        band=band[order],
        country=country[order],
        usage=usage_points(counts)[order],
        events=counts[order],
        industries=industry_labels,
        countries=country_labels,
        has_usage=bool(counts.any()),
        usage_window=usage_window,
    )


_COLUMNS = ("names", "industry", "band", "country", "usage", "events")  # beside the ids


def index_update(
    index: ProspectIndex, rows: Iterable[ProspectRow], *, remove_ids: Iterable[int] = ()
) -> ProspectIndex:
    """The index with `rows` (of distinct ids) put in, replacing the rows of their ids, and
    the prospects of `remove_ids` taken out: what a build from the changed records would
    give, at the cost of a copy or two of the columns instead of reading every prospect. A
    changed prospect is written over its row; only prospects added or removed reshape the
    columns, and new ids above the rest (as new records have) are appended, not sorted."""
    fresh = list(rows)
    ids = np.fromiter((r.id for r in fresh), dtype=np.int64, count=len(fresh))
    industry, industries = _encode((r.industry for r in fresh), index.industries)
    country, countries = _encode((r.country for r in fresh), index.countries)
    staff = np.asarray([-1 if r.employees is None else r.employees for r in fresh], np.int64)
    events = np.asarray([r.events for r in fresh], np.int64)
    values: dict[str, npt.NDArray[Any]] = {
        "names": _strings([r.name for r in fresh]),
        "industry": industry,
        "band": _bands(staff),
        "country": country,
        "usage": usage_points(events),
        "events": events,
    }
    at = np.searchsorted(index.ids, ids)
    there = at < len(index)
    there[there] = index.ids[at[there]] == ids[there]
    columns = {name: getattr(index, name).copy() for name in _COLUMNS}
    for name, column in columns.items():
        column[at[there]] = values[name][there]
    out = index.ids
    gone = np.isin(index.ids, np.setdiff1d(np.fromiter(remove_ids, dtype=np.int64), ids))
    if gone.any():
        out = out[~gone]
        columns = {name: column[~gone] for name, column in columns.items()}
    added = ~there
    if added.any():
        order = np.argsort(ids[added], kind="stable")
        new_ids = ids[added][order]
        appended = not out.size or new_ids[0] > out[-1]
        out = np.concatenate([out, new_ids])
        columns = {
            name: np.concatenate([column, values[name][added][order]])
            for name, column in columns.items()
        }
        if not appended:
            order = np.argsort(out, kind="stable")  # two sorted runs: a merge
            out = out[order]
            columns = {name: column[order] for name, column in columns.items()}
    return ProspectIndex(
        ids=out,
        **columns,
        industries=industries,
        countries=countries,
        has_usage=bool(columns["events"].any()),
        usage_window=index.usage_window,
    )


def _strings(values: Sequence[str]) -> npt.NDArray[np.object_]:
    found = np.empty(len(values), dtype=object)
    found[:] = values  # element by element: numpy would read a list of tuples as a table
    return found


def _bands(staff: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
    band = (np.searchsorted(SIZE_BANDS, staff, side="right") - 1).astype(np.int8)
    band[staff < 0] = NO_CODE
    return band


def build_index(rows: Iterable[ProspectRow], *, usage_window: str = "recently") -> ProspectIndex:
    """The index of prospects given as rows."""
    listed = list(rows)
    return index_from_columns(
        ids=[r.id for r in listed],
        names=[r.name for r in listed],
        industries=[r.industry for r in listed],
        employees=[-1 if r.employees is None else r.employees for r in listed],
        countries=[r.country for r in listed],
        events=[r.events for r in listed],
        usage_window=usage_window,
    )


# --- lookalikes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """The advocate's profile in the index's codes (-1: not compared)."""

    industry: int
    band: int
    country: int
    usage: bool
    band_points: npt.NDArray[np.int16]  # by a prospect's band; the last entry for "unknown"


def _code(labels: tuple[str, ...], label: str) -> int:
    key = _key(label)
    return (
        next((i for i, shown in enumerate(labels) if _key(shown) == key), NO_CODE)
        if key
        else NO_CODE
    )


def _target(index: ProspectIndex, profile: Profile) -> _Target:
    band = size_band(profile.employees)
    band_points = np.zeros(len(SIZE_BANDS) + 1, np.int16)
    if band != NO_CODE:
        band_points[band] = SAME_SIZE
        for near in (band - 1, band + 1):
            if 0 <= near < len(SIZE_BANDS):
                band_points[near] = NEAR_SIZE
    return _Target(
        industry=_code(index.industries, profile.industry),
        band=band,
        country=_code(index.countries, profile.country),
        usage=bool(profile.success_usage) and index.has_usage,
        band_points=band_points,
    )


def _points(index: ProspectIndex, target: _Target, at: slice) -> npt.NDArray[np.int32]:
    """Similarity points of the prospects at `at` (an advocate's unknown field adds none)."""
    points = target.band_points[index.band[at]].astype(np.int32)  # band -1 reads the last entry
    # Adding products of the comparisons: several times faster than masked increments.
    if target.industry != NO_CODE:
        points += np.multiply(index.industry[at] == target.industry, INDUSTRY, dtype=np.int32)
    if target.country != NO_CODE:
        points += np.multiply(index.country[at] == target.country, COUNTRY, dtype=np.int32)
    if target.usage:
        points += index.usage[at].astype(np.int32) * USAGE // SCALE
    return points


def _exclude(index: ProspectIndex, points: npt.NDArray[np.int32], ids: Iterable[int]) -> None:
    wanted = np.fromiter(ids, dtype=np.int64)
    if not wanted.size:
        return
    at = np.minimum(np.searchsorted(index.ids, wanted), index.ids.size - 1)
    points[at[index.ids[at] == wanted]] = -1


def _top(points: npt.NDArray[np.int32], limit: int) -> npt.NDArray[np.intp]:
    """Positions of the `limit` best scores of at least MIN_POINTS, best first; equal points
    go to the lower position (the lower id). One integer key per row makes ties exact."""
    positions = np.flatnonzero(points >= MIN_POINTS)
    n = points.size
    keys = points[positions].astype(np.int64) * n + (n - 1 - positions)
    if keys.size > limit:
        chosen = np.argpartition(-keys, limit - 1)[:limit]
        positions, keys = positions[chosen], keys[chosen]
    return positions[np.argsort(-keys, kind="stable")]


def rank(
    index: ProspectIndex, profile: Profile, *, exclude_ids: Iterable[int] = (), limit: int = 10
) -> list[Suggestion]:
    """The `limit` prospects most like the advocate's company, best first, with reasons;
    prospects in `exclude_ids` and below MIN_POINTS left out."""
    if limit <= 0 or not len(index):
        return []
    target = _target(index, profile)
    points = _points(index, target, slice(None))
    _exclude(index, points, exclude_ids)
    return [
        _lookalike(index, profile, target, at, int(points[at]))
        for at in _top(points, limit).tolist()
    ]


def lookalike(index: ProspectIndex, profile: Profile, account_id: int) -> Suggestion | None:
    """One prospect's lookalike suggestion (None when it is not in the index or not alike
    enough): for a prospect another source found, whose likeness adds to its score."""
    at = index.position(account_id)
    if at is None:
        return None
    target = _target(index, profile)
    points = int(_points(index, target, slice(at, at + 1))[0])
    return _lookalike(index, profile, target, at, points) if points >= MIN_POINTS else None


def _lookalike(
    index: ProspectIndex, profile: Profile, target: _Target, at: int, points: int
) -> Suggestion:
    name = str(index.names[at])
    reasons = [_likeness(index, target, at)]
    if profile.success_usage:
        reasons.append(_usage_reason(index, profile, at))
    return Suggestion(int(index.ids[at]), name, name, LOOKALIKE, points / SCALE, reasons)


def _likeness(index: ProspectIndex, target: _Target, at: int) -> str:
    parts = []
    if target.industry != NO_CODE and index.industry[at] == target.industry:
        parts.append(f"same industry ({index.industries[target.industry]})")
    band = int(index.band[at])
    if band != NO_CODE and band == target.band:
        parts.append(f"same size ({band_label(band)})")
    elif band != NO_CODE and target.band != NO_CODE and abs(band - target.band) == 1:
        ours = band_label(target.band)
        parts.append(f"similar size ({band_label(band)}; your advocate's company: {ours})")
    if target.country != NO_CODE and index.country[at] == target.country:
        parts.append(f"same country ({index.countries[target.country]})")
    return ", ".join(parts)


def _usage_reason(index: ProspectIndex, profile: Profile, at: int) -> str:
    what = " and ".join(profile.success_usage)
    if not index.has_usage:
        return (
            f"product usage not compared: no prospect has used the product "
            f"{index.usage_window} (your advocate's success came from {what})"
        )
    events = int(index.events[at])
    if not events:
        return f"no product usage {index.usage_window} (your advocate's success came from {what})"
    return (
        f"already using the product: {events:,} events {index.usage_window} "
        f"(your advocate's success came from {what})"
    )


# --- past employers ----------------------------------------------------------------------------


def employer_key(domain: object) -> str:
    """A past employer's domain as it is compared: without surrounding spaces or case."""
    return str(domain).strip().lower()


@dataclass(frozen=True, eq=False)
class PastEmployers:
    """People by the company domains they list as past employers, for finding everyone who
    once worked at one company without reading every person: one row per (domain, person),
    the domain as its hash, sorted. Hashes are Python's, so an index serves the process that
    built it; two domains may share one, so a lookup gives candidates to check."""

    keys: npt.NDArray[np.int64]
    people: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.keys.size)

    def listing(self, domain: str) -> list[int]:
        """The people who may list `domain` (ids, ascending): a superset of those who do."""
        key = employer_key(domain)
        if not key:
            return []
        at = np.searchsorted(self.keys, hash(key), side="left")
        end = np.searchsorted(self.keys, hash(key), side="right")
        return [int(pk) for pk in self.people[at:end].tolist()]


def past_employers_index(rows: Iterable[tuple[int, object]]) -> PastEmployers:
    """The index of (person id, past employers) rows; a list's blank and repeated entries
    count once or not at all, and a value that is not a list of domains is left out."""
    keys: array[int] = array("q")
    people: array[int] = array("q")
    for person, listed in rows:
        domains = [listed] if isinstance(listed, str) else listed
        if not isinstance(domains, list | tuple):
            continue
        for key in {employer_key(d) for d in domains if isinstance(d, str)} - {""}:
            keys.append(hash(key))
            people.append(person)
    key_array = np.frombuffer(keys, dtype=np.int64) if keys else np.zeros(0, np.int64)
    person_array = np.frombuffer(people, dtype=np.int64) if people else np.zeros(0, np.int64)
    order = np.lexsort((person_array, key_array))
    return PastEmployers(key_array[order], person_array[order])


# --- mentions and merging ----------------------------------------------------------------------


def mention_score(age_days: float) -> float:
    """A mention's score: MENTION_BASE, plus MENTION_RECENCY for one made today, fading
    linearly to nothing at MENTION_FADES_DAYS."""
    fresh = max(0.0, 1.0 - max(age_days, 0.0) / MENTION_FADES_DAYS)
    return round(MENTION_BASE + MENTION_RECENCY * fresh, 3)


def merge(items: Iterable[Suggestion], *, limit: int | None = None) -> list[Suggestion]:
    """One suggestion per prospect, best first: the best score of each source, added up over
    the sources; the reasons of all, strongest source first, each once. The person named is
    the first one any source named (else the company); the kind is the strongest source.
    Ties: the stronger kind, then the name, then the lower account id."""
    groups: dict[int, list[Suggestion]] = {}
    for item in items:
        groups.setdefault(item.account_id, []).append(item)
    merged = sorted((_combine(group) for group in groups.values()), key=_order)
    return merged if limit is None else merged[: max(limit, 0)]


def _combine(group: list[Suggestion]) -> Suggestion:
    group = sorted(group, key=lambda s: KINDS.index(s.kind))  # stable: input order kept
    best: dict[str, float] = {}
    for item in group:
        best[item.kind] = max(best.get(item.kind, item.score), item.score)
    person = next((s for s in group if s.contact_id is not None), group[0])
    return Suggestion(
        account_id=group[0].account_id,
        name=person.name,
        company=person.company or group[0].company,
        kind=group[0].kind,
        score=round(sum(best.values()), 3),
        reasons=list(dict.fromkeys(r for s in group for r in s.reasons)),
        contact_id=person.contact_id,
    )


def _order(item: Suggestion) -> tuple[float, int, str, int]:
    return (-item.score, KINDS.index(item.kind), item.name.casefold(), item.account_id)
