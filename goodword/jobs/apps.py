from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "goodword.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
