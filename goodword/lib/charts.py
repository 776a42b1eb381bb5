"""Charts drawn on the server as inline SVG, for numbers people would rather see than read.

The report charts (`bars`, `grouped_bars`, `columns_over_time`, `funnel`, `interval_dots`)
take plain data and return one `<figure>`: an SVG with `role="img"`, a `<title>` and a `<desc>`
that says the figures in words, a viewBox so it fills its container's width, and colours only
through CSS classes (`series-1` … `series-6`, styled in static/css/charts.css). Every label
is escaped here, so a label may be anything a customer typed. No data gives a small figure that
says so instead of an error; a label too long for its column is cut with an ellipsis and keeps
its full text in a tooltip. The same input always gives the same string.

The first, vertical form of `bars` and `grouped_bars` (each bar a `<rect>` with `data-*`
attributes, the numbers in a `<details>` table) is still drawn for the signals and moments
pages: see "The first API" at the end of this module.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

type Number = float | Decimal

VIEW_WIDTH = 640
PALETTE = 6  # series-1 … series-6; a seventh series takes the first colour again
CHAR = 6.6  # the mean advance of a 12px system-ui glyph: enough to size a text column
MAX_LABEL = 28  # characters a label keeps before it is cut with an ellipsis
PAD = 8
AXIS = 22  # room under a plot for the tick labels
ROW = 24  # one category of a single-series horizontal chart
BAR = 16
GROUP_BAR = 12
GROUP_GAP = 10
COLUMNS_TOP = 18  # room over the tallest column for its value
COLUMNS_PLOT = 180
EMPTY = "No data for these filters"
DASH = "\N{EN DASH}"  # between the bounds of an interval

# The first API's vertical bars.
WIDTH = 640
HEIGHT = 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22  # room for the value axis and the labels under bars
GAP = 0.2  # the share of each slot left empty between groups of bars


# ---------------------------------------------------------------------------------------------
# Numbers


def format_value(value: Number, unit: str = "", *, places: int | None = None) -> str:
    """A value as it is printed: 1,234,568 USD, 12.3%, 0.3 (never 0.30000000000000004).

    Without `places`, big numbers lose their decimals and small ones keep up to two."""
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if places is None:
        size = abs(exact)
        places = 0 if size >= 100 else 1 if size >= 10 else 2
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if rounded == 0:
        text = "0"  # not "-0"
    return f"{text}%" if unit == "%" else f"{text} {unit}" if unit else text


def nice_ticks(low: float, high: float, *, target: int = 5) -> list[Decimal]:
    """Round axis ticks (1, 2 or 5 × 10^n apart) covering `low`, `high` and zero.

    Decimals, so a tick prints as 0.3 and not 0.30000000000000004."""
    lo, hi = min(0.0, low), max(0.0, high)
    if lo == hi:
        return [Decimal(0), Decimal(1)]
    raw = (hi - lo) / target
    exponent = math.floor(math.log10(raw))
    mantissa = next(m for m in (1, 2, 5, 10) if m * 10.0**exponent >= raw * (1 - 1e-9))
    step = Decimal(mantissa).scaleb(exponent)
    first = math.floor(lo / float(step) + 1e-9)
    last = math.ceil(hi / float(step) - 1e-9)
    plain = Decimal(1).scaleb(min(0, exponent))  # 100 rather than 1E+2
    return [(step * k).quantize(plain) for k in range(first, last + 1)]


def _tick_places(ticks: Sequence[Decimal]) -> int:
    step = (ticks[1] - ticks[0]).normalize()
    return max(0, -int(step.as_tuple().exponent))


def _tick_texts(ticks: Sequence[Decimal], unit: str) -> list[str]:
    # Only "%" is short enough to repeat on every tick; other units are printed with the values.
    places = _tick_places(ticks)
    return [format_value(t, "%" if unit == "%" else "", places=places) for t in ticks]


def _floats(name: str, values: Sequence[Number]) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name!r} has a value that is not a finite number")
    return out


@dataclass(frozen=True)
class _Scale:
    """Maps values from [lo, hi] onto the drawing from `start` to `end` (either direction)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


