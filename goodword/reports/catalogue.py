"""The reports by name, as the pages, the API and the command line reach them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from goodword.lib.errors import NotFound
from goodword.reports.filters import Filters
from goodword.reports.report import Report

if TYPE_CHECKING:
    from goodword.users.models import User

Builder = Callable[..., Report]


def _builders() -> dict[str, Builder]:
    from goodword.reports.advocates import advocates_report
    from goodword.reports.funnel import funnel_report
    from goodword.reports.pipeline import pipeline_report
    from goodword.reports.reps import reps_report
    from goodword.reports.roi import roi_report
    from goodword.reports.sources import sources_report

    return {
        "pipeline": pipeline_report,
        "sources": sources_report,
        "funnel": funnel_report,
        "advocates": advocates_report,
        "reps": reps_report,
        "roi": roi_report,
    }


TITLES = {
    "pipeline": "Pipeline and forecast by source",
    "sources": "Referred versus other sources",
    "funnel": "Referral funnel",
    "advocates": "Advocates",
    "reps": "Rep KPIs and targets",
    "roi": "Referral programme ROI",
}
NAMES = tuple(TITLES)


def report_build(name: str, *, user: User | None, filters: Filters, today: dt.date) -> Report:
    """The report `name` over the deals `user` may see (all of them for None). Raises
    NotFound for a name that is not a report."""
    builder = _builders().get(name)
    if builder is None:
        raise NotFound(f"no report named {name!r}; the reports are {', '.join(NAMES)}")
    return builder(user=user, filters=filters, today=today)
