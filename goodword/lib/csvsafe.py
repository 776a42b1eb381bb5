"""CSV cells that a spreadsheet will not run as formulas, and back.

A text cell that starts with = + - @ tab or carriage return (or with the escape character
itself) gets a leading apostrophe; `restore` removes exactly one, so export → import gives
back the original text. Numbers are written as they are: a negative amount is not a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(DANGEROUS) else text


def restore(value: str) -> str:
    return value[1:] if value.startswith("'") else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield a CSV document line by line (for streaming responses and large exports)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(v) for v in row])
