"""The referrals app's pages: each area's views module lists its own paths."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from goodword.referrals import board_views, public_views, rewards_views, texts_views, views

urlpatterns: list[URLPattern | URLResolver] = [*public_views.urlpatterns, *views.urlpatterns]
urlpatterns += rewards_views.urlpatterns
urlpatterns += texts_views.urlpatterns
urlpatterns += board_views.urlpatterns
