"""The reports app's pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from goodword.reports import rates_views, settings_views, views

# The rates' and settings' paths first: /reports/<name>/ would take /reports/rates/.
urlpatterns: list[URLPattern | URLResolver] = [
    *rates_views.urlpatterns,
    *settings_views.urlpatterns,
    *views.urlpatterns,
]
