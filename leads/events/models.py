"""What each committed save of a lead did, kept as rows: the outbox behind ``leads.events``."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class LeadEventKind(models.TextChoices):
    """The events a save can make; the values are the names integrations receive."""

    CREATED = "lead.created", "Lead created"
    UPDATED = "lead.updated", "Lead updated"
    STATUS_CHANGED = "lead.status_changed", "Lead status changed"
    ASSIGNED = "lead.assigned", "Lead assigned"
    INTERACTION_ADDED = "interaction.added", "Interaction added"
    MERGED = "lead.merged", "Duplicate merged into the lead"
    ARCHIVED = "lead.archived", "Lead archived"
    RESTORED = "lead.restored", "Lead restored"
    SCORED = "lead.scored", "Lead scored"
    LEAD_WEB_ACTIVITY = "lead.web_activity", "Web activity"  # leads.webevents: data {"web_event_ids", "kinds"}


# Events that come with a new version of the lead (the after-save work runs for them);
# a score is the result of that work, not a new version, and a page view on the team's
# website (``leads.webevents``) changes nothing of the lead: it is rescored, not reanalysed.
VERSION_EVENTS = frozenset(LeadEventKind) - {LeadEventKind.SCORED, LeadEventKind.LEAD_WEB_ACTIVITY}


class LeadEvent(models.Model):
    """One thing a committed save did to a lead. Written in the save's transaction, so
    a rolled-back save leaves none and a committed one always has its events; handed
    to the subscribers once (``relayed_at``), in order per lead."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="events")
    lead_version = models.PositiveIntegerField(help_text="The lead's version once the save committed.")
    kind = models.CharField(max_length=32, choices=LeadEventKind.choices)
    data = models.JSONField(default=dict, blank=True, help_text="What the event says beyond the lead itself.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, blank=True)
    occurred_at = models.DateTimeField()
    relayed_at = models.DateTimeField(null=True, blank=True, help_text="When the subscribers took it.")
    urgent_relayed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the urgent subscribers (routing, agent alerts) took it, ahead of the others.",
    )
    relay_attempts = models.PositiveSmallIntegerField(default=0)
    relay_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The events still to relay: a handful of rows however many were relayed.
            models.Index(fields=["id"], condition=Q(relayed_at__isnull=True), name="leadevent_unrelayed"),
            models.Index(fields=["lead", "id"], name="leadevent_lead"),
            models.Index(fields=["relayed_at"], name="leadevent_relayed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.lead_id} v{self.lead_version}"
