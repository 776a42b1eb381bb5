import datetime as dt

from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "goodword.crm"
    label = "crm"
    verbose_name = "Customer records"

    def ready(self) -> None:
        from goodword.crm.services import deal_totals_compact
        from goodword.jobs.services import upkeep

        upkeep("crm.deal_totals_compact", every=dt.timedelta(minutes=1), fn=deal_totals_compact)
