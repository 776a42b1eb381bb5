import datetime as dt

from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "goodword.crm"
    label = "crm"
    verbose_name = "Customer records"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from goodword.crm.io import runs  # noqa: F401 - registers the import.run job handler
        from goodword.crm.services import deal_totals_compact
        from goodword.crm.triggers import after_migrate
        from goodword.jobs.services import upkeep

        post_migrate.connect(after_migrate, sender=self)

        upkeep("crm.deal_totals_compact", every=dt.timedelta(minutes=1), fn=deal_totals_compact)
