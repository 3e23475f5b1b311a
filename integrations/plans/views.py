"""The mail provider's inbound-parse webhook: public (the provider has no session); the
secret in the URL (``PLANS_INBOUND_EMAIL_SECRET``) is the permission."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.plans import inbound
from leads.errors import ApplicationError


@csrf_exempt
@require_POST
def inbound_email(request: HttpRequest, secret: str) -> HttpResponse:
    """204 once logged on the lead; 403 for a wrong secret (or the webhook off), 404 when
    the reply address names no lead, 400 for a post without its fields; nothing is saved
    on any of these."""
    expected = settings.PLANS_INBOUND_EMAIL_SECRET
    if not expected or not constant_time_compare(secret, expected):
        return _error(403, "permission_denied", "Unknown webhook secret.")
    missing = [name for name in ("from", "to") if not request.POST.get(name)]
    if missing:
        return _error(400, "validation_error", "Fields are missing.", {name: ["Required."] for name in missing})
    try:
        inbound.record_inbound_email(
            sender=request.POST["from"],
            to=request.POST["to"],
            subject=request.POST.get("subject", ""),
            text=request.POST.get("text", ""),
        )
    except ApplicationError as error:
        return _error(error.status_code, error.code, error.message, error.fields)
    return HttpResponse(status=204)


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)
