"""What a lead did on the team's websites and in its alert emails: web activity events.

An IDX website (or the alert emails' open pixel and click redirect) reports each thing
the lead did with the sender's own ``event_id`` and the time it happened. Rules live in
``leads.webevents.services``; reads in ``leads.webevents.selectors``.
"""

from django.conf import settings
from django.db import models


class WebEventKind(models.TextChoices):
    LISTING_VIEWED = "listing_viewed", "Viewed a listing"
    LISTING_SAVED = "listing_saved", "Saved a listing"
    SEARCH_SAVED = "search_saved", "Saved a search"
    REGISTERED = "registered", "Registered on the website"
    INQUIRY = "inquiry", "Sent an inquiry"
    ALERT_OPENED = "alert_opened", "Opened an alert email"
    ALERT_CLICKED = "alert_clicked", "Clicked a listing in an alert"


class WebEvent(models.Model):
    """One event a website or an alert reported about a lead.

    Idempotency: ``event_id`` is unique per sender (``sender_key``: ``user:<pk>`` for the
    API key or agent that sent it, ``system`` for the app's own senders such as the
    alert emails). Senders do not share a namespace: two IDX websites may both number
    their events 1, 2, 3, and no sender can collide with (or probe) another's events.
    """

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="web_events")
    event_id = models.CharField(max_length=100, help_text="The sender's id for the event (idempotency key).")
    sender_key = models.CharField(max_length=32, help_text="Whose event ids these are: user:<pk> or system.")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=WebEventKind.choices)
    occurred_at = models.DateTimeField(help_text="When the lead did it (the sender's time).")
    received_at = models.DateTimeField(auto_now_add=True)
    listing_ref = models.CharField(max_length=64, blank=True, help_text="The listing's external id or MLS number.")
    listing_url = models.URLField(max_length=500, blank=True)
    search = models.JSONField(null=True, blank=True, help_text="A saved search's criteria.")
    page_url = models.URLField(max_length=500, blank=True)
    source = models.CharField(max_length=16, default="idx", help_text='Where it happened: "idx", "alert", ...')
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["sender_key", "event_id"], name="webevent_sender_event_id"),
        ]
        indexes = [
            # A lead's timeline, newest first, and "N events of a kind in the window".
            models.Index(fields=["lead", "kind", "occurred_at"], name="webevent_lead_kind_time"),
            models.Index(fields=["lead", "-occurred_at"], name="webevent_lead_time"),
            # "The same listing N times in the window".
            models.Index(fields=["lead", "listing_ref", "occurred_at"], name="webevent_lead_listing_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.listing_ref or ''} ({self.lead_id})".strip()
