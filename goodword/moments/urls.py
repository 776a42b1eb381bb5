from django.urls import path

from goodword.moments import views

urlpatterns = [
    path("accounts/<int:account_id>/readiness/", views.account_readiness, name="account-readiness"),
    path("moments/export.csv", views.moments_export, name="moments-export"),
    path("settings/programme/", views.programme_settings, name="programme-settings"),
    path("settings/programme/backtest/", views.programme_backtest, name="programme-backtest"),
    path("scans/", views.scans, name="scans"),
]
