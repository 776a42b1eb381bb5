import datetime as dt

from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "goodword.signals"
    label = "signals"
    verbose_name = "Customer signals"

    def ready(self) -> None:
        from goodword.jobs.services import upkeep
        from goodword.signals.services import events_place_held

        # Held events whose account was imported since (or whose user was grouped
        # elsewhere) are placed by the worker.
        upkeep("signals.events_place_held", every=dt.timedelta(minutes=1), fn=events_place_held)