# ---------------------------------------------------------------------------------------------
# Markup pieces


def _esc(text: object) -> str:
    return str(escape(str(text)))


def _n(x: float) -> str:
    """A coordinate with at most one decimal, so the output is short and stable."""
    text = f"{x:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _clip(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def _width(texts: Sequence[str]) -> float:
    return max((len(_clip(t)) for t in texts), default=0) * CHAR


def _series(index: int) -> str:
    return f"series-{index % PALETTE + 1}"


def _label(x: float, y: float, label: str, *, anchor: str, css: str = "label") -> str:
    """A text at (x, y), vertically centred; when cut short, its full text is the tooltip."""
    short = _clip(label)
    text = (
        f'<text class="{css}" x="{_n(x)}" y="{_n(y)}" dy=".35em" '
        f'text-anchor="{anchor}">{_esc(short)}</text>'
    )
    return text if short == label else f"<g><title>{_esc(label)}</title>{text}</g>"


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<li class="{_series(j)}"><span class="swatch" aria-hidden="true"></span>{_esc(n)}</li>'
        for j, n in enumerate(names)
    )
    return f'<ul class="gw-chart-legend">{items}</ul>'


def _chart_id(kind: str, title: str, data: object) -> str:
    # Derived from the input, not random, so the same chart is the same string.
    digest = hashlib.sha256(repr((kind, title, data)).encode()).hexdigest()
    return f"chart-{digest[:10]}"


@dataclass(frozen=True)
class _Drawing:
    kind: str
    title: str
    desc: str
    height: float
    body: Sequence[str]
    legend: Sequence[str] = ()


def _figure(drawing: _Drawing, chart_id: str) -> SafeString:
    d = drawing
    svg = (
        f'<svg class="gw-chart gw-chart-{d.kind}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {VIEW_WIDTH} {_n(d.height)}" width="100%" font-size="12" role="img" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc">'
        f'<title id="{chart_id}-title">{_esc(d.title)}</title>'
        f'<desc id="{chart_id}-desc">{_esc(d.desc)}</desc>{"".join(d.body)}</svg>'
    )
    legend = _legend(d.legend) if len(d.legend) > 1 else ""
    return mark_safe(f'<figure class="gw-chart-figure">{svg}{legend}</figure>')  # noqa: S308 - escaped


def _empty(kind: str, title: str, chart_id: str | None) -> SafeString:
    text = (
        f'<text class="empty" x="{VIEW_WIDTH // 2}" y="24" dy=".35em" '
        f'text-anchor="middle">{EMPTY}</text>'
    )
    drawing = _Drawing(kind, title, f"{EMPTY}.", 48, [text])
    return _figure(drawing, chart_id or _chart_id(kind, title, ()))


def _x_grid(ticks: Sequence[Decimal], scale: _Scale, top: float, bottom: float, unit: str) -> str:
    """Vertical gridlines at the ticks with their values under the plot; zero drawn darker."""
    parts = []
    for tick, text in zip(ticks, _tick_texts(ticks, unit), strict=True):
        x = _n(scale(float(tick)))
        css = "gridline zero" if tick == 0 else "gridline"
        parts.append(f'<line class="{css}" x1="{x}" y1="{_n(top)}" x2="{x}" y2="{_n(bottom)}"/>')
        parts.append(
            f'<text class="tick" x="{x}" y="{_n(bottom + 14)}" text-anchor="middle">{text}</text>'
        )
    return "".join(parts)


def _y_grid(ticks: Sequence[Decimal], scale: _Scale, left: float, unit: str) -> str:
    """Horizontal gridlines at the ticks with their values left of the plot."""
    parts = []
    for tick, text in zip(ticks, _tick_texts(ticks, unit), strict=True):
        y = _n(scale(float(tick)))
        css = "gridline zero" if tick == 0 else "gridline"
        parts.append(
            f'<line class="{css}" x1="{_n(left)}" y1="{y}" x2="{VIEW_WIDTH - PAD}" y2="{y}"/>'
        )
        parts.append(
            f'<text class="tick" x="{_n(left - 4)}" y="{y}" dy=".35em" '
            f'text-anchor="end">{text}</text>'
        )
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Horizontal bars: `bars` and `grouped_bars`


