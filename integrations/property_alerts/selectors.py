"""Reads of the property alerts: which matches are due for a lead's next alert, which
leads a run should consider, and a lead's settings and recent alerts."""

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from integrations.market.models import ListingStatus
from integrations.matches.models import ListingMatch
from integrations.property_alerts.models import AlertMessage, AlertSubscription, Frequency
from leads.models import Lead, LeadStatus, LeadType

# Leads that get no alert whatever their setting: the deal is done or gone.
CLOSED_STATUSES = (LeadStatus.CLOSED, LeadStatus.LOST)
RECENT_MESSAGES = 5


def due_matches() -> QuerySet[ListingMatch]:
    """Matches worth an alert, for many leads at once (the batched form of
    ``integrations.matches.selectors.matches_to_alert``): current, the listing active, and
    either never alerted or matched again since at a price below the one last alerted
    (never the same listing twice unless its price dropped)."""
    again = Q(matched_at__gt=F("alerted_at"))
    return ListingMatch.objects.filter(is_current=True, listing__status=ListingStatus.ACTIVE).filter(
        Q(alerted_at__isnull=True) | (again & Q(alerted_price__isnull=True)) | (again & Q(price__lt=F("alerted_price")))
    )


def alertable_leads() -> QuerySet[Lead]:
    return Lead.objects.filter(archived_at__isnull=True, merged_into__isnull=True).exclude(status__in=CLOSED_STATUSES)


def default_frequency(lead: Lead) -> str:
    """The frequency a lead starts with: the setting's, off for sellers (they are not buying)."""
    if lead.lead_type == LeadType.SELLER:
        return Frequency.OFF
    value = settings.PROPERTY_ALERTS_DEFAULT_FREQUENCY
    return value if value in Frequency.values else Frequency.DAILY


def leads_without_subscription(limit: int) -> list[Lead]:
    """Alertable leads with a due match and no alert settings yet (up to ``limit``)."""
    has_due = Exists(due_matches().filter(lead=OuterRef("pk")))
    return list(
        alertable_leads()
        .filter(has_due)
        .filter(alert_subscription__isnull=True)
        .only("pk", "lead_type")
        .order_by("pk")[:limit]
    )


def candidate_subscriptions(frequency: str, *, instant: bool) -> QuerySet[AlertSubscription]:
    """Subscriptions in force at ``frequency`` (not paused) of alertable leads with a due
    match; for instant alerts only those with a match newer than their last run."""
    due = due_matches().filter(lead=OuterRef("lead_id"))
    has_due = Exists(due)
    if instant:  # a lead skipped (no consent) is looked at again when a new match comes
        has_due = (Q(last_run_at__isnull=True) & Q(has_due)) | Q(
            Exists(due.filter(matched_at__gt=OuterRef("last_run_at")))
        )
    return (
        AlertSubscription.objects.filter(effective_frequency=frequency, paused_at__isnull=True)
        .filter(lead__in=alertable_leads())
        .filter(has_due)
        .select_related("lead__team")
        .order_by("pk")
    )


def subscription_of(lead: Lead) -> AlertSubscription | None:
    return AlertSubscription.objects.filter(lead=lead).select_related("set_by_user").first()


def recent_messages(lead: Lead, limit: int = RECENT_MESSAGES) -> list[AlertMessage]:
    return list(AlertMessage.objects.filter(lead=lead).order_by("-sent_at", "-pk")[:limit])
