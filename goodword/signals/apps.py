import datetime as dt

from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "goodword.signals"
    label = "signals"
    verbose_name = "Customer signals"

    def ready(self) -> None:
        from goodword.jobs.services import upkeep
        from goodword.signals.moving import events_move
        from goodword.signals.services import (
            events_forget,
            events_place_held,
            ingest_log_compact,
        )

        # Held events whose account was imported since (or whose user was grouped
        # elsewhere) are placed by the worker.
        upkeep("signals.events_place_held", every=dt.timedelta(minutes=1), fn=events_place_held)
        upkeep("signals.ingest_log_compact", every=dt.timedelta(minutes=10), fn=ingest_log_compact)
        upkeep("signals.events_forget", every=dt.timedelta(hours=1), fn=events_forget)
        # Placed events go to the event store in batches (the worker polls every 2 s).
        upkeep("signals.events_move", every=dt.timedelta(seconds=5), fn=events_move)