def bars(
    rows: Sequence[tuple[str, Number]],
    *,
    title: str,
    unit: str = "",
    chart_id: str | None = None,
    label_header: str | None = None,
    value_header: str | None = None,
    classes: Sequence[str] | None = None,
    label_every: int | None = None,
    width: int | None = None,
    height: int | None = None,
) -> SafeString:
    """Horizontal bars, one per (label, value), each value printed at its bar's end.

    The keywords from `label_header` on belong to the first, vertical form (signals and
    moments pages); giving any of them draws that form. Raises ValueError for a value that is
    not a finite number."""
    first_api = (label_header, value_header, classes, label_every, width, height)
    if any(arg is not None for arg in first_api):
        return _first_bars(
            [(label, float(v)) for label, v in rows],
            title=title,
            label_header=label_header or "",
            value_header=value_header or "Value",
            classes=classes or (),
            label_every=label_every or 1,
            width=width or WIDTH,
            height=height or HEIGHT,
        )
    series = [("Value", _floats("Value", [v for _, v in rows]))]
    return _horizontal("bars", [label for label, _ in rows], series, title, unit, chart_id)


def grouped_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[Number]] | Sequence[Series],
    *,
    title: str,
    unit: str = "",
    chart_id: str | None = None,
    label_header: str = "",
    classes: Sequence[str] = (),
    label_every: int = 1,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Horizontal bars in groups, one group per category and one bar per series, with a legend.

    A sequence of `Series` (rather than a mapping) draws the first, vertical form, which alone
    reads `label_header` … `height`. Raises ValueError when a series has not one value per
    category or a value is not a finite number."""
    if not isinstance(series, Mapping):
        return _first_grouped_bars(
            categories,
            series,
            title=title,
            label_header=label_header,
            classes=classes,
            label_every=label_every,
            width=width,
            height=height,
        )
    named = _named(categories, series)
    return _horizontal("grouped-bars", categories, named, title, unit, chart_id)


def _named(
    categories: Sequence[str], series: Mapping[str, Sequence[Number]]
) -> list[tuple[str, list[float]]]:
    named = [(name, _floats(name, values)) for name, values in series.items()]
    for name, values in named:
        if len(values) != len(categories):
            raise ValueError(f"{name!r} has {len(values)} values for {len(categories)} categories")
    return named


def _horizontal(
    kind: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    unit: str,
    chart_id: str | None,
) -> SafeString:
    if not categories or not series:
        return _empty(kind, title, chart_id)
    flat = [v for _, values in series for v in values]
    ticks = nice_ticks(min(flat), max(flat))
    scale = _bar_scale(categories, flat, ticks, unit)
    bar_h = BAR if len(series) == 1 else GROUP_BAR
    group_h = len(series) * (bar_h + 2) - 2
    plot_h = len(categories) * (group_h + GROUP_GAP)
    body = [_x_grid(ticks, scale, PAD, PAD + plot_h, unit)]
    for i, category in enumerate(categories):
        y = PAD + i * (group_h + GROUP_GAP) + GROUP_GAP / 2
        body.append(
            _label(
                scale.start - PAD - _overhang(flat, unit), y + group_h / 2, category, anchor="end"
            )
        )
        for j, (name, values) in enumerate(series):
            tip = f"{category}, {name}" if len(series) > 1 else category
            body.append(_hbar(scale, y + j * (bar_h + 2), bar_h, values[i], unit, tip, j))
    desc = _bars_desc(categories, series, unit)
    drawing = _Drawing(kind, title, desc, PAD + plot_h + AXIS, body, [n for n, _ in series])
    return _figure(drawing, chart_id or _chart_id(kind, title, (categories, series, unit)))


def _overhang(values: Sequence[float], unit: str) -> float:
    """Room left of the zero line for the printed values of negative bars."""
    if min(values) >= 0:
        return 0.0
    return _width([format_value(v, unit) for v in values if v < 0]) + 6


def _bar_scale(
    categories: Sequence[str], values: Sequence[float], ticks: Sequence[Decimal], unit: str
) -> _Scale:
    # The longest label fits on the left; printed values fit beyond both ends of the plot.
    start = _width(categories) + 2 * PAD + _overhang(values, unit)
    right = _width([format_value(v, unit) for v in values if v >= 0]) + 6
    end = VIEW_WIDTH - max(right, PAD + _width(_tick_texts(ticks, unit)[-1:]) / 2)
    return _Scale(float(ticks[0]), float(ticks[-1]), start, end)


def _hbar(scale: _Scale, y: float, h: float, value: float, unit: str, tip: str, j: int) -> str:
    zero, end = scale(0.0), scale(value)
    text = format_value(value, unit)
    css = f"bar {_series(j)}" + (" negative" if value < 0 else "")
    rect = (
        f'<rect class="{css}" x="{_n(min(zero, end))}" y="{_n(y)}" width="{_n(abs(end - zero))}" '
        f'height="{_n(h)}"><title>{_esc(f"{tip}: {text}")}</title></rect>'
    )
    x, anchor = (end - 4, "end") if value < 0 else (end + 4, "start")
    return rect + (
        f'<text class="value" x="{_n(x)}" y="{_n(y + h / 2)}" dy=".35em" '
        f'text-anchor="{anchor}">{_esc(text)}</text>'
    )


def _bars_desc(
    categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], unit: str
) -> str:
    if len(series) == 1:
        return " ".join(
            f"{c}: {format_value(v, unit)}." for c, v in zip(categories, series[0][1], strict=True)
        )
    return " ".join(
        f"{c}: "
        + ", ".join(f"{name} {format_value(values[i], unit)}" for name, values in series)
        + "."
        for i, c in enumerate(categories)
    )


# ---------------------------------------------------------------------------------------------
# Columns over time


def columns_over_time(
    months: Sequence[str],
    series: Mapping[str, Sequence[Number]],
    *,
    title: str,
    unit: str = "",
    stacked: bool = False,
    chart_id: str | None = None,
) -> SafeString:
    """Vertical columns per month, the series side by side or (`stacked`) on top of each other;
    positive values stack upwards and negative ones downwards. A legend when several series.
    Raises ValueError when a series has not one value per month."""
    if not months or not series:
        return _empty("columns", title, chart_id)
    named = _named(months, series)
    lo, hi = _column_extent(named, stacked)
    ticks = nice_ticks(lo, hi)
    left = _width(_tick_texts(ticks, unit)) + PAD
    scale = _Scale(float(ticks[0]), float(ticks[-1]), COLUMNS_TOP + COLUMNS_PLOT, COLUMNS_TOP)
    slot = (VIEW_WIDTH - PAD - left) / len(months)
    body = [_y_grid(ticks, scale, left, unit)]
    for i in range(len(months)):
        x = left + i * slot + slot * 0.125
        column = _stack if stacked else _side_by_side
        body.extend(column(scale, x, slot * 0.75, [(n, v[i]) for n, v in named], unit, months[i]))
    body.extend(_month_labels(months, left, slot))
    desc = _bars_desc(months, named, unit)
    height = COLUMNS_TOP + COLUMNS_PLOT + AXIS
    drawing = _Drawing("columns", title, desc, height, body, [n for n, _ in named])
    data = (months, named, unit, stacked)
    return _figure(drawing, chart_id or _chart_id("columns", title, data))


def _column_extent(
    series: Sequence[tuple[str, Sequence[float]]], stacked: bool
) -> tuple[float, float]:
    if not stacked:
        flat = [v for _, values in series for v in values]
        return min(flat), max(flat)
    months = list(zip(*(values for _, values in series), strict=True))
    lows = [sum(v for v in month if v < 0) for month in months]
    highs = [sum(v for v in month if v > 0) for month in months]
    return min(lows), max(highs)


def _column(scale: _Scale, x: float, w: float, base: float, value: float, j: int, tip: str) -> str:
    y0, y1 = scale(base), scale(base + value)
    css = f"bar {_series(j)}" + (" negative" if value < 0 else "")
    return (
        f'<rect class="{css}" x="{_n(x)}" y="{_n(min(y0, y1))}" width="{_n(w)}" '
        f'height="{_n(abs(y1 - y0))}"><title>{_esc(tip)}</title></rect>'
    )


def _column_value(scale: _Scale, x: float, value: float, unit: str) -> str:
    """The value over a column's top, or under its bottom when negative."""
    y = scale(value) + (12 if value < 0 else -5)
    text = format_value(value, unit)
    return f'<text class="value" x="{_n(x)}" y="{_n(y)}" text-anchor="middle">{_esc(text)}</text>'


