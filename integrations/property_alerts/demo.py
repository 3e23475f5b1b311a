"""The demo's property alerts (``manage.py seed_property_alerts_demo``, a ``seed_demo``
hook): demo buyers with each frequency, a few alerts sent (some opened, one clicked) with
the demo listings, one lead slowed down and one paused by frequency control, with their
notes. Safe to run again: nothing is added once a demo lead has alerts. (Settings the
alert runs gave them by default meanwhile, after the matches demo, are replaced.)"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.market.models import Listing, ListingStatus
from integrations.property_alerts.models import AlertMessage, AlertStatus, AlertSubscription, Frequency, SetBy
from leads.models import Lead, LeadType

# (chosen, in force, paused, note, alerts sent as (days ago, opened, clicked))
PROFILES = [
    (Frequency.INSTANT, Frequency.INSTANT, False, "", [(1, True, True), (3, True, False)]),
    (Frequency.DAILY, Frequency.DAILY, False, "", [(1, True, False), (2, False, False)]),
    (Frequency.WEEKLY, Frequency.WEEKLY, False, "", [(6, True, False)]),
    (
        Frequency.INSTANT,
        Frequency.DAILY,
        False,
        "Alerts slowed to daily: last 3 not opened",
        [(2, False, False), (3, False, False), (4, False, False)],
    ),
    (
        Frequency.DAILY,
        Frequency.WEEKLY,
        True,
        "Alerts paused: last 3 not opened",
        [(7, False, False), (14, False, False), (21, False, False)],
    ),
    (Frequency.OFF, Frequency.OFF, False, "", []),
]


def seed(*, demo_email_domain: str) -> int:
    """Alert settings and alerts for the first demo buyers; returns how many leads got them."""
    buyers = list(
        Lead.objects.filter(
            contact__email__endswith=demo_email_domain, lead_type=LeadType.BUYER, archived_at__isnull=True
        )
        .select_related("assigned_to")
        .order_by("pk")[: len(PROFILES)]
    )
    if not buyers or AlertMessage.objects.filter(lead__in=buyers).exists():
        return 0
    listings = list(Listing.objects.filter(status=ListingStatus.ACTIVE).order_by("location_key", "price", "pk")[:40])
    now = timezone.now()
    with transaction.atomic():
        for index, (lead, profile) in enumerate(zip(buyers, PROFILES, strict=False)):
            chosen, effective, paused, note, sent = profile
            AlertSubscription.objects.update_or_create(
                lead=lead,
                defaults=dict(
                    frequency=chosen,
                    effective_frequency=effective,
                    set_by=SetBy.AGENT if index % 2 == 0 else SetBy.LEAD,
                    set_by_user=lead.assigned_to if index % 2 == 0 else None,
                    set_at=now - timedelta(days=30),
                    consecutive_unopened=sum(1 for _, opened, _ in sent if not opened) if not note else 0,
                    paused_at=now - timedelta(days=1) if paused else None,
                    note=note,
                    note_at=now - timedelta(days=1) if note else None,
                    last_run_at=now - timedelta(days=min((days for days, *_ in sent), default=30)),
                ),
            )
            for number, (days, opened, clicked) in enumerate(sent):
                picked = listings[(index * 5 + number * 2) % len(listings) :][:3] if listings else []
                at = now - timedelta(days=days, hours=index)
                AlertMessage.objects.create(
                    lead=lead,
                    frequency=effective,
                    status=AlertStatus.SENT,
                    listings=[
                        {"match": None, "listing": item.pk, "price": str(item.price), "old_price": ""}
                        for item in picked
                    ],
                    listing_count=len(picked),
                    subject=f"{len(picked)} homes that match your search",
                    sent_at=at,
                    opened_at=at + timedelta(hours=2) if opened else None,
                    clicked_at=at + timedelta(hours=2, minutes=1) if clicked else None,
                )
    return min(len(buyers), len(PROFILES))
