"""A client of a Twilio-compatible SMS REST API: one call, send a text.

``POST {SMS_BASE_URL}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json`` with HTTP
basic auth (the account sid and ``SMS_AUTH_TOKEN``) and the form fields ``To``, ``From``,
``Body`` and ``StatusCallback``; the provider answers 201 with the message's ``sid`` and
``status``, and later POSTs each status change to the callback URL (``services``).
Any provider speaking this API works: the base URL is a setting.
"""

from dataclasses import dataclass
from urllib.parse import quote

import requests
import requests.adapters
from django.conf import settings

from integrations.http_delivery import PermanentDeliveryError, Timeouts, send

USER_AGENT = "leadmgmt-sms/1"


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str  # the provider's word: "queued", "accepted", ...


def is_configured() -> bool:
    """Whether texts can be sent: an account sid, an auth token and a sender number are set."""
    return bool(settings.SMS_ACCOUNT_SID and settings.SMS_AUTH_TOKEN and settings.SMS_FROM_NUMBER)


def messages_url() -> str:
    account = quote(settings.SMS_ACCOUNT_SID, safe="")
    return f"{settings.SMS_BASE_URL.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"


def new_session(*, connections: int = 1) -> requests.Session:
    """A keep-alive session for many texts (``send_sms(session=...)``), pooling up to
    ``connections`` connections to the provider (one per sending thread). Close it after."""
    http = requests.Session()
    http.trust_env = False
    http.headers["User-Agent"] = USER_AGENT
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(1, connections))
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def send_sms(
    *, to: str, body: str, status_callback_url: str | None = None, session: requests.Session | None = None
) -> SentMessage:
    """Hand one text to the provider (over ``session``, kept open, when given); returns its
    message sid and first status.

    Raises ``http_delivery.DeliveryError``: transient for timeouts, connection errors,
    408, 429 and 5xx; permanent for other refusals (a bad number, bad credentials) and
    for an answer without a sid, or when SMS is not configured.
    """
    if not is_configured():
        raise PermanentDeliveryError("SMS is not configured (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER).")
    form = {"To": to, "From": settings.SMS_FROM_NUMBER, "Body": body}
    if status_callback_url:
        form["StatusCallback"] = status_callback_url
    timeouts = Timeouts(connect=settings.SMS_CONNECT_TIMEOUT, read=settings.SMS_READ_TIMEOUT)
    own = session is None
    http = session if session is not None else new_session()
    try:
        response = send(
            http,
            "POST",
            messages_url(),
            timeouts=timeouts,
            data=form,
            auth=(settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN),
            headers={"Accept": "application/json"},
        )
    finally:
        if own:
            http.close()
    try:
        answer = response.json()
        return SentMessage(sid=str(answer["sid"]), status=str(answer.get("status") or "queued"))
    except (ValueError, KeyError, TypeError) as error:
        raise PermanentDeliveryError(
            f"The SMS provider answered {response.status_code} without a message sid: {response.text[:500]}"
        ) from error
