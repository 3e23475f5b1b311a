"""The unsubscribe page: public, the signed token in the link is the permission."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.workflows.services import record_opt_out
from integrations.workflows.unsubscribe import InvalidUnsubscribeLink, unsubscribe_target


# No CSRF check: the token authorises the opt-out, and mail clients send the
# one-click unsubscribe POST (RFC 8058) without any cookie. The worst a forged
# POST could do is what the link's holder may do anyway.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: ask to confirm. POST: record the opt-out. A bad link: a 400 page."""
    try:
        if request.method == "POST":
            target = record_opt_out(token=token)
            return render(request, "workflows/unsubscribe_done.html", {"target": target})
        target = unsubscribe_target(token=token)
    except InvalidUnsubscribeLink as error:
        return render(request, "workflows/unsubscribe_invalid.html", {"message": error.message}, status=400)
    return render(request, "workflows/unsubscribe_confirm.html", {"target": target, "token": token})
