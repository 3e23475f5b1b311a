"""Webhook writes: subscriptions, emitting lead events, and the delivery life cycle.

``emit_lead_event`` writes one delivery row per subscription that wants the event
(the row is the outbox) and queues each after commit; ``deliver`` sends one,
``sweep_deliveries`` queues again what is due (retries, lost tasks) and
``replay_deliveries`` sends deliveries again on request. Delivery is at least
once; the payload's ``id`` (also the ``Idempotency-Key``) lets a receiver drop
repeats.

An attempt claims its row (``claimed_until``) in a short transaction and sends
outside any transaction; its result is written only if the claim still stands,
so a replay made while it was in flight wins.
"""

import logging
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from integrations import http_delivery
from integrations.http_delivery import DeliveryError, TransientDeliveryError, sweep_due
from integrations.webhooks.client import post_webhook
from integrations.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
    new_webhook_secret,
)
from integrations.webhooks.selectors import due_deliveries
from integrations.webhooks.url_safety import check_target_url
from leads.errors import Conflict, ValidationFailed
from leads.models import Lead, StatusChange, User
from leads.representations import interaction_data, iso, lead_data
from leads.selectors import visible_leads, with_lead_details

logger = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 16

# The pipeline's job reasons (``leads.services`` and the workflows) and the events each one means.
PIPELINE_REASON_EVENTS: dict[str, tuple[WebhookEvent, ...]] = {
    "created": (WebhookEvent.LEAD_CREATED,),
    "updated": (WebhookEvent.LEAD_UPDATED,),
    "assigned": (WebhookEvent.LEAD_UPDATED,),
    "opted_out": (WebhookEvent.LEAD_UPDATED,),
    "status_changed": (WebhookEvent.LEAD_STATUS_CHANGED, WebhookEvent.LEAD_UPDATED),
    "interaction": (WebhookEvent.INTERACTION_ADDED, WebhookEvent.LEAD_UPDATED),
}


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # a transient failure; tried again later
    DEAD = "dead"  # rejected, refused or out of attempts; nothing sent now either if it already was
    ALREADY_DELIVERED = "already_delivered"  # nothing sent
    BUSY = "busy"  # another attempt is in flight: nothing sent
    PAUSED = "paused"  # the subscription is paused: nothing sent, the row waits
    MISSING = "missing"  # no such delivery (its subscription was deleted)


# --- subscriptions -----------------------------------------------------------


def subscription_create(
    *, owner: User, name: str, url: str, events: list[str], secret: str | None = None, active: bool = True
) -> WebhookSubscription:
    """A subscription of ``owner`` to ``events`` at ``url``; the secret is generated unless given.

    No transaction around it: checking the URL is a DNS lookup, and one row is written.
    Raises ``ValidationFailed`` (field ``url``, ``events`` or ``secret``) for a refused URL,
    unknown or missing events or a short secret.
    """
    check_target_url(url)
    subscription = WebhookSubscription(
        owner=owner,
        name=name,
        url=url,
        events=_clean_events(events),
        secret=_clean_secret(secret) if secret is not None else new_webhook_secret(),
        active=active,
    )
    subscription.save()
    return subscription


