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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator, get_signature_algorithm

from integrations.http_delivery import DeliveryError
from integrations.sms.client import SentMessage, send_sms
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
InboundListener = Callable[["InboundText"], None]
_inbound_listeners: dict[str, InboundListener] = {}


class SignatureRefused(PermissionDenied):
    default_message = "The request's signature does not match."


def listen(purpose: str, listener: StatusListener) -> None:
    """Call ``listener(message, previous_status)`` whenever a status callback moves a
    message sent for ``purpose`` (inside the callback's transaction)."""
    _listeners[purpose] = listener


def listen_inbound(name: str, listener: InboundListener) -> None:
    """Call ``listener(text)`` for every text a person sends to our number (``record_inbound``),
    inside the webhook's transaction."""
    _inbound_listeners[name] = listener


@dataclass(frozen=True)
class InboundText:
    """A text someone sent to our number, as the provider posted it."""

    sid: str
    from_number: str
    to_number: str
    body: str


def status_callback_url(message: SmsMessage) -> str:
    """The absolute URL the provider reports the message's status to (on ``SITE_URL``)."""
    return f"{settings.SITE_URL}{reverse('sms:status_callback', args=[message.public_id])}"


def send_text(*, to: str, body: str, purpose: str) -> SmsMessage:
    """Text ``body`` to ``to`` (E.164); returns the recorded message, with the provider's sid.

    Call it outside a transaction: the message row must be committed before the provider
    calls back about it. Raises the client's ``DeliveryError`` when the provider did not
    take it (the row then says ``not_sent`` and why).
    """
    return hand_to_provider(SmsMessage.objects.create(purpose=purpose, to=to, body=body))


def hand_to_provider(message: SmsMessage) -> SmsMessage:
    """Send a recorded (committed) message; ``send_text`` for a sender that records the
    message first, to link it to its own row before the provider is called."""
    to, body = message.to, message.body
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


def hand_many_to_provider(messages: list[SmsMessage], *, session, threads: int = 8) -> list[SmsMessage | DeliveryError]:
    """Send recorded (committed) messages over one keep-alive ``session``
    (``client.new_session``), up to ``threads`` requests at a time (each text is its own
    request); returns, in order, each message (its sid recorded) or the ``DeliveryError``
    it met. The sids are recorded in one statement (a status a callback already moved
    stays), each refusal in one."""
    if not messages:
        return []

    def hand(message: SmsMessage):
        try:
            return send_sms(
                to=message.to, body=message.body, status_callback_url=status_callback_url(message), session=session
            )
        except DeliveryError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(messages)))) as pool:
        answers = list(pool.map(hand, messages))
    now = timezone.now()
    taken = [(message, sent) for message, sent in zip(messages, answers, strict=True) if isinstance(sent, SentMessage)]
    if taken:
        SmsMessage.objects.filter(pk__in=[message.pk for message, _ in taken]).update(
            provider_sid=Case(*(When(pk=message.pk, then=Value(sent.sid)) for message, sent in taken)),
            status=Case(
                *(
                    When(pk=message.pk, status=SmsStatus.REQUESTED, then=Value(_first_status(sent)))
                    for message, sent in taken
                ),
                default=F("status"),
            ),
            sent_at=now,
            updated_at=now,
        )
    results: list[SmsMessage | DeliveryError] = []
    for message, sent in zip(messages, answers, strict=True):
        if isinstance(sent, SentMessage):
            message.provider_sid, message.sent_at = sent.sid, now
            _move(message, _first_status(sent))
            results.append(message)
        else:
            SmsMessage.objects.filter(pk=message.pk).update(status=SmsStatus.NOT_SENT, error=str(sent), updated_at=now)
            results.append(sent)
    logger.info("%s of %s texts taken by the provider", len(taken), len(messages))
    return results


def _first_status(sent: SentMessage) -> str:
    return PROVIDER_STATUSES.get(sent.status.lower(), SmsStatus.QUEUED)


def check_signature(*, url: str, params: Mapping, signature: str, signature_settings: str = "") -> None:
    """Raise ``SignatureRefused`` unless ``signature`` (``X-Twilio-Signature``) signs this
    request with ``SMS_AUTH_TOKEN`` (the ``twilio`` package's ``RequestValidator``)."""
    validator = RequestValidator(settings.SMS_AUTH_TOKEN)
    algorithm = get_signature_algorithm(signature_settings)
    if not settings.SMS_AUTH_TOKEN or not signature or not validator.validate(url, params, signature, algorithm):
        raise SignatureRefused()


def record_inbound(*, url: str, params: Mapping, signature: str, signature_settings: str = "") -> InboundText:
    """A text someone sent to our number (the provider's incoming-message webhook, which
    posts ``MessageSid``, ``From``, ``To`` and ``Body``): checks the signature as
    ``record_status_callback`` does (``SignatureRefused``: nothing is read or written),
    then hands it to every ``listen_inbound`` listener in one transaction."""
    check_signature(url=url, params=params, signature=signature, signature_settings=signature_settings)
    text = InboundText(
        sid=str(params.get("MessageSid") or params.get("SmsSid") or "")[:64],
        from_number=str(params.get("From") or "").strip()[:32],
        to_number=str(params.get("To") or "").strip()[:32],
        body=str(params.get("Body") or "")[:1600],
    )
    if not text.from_number:
        raise ValidationFailed(fields={"From": ["The sender's number is missing."]})
    with transaction.atomic():
        for listener in _inbound_listeners.values():
            listener(text)
    return text


def record_status_callback(*, token: str, url: str, params: Mapping, signature: str, signature_settings: str = ""):
    """Record a provider's status callback for the message named by ``token``; returns it.

    ``url`` is the URL the provider called (the one we gave it), ``params`` the form it
    posted, ``signature`` its ``X-Twilio-Signature``. Raises ``SignatureRefused`` when the
    signature does not match (nothing is read or written), ``ValidationFailed`` for an
    unknown status or another message's sid, ``NotFound`` for an unknown message.
    """
    check_signature(url=url, params=params, signature=signature, signature_settings=signature_settings)
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
