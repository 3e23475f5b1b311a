"""Sending one web push (the Push API's protocol, RFC 8030) to one browser's push
service with pywebpush: the payload encrypted for the browser (aes128gcm, RFC 8291) and
the request signed with the site's VAPID key (RFC 8292, ``vapid``).

Push endpoints come from browsers, so from users: like webhook targets they must be
``https`` URLs on public addresses (``integrations.webhooks.url_safety``), checked when a
browser subscribes, before each push and on the connected socket.
``WEBPUSH_ALLOW_PRIVATE_ENDPOINTS`` lifts both rules (tests, a push service on the same
network).
"""

import base64
import binascii
import hashlib
import json
import time
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pywebpush import WebPushException, webpush

from integrations.alerts import vapid
from integrations.alerts.models import PushSubscription
from integrations.http_delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from integrations.webhooks.client import RefusedAddress, guarded_session
from integrations.webhooks.url_safety import address_problem, resolve, url_shape_problem

USER_AGENT = "leadmgmt-push/1"
VAPID_TOKEN_HOURS = 12


class SubscriptionGone(PermanentDeliveryError):
    """The push service no longer knows the subscription (404 or 410): the browser
    unsubscribed or its subscription expired."""


def private_endpoints_allowed() -> bool:
    return bool(settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS)


def endpoint_shape_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` is not a usable push endpoint URL, or None; no network involved."""
    problem = url_shape_problem(endpoint)
    if problem:
        return problem
    if urlsplit(endpoint).scheme.lower() != "https" and not private_endpoints_allowed():
        return "Push endpoints are https:// URLs."
    return None


def endpoint_address_problem(endpoint: str) -> str | None:
    """Why the endpoint's host may not be called (not public), or None. Raises ``OSError``
    when the host cannot be resolved (a blocking DNS lookup)."""
    if private_endpoints_allowed():
        return None
    parts = urlsplit(endpoint)
    for address in resolve(parts.hostname, parts.port or 443):
        problem = address_problem(address)
        if problem:
            return f"The push service host {parts.hostname} resolves to {problem}; pushes only go to public addresses."
    return None


def key_problems(*, p256dh: str, auth: str) -> dict[str, list[str]]:
    """The problems of a browser's subscription keys, by field ({} when they are usable)."""
    problems = {}
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), vapid.b64url_decode(p256dh))
    except (ValueError, TypeError, binascii.Error):
        problems["keys.p256dh"] = ["Not a P-256 public key in base64url."]
    try:
        if len(vapid.b64url_decode(auth)) != 16:
            problems["keys.auth"] = ["The auth secret is 16 bytes in base64url."]
    except (ValueError, TypeError, binascii.Error):
        problems["keys.auth"] = ["The auth secret is 16 bytes in base64url."]
    return problems


def send_push(subscription: PushSubscription, payload: dict) -> int:
    """Push ``payload`` (JSON) to the subscription's browser; returns the push service's
    2xx status (201: it took the message).

    Raises a ``DeliveryError``: ``SubscriptionGone`` on 404/410; transient on timeouts,
    connection errors, 408, 429, 5xx and a host that does not resolve now; permanent
    otherwise (a refused address, other 4xx, push not configured).
    """
    endpoint = subscription.endpoint
    try:
        problem = endpoint_shape_problem(endpoint) or endpoint_address_problem(endpoint)
    except OSError as error:
        raise TransientDeliveryError(f"Could not resolve the push service of {endpoint}: {error}") from error
    if problem:
        raise PermanentDeliveryError(f"Refused {endpoint}: {problem}")
    try:
        keys = vapid.configured_keys()
    except ImproperlyConfigured as error:
        raise PermanentDeliveryError(str(error)) from error
    if keys is None:
        raise PermanentDeliveryError("Web push is not configured (no VAPID keys).")
    parts = urlsplit(endpoint)
    claims = {
        "sub": vapid.subject(),
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + VAPID_TOKEN_HOURS * 3600,
    }
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    with guarded_session(user_agent=USER_AGENT, allows_private=private_endpoints_allowed) as session:
        session.max_redirects = 0  # a push service that redirects is misconfigured: no second request
        try:
            response = webpush(
                subscription_info={
                    "endpoint": endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=data,
                vapid_private_key=keys.signer(),
                vapid_claims=claims,
                ttl=settings.WEBPUSH_TTL_SECONDS,
                headers={"Urgency": "high", "Topic": _topic(payload)},
                timeout=(settings.WEBPUSH_CONNECT_TIMEOUT, settings.WEBPUSH_READ_TIMEOUT),
                requests_session=session,
            )
        except WebPushException as error:
            raise _error_for(error, endpoint) from error
        except RefusedAddress as error:
            raise PermanentDeliveryError(f"Refused {endpoint}: {error}") from error
        except requests.TooManyRedirects as error:
            raise PermanentDeliveryError(f"The push service at {endpoint} redirected: {error}") from error
        except requests.Timeout as error:
            raise TransientDeliveryError(f"Timed out: {error}") from error
        except requests.RequestException as error:
            raise TransientDeliveryError(f"Request failed: {error}") from error
        except (ValueError, TypeError, binascii.Error) as error:  # the browser's keys cannot encrypt
            raise PermanentDeliveryError(f"Could not encrypt for this subscription: {error}") from error
    return response.status_code


def _topic(payload: dict) -> str:
    """A push service keeps only the newest undelivered message of a topic (per lead and
    reason); topics are at most 32 URL-safe base64 characters."""
    digest = hashlib.sha256(f"{payload.get('reason', '')}:{payload.get('lead_id', '')}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def _error_for(error: WebPushException, endpoint: str) -> DeliveryError:
    status = error.status_code
    text = getattr(error.response, "text", "")[:500]
    message = f"HTTP {status} from the push service at {endpoint}: {text}"
    if status in (404, 410):
        return SubscriptionGone(message, status_code=status)
    if status in (408, 429) or (status or 0) >= 500:
        retry_after = error.retry_after
        return TransientDeliveryError(
            message, status_code=status, retry_after=int(retry_after) if str(retry_after or "").isdigit() else None
        )
    return PermanentDeliveryError(message, status_code=status)
