"""Django's error views (``handler400`` and the others, set in ``leadmgmt.urls``).

Django calls them for errors raised before any view runs, where neither DRF nor
``ApiErrorMiddleware.process_exception`` sees them: a Host header outside
ALLOWED_HOSTS (``DisallowedHost``, raised by the first middleware that reads the
host), a URL too long for the HTTPS redirect (``DisallowedRedirect``), a crash in a
middleware. Under /api/ they answer in the API's error shape; elsewhere Django's
own pages.
"""

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.views import defaults

from leads.api.envelope import error_body


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _api_error(request, status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(request, code=code, message=message), status=status)


def bad_request(request, exception):
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, DisallowedHost):
        return _api_error(request, 400, "bad_request", "The Host header names a host this server does not serve.")
    return _api_error(request, 400, "bad_request", "Bad request.")


def permission_denied(request, exception):
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return _api_error(request, 403, "permission_denied", "You are not allowed to do this.")


def page_not_found(request, exception):
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return _api_error(request, 404, "not_found", "No such endpoint.")


def server_error(request):
    if not _is_api(request):
        return defaults.server_error(request)
    return _api_error(request, 500, "internal_error", "Something went wrong on our side. It has been logged.")
