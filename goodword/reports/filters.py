"""The filters every report takes (date range, team, owner, industry, size band, source), read
from a query string, the API or the command line, and the deals they leave to a user: only
deals the user may see (crm.selectors.deals_visible_to), so a rep's reports cover their own
deals and accounts, a manager's or an admin's everyone's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

from django.db.models import Q, QuerySet

from goodword.crm.models import Deal, DealSource, Stage
from goodword.crm.selectors import _sees_all, deals_visible_to
from goodword.engine.peers import SIZE_BANDS
from goodword.lib.errors import Invalid

if TYPE_CHECKING:
    from goodword.users.models import User

DEFAULT_MONTHS = 12  # without a start date, a report covers this many months to its end


def _bands() -> dict[str, tuple[int, int | None]]:
    bands: dict[str, tuple[int, int | None]] = {}
    for i, lower in enumerate(SIZE_BANDS):
        if i + 1 == len(SIZE_BANDS):
            bands[f"{lower}+"] = (lower, None)
        else:
            bands[f"{max(lower, 1)}-{SIZE_BANDS[i + 1] - 1}"] = (lower, SIZE_BANDS[i + 1] - 1)
    return bands


SIZE_BAND_CHOICES = _bands()  # "11-50" → (11, 50) staff; "10001+" → (10001, None)
SizeBand = Literal[
    "1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+"
]
assert get_args(SizeBand) == tuple(SIZE_BAND_CHOICES), "SizeBand must name the bands"


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    team: int | None = None
    owner: int | None = None
    industry: str = ""
    size: str = ""  # a key of SIZE_BAND_CHOICES
    source: str = ""  # a DealSource value

    def period(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """The first and last day covered: the dates given, else DEFAULT_MONTHS months to
        `today` (from the first of the month DEFAULT_MONTHS - 1 months back)."""
        end = self.date_to or today
        if self.date_from is not None:
            return self.date_from, end
        month = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
        return dt.date(month // 12, month % 12 + 1, 1), end

    def as_dict(self) -> dict[str, Any]:
        """The filters given, as strings (for links, CSV names and the JSON answer)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, ""):
                out[f.name] = value.isoformat() if isinstance(value, dt.date) else value
        return out


FILTER_FIELDS = tuple(f.name for f in fields(Filters))
ALIASES = {"from": "date_from", "to": "date_to"}  # the query string's and the CLI's names


def filters_parse(data: Mapping[str, Any]) -> Filters:
    """Filters from strings (`from`/`to` or `date_from`/`date_to`, ISO dates; team and owner
    ids; industry; size band such as "51-200"; source). Raises Invalid naming each bad field;
    unknown names are ignored (a page's other parameters)."""
    from goodword.users.models import Team, User

    raw = {ALIASES.get(k, k): str(v).strip() for k, v in data.items() if v not in (None, "")}
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("date_from", "date_to"):
        if raw.get(name):
            try:
                values[name] = dt.date.fromisoformat(raw[name])
            except ValueError:
                errors[name] = [f"{raw[name]!r} is not a date (YYYY-MM-DD)"]
    for name, model in (("team", Team), ("owner", User)):
        if raw.get(name):
            pk = int(raw[name]) if raw[name].isdigit() else None
            if pk is None or not model.objects.filter(pk=pk).exists():
                errors[name] = [f"no {name} with id {raw[name]!r}"]
            else:
                values[name] = pk
    if raw.get("size"):
        if raw["size"] not in SIZE_BAND_CHOICES:
            errors["size"] = [f"one of {', '.join(SIZE_BAND_CHOICES)}"]
        else:
            values["size"] = raw["size"]
    if raw.get("source"):
        if raw["source"] not in DealSource.values:
            errors["source"] = [f"one of {', '.join(DealSource.values)}"]
        else:
            values["source"] = raw["source"]
    if raw.get("industry"):
        values["industry"] = raw["industry"]
    start, end = values.get("date_from"), values.get("date_to")
    if start is not None and end is not None and start > end:
        errors["date_to"] = ["is before the start date"]
    if errors:
        raise Invalid(errors)
    return Filters(**values)


def sees_all(user: User | None) -> bool:
    """Whether the reports cover everyone's records for `user`: the command line (None), and
    whoever crm.selectors lets see every record. The reports then add no visibility
    condition at all, not even one every row passes."""
    return user is None or _sees_all(user)


def deals_for(user: User | None, filters: Filters) -> QuerySet[Deal]:
    """The deals `user` may see (every deal for None: the command line, run by whoever holds
    the database) that match every filter but the dates (each report says which date the
    range applies to)."""
    deals = Deal.objects.all() if user is None else deals_visible_to(user)
    rule = deals_rule(filters)
    return deals.filter(rule) if rule else deals


def deals_rule(filters: Filters, prefix: str = "") -> Q:
    """Every filter but the dates as a condition on a deal, reached through `prefix` from
    another model ("deal__" from a credit), so a query can join the deal rather than test
    it against a subquery."""
    rule = Q()
    if filters.team is not None:
        rule &= Q(**{f"{prefix}owner__team_id": filters.team})
    if filters.owner is not None:
        rule &= Q(**{f"{prefix}owner_id": filters.owner})
    if filters.industry:
        rule &= Q(**{f"{prefix}account__industry__iexact": filters.industry})
    if filters.size:
        lower, upper = SIZE_BAND_CHOICES[filters.size]
        rule &= Q(**{f"{prefix}account__employees__gte": lower})
        if upper is not None:
            rule &= Q(**{f"{prefix}account__employees__lte": upper})
    if filters.source:
        rule &= Q(**{f"{prefix}source": filters.source})
    return rule


def stage_ids(*, won: bool = False, lost: bool = False) -> list[int]:
    """The stages that are won (won=True), lost (lost=True) or open (neither). The reports
    test a deal's stage_id against this list rather than join the stages: the planner then
    knows how many deals match (PostgreSQL misjudged a join on is_won by 3.5x, at a million
    deals, and read the table instead of an index) and SQLite looks up no stage per row."""
    return list(Stage.objects.filter(is_won=won, is_lost=lost).values_list("pk", flat=True))