def subscription_update(*, subscription: WebhookSubscription, changes: dict) -> WebhookSubscription:
    """Apply ``changes`` (any of name, url, events, secret, active); keys left out stay.

    Pausing stops new deliveries and holds queued ones until it is resumed.
    """
    if "url" in changes:
        check_target_url(changes["url"])
        subscription.url = changes["url"]
    if "events" in changes:
        subscription.events = _clean_events(changes["events"])
    if "secret" in changes:
        subscription.secret = _clean_secret(changes["secret"])
    for field in ("name", "active"):
        if field in changes:
            setattr(subscription, field, changes[field])
    subscription.save()
    return subscription


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Delete the subscription and its delivery log; queued deliveries are dropped."""
    subscription.delete()


def subscriptions_set_active(subscription_ids: list[int], *, active: bool) -> int:
    """Pause or resume subscriptions; returns how many changed."""
    return (
        WebhookSubscription.objects.filter(pk__in=subscription_ids)
        .exclude(active=active)
        .update(active=active, updated_at=timezone.now())
    )


def _clean_events(events: list[str]) -> list[str]:
    unknown = sorted({str(event) for event in events} - set(WebhookEvent.values))
    if unknown:
        allowed = ", ".join(WebhookEvent.values)
        raise ValidationFailed(fields={"events": [f"Unknown events: {', '.join(unknown)}. Use: {allowed}."]})
    if not events:
        raise ValidationFailed(fields={"events": ["Choose at least one event."]})
    return [event for event in WebhookEvent.values if event in events]  # deduplicated, in a fixed order


def _clean_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValidationFailed(fields={"secret": [f"Use at least {MIN_SECRET_LENGTH} characters."]})
    return secret


# --- emitting events ---------------------------------------------------------


def emit_lead_event(*, event: str, lead: Lead, version: int | None = None, extra: dict | None = None) -> int:
    """Queue ``event`` for ``lead`` to every active subscription that wants it and whose
    owner may see the lead; returns how many deliveries were made.

    The payload is ``{"id", "event", "created_at", "version", "lead", **extra}`` with the
    lead as the API shows it now; ``version`` defaults to the lead's. Each delivery is
    queued once the current transaction commits (at once outside one).
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    return _emit(lead.pk, [(event, extra or {})], version=version)


def emit_for_pipeline_job(*, lead_pk: int, version: int, reason: str) -> int:
    """Emit the events a finished pipeline job stands for (``PIPELINE_REASON_EVENTS``;
    an unknown reason is a plain ``lead.updated``); returns how many deliveries were made."""
    events = PIPELINE_REASON_EVENTS.get(reason, (WebhookEvent.LEAD_UPDATED,))
    return _emit(lead_pk, [(event, None) for event in events], version=version)


def emit_for_pipeline_jobs(finished: list[tuple[int, int, str]]) -> int:
    """For a batch of finished jobs ``[(lead_pk, version, reason), ...]``: the events of
    ``emit_for_pipeline_job`` and ``lead.scored`` for each, the subscriptions read once
    for the batch (nothing more when there are none). Returns how many deliveries were made."""
    subscriptions = _active_subscriptions()
    if not subscriptions:
        return 0
    made = 0
    for lead_pk, version, reason in finished:
        events = PIPELINE_REASON_EVENTS.get(reason, (WebhookEvent.LEAD_UPDATED,))
        made += _emit(
            lead_pk,
            [*((event, None) for event in events), (WebhookEvent.LEAD_SCORED, {})],
            version=version,
            subscriptions=subscriptions,
        )
    return made


def emit_lead_scored(lead_pk: int, version: int) -> int:
    """Emit ``lead.scored`` for the lead's newly written score; returns how many deliveries were made."""
    return _emit(lead_pk, [(WebhookEvent.LEAD_SCORED, {})], version=version)


def _active_subscriptions() -> list[WebhookSubscription]:
    return list(WebhookSubscription.objects.filter(active=True).select_related("owner"))


def _emit(
    lead_pk: int,
    events: list[tuple[str, dict | None]],
    *,
    version: int | None,
    subscriptions: list[WebhookSubscription] | None = None,
) -> int:
    """One delivery per (event, interested subscription). An ``extra`` of None means
    "the event's usual details", read only when someone subscribed to the event.
    ``subscriptions``: the active ones, when the caller has read them already."""
    wanted = {event for event, _ in events}
    if subscriptions is None:
        subscriptions = _active_subscriptions()
    subscriptions = [subscription for subscription in subscriptions if wanted.intersection(subscription.events)]
    if not subscriptions:
        return 0
    lead = with_lead_details(Lead.objects.filter(pk=lead_pk)).first()
    if lead is None:
        return 0
    subscriptions = _seeing_lead(subscriptions, lead)
    now = timezone.now()
    lead_json = lead_data(lead)
    deliveries = []
    for event, extra in events:
        receivers = [subscription for subscription in subscriptions if event in subscription.events]
        if not receivers:
            continue
        details = _event_details(event, lead) if extra is None else extra
        for subscription in receivers:
            event_id = uuid.uuid4()
            payload = {
                **details,
                "id": str(event_id),
                "event": event,
                "created_at": iso(now),
                "version": version or lead.version,
                "lead": lead_json,
            }
            deliveries.append(
                WebhookDelivery(
                    subscription=subscription,
                    event=event,
                    event_id=event_id,
                    lead_public_id=lead.public_id,
                    payload=payload,
                    next_attempt_at=_requeue_time(now),
                )
            )
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(deliveries)
        _queue_deliveries([delivery.pk for delivery in deliveries])
    return len(deliveries)


