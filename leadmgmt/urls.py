from django.contrib import admin
from django.urls import include, path

from leads.ratelimit import RateLimitedLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2/", include("integrations.webhooks.api")),
    path("api/v2/", include("leads.api.urls")),
    path("api/v2/", include("leads.api.docs")),
    # Sign-in with a budget per address and per username (LOGIN_RATE_LIMIT); the rest of
    # django.contrib.auth.urls as they are.
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("unsubscribe/", include("integrations.workflows.urls")),
    path("", include("leads.urls")),
]
