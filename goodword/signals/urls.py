from django.urls import path

from goodword.signals import views

urlpatterns = [
    path("v1/track", views.track, name="ingest-track"),
    path("v1/identify", views.identify, name="ingest-identify"),
    path("v1/group", views.group, name="ingest-group"),
    path("v1/page", views.page, name="ingest-page"),
    path("v1/screen", views.screen, name="ingest-screen"),
    path("v1/batch", views.batch, name="ingest-batch"),
]

# The signals pages. Each kind has its own route names (not a <kind> in the path), so that
# `reverse("signals-nps")` names a page without arguments, as every list page does.
for _kind in ("nps", "tickets", "messages", "goals"):
    urlpatterns += [
        path(f"signals/{_kind}/", views.signals_list, {"kind": _kind}, name=f"signals-{_kind}"),
        path(
            f"signals/{_kind}/export.csv",
            views.signals_export,
            {"kind": _kind},
            name=f"signals-{_kind}-export",
        ),
    ]
urlpatterns += [
    path("signals/weeks/export.csv", views.weeks_export, name="signals-weeks-export"),
    path("intake/", views.intake_status, name="intake-status"),
]
