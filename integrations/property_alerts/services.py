"""Writes of the property alerts outside the sending runs: a lead's frequency set by its
agent or by the lead (from an alert's signed link), and the opens and clicks of alerts,
which restore the chosen frequency (``control``) and become web activity (``webevents``)."""

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from integrations.market.models import Listing
from integrations.property_alerts import control, selectors, webevents
from integrations.property_alerts.models import AlertMessage, AlertSubscription, Frequency, SetBy
from leads.errors import NotFound, ValidationFailed
from leads.models import Lead, User


def _locked_subscription(lead: Lead, *, now: datetime) -> AlertSubscription:
    """The lead's settings row, locked (made with the default frequency when missing)."""
    subscription = AlertSubscription.objects.select_for_update().filter(lead=lead).first()
    if subscription is None:
        frequency = selectors.default_frequency(lead)
        AlertSubscription.objects.bulk_create(
            [AlertSubscription(lead=lead, frequency=frequency, effective_frequency=frequency, set_at=now)],
            ignore_conflicts=True,
        )
        subscription = AlertSubscription.objects.select_for_update().get(lead=lead)
    return subscription


def set_frequency(*, lead: Lead, frequency: str, by: str, user: User | None = None) -> AlertSubscription:
    """Set how often the lead gets alerts (``by``: ``SetBy.AGENT`` with ``user``, or
    ``SetBy.LEAD``); in force at once. ValidationFailed for an unknown frequency."""
    if frequency not in Frequency.values:
        choices = ", ".join(Frequency.values)
        raise ValidationFailed(fields={"frequency": [f"Choose one of: {choices}."]})
    if by not in (SetBy.AGENT, SetBy.LEAD):
        raise ValueError(f"Unknown setter {by!r}")
    now = timezone.now()
    with transaction.atomic():
        subscription = _locked_subscription(lead, now=now)
        control.choose(subscription, frequency=frequency, now=now)
        subscription.set_by = by
        subscription.set_by_user = user if by == SetBy.AGENT else None
        subscription.save()
    return subscription


def record_open(*, message_key: str, at: datetime | None = None) -> AlertMessage:
    """The lead opened the alert (its pixel loaded): ``opened_at`` once, the frequency restored."""
    at = at or timezone.now()
    with transaction.atomic():
        message = _locked_message(message_key)
        if message.opened_at is None:
            message.opened_at = at
            message.save(update_fields=["opened_at"])
        _engaged(message, at=at, because="opened an alert")
    webevents.record(message, webevents.OPENED, at=at)
    return message


def record_click(*, message_key: str, listing_id: int, url: str, at: datetime | None = None) -> Listing:
    """The lead clicked a listing of the alert (which must be one it listed, else
    NotFound): ``clicked_at`` (and ``opened_at``) once, the frequency restored. Returns the listing."""
    at = at or timezone.now()
    with transaction.atomic():
        message = _locked_message(message_key)
        if listing_id not in message.listing_ids():
            raise NotFound("This alert did not list that home.")
        listing = Listing.objects.filter(pk=listing_id).first()
        if listing is None:
            raise NotFound("This home is no longer listed.")
        changed = [name for name in ("opened_at", "clicked_at") if getattr(message, name) is None]
        for name in changed:
            setattr(message, name, at)
        if changed:
            message.save(update_fields=changed)
        _engaged(message, at=at, because="clicked a listing")
    webevents.record(message, webevents.CLICKED, at=at, listing=listing, url=url)
    return listing


def _locked_message(message_key: str) -> AlertMessage:
    try:
        key = uuid.UUID(str(message_key))
    except ValueError:
        raise NotFound("No such alert.") from None
    found = AlertMessage.objects.select_for_update(of=("self",)).select_related("lead").filter(key=key).first()
    if found is None:
        raise NotFound("No such alert.")
    return found


def _engaged(message: AlertMessage, *, at: datetime, because: str) -> None:
    subscription = AlertSubscription.objects.select_for_update().filter(lead_id=message.lead_id).first()
    if subscription is None:
        return
    had = (subscription.consecutive_unopened, subscription.effective_frequency, subscription.paused_at)
    control.restore(subscription, now=at, because=because)
    if had != (subscription.consecutive_unopened, subscription.effective_frequency, subscription.paused_at):
        subscription.save()