def _side_by_side(
    scale: _Scale, x: float, w: float, values: Sequence[tuple[str, float]], unit: str, month: str
) -> list[str]:
    each = w / len(values)
    # A value is printed only where it fits over its column; the tooltip always has it.
    printed = all(_width([format_value(v, unit)]) <= each + 2 for _, v in values)
    parts = []
    for j, (name, value) in enumerate(values):
        tip = f"{month}, {name}: {format_value(value, unit)}"
        parts.append(_column(scale, x + j * each, each, 0.0, value, j, tip))
        if printed:
            parts.append(_column_value(scale, x + (j + 0.5) * each, value, unit))
    return parts


def _stack(
    scale: _Scale, x: float, w: float, values: Sequence[tuple[str, float]], unit: str, month: str
) -> list[str]:
    up = down = 0.0
    parts = []
    for j, (name, value) in enumerate(values):
        base = up if value >= 0 else down
        tip = f"{month}, {name}: {format_value(value, unit)}"
        parts.append(_column(scale, x, w, base, value, j, tip))
        up, down = (up + value, down) if value >= 0 else (up, down + value)
    total = sum(v for _, v in values)
    if _width([format_value(total, unit)]) <= w + 2:
        parts.append(_column_value(scale, x + w / 2, up if total >= 0 else down, unit))
    return parts


