"""A report table's cell, formatted by its column's kind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template

from goodword.reports.report import Column

register = template.Library()


@register.simple_tag
def cell(row: dict[str, Any], column: Column) -> str:
    value = row.get(column.key)
    if value is None or value == "":
        return "—"
    if column.kind == "money":
        return f"{Decimal(value):,.2f}"
    if column.kind == "count":
        return f"{int(value):,}"
    if column.kind == "percent":
        return f"{float(value):.1f} %"
    if column.kind == "days":
        return f"{float(value):,.0f}"
    if column.kind == "ratio":
        return f"{float(value):.2f}"
    if column.kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
