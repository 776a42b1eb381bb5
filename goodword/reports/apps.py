from __future__ import annotations

import datetime as dt

from django.apps import AppConfig
from django.utils import timezone


class ReportsConfig(AppConfig):
    name = "goodword.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from goodword.jobs.services import upkeep

        # Importing the module registers the digest job's handler with the worker.
        from goodword.reports.digests import digests_tend

        # The digests are due by the hour of one day: a check every ten minutes is ample,
        # and a turn that finds the week's jobs queued costs one query.
        upkeep(
            "reports.digests",
            every=dt.timedelta(minutes=10),
            fn=lambda: digests_tend(now=timezone.now()),
        )