def _month_labels(months: Sequence[str], left: float, slot: float) -> list[str]:
    # Every n-th month, so the labels never run into each other.
    every = max(1, math.ceil((_width(months) + 6) / slot))
    y = COLUMNS_TOP + COLUMNS_PLOT + 14
    return [
        _label(left + (i + 0.5) * slot, y - 4, month, anchor="middle", css="tick")
        for i, month in enumerate(months)
        if i % every == 0
    ]


# ---------------------------------------------------------------------------------------------
# Funnel


def funnel(
    steps: Sequence[tuple[str, int]], *, title: str, chart_id: str | None = None
) -> SafeString:
    """One centred bar per step, widths in proportion to the counts, each with its count and
    the conversion from the step before in %. Raises ValueError for a negative count."""
    if not steps:
        return _empty("funnel", title, chart_id)
    if any(count < 0 for _, count in steps):
        raise ValueError("a funnel step cannot have a negative count")
    texts = [_step_text(steps, i) for i in range(len(steps))]
    start = _width([label for label, _ in steps]) + 2 * PAD
    end = VIEW_WIDTH - _width(texts) - 2 * PAD
    peak = max(count for _, count in steps) or 1
    body = []
    for i, (label, count) in enumerate(steps):
        y = PAD + i * ROW + (ROW - BAR) / 2
        w = (end - start) * count / peak
        body.append(_label(start - PAD, y + BAR / 2, label, anchor="end"))
        body.append(
            f'<rect class="bar series-1" x="{_n((start + end - w) / 2)}" y="{_n(y)}" '
            f'width="{_n(w)}" height="{BAR}"><title>{_esc(f"{label}: {texts[i]}")}</title></rect>'
            f'<text class="value" x="{_n(end + PAD)}" y="{_n(y + BAR / 2)}" dy=".35em" '
            f'text-anchor="start">{_esc(texts[i])}</text>'
        )
    desc = " ".join(f"{label}: {text}." for (label, _), text in zip(steps, texts, strict=True))
    drawing = _Drawing("funnel", title, desc, 2 * PAD + len(steps) * ROW, body)
    return _figure(drawing, chart_id or _chart_id("funnel", title, steps))


