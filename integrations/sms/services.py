"""Sending texts and hearing back about them, for whoever needs to text someone
(agent alerts today, follow-up plans next).

``send_text`` records a message, hands it to the provider (``client``) with a status
callback URL naming the message, and records the provider's sid. The provider then
POSTs each status change to that URL; ``record_status_callback`` checks the request's
``X-Twilio-Signature`` (the ``twilio`` package's ``RequestValidator``, keyed with
``SMS_AUTH_TOKEN``), moves the message forward (never back: callbacks may arrive out of
order) and tells the listener of the message's purpose (``listen``), in the same
transaction, so a sender can react to "delivered" or "undelivered".
"""

import logging
import uuid
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator, get_signature_algorithm

from integrations.http_delivery import DeliveryError
from integrations.sms.client import send_sms
from integrations.sms.models import STATUS_RANK, SmsMessage, SmsStatus
from leads.errors import NotFound, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

# The provider's words for a message's state, as ours.
PROVIDER_STATUSES = {
    "accepted": SmsStatus.QUEUED,
    "scheduled": SmsStatus.QUEUED,
    "queued": SmsStatus.QUEUED,
    "sending": SmsStatus.SENDING,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}

StatusListener = Callable[[SmsMessage, str], None]
_listeners: dict[str, StatusListener] = {}


class SignatureRefused(PermissionDenied):
    default_message = "The request's signature does not match."


def listen(purpose: str, listener: StatusListener) -> None:
    """Call ``listener(message, previous_status)`` whenever a status callback moves a
    message sent for ``purpose`` (inside the callback's transaction)."""
    _listeners[purpose] = listener


def status_callback_url(message: SmsMessage) -> str:
    """The absolute URL the provider reports the message's status to (on ``SITE_URL``)."""
    return f"{settings.SITE_URL}{reverse('sms:status_callback', args=[message.public_id])}"


def send_text(*, to: str, body: str, purpose: str) -> SmsMessage:
    """Text ``body`` to ``to`` (E.164); returns the recorded message, with the provider's sid.

    Call it outside a transaction: the message row must be committed before the provider
    calls back about it. Raises the client's ``DeliveryError`` when the provider did not
    take it (the row then says ``not_sent`` and why).
    """
    message = SmsMessage.objects.create(purpose=purpose, to=to, body=body)
    try:
        sent = send_sms(to=to, body=body, status_callback_url=status_callback_url(message))
    except DeliveryError as error:
        SmsMessage.objects.filter(pk=message.pk).update(
            status=SmsStatus.NOT_SENT, error=str(error), updated_at=timezone.now()
        )
        raise
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message.pk)
        message.provider_sid, message.sent_at = sent.sid, timezone.now()
        _move(message, PROVIDER_STATUSES.get(sent.status.lower(), SmsStatus.QUEUED))  # a callback may be ahead
        message.save()
    logger.info("Text %s to %s taken by the provider as %s (%s)", message.pk, to, sent.sid, sent.status)
    return message


def record_status_callback(*, token: str, url: str, params: Mapping, signature: str, signature_settings: str = ""):
    """Record a provider's status callback for the message named by ``token``; returns it.

    ``url`` is the URL the provider called (the one we gave it), ``params`` the form it
    posted, ``signature`` its ``X-Twilio-Signature``. Raises ``SignatureRefused`` when the
    signature does not match (nothing is read or written), ``ValidationFailed`` for an
    unknown status or another message's sid, ``NotFound`` for an unknown message.
    """
    validator = RequestValidator(settings.SMS_AUTH_TOKEN)
    algorithm = get_signature_algorithm(signature_settings)
    if not settings.SMS_AUTH_TOKEN or not signature or not validator.validate(url, params, signature, algorithm):
        raise SignatureRefused()
    word = str(params.get("MessageStatus") or params.get("SmsStatus") or "")
    status = PROVIDER_STATUSES.get(word.lower())
    if status is None:
        raise ValidationFailed(fields={"MessageStatus": [f"Unknown message status {word[:40]!r}."]})
    sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
    try:
        public_id = uuid.UUID(token)
    except ValueError:
        raise NotFound("No such text message.") from None
    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().filter(public_id=public_id).first()
        if message is None:
            raise NotFound("No such text message.")
        if sid and message.provider_sid and sid != message.provider_sid:
            raise ValidationFailed(fields={"MessageSid": ["This is not the sid of the message the URL names."]})
        if sid and not message.provider_sid and not SmsMessage.objects.filter(provider_sid=sid).exists():
            message.provider_sid = sid  # the callback came before the provider's answer was recorded
        previous = message.status
        if _move(message, status):
            message.error_code = str(params.get("ErrorCode") or "")[:16]
            message.status_changed_at = timezone.now()
        message.save()
        if message.status != previous and message.purpose in _listeners:
            _listeners[message.purpose](message, previous)
    return message


def _move(message: SmsMessage, status: str) -> bool:
    """Set ``status`` when it is further along than the message's; returns whether it moved."""
    if STATUS_RANK[status] <= STATUS_RANK[message.status]:
        return False
    message.status = status
    return True