def _seeing_lead(subscriptions: list[WebhookSubscription], lead: Lead) -> list[WebhookSubscription]:
    """The subscriptions whose owner may see ``lead`` (one query per owner)."""
    owners = {subscription.owner_id: subscription.owner for subscription in subscriptions}
    seeing = {pk for pk, owner in owners.items() if visible_leads(owner).filter(pk=lead.pk).exists()}
    return [subscription for subscription in subscriptions if subscription.owner_id in seeing]


def _event_details(event: str, lead: Lead) -> dict:
    if event == WebhookEvent.INTERACTION_ADDED:
        interactions = list(lead.interactions.all())  # prefetched by with_lead_details
        latest = max(interactions, key=lambda item: (item.created_at, item.pk), default=None)
        return {"interaction": interaction_data(latest) if latest else None}
    if event == WebhookEvent.LEAD_STATUS_CHANGED:
        change = StatusChange.objects.filter(lead=lead).order_by("-changed_at", "-id").first()
        if change is None:
            return {"status_change": None}
        return {
            "status_change": {"from": change.from_status or None, "to": change.to_status, "at": iso(change.changed_at)}
        }
    return {}


# --- delivering ----------------------------------------------------------------


def deliver(delivery_id: int) -> DeliveryOutcome:
    """Make one attempt at sending the delivery to its subscription's URL.

    Sends nothing when it was delivered, is dead, is in flight or its subscription
    is paused. Records the result: delivered, failed with a backoff (transient) or
    dead (permanent, refused, or the last allowed attempt).
    """
    claimed = _claim(delivery_id)
    if isinstance(claimed, DeliveryOutcome):
        return claimed
    delivery = claimed
    subscription = delivery.subscription
    headers = {"Idempotency-Key": str(delivery.event_id), "X-Leads-Event": delivery.event}
    try:
        status_code = post_webhook(
            url=subscription.url, secret=subscription.secret, payload=delivery.payload, headers=headers
        )
    except DeliveryError as error:
        return _record_failure(delivery, error)
    except Exception as error:
        # A bug or a time limit: count it as a transient failure, so the delivery is
        # retried a bounded number of times instead of sitting claimed, then re-raise.
        _record_failure(delivery, TransientDeliveryError(f"Unexpected {type(error).__name__}: {error}"))
        raise
    return _record_success(delivery, status_code)


def sweep_deliveries(now: datetime | None = None, *, limit: int = 500) -> int:
    """Queue each due delivery (``selectors.due_deliveries``); returns how many were queued.
    Stops at the first broker failure: the rest stay due for the next sweep."""
    now = now or timezone.now()

    def take(delivery_id: int) -> bool:
        return bool(
            WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at__lte=now).update(
                next_attempt_at=_requeue_time(now), updated_at=now
            )
        )

    due = due_deliveries(now).values_list("pk", flat=True)[:limit]
    return sweep_due(due, take=take, dispatch=dispatch_delivery)


def replay_deliveries(delivery_ids: list[int]) -> int:
    """Send the deliveries again, whatever their state, with the same payload and event id
    (so a receiver that has it can drop it); returns how many were queued. Attempts
    start again from zero; an attempt in flight no longer counts. Deliveries of paused
    subscriptions are left alone."""
    now = timezone.now()
    with transaction.atomic():
        replayed = list(
            WebhookDelivery.objects.filter(pk__in=delivery_ids, subscription__active=True).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=replayed).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            claimed_until=None,
            next_attempt_at=_requeue_time(now),
            updated_at=now,
        )
        _queue_deliveries(replayed)
    return len(replayed)


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Replay one delivery (``replay_deliveries``); Conflict when its subscription is paused."""
    if not delivery.subscription.active:
        raise Conflict("The webhook is paused; resume it before replaying its deliveries.")
    replay_deliveries([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def backoff_delay(attempts: int, *, retry_after: int | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed try (``http_delivery.backoff_delay``
    with the WEBHOOKS_BACKOFF_* settings)."""
    return http_delivery.backoff_delay(
        attempts,
        base_seconds=settings.WEBHOOKS_BACKOFF_SECONDS,
        max_seconds=settings.WEBHOOKS_BACKOFF_MAX_SECONDS,
        retry_after=retry_after,
    )


