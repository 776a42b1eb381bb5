from __future__ import annotations

from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    name = "goodword.handoffs"
    label = "handoffs"
    verbose_name = "Handoffs"
