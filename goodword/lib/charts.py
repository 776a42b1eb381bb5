"""Bar charts drawn on the server as inline SVG, for numbers people would rather see than read.

Each chart comes as one `<figure>`: the SVG (a `<title>` and an aria-label for screen readers,
a `<title>` per bar for a hover tip) and, under it, the same numbers as a table in a
`<details>` "The numbers", so nothing is only in a picture. Every label is escaped here, so a
label may be anything a customer typed. Each bar carries `data-label`, `data-series` and
`data-value`, which tests and scripts can read without measuring pixels.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22  # room for the value axis and the labels under bars
GAP = 0.2  # the share of each slot left empty between groups of bars


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


def bars(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    label_header: str = "",
    value_header: str = "Value",
    classes: Sequence[str] = (),
    label_every: int = 1,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """One bar per (label, value). `classes[i]`, when given, is added to bar i's classes;
    every `label_every`-th label is written under its bar (all are in the table)."""
    return grouped_bars(
        [label for label, _ in points],
        [Series(value_header, [value for _, value in points])],
        title=title,
        label_header=label_header,
        classes=classes,
        label_every=label_every,
        width=width,
        height=height,
    )


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    label_header: str = "",
    classes: Sequence[str] = (),
    label_every: int = 1,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """One group of bars per label, one bar per series, side by side. Raises ValueError
    when a series has not one value per label, or a value is negative (bars start at 0)."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"{s.name!r} has {len(s.values)} values for {len(labels)} labels")
        if any(v < 0 for v in s.values):
            raise ValueError(f"{s.name!r} has a negative value; bars start at zero")
    if not labels or not series:
        return mark_safe(f'<p class="chart-empty muted">{_e(title)}: nothing to show yet.</p>')  # noqa: S308 - escaped
    svg = _svg(labels, series, title, classes, max(1, label_every), width, height)
    legend = _legend(series) if len(series) > 1 else ""
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


def _legend(series: Sequence[Series]) -> str:
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
