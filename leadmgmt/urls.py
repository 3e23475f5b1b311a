from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/", include("integrations.webhooks.api")),
    path("api/v2/", include("leads.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("unsubscribe/", include("integrations.workflows.urls")),
    path("", include("leads.urls")),
]
