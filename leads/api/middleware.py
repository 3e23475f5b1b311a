"""JSON errors for /api/ paths that never reach a DRF view (unknown URLs, body
too large, crashes outside a view), so integrations always get the error shape."""

import logging

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse

from leads.api.envelope import error_body, mark_request_start

logger = logging.getLogger(__name__)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = request.path.startswith("/api/")
        if is_api:
            mark_request_start(request)
        response = self.get_response(request)
        if is_api and response.status_code == 404 and "json" not in response.get("Content-Type", ""):
            return JsonResponse(error_body(request, code="not_found", message="No such endpoint."), status=404)
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        if isinstance(exception, RequestDataTooBig):
            body = error_body(request, code="payload_too_large", message="The request body is too large.")
            return JsonResponse(body, status=413)
        if isinstance(exception, (SuspiciousOperation, BadRequest)):
            return JsonResponse(error_body(request, code="bad_request", message="Bad request."), status=400)
        logger.exception("Unhandled error under /api/", exc_info=exception)
        body = error_body(
            request, code="internal_error", message="Something went wrong on our side. It has been logged."
        )
        return JsonResponse(body, status=500)
