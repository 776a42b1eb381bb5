from __future__ import annotations

import datetime as dt

from django.apps import AppConfig
from django.utils import timezone


class ReferralsConfig(AppConfig):
    name = "goodword.referrals"
    label = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        from goodword.jobs.services import upkeep
        from goodword.referrals.rewards import register_upkeeps
        from goodword.referrals.services import intros_tend

        # Reminders and expiry are due by the day: checking every minute is ample.
        upkeep(
            "referrals.intros_tend",
            every=dt.timedelta(minutes=1),
            fn=lambda: intros_tend(now=timezone.now()),
        )
        register_upkeeps()
