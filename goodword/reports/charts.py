"""Each report's charts, drawn on the server (goodword.lib.charts) from the report's own
tables, so that a chart never shows a figure its table does not."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.safestring import SafeString

from goodword.lib import charts
from goodword.reports.report import Report


def _pipeline(report: Report) -> dict[str, SafeString]:
    rows = [r for r in report.table("open").rows if r["source"]]
    months = report.table("referred_per_month").rows
    return {
        "open": charts.grouped_bars(
            [r["label"] for r in rows],
            {
                "Open amount": [r["amount"] for r in rows],
                "Weighted by stage probability": [r["weighted"] for r in rows],
                "Expected to close this quarter": [r["this_amount"] for r in rows],
            },
            title=f"Open pipeline by source ({report.currency})",
            unit=report.currency,
        ),
        "referred_per_month": charts.columns_over_time(
            [m["month"] for m in months],
            {"Referred amount created": [m["amount"] for m in months]},
            title=f"Referred pipeline created per month ({report.currency})",
            unit=report.currency,
        ),
    }


DRAWN: dict[str, Callable[[Report], dict[str, SafeString]]] = {"pipeline": _pipeline}


def for_report(report: Report) -> dict[str, SafeString]:
    """Charts by the name of the table they draw."""
    draw = DRAWN.get(report.name)
    return draw(report) if draw else {}
