"""The three ways an alert reaches an agent, each tried by ``services.deliver``:
whether a channel can be used for a user now, and sending the alert's payload by it.

- **push**: to every browser the user subscribed (``push``); delivered once one push
  service accepts it (201); a subscription its service no longer knows (404/410) is deleted.
- **sms**: to the user's opted-in number through ``integrations.sms``; sent when the
  provider takes it, delivered when its status callback says so.
- **email**: Django mail, the last resort; sent when the mail server takes it.
"""

import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from integrations.alerts import vapid
from integrations.alerts.models import AgentAlert, AlertPreference, Channel, PushSubscription
from integrations.alerts.push import SubscriptionGone, send_push
from integrations.http_delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from integrations.sms import client as sms_client
from integrations.sms import services as sms
from integrations.sms.models import SmsMessage
from leads.models import User

SMS_PURPOSE = "alerts"
SMS_MAX_LENGTH = 320


def preference_of(user: User) -> AlertPreference:
    """The user's saved preference, or the default one (unsaved) when they never chose."""
    return AlertPreference.objects.filter(user=user).first() or AlertPreference(user=user)


def channel_problem(user: User, channel: str, preference: AlertPreference | None = None) -> str | None:
    """Why ``channel`` cannot reach ``user`` now, or None when it can be tried."""
    if channel == Channel.PUSH:
        try:
            if vapid.configured_keys() is None:
                return "Web push is not configured (no VAPID keys)."
        except ImproperlyConfigured as error:
            return str(error)
        if not PushSubscription.objects.filter(user=user).exists():
            return "No browser of theirs is subscribed to pushes."
        return None
    if channel == Channel.SMS:
        preference = preference or preference_of(user)
        if not sms_client.is_configured():
            return "SMS is not configured (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER)."
        if not (preference.sms_number and preference.sms_opted_in_at):
            return "They have no SMS number opted in to alerts."
        return None
    if not user.email:
        return "They have no email address."
    return None


@dataclass
class PushResult:
    status_code: int | None = None  # the first accepting service's status
    detail: dict = field(default_factory=dict)  # per subscription id: its service's answer
    error: DeliveryError | None = None  # set when no service took it


def send_by_push(alert: AgentAlert) -> PushResult:
    """Push the alert to each of the user's browsers; it got through when one push
    service took it. Subscriptions that are gone (404/410) are deleted. When none took
    it, ``error`` is transient if any failure was, else permanent."""
    result = PushResult()
    failures: list[DeliveryError] = []
    subscriptions = list(PushSubscription.objects.filter(user_id=alert.user_id).order_by("pk"))
    for subscription in subscriptions:
        try:
            status_code = send_push(subscription, alert.payload)
        except SubscriptionGone as error:
            PushSubscription.objects.filter(pk=subscription.pk).delete()
            result.detail[str(subscription.pk)] = {"status": error.status_code, "outcome": "gone: subscription deleted"}
            failures.append(error)
        except DeliveryError as error:
            result.detail[str(subscription.pk)] = {"status": error.status_code, "outcome": str(error)[:300]}
            failures.append(error)
        else:
            PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now())
            result.detail[str(subscription.pk)] = {"status": status_code, "outcome": "accepted"}
            result.status_code = result.status_code or status_code
    if result.status_code is not None:
        return result
    if not subscriptions:
        result.error = PermanentDeliveryError("No browser of theirs is subscribed to pushes.")
        return result
    summary = "; ".join(str(failure)[:200] for failure in failures)
    transient = [failure for failure in failures if failure.transient]
    if transient:
        result.error = TransientDeliveryError(
            f"No push service took it: {summary}",
            status_code=transient[0].status_code,
            retry_after=transient[0].retry_after,
        )
    else:
        result.error = PermanentDeliveryError(
            f"No push service took it: {summary}", status_code=failures[0].status_code
        )
    return result


def sms_text(payload: dict) -> str:
    """The alert as one text: title, body, the lead's link and the other actions' links."""
    lines = [payload["title"], payload.get("body") or "", payload["url"]]
    lines += [
        f"{action['title']}: {action['url']}"
        for action in payload.get("actions", [])
        if action["action"] != "open" and not action["url"].startswith("tel:")
    ]
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= SMS_MAX_LENGTH else text[: SMS_MAX_LENGTH - 1] + "…"


def send_by_sms(alert: AgentAlert) -> SmsMessage:
    """Text the alert to the user's opted-in number; returns the message the provider
    took. Raises ``DeliveryError`` (permanent when there is no number any more)."""
    preference = preference_of(alert.user)
    problem = channel_problem(alert.user, Channel.SMS, preference)
    if problem:
        raise PermanentDeliveryError(problem)
    return sms.send_text(to=preference.sms_number, body=sms_text(alert.payload), purpose=SMS_PURPOSE)


def alert_email(alert: AgentAlert) -> EmailMultiAlternatives:
    try:
        settings_url = f"{settings.SITE_URL}{reverse('alerts:notifications')}"
    except NoReverseMatch:
        settings_url = settings.SITE_URL
    context = {"payload": alert.payload, "settings_url": settings_url}
    message = EmailMultiAlternatives(
        subject=" ".join(alert.payload["title"].split()),  # names come from forms: no newline in a header
        body=render_to_string("alerts/email/alert.txt", context),
        to=[alert.user.email],
    )
    message.attach_alternative(render_to_string("alerts/email/alert.html", context), "text/html")
    return message


def send_by_email(alert: AgentAlert) -> None:
    """Email the alert to the user. Raises ``DeliveryError``: permanent when they have
    no address or the server refuses it, transient when the server cannot be reached."""
    if not alert.user.email:
        raise PermanentDeliveryError("They have no email address.")
    try:
        alert_email(alert).send()
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentDeliveryError(f"The mail server refused the address: {error}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise TransientDeliveryError(f"Email not sent: {error}") from error