def _step_text(steps: Sequence[tuple[str, int]], i: int) -> str:
    count = format_value(steps[i][1])
    previous = steps[i - 1][1] if i else 0
    if not previous:
        return count  # the first step, or one after nobody: there is nothing to convert from
    rate = Decimal(steps[i][1]) * 100 / Decimal(previous)
    return f"{count} · {format_value(rate, '%')} of previous"


# ---------------------------------------------------------------------------------------------
# Estimates with intervals


def interval_dots(
    rows: Sequence[tuple[str, Number, Number | None, Number | None]],
    *,
    title: str,
    unit: str = "",
    interval: str = "95% interval",
    chart_id: str | None = None,
) -> SafeString:
    """A dot per (label, estimate, low, high) with a line from low to high, e.g. win rates with
    their 95 % intervals; a missing bound leaves that side of the line out."""
    if not rows:
        return _empty("intervals", title, chart_id)
    points = [_point(row) for row in rows]
    known = [v for _, est, low, high in points for v in (est, low, high) if v is not None]
    ticks = nice_ticks(min(known), max(known))
    texts = [_interval_text(p, unit) for p in points]
    start = _width([p[0] for p in points]) + 2 * PAD
    end = VIEW_WIDTH - _width(texts) - 2 * PAD
    scale = _Scale(float(ticks[0]), float(ticks[-1]), start, end)
    body = [_x_grid(ticks, scale, PAD, PAD + len(rows) * ROW, unit)]
    for i, (point, text) in enumerate(zip(points, texts, strict=True)):
        y = PAD + (i + 0.5) * ROW
        body.append(_label(start - PAD, y, point[0], anchor="end"))
        body.append(_dot(scale, y, point, text))
        body.append(
            f'<text class="value" x="{_n(end + PAD)}" y="{_n(y)}" dy=".35em" '
            f'text-anchor="start">{_esc(text)}</text>'
        )
    desc = " ".join(_interval_desc(p, unit, interval) for p in points)
    drawing = _Drawing("intervals", title, desc, PAD + len(rows) * ROW + AXIS, body)
    return _figure(drawing, chart_id or _chart_id("intervals", title, (points, unit)))


type _Point = tuple[str, float, float | None, float | None]


def _point(row: tuple[str, Number, Number | None, Number | None]) -> _Point:
    label, estimate, low, high = row
    bounds = [None if b is None else _floats(label, [b])[0] for b in (low, high)]
    return label, _floats(label, [estimate])[0], bounds[0], bounds[1]


def _dot(scale: _Scale, y: float, point: _Point, text: str) -> str:
    label, estimate, low, high = point
    x = scale(estimate)
    parts = []
    for bound in (low, high):
        if bound is not None:
            b, top, bottom = _n(scale(bound)), _n(y - 5), _n(y + 5)
            parts.append(
                f'<line class="interval series-1" x1="{_n(x)}" y1="{_n(y)}" x2="{b}" y2="{_n(y)}"/>'
                f'<line class="interval series-1" x1="{b}" y1="{top}" x2="{b}" y2="{bottom}"/>'
            )
    parts.append(
        f'<circle class="dot series-1" cx="{_n(x)}" cy="{_n(y)}" r="4.5">'
        f"<title>{_esc(f'{label}: {text}')}</title></circle>"
    )
    return "".join(parts)


def _interval_text(point: _Point, unit: str) -> str:
    _, estimate, low, high = point
    text = format_value(estimate, unit)
    if low is not None and high is not None:
        return f"{text} ({format_value(low, unit)}{DASH}{format_value(high, unit)})"
    if low is not None:
        return f"{text} (from {format_value(low, unit)})"
    if high is not None:
        return f"{text} (up to {format_value(high, unit)})"
    return text


def _interval_desc(point: _Point, unit: str, interval: str) -> str:
    label, estimate, low, high = point
    words = f"{label}: {format_value(estimate, unit)}"
    if low is not None and high is not None:
        words += f", {interval} {format_value(low, unit)} to {format_value(high, unit)}"
    return words + "."


# ---------------------------------------------------------------------------------------------
# The first API: vertical bars with a table of their numbers, as the signals and moments pages
# draw them (through `bars(..., label_header=...)` and `grouped_bars(labels, [Series, ...])`).


