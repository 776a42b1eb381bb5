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
