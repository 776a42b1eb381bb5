from django.contrib import admin
from django.urls import include, path

from goodword.api import api
from goodword.users import views as user_views

admin.site.site_header = "Goodword back office"
admin.site.site_title = "Goodword"

urlpatterns = [
    path("login/", user_views.login_view, name="login"),
    path("logout/", user_views.logout_view, name="logout"),
    path("account/digests/", user_views.account_digests, name="account-digests"),
    path("admin/login/", user_views.admin_login_redirect),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("goodword.signals.urls")),
    path("", include("goodword.moments.urls")),
    path("", include("goodword.crm.urls")),
    path("", include("goodword.referrals.urls")),
    path("", include("goodword.handoffs.urls")),
    path("", include("goodword.reports.urls")),
]