@dataclass(frozen=True)
class Series:
    """One value per label, drawn in one colour (the CSS class `s<n>`, n its position)."""

    name: str
    values: Sequence[float]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _css(name: str) -> str:
    """A class name with anything but letters, digits, - and _ removed."""
    return re.sub(r"[^A-Za-z0-9_-]", "", name)


def number(value: float) -> str:
    """How a value reads in the table and the tips: 1,234 when whole, else 1,234.57."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _raw(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def nice_top(peak: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `peak`: the axis top."""
    if peak <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(peak))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= peak)


def _first_bars(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    label_header: str,
    value_header: str,
    classes: Sequence[str],
    label_every: int,
    width: int,
    height: int,
) -> SafeString:
    return _first_grouped_bars(
        [label for label, _ in points],
        [Series(value_header, [value for _, value in points])],
        title=title,
        label_header=label_header,
        classes=classes,
        label_every=label_every,
        width=width,
        height=height,
    )


def _first_grouped_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    label_header: str,
    classes: Sequence[str],
    label_every: int,
    width: int,
    height: int,
) -> SafeString:
    """Raises ValueError when a series has not one value per label, or a value is negative
    (these bars start at 0)."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"{s.name!r} has {len(s.values)} values for {len(labels)} labels")
        if any(v < 0 for v in s.values):
            raise ValueError(f"{s.name!r} has a negative value; bars start at zero")
    if not labels or not series:
        return mark_safe(f'<p class="chart-empty muted">{_e(title)}: nothing to show yet.</p>')  # noqa: S308 - escaped
    svg = _svg(labels, series, title, classes, max(1, label_every), width, height)
    legend = _first_legend(series) if len(series) > 1 else ""
    table = _table(labels, series, label_header)
    return mark_safe(f'<figure class="chart">{svg}{legend}{table}</figure>')  # noqa: S308 - every part is escaped


def _svg(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    classes: Sequence[str],
    label_every: int,
    width: int,
    height: int,
) -> str:
    top = nice_top(max(max(s.values) for s in series))
    base = height - BOTTOM
    parts = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
        "<desc>The numbers are in the table under the chart.</desc>",
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{width - RIGHT}" y2="{TOP}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{number(top)}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{base}" text-anchor="end">0</text>',
    ]
    slot = (width - LEFT - RIGHT) / len(labels)
    bar_width = slot * (1 - GAP) / len(series)
    for i, label in enumerate(labels):
        extra = f" {_css(classes[i])}" if i < len(classes) else ""
        for j, s in enumerate(series):
            x = LEFT + i * slot + slot * GAP / 2 + j * bar_width
            parts.append(_bar(label, s, s.values[i], f"s{j}{extra}", x, bar_width, top, base))
        if i % label_every == 0:
            centre = LEFT + (i + 0.5) * slot
            parts.append(
                f'<text class="tick" x="{centre:.2f}" y="{height - 6}" '
                f'text-anchor="middle">{_e(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _bar(
    label: str, s: Series, value: float, css: str, x: float, width: float, top: float, base: int
) -> str:
    h = (base - TOP) * value / top
    tip = f"{label}, {s.name}: {number(value)}"
    return (
        f'<rect class="bar {css}" x="{x:.2f}" y="{base - h:.2f}" width="{width:.2f}" '
        f'height="{h:.2f}" data-label="{_e(label)}" data-series="{_e(s.name)}" '
        f'data-value="{_raw(value)}"><title>{_e(tip)}</title></rect>'
    )


def _first_legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="swatch s{j}" aria-hidden="true"></span>{_e(s.name)}</li>'
        for j, s in enumerate(series)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _table(labels: Sequence[str], series: Sequence[Series], label_header: str) -> str:
    head = "".join(f'<th scope="col" class="num">{_e(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{_e(label)}</th>'
        + "".join(f'<td class="num">{number(s.values[i])}</td>' for s in series)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return (
        '<details class="chart-numbers"><summary>The numbers</summary>'
        f'<table class="table compact"><thead><tr><th scope="col">{_e(label_header)}</th>'
        f"{head}</tr></thead><tbody>{rows}</tbody></table></details>"
    )
