from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "goodword.crm"
    label = "crm"
    verbose_name = "Customer records"
