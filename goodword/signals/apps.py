from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "goodword.signals"
    label = "signals"
    verbose_name = "Customer signals"
