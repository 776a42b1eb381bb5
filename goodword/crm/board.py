"""The deals board's columns: per stage, its count, per-currency totals and newest cards, and
each card's HTML.

A board renders up to BOARD_CARDS cards in each of a dozen columns, so cards are read as
value rows (no model instances) and their HTML is built here with every value escaped: the
template engine's cost per variable was most of the page's time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import connection
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils.safestring import SafeString, mark_safe

from goodword.crm import selectors
from goodword.crm.models import Deal, DealSource, Stage

if TYPE_CHECKING:
    from goodword.users.models import User

BOARD_CARDS = 20  # per column; "n more" links to the filtered table
CLOSED_WINDOW_DAYS = 90
WINDOW_LIMIT = 20_000  # board deals numbered by a window function rather than per stage

SOURCES = dict(DealSource.choices)


@dataclass
class CurrencyTotal:
    currency: str
    total: Decimal
    weighted: Decimal


class Card(NamedTuple):
    pk: int
    name: str
    account_id: int
    account: str
    amount: Decimal
    currency: str
    source: str
    owner: str | None
    close_date: dt.date | None
    stage_id: int
    created_at: dt.datetime  # selected because a UNION's parts may order only by their columns


CARD_FIELDS = [
    "pk",
    "name",
    "account_id",
    "account__name",
    "amount",
    "currency",
    "source",
    "owner__email",
    "close_date",
    "stage_id",
    "created_at",
]


@dataclass
class Column:
    stage: Stage
    count: int = 0
    totals: list[CurrencyTotal] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    card_html: list[SafeString] = field(default_factory=list)
    move_options: str = ""

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


def since(now: dt.datetime) -> dt.datetime:
    """Closed columns show deals closed on or after this UTC midnight: board totals are kept
    per UTC day (see DealTotal)."""
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=CLOSED_WINDOW_DAYS)).date()
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def columns(
    user: User, *, since: dt.datetime, owner: User | None = None, source: str = "", kind: str = ""
) -> list[Column]:
    """One column per stage, with its count, per-currency totals and newest cards."""
    stages = list(selectors.stages_list())
    by_stage = {s.pk: Column(stage=s, move_options=_move_options(stages, s)) for s in stages}
    filters: dict[str, Any] = {"owner": owner, "source": source, "kind": kind}
    for total in selectors.deal_board_totals(user, stages=stages, since=since, **filters):
        column = by_stage[total.stage_id]
        weighted = (total.amount * column.stage.probability / 100).quantize(Decimal("0.01"))
        column.count += total.deals
        column.totals.append(CurrencyTotal(total.currency, total.amount, weighted))
    deals = selectors.deals_on_board(user, **filters)
    _fill_cards(deals, [c for c in by_stage.values() if c.count], since)
    return list(by_stage.values())


def _move_options(stages: list[Stage], current: Stage) -> SafeString:
    """The stage picker's <option>s, once per column rather than once per card."""
    return mark_safe(  # noqa: S308 - every value is escaped
        "".join(
            f'<option value="{s.pk}"{" selected" if s.pk == current.pk else ""}>'
            f"{escape(s.name)}</option>"
            for s in stages
        )
    )


def _on_board(deals: QuerySet[Deal], stage: Stage, since: dt.datetime) -> QuerySet[Deal]:
    """A column's deals: all of an open stage, or those of a closed stage closed since `since`
    (said per stage, so that an index on (stage, closed_at) or (stage, created_at) serves)."""
    qs = deals.filter(stage_id=stage.pk)
    return qs.filter(closed_at__gte=since) if stage.is_closed else qs


def _fill_cards(deals: QuerySet[Deal], columns: list[Column], since: dt.datetime) -> None:
    """Each column's newest cards in one query. A few thousand deals on the board (a rep's,
    or a filtered board) are numbered per stage by a window function; beyond that, a UNION
    ALL of per-stage LIMIT queries walks an index on (stage, created_at) instead of sorting."""
    if not columns:
        return
    by_stage = {c.stage.pk: c for c in columns}
    newest = [F("created_at").desc(), F("id").desc()]
    rows: Iterable[tuple[Any, ...]]
    if sum(c.count for c in columns) <= WINDOW_LIMIT:
        on_board = Q()
        for c in columns:
            on_board |= Q(
                stage_id=c.stage.pk, **({"closed_at__gte": since} if c.stage.is_closed else {})
            )
        rank = Window(RowNumber(), partition_by=[F("stage_id")], order_by=newest)
        rows = (
            deals.filter(on_board)
            .annotate(rank=rank)
            .filter(rank__lte=BOARD_CARDS)
            .order_by(*newest)
            .values_list(*CARD_FIELDS)
        )
    else:
        parts = [
            _on_board(deals, c.stage, since)
            .order_by(*newest)
            .values_list(*CARD_FIELDS)[:BOARD_CARDS]
            for c in columns
        ]
        if connection.features.supports_slicing_ordering_in_compound and len(parts) > 1:
            rows = parts[0].union(*parts[1:], all=True)
        else:  # SQLite: one query per column
            rows = [row for part in parts for row in part]
    for row in rows:
        card = Card(*row)
        by_stage[card.stage_id].cards.append(card)


_CARD = (
    '<article class="deal-card" id="deal-{pk}">'
    '<a href="{deals}{pk}/" class="strong">{name}</a>'
    '<p class="muted small"><a href="{accounts}{account_id}/">{account}</a></p>'
    '<p class="amount">{amount} <span class="muted">{currency}</span> '
    '<span class="tag">{source}</span></p>'
    '<p class="muted small">{owner}{closes}</p>'
    '<form method="post" action="{deals}{pk}/move/" class="move inline" '
    'hx-post="{deals}{pk}/move/" hx-trigger="change" hx-target="#board" hx-select="#board" '
    'hx-swap="outerHTML">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">'
    '<input type="hidden" name="next" value="{here}">'
    '<label class="sr-only" for="stage-{pk}">Stage of {name}</label>'
    '<select name="stage" id="stage-{pk}" class="small">{options}</select>'
    '<noscript><button type="submit" class="small">Move</button></noscript>'
    "</form></article>"
)


def render_cards(columns: list[Column], links: dict[str, str]) -> None:
    """Each card's HTML. Every text value goes through html.escape (quotes included); ids
    and the formatted amount are ours; the links and options are escaped once per board."""
    safe_links = {name: escape(value) for name, value in links.items()}
    for column in columns:
        column.card_html = [
            mark_safe(  # noqa: S308 - every value is escaped above or here
                _CARD.format(
                    pk=int(card.pk),
                    name=escape(card.name),
                    account_id=int(card.account_id),
                    account=escape(card.account),
                    amount=f"{card.amount:,.0f}",
                    currency=escape(card.currency),
                    source=escape(SOURCES.get(card.source, card.source)),
                    owner=escape(card.owner) if card.owner else "no owner",
                    closes=f" · closes {card.close_date.day} {card.close_date:%b}"
                    if card.close_date
                    else "",
                    options=column.move_options,
                    **safe_links,
                )
            )
            for card in column.cards
        ]
