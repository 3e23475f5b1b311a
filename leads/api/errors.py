"""One error shape for the whole API:
``{"error": {"code", "message", "fields"}, "metadata", "processing_time"}``."""

import logging

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from leads.api.envelope import error_body
from leads.core.inputs import flatten_errors
from leads.errors import ApplicationError

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ParseError: ("malformed_json", "The request body is not valid JSON."),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication credentials were not provided."),
    exceptions.AuthenticationFailed: ("authentication_failed", "The token is invalid or expired."),
    exceptions.PermissionDenied: ("permission_denied", "You are not allowed to do this."),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Send the body as application/json."),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.Throttled: ("rate_limited", None),
}


def api_exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApplicationError):
        details = getattr(exc, "details", None)
        body = error_body(request, code=exc.code, message=exc.message, fields=exc.fields, details=details)
        return Response(body, status=exc.status_code, headers=getattr(exc, "headers", None))

    # Raised by Django while DRF reads the body or the query string.
    if isinstance(exc, RequestDataTooBig):
        body = error_body(request, code="payload_too_large", message="The request body is too large.")
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (SuspiciousOperation, BadRequest)):
        return Response(error_body(request, code="bad_request", message="Bad request."), status=400)

    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            request,
            code="validation_error",
            message="The request has invalid fields.",
            fields=flatten_errors(exc.detail),
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        code, message = _CODES.get(type(exc), (exc.default_code, None))
        if message is None:
            message = str(exc.detail)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(error_body(request, code=code, message=message), status=exc.status_code, headers=headers)

    logger.exception("Unhandled error in API view", exc_info=exc)
    body = error_body(request, code="internal_error", message="Something went wrong on our side. It has been logged.")
    return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
