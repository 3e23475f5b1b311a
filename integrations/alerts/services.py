"""Agent alerts: making them, and getting each one through.

``alert_agent`` records an alert for a user about a lead (why: assigned to them, or
offered to them to claim) and one delivery per channel, in the order the user chose
(push and/or SMS) with email last: the first usable channel is armed, the others wait
on standby. Each attempt (``deliver``) goes through the shared outbox
(``integrations.outbox``): claim, send outside any transaction, settle. A channel that
fails for good (refused, gone, out of attempts, an SMS the carrier could not deliver)
arms the next one (``_advance``); once one gets through the rest are skipped.

``assignment_alerts`` is the lead events' side: every committed ``lead.assigned`` (and
``lead.created`` of a lead created with an assignee) alerts the new assignee, whoever
assigned it, unless they did it themselves or the lead was reassigned since.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from integrations.alerts import channels, payloads
from integrations.alerts.models import (
    AgentAlert,
    AlertDelivery,
    AlertReason,
    AlertStatus,
    Channel,
    DeliveryStatus,
)
from integrations.alerts.selectors import due_deliveries
from integrations.http_delivery import DeliveryError, TransientDeliveryError
from integrations.outbox import Outbox, Outcome
from integrations.sms.models import FINAL_FAILURES, SmsMessage, SmsStatus
from leads.errors import ValidationFailed
from leads.events.models import LeadEvent, LeadEventKind
from leads.models import Lead, User

logger = logging.getLogger(__name__)

OUTBOX = Outbox(
    model=AlertDelivery,
    label="alert delivery",
    settings_prefix="ALERTS",
    pending=DeliveryStatus.PENDING,
    failed=DeliveryStatus.RETRYING,
    dead=DeliveryStatus.FAILED,
    related=("alert", "alert__user"),
)
GOT_THROUGH = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
ON_ITS_WAY = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)

# --- making alerts ---------------------------------------------------------------------


def assignment_key(*, lead_pk: int, lead_version: int, user_pk: int) -> str:
    """The key of the "assigned" alert for the save that gave the lead to the user: one alert per assignment."""
    return f"assigned:{lead_pk}:{lead_version}:{user_pk}"


def alert_agent(
    *,
    user: User,
    lead: Lead,
    reason: str,
    actions: list[dict] | None = None,
    key: str | None = None,
    new_key: bool = False,
) -> list[int]:
    """Record an alert to ``user`` about ``lead`` and its deliveries, in the current
    transaction; returns the ids of the deliveries to queue once it commits
    (``tasks.queue_alerts_after_commit``), [] when nothing is to be sent.

    ``reason`` is "assigned" or "offer"; ``actions`` the notification's buttons
    (``payloads``: e.g. ``offer_actions(lead)`` gives Claim and Call). ``key`` makes the
    call idempotent: an alert with the same key is made once; an "assigned" alert's key
    defaults to the lead's current version (``assignment_key``), which the lead.assigned
    subscriber uses too, so an assignment is alerted once whoever reports it. Inactive
    users are not alerted. ``new_key`` says the caller knows no alert has the key yet (an
    "assigned" alert made in the transaction that wrote the lead's version): it is not
    looked for first (the key's unique index still keeps a second one out). Raises
    ``ValidationFailed`` for an unknown reason or bad actions.
    """
    if reason not in AlertReason.values:
        raise ValidationFailed(fields={"reason": [f"Use one of: {', '.join(AlertReason.values)}."]})
    actions = payloads.clean_actions(actions)
    if not user.is_active:
        return []
    if key is None and reason == AlertReason.ASSIGNED:
        key = assignment_key(lead_pk=lead.pk, lead_version=lead.version, user_pk=user.pk)
    if key is not None and not new_key and AgentAlert.objects.filter(key=key).exists():
        return []
    preference = channels.preference_of(user)
    chain = [*(channel for channel in preference.channels if channel in (Channel.PUSH, Channel.SMS)), Channel.EMAIL]
    now = timezone.now()
    deliveries = _first_armed(user, list(dict.fromkeys(chain)), preference=preference, now=now)
    try:
        # A savepoint: a concurrent alert with the same key fails alone (then found made).
        # None for a new key: no other transaction can make an alert with it.
        with transaction.atomic(savepoint=not new_key):
            alert = AgentAlert.objects.create(
                user=user,
                lead=lead,
                reason=reason,
                key=key,
                status=AlertStatus.PENDING if deliveries.armed else AlertStatus.FAILED,
                payload=payloads.alert_payload(lead, reason=reason, actions=actions),
            )
            for delivery in deliveries.rows:
                delivery.alert = alert
            AlertDelivery.objects.bulk_create(deliveries.rows)
            armed = [delivery.pk for delivery in deliveries.armed]
            if None in armed:  # a database that does not return the ids of a bulk insert
                armed = list(alert.deliveries.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True))
    except IntegrityError:
        if key is not None and AgentAlert.objects.filter(key=key).exists():
            return []
        raise
    logger.info("Alert %s (%s) to %s about %s: %s", alert.pk, reason, user, lead.public_id, " > ".join(chain))
    return armed


@dataclass
class _NewDeliveries:
    rows: list[AlertDelivery]
    armed: list[AlertDelivery]


def _first_armed(user: User, chain: list[str], *, preference, now) -> _NewDeliveries:
    """A new alert's deliveries, in the order of ``chain``, as ``_advance`` leaves them
    (written once, in one insert): the channels that cannot reach the user now failed
    with the reason, up to the first usable one, armed; the rest on standby."""
    rows, armed = [], []
    for position, channel in enumerate(chain):
        delivery = AlertDelivery(channel=channel, position=position, created_at=now, updated_at=now)
        rows.append(delivery)
        if armed:
            continue
        problem = channels.channel_problem(user, channel, preference)
        if problem:
            delivery.status, delivery.last_error = DeliveryStatus.FAILED, problem
        else:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, OUTBOX.requeue_time(now)
            armed.append(delivery)
    return _NewDeliveries(rows, armed)


def assignment_alerts(events: list[LeadEvent]) -> list[int]:
    """Alerts for the assignments among ``events`` (called in the relay's transaction);
    returns the deliveries to queue once it commits. The assignee of a ``lead.assigned``
    event, or of a ``lead.created`` event of a lead created with one, is alerted unless
    they are the actor, the lead is archived, or a later save assigned it again (that
    save's event alerts its own assignee)."""
    relevant = [event for event in events if event.kind in (LeadEventKind.ASSIGNED, LeadEventKind.CREATED)]
    if not relevant:
        return []
    lead_pks = {event.lead_id for event in relevant}
    leads = Lead.objects.filter(pk__in=lead_pks, archived_at__isnull=True, assigned_to__isnull=False)
    leads = {lead.pk: lead for lead in leads.select_related("assigned_to", "contact", "preferences")}
    if not leads:
        return []
    last_assignment = dict(
        LeadEvent.objects.filter(lead_id__in=list(leads), kind=LeadEventKind.ASSIGNED)
        .values_list("lead_id")
        .annotate(last=Max("pk"))
    )
    due = {}
    for event in relevant:
        lead = leads.get(event.lead_id)
        if lead is None or last_assignment.get(lead.pk, 0) > event.pk:
            continue
        assignee = lead.assigned_to
        if event.kind == LeadEventKind.ASSIGNED and event.data.get("to") != assignee.username:
            continue
        if event.actor_id == assignee.pk:
            continue  # nobody is alerted about what they did themselves
        due[assignment_key(lead_pk=lead.pk, lead_version=event.lead_version, user_pk=assignee.pk)] = lead
    # The routing alerts the agents it gives leads to in its own transaction: those are made.
    made = set(AgentAlert.objects.filter(key__in=list(due)).values_list("key", flat=True)) if due else set()
    armed = []
    for key, lead in due.items():
        if key not in made:
            armed += alert_agent(
                user=lead.assigned_to,
                lead=lead,
                reason=AlertReason.ASSIGNED,
                actions=payloads.assignment_actions(lead),
                key=key,
            )
    return armed


# --- getting an alert through ------------------------------------------------------------


def _advance(alert_id: int, *, preference=None) -> list[int]:
    """Move the alert along its channels (in a transaction, the alert locked); returns the
    deliveries newly armed, to queue once it commits.

    Once a channel got through, the channels still on standby are skipped (after a text,
    once the provider says it was delivered). While one is
    on its way, nothing changes. Otherwise the next standby channel is armed, passing
    over (as failed, with the reason) the channels that cannot reach the user now; when
    none is left the alert has failed."""
    alert = AgentAlert.objects.select_for_update().select_related("user").get(pk=alert_id)
    deliveries = list(alert.deliveries.order_by("position"))
    now = timezone.now()
    armed = []
    if any(delivery.status in GOT_THROUGH for delivery in deliveries):
        delivered = [delivery for delivery in deliveries if delivery.status == DeliveryStatus.DELIVERED]
        through = delivered or [delivery for delivery in deliveries if delivery.status in GOT_THROUGH]
        # A text the provider took may still come back undelivered: the channels after it
        # stay on standby until its status callback settles it.
        if any(delivery.status == DeliveryStatus.DELIVERED or delivery.channel != Channel.SMS for delivery in through):
            AlertDelivery.objects.filter(alert=alert, status=DeliveryStatus.STANDBY).update(
                status=DeliveryStatus.SKIPPED, updated_at=now
            )
        status = AlertStatus.DELIVERED if delivered else AlertStatus.SENT
        alert.status, alert.delivered_via = status, through[0].channel
    elif any(delivery.status in ON_ITS_WAY for delivery in deliveries):
        alert.status = AlertStatus.PENDING
    else:
        preference = preference or channels.preference_of(alert.user)
        for delivery in deliveries:
            if delivery.status != DeliveryStatus.STANDBY:
                continue
            problem = channels.channel_problem(alert.user, delivery.channel, preference)
            if problem:
                delivery.status, delivery.last_error = DeliveryStatus.FAILED, problem
                delivery.save(update_fields=["status", "last_error", "updated_at"])
                continue
            delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, OUTBOX.requeue_time(now)
            delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
            armed.append(delivery.pk)
            break
        alert.status = AlertStatus.PENDING if armed else AlertStatus.FAILED
    alert.save(update_fields=["status", "delivered_via", "updated_at"])
    return armed


def deliver(delivery_id: int) -> tuple[Outcome, list[int]]:
    """Make one attempt at a delivery by its channel; returns the outcome and the
    deliveries it armed (the next channel, after a failure for good), to queue.

    Sends nothing when it got through already, was skipped, is on standby, has failed
    or is in flight. Records the result: sent or delivered; retrying after a backoff
    (timeouts, connection errors, 408, 429, 5xx, until ``ALERTS_MAX_ATTEMPTS``); failed
    (refused, gone, out of attempts), which arms the next channel.
    """
    claimed = OUTBOX.claim(
        delivery_id,
        is_done=lambda delivery: delivery.status in (*GOT_THROUGH, DeliveryStatus.SKIPPED),
        is_held=lambda delivery: delivery.status == DeliveryStatus.STANDBY,
    )
    if claimed == Outcome.DEAD:  # it may have run out of attempts in this claim: let the next channel go
        return claimed, _advance_after(delivery_id)
    if isinstance(claimed, Outcome):
        return claimed, []
    delivery: AlertDelivery = claimed
    alert = delivery.alert
    try:
        if delivery.channel == Channel.PUSH:
            result = channels.send_by_push(alert)
            if result.error is not None:
                return _record_failure(delivery, result.error, detail=result.detail)
            return _record_success(
                delivery, DeliveryStatus.DELIVERED, response_status=result.status_code, detail=result.detail
            )
        if delivery.channel == Channel.SMS:
            message = channels.send_by_sms(alert)
            return _record_success(delivery, DeliveryStatus.SENT, sms_message=message)
        channels.send_by_email(alert)
        return _record_success(delivery, DeliveryStatus.SENT)
    except DeliveryError as error:
        return _record_failure(delivery, error)
    except Exception as error:
        # A bug or a time limit: a transient failure, so it is retried a bounded number
        # of times (then the next channel goes) instead of sitting claimed; then re-raised.
        _record_failure(delivery, TransientDeliveryError(f"Unexpected {type(error).__name__}: {error}"))
        raise


def _record_success(delivery: AlertDelivery, status: str, *, sms_message: SmsMessage | None = None, **fields):
    now = timezone.now()
    armed = []
    with OUTBOX.settle(delivery) as current:
        if current is not None:
            current.status, current.last_error, current.next_attempt_at = status, "", None
            current.sent_at = now
            if status == DeliveryStatus.DELIVERED:
                current.delivered_at = now
            if sms_message is not None:
                current.sms_message = sms_message
                # Its status callback may have come before this was recorded.
                _apply_sms_status(current, SmsMessage.objects.get(pk=sms_message.pk).status, now=now)
            for name, value in fields.items():
                setattr(current, name, value)
            current.save()
            armed = _advance(current.alert_id)
    logger.info("Alert delivery %s by %s: %s", delivery.pk, delivery.channel, status)
    return Outcome.SENT, armed


def _record_failure(delivery: AlertDelivery, error: DeliveryError, **fields) -> tuple[Outcome, list[int]]:
    """As ``Outbox.record_failure``, and a failure for good arms the next channel in the same transaction."""
    now = timezone.now()
    dead = not error.transient or delivery.attempts >= OUTBOX.setting("MAX_ATTEMPTS")
    armed = []
    with OUTBOX.settle(delivery) as current:
        if current is not None:
            current.status = DeliveryStatus.FAILED if dead else DeliveryStatus.RETRYING
            current.last_error, current.response_status = str(error), error.status_code
            current.next_attempt_at = (
                None if dead else now + OUTBOX.backoff_delay(current.attempts, retry_after=error.retry_after)
            )
            for name, value in fields.items():
                setattr(current, name, value)
            current.save()
            armed = _advance(current.alert_id) if dead else []
    logger.warning(
        "Alert delivery %s by %s %s after %s attempt(s)%s: %s",
        delivery.pk,
        delivery.channel,
        "failed" if dead else "will be retried",
        delivery.attempts,
        "" if current is not None else " (not recorded: replayed or deleted meanwhile)",
        str(error)[:200],
    )
    return (Outcome.DEAD if dead else Outcome.FAILED), armed


def _advance_after(delivery_id: int) -> list[int]:
    alert_id = AlertDelivery.objects.filter(pk=delivery_id).values_list("alert_id", flat=True).first()
    if alert_id is None:
        return []
    with transaction.atomic():
        return _advance(alert_id)


# --- SMS status callbacks ----------------------------------------------------------------


def sms_status_changed(message: SmsMessage) -> list[int]:
    """A status callback moved an alert's text (in the callback's transaction): delivered
    marks its delivery (and alert) delivered; undelivered or failed fails it and arms the
    next channel. Returns the deliveries armed, to queue once it commits."""
    delivery = AlertDelivery.objects.select_for_update().filter(sms_message=message).first()
    if delivery is None:
        return []  # recorded when the send is (``_record_success``)
    if not _apply_sms_status(delivery, message.status, now=timezone.now()):
        return []
    delivery.save()
    return _advance(delivery.alert_id)


def _apply_sms_status(delivery: AlertDelivery, sms_status: str, *, now) -> bool:
    """Carry a text's final status over to its delivery (sent → delivered or failed); returns whether it moved."""
    if delivery.status != DeliveryStatus.SENT:
        return False
    if sms_status == SmsStatus.DELIVERED:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        return True
    if sms_status in FINAL_FAILURES:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = (
            f"The text was {sms_status} (provider error code {delivery.sms_message.error_code or '-'})."
        )
        return True
    return False


# --- the sweep and replays ----------------------------------------------------------------


def due(now=None):
    """The deliveries whose next attempt is due (for ``Outbox.sweep``)."""
    return due_deliveries(now or timezone.now())


@transaction.atomic
def replay_alerts(alert_ids: list[int]) -> list[int]:
    """Send the alerts again from their first channel, as new (attempts from zero, every
    channel back on standby); returns the deliveries armed, to queue once this commits."""
    armed, now = [], timezone.now()
    for alert_id in AgentAlert.objects.filter(pk__in=alert_ids).order_by("pk").values_list("pk", flat=True):
        AlertDelivery.objects.filter(alert_id=alert_id).update(
            status=DeliveryStatus.STANDBY,
            attempts=0,
            claimed_until=None,
            next_attempt_at=None,
            last_error="",
            response_status=None,
            detail={},
            updated_at=now,
        )
        armed += _advance(alert_id)
    return armed


@transaction.atomic
def replay_deliveries(delivery_ids: list[int]) -> list[int]:
    """Try these channels again, whatever their state (attempts from zero); returns
    the ids to queue once this commits."""
    replayed = OUTBOX.rearm(AlertDelivery.objects.filter(pk__in=delivery_ids))
    for alert_id in set(AlertDelivery.objects.filter(pk__in=replayed).values_list("alert_id", flat=True)):
        AgentAlert.objects.filter(pk=alert_id).update(status=AlertStatus.PENDING, updated_at=timezone.now())
    return replayed
