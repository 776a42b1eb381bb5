import datetime as dt

from django.apps import AppConfig


class MomentsConfig(AppConfig):
    name = "goodword.moments"
    label = "moments"
    verbose_name = "Success moments"

    def ready(self) -> None:
        from goodword.jobs.services import upkeep
        from goodword.moments.scan import scan_scheduled

        # The scan runs in the worker on a schedule; a scan already running elsewhere makes
        # this turn a no-op (see scan_start).
        upkeep("moments.scan", every=dt.timedelta(minutes=1), fn=scan_scheduled)
