"""What a user sets up to be alerted: their channels (``AlertPreference``) and the
browsers that receive their pushes (``PushSubscription``)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.alerts.models import CHANNEL_ORDERS, AlertPreference, PushSubscription
from integrations.alerts.push import endpoint_address_problem, endpoint_shape_problem, key_problems
from leads.core.validation import normalize_phone
from leads.errors import NotFound, ValidationFailed
from leads.models import User

MAX_SUBSCRIPTIONS_PER_USER = 20


def preference_update(*, user: User, order: str, sms_number: str, sms_opt_in: bool) -> AlertPreference:
    """Save the user's channels: ``order`` names one of ``CHANNEL_ORDERS`` ("push,sms", ...);
    ``sms_number`` is any way of writing a phone number (kept as E.164), required with
    ``sms_opt_in`` or when texts are in the order. Returns the preference. Raises
    ``ValidationFailed`` (fields ``order``, ``sms_number``, ``sms_opt_in``)."""
    if order not in CHANNEL_ORDERS:
        raise ValidationFailed(fields={"order": ["Choose one of the listed orders."]})
    channels = list(CHANNEL_ORDERS[order])
    try:
        number, valid = normalize_phone(sms_number or "")
    except ValidationError as error:
        raise ValidationFailed(fields={"sms_number": error.messages}) from None
    if number and (not valid or not number.startswith("+")):
        raise ValidationFailed(fields={"sms_number": ["Enter a mobile number that exists, e.g. +14155550134."]})
    if "sms" in channels and not (number and sms_opt_in):
        raise ValidationFailed(
            fields={"sms_opt_in": ["To get alerts by text, enter your number and agree to receive texts."]}
        )
    if sms_opt_in and not number:
        raise ValidationFailed(fields={"sms_number": ["Enter the number to text."]})
    with transaction.atomic():
        preference, _ = AlertPreference.objects.select_for_update().get_or_create(user=user)
        if not sms_opt_in or number != preference.sms_number:
            preference.sms_opted_in_at = None
        if sms_opt_in and preference.sms_opted_in_at is None:
            preference.sms_opted_in_at = timezone.now()
        preference.channels, preference.sms_number = channels, number
        preference.save()
    return preference


def push_subscribe(*, user: User, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Remember that this browser receives ``user``'s pushes; returns the subscription. A
    browser subscribed already (same endpoint, maybe under another user who signed in on
    it) is taken over with its new keys. Raises ``ValidationFailed`` (fields ``endpoint``,
    ``keys.p256dh``, ``keys.auth``) for an endpoint that is not https on a public address,
    unusable keys, or too many browsers."""
    endpoint, p256dh, auth = str(endpoint or "").strip(), str(p256dh or "").strip(), str(auth or "").strip()
    problems = key_problems(p256dh=p256dh, auth=auth)
    try:
        endpoint_problem = endpoint_shape_problem(endpoint) or endpoint_address_problem(endpoint)
    except OSError:
        endpoint_problem = "The push service's host could not be resolved."
    if endpoint_problem:
        problems["endpoint"] = [endpoint_problem]
    if problems:
        raise ValidationFailed(fields=problems)
    with transaction.atomic():
        subscription = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if subscription is None:
            if PushSubscription.objects.filter(user=user).count() >= MAX_SUBSCRIPTIONS_PER_USER:
                raise ValidationFailed(
                    fields={"endpoint": [f"At most {MAX_SUBSCRIPTIONS_PER_USER} browsers; remove one first."]}
                )
            subscription = PushSubscription(endpoint=endpoint)
        subscription.user, subscription.p256dh, subscription.auth = user, p256dh, auth
        subscription.user_agent = user_agent[:300]
        subscription.save()
    return subscription


def push_unsubscribe(*, user: User, endpoint: str = "", subscription_id: int | None = None) -> None:
    """Forget one of the user's browsers, named by its endpoint or id; NotFound when it is not theirs."""
    subscriptions = PushSubscription.objects.filter(user=user)
    if subscription_id is not None:
        subscriptions = subscriptions.filter(pk=subscription_id)
    else:
        subscriptions = subscriptions.filter(endpoint=str(endpoint or ""))
    deleted, _ = subscriptions.delete()
    if not deleted:
        raise NotFound("No such browser subscription.")
