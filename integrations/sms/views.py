"""The SMS provider's status callback: public (the provider has no session), the
request's signature is the permission."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.sms import services
from leads.errors import ApplicationError


@csrf_exempt
@require_POST
def status_callback(request: HttpRequest, token: str) -> HttpResponse:
    """204 once recorded; 403 for a bad signature, 400 for bad input, 404 for an unknown
    message, each with ``{"error": {"code", "message", "fields"}}``."""
    # The URL the provider signed is the one we gave it: SITE_URL and this path, whatever
    # proxies in front of us did to the host and scheme.
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    try:
        services.record_status_callback(
            token=token,
            url=url,
            params=request.POST,
            signature=request.headers.get("X-Twilio-Signature", ""),
            signature_settings=request.headers.get("X-Twilio-Webhooks-Signature-Settings", ""),
        )
    except ApplicationError as error:
        body = {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
        return JsonResponse(body, status=error.status_code)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    """A text sent to our number (the provider's incoming-message webhook): 200 with an
    empty TwiML answer once recorded; 403 for a bad signature (nothing saved), 400 for bad input."""
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    try:
        services.record_inbound(
            url=url,
            params=request.POST,
            signature=request.headers.get("X-Twilio-Signature", ""),
            signature_settings=request.headers.get("X-Twilio-Webhooks-Signature-Settings", ""),
        )
    except ApplicationError as error:
        body = {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
        return JsonResponse(body, status=error.status_code)
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml")