def dispatch_delivery(delivery_id: int) -> bool:
    """Send ``deliver_webhook(delivery_id)`` to the workers (in-process without a broker).
    False when the broker is unreachable: the delivery is then due at once, for the next sweep."""
    from integrations.webhooks.tasks import deliver_webhook

    try:
        deliver_webhook.apply_async(args=[delivery_id], retry=False)
    except (BrokerError, OSError) as error:
        logger.warning("Broker unreachable, webhook delivery %s left for the sweeper: %s", delivery_id, error)
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
        return False
    return True


def _queue_deliveries(delivery_ids: list[int]) -> None:
    """Dispatch a delivery per id once the transaction commits."""
    for delivery_id in delivery_ids:
        transaction.on_commit(partial(dispatch_delivery, delivery_id))


def _claim(delivery_id: int) -> WebhookDelivery | DeliveryOutcome:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
            return DeliveryOutcome.BUSY if exists else DeliveryOutcome.MISSING
        if delivery.status == DeliveryStatus.DELIVERED:
            return DeliveryOutcome.ALREADY_DELIVERED
        if delivery.status == DeliveryStatus.DEAD:
            return DeliveryOutcome.DEAD
        if delivery.claimed_until and delivery.claimed_until > now:
            return DeliveryOutcome.BUSY
        if not delivery.subscription.active:
            return DeliveryOutcome.PAUSED
        if delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
            # Only attempts that never reported back (a killed worker) get here.
            delivery.status = DeliveryStatus.DEAD
            delivery.next_attempt_at = delivery.claimed_until = None
            delivery.last_error = (
                f"Gave up after {delivery.attempts} attempts; the last did not finish. {delivery.last_error}"
            )
            delivery.save(update_fields=["status", "next_attempt_at", "claimed_until", "last_error", "updated_at"])
            return DeliveryOutcome.DEAD
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.claimed_until = delivery.next_attempt_at = _requeue_time(now)
        delivery.save(update_fields=["attempts", "last_attempt_at", "claimed_until", "next_attempt_at", "updated_at"])
    return delivery


def _record_success(delivery: WebhookDelivery, status_code: int) -> DeliveryOutcome:
    now = timezone.now()
    written = _still_claimed(delivery).update(
        status=DeliveryStatus.DELIVERED,
        response_status=status_code,
        last_error="",
        delivered_at=now,
        next_attempt_at=None,
        claimed_until=None,
        updated_at=now,
    )
    logger.info("Webhook %s %s delivered (%s)%s", delivery.event, delivery.event_id, status_code, _lost(written))
    return DeliveryOutcome.DELIVERED


def _record_failure(delivery: WebhookDelivery, error: DeliveryError) -> DeliveryOutcome:
    now = timezone.now()
    dead = not error.transient or delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS
    written = _still_claimed(delivery).update(
        status=DeliveryStatus.DEAD if dead else DeliveryStatus.FAILED,
        response_status=error.status_code,
        last_error=str(error),
        next_attempt_at=None if dead else now + backoff_delay(delivery.attempts, retry_after=error.retry_after),
        claimed_until=None,
        updated_at=now,
    )
    logger.warning(
        "Webhook %s %s %s after %s attempt(s)%s: %s",
        delivery.event,
        delivery.event_id,
        "dead" if dead else "failed",
        delivery.attempts,
        _lost(written),
        str(error)[:200],
    )
    return DeliveryOutcome.DEAD if dead else DeliveryOutcome.FAILED


def _still_claimed(delivery: WebhookDelivery):
    """The delivery's row if this attempt's claim still stands (a replay clears it)."""
    return WebhookDelivery.objects.filter(pk=delivery.pk, claimed_until=delivery.claimed_until)


def _lost(written: int) -> str:
    return "" if written else " (not recorded: replayed or deleted meanwhile)"


def _requeue_time(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOKS_REQUEUE_AFTER_SECONDS)
