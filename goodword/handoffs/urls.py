"""The handoffs app's pages (views.py lists its paths)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from goodword.handoffs import views

urlpatterns: list[URLPattern | URLResolver] = [*views.urlpatterns]
