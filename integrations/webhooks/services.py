"""Webhook writes: subscriptions, turning lead events into deliveries, and the
delivery life cycle.

Webhooks subscribe to lead events (``leads.events``): ``fan_out`` writes one delivery
per event and subscription that wants it and whose owner may see the lead, in the
relay's transaction (the delivery row is the outbox, ``integrations.outbox``). The
payload is the event as it happened (its id, name, time, the lead's version then and
what changed) and the lead as the API shows it when the delivery is made.

Delivery is at least once, in order per lead per subscription: a delivery waits
while an earlier one of the same lead to the same subscription is on its way. The
payload's ``id`` (also the ``Idempotency-Key``) is the event's own id, the same on
every retry and replay, so a receiver can drop repeats.
"""

import logging

from django.db import transaction
from django.utils import timezone

from integrations.http_delivery import DeliveryError, TransientDeliveryError
from integrations.outbox import Outbox, Outcome
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
from leads.core.representations import interaction_data, iso, lead_data
from leads.core.selectors import visible_leads, with_lead_details
from leads.errors import Conflict, ValidationFailed
from leads.events.models import LeadEvent
from leads.models import Interaction, Lead, User

logger = logging.getLogger(__name__)

OUTBOX = Outbox(
    model=WebhookDelivery,
    label="webhook delivery",
    settings_prefix="WEBHOOKS",
    pending=DeliveryStatus.PENDING,
    failed=DeliveryStatus.FAILED,
    dead=DeliveryStatus.DEAD,
    related=("subscription",),
)
MIN_SECRET_LENGTH = 16

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


# --- lead events -> deliveries --------------------------------------------------------


def fan_out(events: list[LeadEvent]) -> list[int]:
    """One delivery per event and active subscription that wants it and whose owner may
    see the lead (called in the relay's transaction); returns the ids of those to queue
    once it commits: the first of each lead's new deliveries to a subscription, as the
    others would only be held behind it (each settled delivery queues the lead's next,
    ``next_in_line``; the sweep queues any left). Reads nothing more when no
    subscription wants the events."""
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(active=True).select_related("owner")
        if {event.kind for event in events}.intersection(subscription.events)
    ]
    if not subscriptions:
        return []
    leads = {lead.pk: lead for lead in with_lead_details(Lead.objects.filter(pk__in={e.lead_id for e in events}))}
    seeing = _owners_seeing(subscriptions, set(leads))
    interactions = _interactions_of(events)
    now = timezone.now()
    deliveries = []
    for event in events:
        lead = leads.get(event.lead_id)
        receivers = [
            subscription
            for subscription in subscriptions
            if event.kind in subscription.events and lead is not None and lead.pk in seeing[subscription.owner_id]
        ]
        if not receivers:
            continue
        payload = _payload(event, lead, interactions)
        deliveries += [
            WebhookDelivery(
                subscription=subscription,
                event=event.kind,
                event_id=event.event_id,
                lead_public_id=lead.public_id,
                sequence=event.pk,
                payload=payload,
                next_attempt_at=OUTBOX.requeue_time(now),
            )
            for subscription in receivers
        ]
    made = WebhookDelivery.objects.bulk_create(deliveries)
    if any(delivery.pk is None for delivery in made):  # a database that does not return the ids of a bulk insert
        made = list(WebhookDelivery.objects.filter(event_id__in={delivery.event_id for delivery in made}))
    heads = {}
    for delivery in sorted(made, key=lambda delivery: (delivery.sequence, delivery.pk)):
        heads.setdefault((delivery.subscription_id, delivery.lead_public_id), delivery.pk)
    return sorted(heads.values())


def _owners_seeing(subscriptions: list[WebhookSubscription], lead_pks: set[int]) -> dict[int, set[int]]:
    """For each subscription owner, which of the leads they may see (one query per owner)."""
    owners = {subscription.owner_id: subscription.owner for subscription in subscriptions}
    return {
        # Archived too: archiving is an event, and a lead archived before the relay ran
        # still had its earlier events.
        owner_pk: set(visible_leads(owner, include_archived=True).filter(pk__in=lead_pks).values_list("pk", flat=True))
        for owner_pk, owner in owners.items()
    }


def _interactions_of(events: list[LeadEvent]) -> dict[int, Interaction]:
    ids = [event.data.get("interaction_id") for event in events if event.kind == WebhookEvent.INTERACTION_ADDED]
    return Interaction.objects.select_related("created_by").in_bulk([pk for pk in ids if pk])


