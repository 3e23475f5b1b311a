from django.contrib import admin
from django.urls import include, path

from integrations.alerts import pwa
from leads.ratelimit import (
    RateLimitedAdminAuthenticationForm,
    RateLimitedPasswordResetView,
    rate_limited_login,
    rate_limited_sign_in,
)

# The admin's sign-in shares the agents' budgets (LOGIN_RATE_LIMIT per address and per
# username): its form refuses past them, and the path below answers those POSTs 429.
admin.site.login_form = RateLimitedAdminAuthenticationForm

urlpatterns = [
    path("admin/login/", rate_limited_sign_in(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v2/", include("integrations.webhooks.api")),
    path("api/v2/", include("integrations.plans.api")),
    path("api/v2/", include("integrations.property_alerts.api")),
    path("api/v2/", include("integrations.routing.api")),
    path("api/v2/", include("leads.deals.api")),
    path("api/v2/", include("integrations.matches.api")),
    path("api/v2/", include("leads.webevents.api")),
    path("api/v2/", include("leads.reports.api")),
    path("api/v2/", include("leads.api.urls")),
    path("api/v2/", include("leads.api.docs")),
    # Sign-in with a budget per address and per username (LOGIN_RATE_LIMIT), password
    # reset with one per address and per email (PASSWORD_RESET_*_RATE_LIMIT); the rest
    # of django.contrib.auth.urls as they are.
    path("accounts/login/", rate_limited_login, name="login"),
    path("accounts/password_reset/", RateLimitedPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("unsubscribe/", include("integrations.workflows.urls")),
    path("notifications/", include("integrations.alerts.urls")),
    path("sms/", include("integrations.sms.urls")),
    path("plans/", include("integrations.plans.urls")),
    path("alerts/", include("integrations.property_alerts.urls")),
    path("routing/", include("integrations.routing.urls")),
    path("reports/", include("leads.reports.urls")),
    path("scoring/", include("integrations.winprob.urls")),
    # The installable web app: served from the root, so the service worker's scope is the whole site.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("offline/", pwa.offline, name="offline"),
    path("", include("leads.urls")),
]

# Errors raised before a view runs (a Host outside ALLOWED_HOSTS, a crash in a
# middleware) answer in the API's error shape under /api/.
handler400 = "leads.api.handlers.bad_request"
handler403 = "leads.api.handlers.permission_denied"
handler404 = "leads.api.handlers.page_not_found"
handler500 = "leads.api.handlers.server_error"
