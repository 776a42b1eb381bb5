"""Each report's charts, drawn on the server (goodword.lib.charts) from the report's own
tables, so that a chart never shows a figure its table does not."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.safestring import SafeString

from goodword.lib import charts
from goodword.reports.report import Report

Drawer = Callable[[Report], dict[str, list[SafeString]]]


def _pipeline(report: Report) -> dict[str, list[SafeString]]:
    rows = [r for r in report.table("open").rows if r["source"]]
    months = report.table("referred_per_month").rows
    return {
        "open": [
            charts.grouped_bars(
                [r["label"] for r in rows],
                {
                    "Open amount": [r["amount"] for r in rows],
                    "Weighted by stage probability": [r["weighted"] for r in rows],
                    "Expected to close this quarter": [r["this_amount"] for r in rows],
                },
                title=f"Open pipeline by source ({report.currency})",
                unit=report.currency,
            )
        ],
        "referred_per_month": [
            charts.columns_over_time(
                [m["month"] for m in months],
                {"Referred amount created": [m["amount"] for m in months]},
                title=f"Referred pipeline created per month ({report.currency})",
                unit=report.currency,
            )
        ],
    }


def _sources(report: Report) -> dict[str, list[SafeString]]:
    rows = [r for r in report.table("sources").rows if r["win_rate"] is not None]
    days = [r for r in report.table("sources").rows if r["median_days"] is not None]
    return {
        "sources": [
            charts.interval_dots(
                [(r["label"], r["win_rate"], r["win_rate_low"], r["win_rate_high"]) for r in rows],
                title="Win rate by source, with its 95 % interval",
                unit="%",
            ),
            charts.interval_dots(
                [
                    (r["label"], r["median_days"], r["median_days_low"], r["median_days_high"])
                    for r in days
                ],
                title="Median days from creation to won, with its 95 % interval",
                unit=" days",
            ),
        ],
    }


def _one(draw: Callable[[Report], dict[str, SafeString]]) -> Drawer:
    """A report module's draw (a chart per table) as the page wants it."""
    return lambda report: {name: [chart] for name, chart in draw(report).items()}


def _drawers() -> dict[str, Drawer]:
    from goodword.reports import advocates, funnel, reps, roi

    return {
        "pipeline": _pipeline,
        "sources": _sources,
        "funnel": _one(funnel.draw),
        "advocates": _one(advocates.draw),
        "reps": _one(reps.draw),
        "roi": _one(roi.draw),
    }


def for_report(report: Report) -> dict[str, list[SafeString]]:
    """Charts by the name of the table whose figures they draw."""
    draw = _drawers().get(report.name)
    return draw(report) if draw else {}
