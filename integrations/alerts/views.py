"""The Notifications page (channels and this browser's pushes) and the endpoints its
script calls to subscribe and unsubscribe a browser: signed-in sessions only, CSRF
token in the ``X-CSRFToken`` header, JSON in and out, errors as
``{"error": {"code", "message", "fields"}}``."""

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from integrations.alerts import channels, selectors, subscriptions, vapid
from integrations.alerts.forms import AlertPreferenceForm
from integrations.sms import client as sms_client
from leads.errors import ApplicationError, ValidationFailed
from leads.views.common import agent_page

MAX_BODY_BYTES = 8192


@require_http_methods(["GET", "POST"])
@agent_page
def notifications(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST: save the channels (303 back), or the page again with the errors (422)."""
    preference = channels.preference_of(request.user)
    status = 200
    if request.method == "POST":
        form = AlertPreferenceForm(request.POST)
        if form.is_valid():
            try:
                subscriptions.preference_update(
                    user=request.user,
                    order=form.cleaned_data["order"],
                    sms_number=form.cleaned_data["sms_number"],
                    sms_opt_in=form.cleaned_data["sms_opt_in"],
                )
            except ValidationFailed as error:
                for name, problems in error.fields.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
            else:
                messages.success(request, "Saved: alerts will reach you that way.")
                return HttpResponseRedirect(reverse("alerts:notifications"), status=303)
        status = 422
    else:
        form = AlertPreferenceForm(
            initial={
                "order": ",".join(preference.channels),
                "sms_number": preference.sms_number,
                "sms_opt_in": preference.sms_opted_in_at is not None,
            }
        )
    keys = vapid.configured_keys()
    context = {
        "form": form,
        "preference": preference,
        "vapid_public_key": keys.public_key if keys else "",
        "push_subscriptions": selectors.push_subscriptions_of(request.user),
        "sms_configured": sms_client.is_configured(),
        "recent_alerts": selectors.recent_alerts_of(request.user),
    }
    return render(request, "alerts/notifications.html", context, status=status)


@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    """Body: the browser's ``PushSubscription.toJSON()`` (``{"endpoint", "keys": {"p256dh",
    "auth"}}``). 201 ``{"id", "endpoint"}``; 400 bad JSON or fields; 401 signed out."""
    if not request.user.is_authenticated:
        return _error(401, "not_authenticated", "Sign in first.")
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        return body
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    try:
        subscription = subscriptions.push_subscribe(
            user=request.user,
            endpoint=body.get("endpoint") or "",
            p256dh=keys.get("p256dh") or "",
            auth=keys.get("auth") or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ApplicationError as error:
        return _error(error.status_code, error.code, error.message, error.fields)
    return JsonResponse({"id": subscription.pk, "endpoint": subscription.endpoint}, status=201)


@require_POST
def push_unsubscribe(request: HttpRequest) -> HttpResponse:
    """Body ``{"endpoint"}``: this browser stops receiving the user's pushes. 204; 404 when it was not theirs."""
    if not request.user.is_authenticated:
        return _error(401, "not_authenticated", "Sign in first.")
    body = _json_body(request)
    if isinstance(body, JsonResponse):
        return body
    try:
        subscriptions.push_unsubscribe(user=request.user, endpoint=str(body.get("endpoint") or ""))
    except ApplicationError as error:
        return _error(error.status_code, error.code, error.message, error.fields)
    return HttpResponse(status=204)


@require_POST
@agent_page
def push_subscription_remove(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The page's "Remove" button for one of the user's browsers."""
    subscriptions.push_unsubscribe(user=request.user, subscription_id=subscription_id)
    messages.success(request, "That browser no longer gets your alerts.")
    return HttpResponseRedirect(reverse("alerts:notifications"), status=303)


def _json_body(request: HttpRequest) -> dict | JsonResponse:
    if request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "Send Content-Type: application/json.")
    if len(request.body) > MAX_BODY_BYTES:
        return _error(400, "validation_error", "The body is too large.")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "validation_error", "The body is not valid JSON.")
    if not isinstance(body, dict):
        return _error(400, "validation_error", "The body must be a JSON object.")
    return body


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return JsonResponse({"error": error}, status=status)