def _payload(event: LeadEvent, lead: Lead, interactions: dict[int, Interaction]) -> dict:
    details = dict(event.data)
    details.pop("route", None)  # internal: a CSV import asking the routing to route its leads
    if event.kind == WebhookEvent.INTERACTION_ADDED:
        interaction = interactions.get(details.pop("interaction_id", None))
        details["interaction"] = interaction_data(interaction) if interaction else None
    elif event.kind == WebhookEvent.STATUS_CHANGED:
        details = {
            "status_change": {
                "from": details.get("from") or None,
                "to": details.get("to"),
                "at": iso(event.occurred_at),
            }
        }
    return {
        **details,
        "id": str(event.event_id),
        "event": event.kind,
        "created_at": iso(event.occurred_at),
        "version": event.lead_version,
        "lead": lead_data(lead),
    }


# --- delivering ----------------------------------------------------------------


def deliver(delivery_id: int) -> Outcome:
    """Make one attempt at sending the delivery to its subscription's URL.

    Sends nothing when it was delivered, is dead, is in flight, its subscription is
    paused, or an earlier delivery of the same lead to the same subscription is still
    on its way (it is sent after that one). Records the result: delivered, failed with
    a backoff (transient) or dead (permanent, refused, or the last allowed attempt).
    """
    claimed = OUTBOX.claim(
        delivery_id,
        is_done=lambda delivery: delivery.status == DeliveryStatus.DELIVERED,
        is_held=lambda delivery: not delivery.subscription.active or earlier_on_its_way(delivery),
    )
    if isinstance(claimed, Outcome):
        return claimed
    delivery = claimed
    subscription = delivery.subscription
    headers = {"Idempotency-Key": str(delivery.event_id), "X-Leads-Event": delivery.event}
    try:
        status_code = post_webhook(
            url=subscription.url, secret=subscription.secret, payload=delivery.payload, headers=headers
        )
    except DeliveryError as error:
        return OUTBOX.record_failure(delivery, error, response_status=error.status_code)
    except Exception as error:
        # A bug or a time limit: count it as a transient failure, so the delivery is
        # retried a bounded number of times instead of sitting claimed, then re-raise.
        OUTBOX.record_failure(delivery, TransientDeliveryError(f"Unexpected {type(error).__name__}: {error}"))
        raise
    now = timezone.now()
    with OUTBOX.settle(delivery) as current:
        if current is not None:
            current.status, current.response_status, current.last_error = DeliveryStatus.DELIVERED, status_code, ""
            current.delivered_at, current.next_attempt_at = now, None
    logger.info("Webhook %s %s delivered (%s)", delivery.event, delivery.event_id, status_code)
    return Outcome.SENT


def earlier_on_its_way(delivery: WebhookDelivery) -> bool:
    """Whether an earlier delivery of the same lead to the same subscription is still
    pending or retrying (a dead one no longer holds the queue)."""
    return WebhookDelivery.objects.filter(
        subscription_id=delivery.subscription_id,
        lead_public_id=delivery.lead_public_id,
        sequence__lt=delivery.sequence,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
    ).exists()


def next_in_line(delivery_id: int) -> int | None:
    """The lead's next delivery to the same subscription still waiting, once
    ``delivery_id`` is settled; None when there is none or this one is still on its way."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        return None
    following = WebhookDelivery.objects.filter(
        subscription_id=delivery.subscription_id,
        lead_public_id=delivery.lead_public_id,
        sequence__gt=delivery.sequence,
        status=DeliveryStatus.PENDING,
    ).order_by("sequence", "pk")
    return following.values_list("pk", flat=True).first()


def due(now=None):
    """The deliveries whose next attempt is due (for ``Outbox.sweep``)."""
    return due_deliveries(now or timezone.now())


@transaction.atomic
def replay_deliveries(delivery_ids: list[int]) -> list[int]:
    """Send the deliveries again, whatever their state, with the same payload and event id
    (so a receiver that has it can drop it); returns the ids to queue once this commits.
    Attempts start again from zero; an attempt in flight no longer counts. Deliveries of
    paused subscriptions are left alone."""
    return OUTBOX.rearm(WebhookDelivery.objects.filter(pk__in=delivery_ids, subscription__active=True))


def check_replayable(delivery: WebhookDelivery) -> None:
    """Conflict when the delivery's subscription is paused."""
    if not delivery.subscription.active:
        raise Conflict("The webhook is paused; resume it before replaying its deliveries.")
