"""The lead core: a lead and its contact, preferences, timeline, interactions,
status history and follow-ups. Rules that span models live in ``leads.core.services``."""

import secrets

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from leads.accounts.models import Team, User


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class LeadType(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    BUYER_SELLER = "buyer_seller", "Buyer and seller"
    RENTER = "renter", "Renter"
    INVESTOR = "investor", "Investor"


class LeadSource(models.TextChoices):
    WEBSITE = "website", "Website"
    REFERRAL = "referral", "Referral"
    SOCIAL_MEDIA = "social_media", "Social media"
    DIRECT_MAIL = "direct_mail", "Direct mail"
    OPEN_HOUSE = "open_house", "Open house"
    ZILLOW = "zillow", "Zillow"
    REALTOR_COM = "realtor_com", "Realtor.com"
    PAID_SEARCH = "paid_search", "Paid search"
    PHONE_INQUIRY = "phone_inquiry", "Phone inquiry"
    WALK_IN = "walk_in", "Walk-in"
    PAST_CLIENT = "past_client", "Past client"
    OTHER = "other", "Other"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    SHOWING = "showing", "Showing"
    OFFER = "offer", "Offer"
    UNDER_CONTRACT = "under_contract", "Under contract"
    CLOSED = "closed", "Closed"
    LOST = "lost", "Lost"
    NURTURE = "nurture", "Nurture"


class UrgencyLevel(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class FinancingStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    PRE_QUALIFIED = "pre_qualified", "Pre-qualified"
    PRE_APPROVED = "pre_approved", "Pre-approved"
    CASH = "cash", "Cash buyer"


class PropertyType(models.TextChoices):
    SINGLE_FAMILY = "single_family", "Single Family"
    CONDO = "condo", "Condo"
    TOWNHOUSE = "townhouse", "Townhouse"
    MULTI_FAMILY = "multi_family", "Multi-Family"
    APARTMENT = "apartment", "Apartment"
    LAND = "land", "Land"
    COMMERCIAL = "commercial", "Commercial"
    MOBILE_HOME = "mobile_home", "Mobile Home"


class ContactChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone call"
    TEXT = "text", "Text message"


class InteractionType(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    TEXT = "text", "Text"
    MEETING = "meeting", "Meeting"
    SHOWING = "showing", "Showing"
    NOTE = "note", "Note"


class InteractionDirection(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"
    INTERNAL = "internal", "Internal"


class SlaStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"


class ProcessingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def new_public_lead_id() -> str:
    """An opaque, unguessable id: 'lead_' and 24 hex characters (96 random bits)."""
    return f"lead_{secrets.token_hex(12)}"


class Lead(TimestampedModel):
    public_id = models.CharField(max_length=40, unique=True, default=new_public_lead_id, editable=False)
    lead_type = models.CharField(max_length=16, choices=LeadType.choices)
    source = models.CharField(max_length=24, choices=LeadSource.choices, default=LeadSource.OTHER)
    status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    assigned_to = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_leads"
    )
    # The office the lead belongs to (its manager sees it); None in an install without teams.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    score_breakdown = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    first_contacted_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    # Speed to lead: the first contact is due by sla_due_at (set from the urgency).
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_status = models.CharField(max_length=8, choices=SlaStatus.choices, default=SlaStatus.PENDING)
    # Where the after-save work stands for the current version (written by tasks,
    # which never bump ``version``).
    processing_status = models.CharField(
        max_length=8, choices=ProcessingStatus.choices, default=ProcessingStatus.PENDING
    )
    processing_error = models.TextField(blank=True)
    processed_version = models.PositiveIntegerField(default=0)
    # Set when the lead was merged into another one (leads.merge); cleared by an undo.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_leads", editable=False
    )
    # Soft delete (DELETE /api/v2/leads/{id}): an archived lead is hidden everywhere
    # but the admin, where it can be restored. Nothing is hard-deleted through the API.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Kept from the status history with every move (leads.core.bookkeeping), for the
    # reports (leads.reports.funnel and stages): the furthest pipeline stage a move went
    # to (its index in leads.reports.pipeline.PIPELINE; 0 when none), and when the
    # latest move happened (None before the first).
    furthest_stage = models.SmallIntegerField(default=0, editable=False)
    stage_entered_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="lead_status_created"),
            models.Index(fields=["assigned_to", "-created_at"], name="lead_agent_created"),
            models.Index(fields=["lead_type", "-created_at"], name="lead_type_created"),
            models.Index(fields=["source", "-created_at"], name="lead_source_created"),
            # The live (not archived) leads in list order: serves the default ordering
            # and lets COUNT(*) of visible leads be an index-only scan.
            models.Index(
                F("created_at").desc(),
                F("id").desc(),
                name="lead_live_created",
                condition=Q(archived_at__isnull=True),
            ),
            # The list's other sort keys (leads.core.filters.SORT_FIELDS), each with the id
            # tie-breaker: a page is the index's first rows, read forwards or backwards,
            # instead of a sort of every visible lead.
            *(
                models.Index(fields=[field, "id"], name=f"lead_live_{field}", condition=Q(archived_at__isnull=True))
                for field in ("score", "updated_at", "last_contacted_at", "status")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100), name="lead_score_0_100"
            ),
        ]

    def __str__(self) -> str:
        contact = getattr(self, "contact", None)
        return f"{contact.full_name} ({self.public_id})" if contact else self.public_id


class Contact(models.Model):
    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="contact")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True, help_text="E.164 where it parses")
    phone_is_valid = models.BooleanField(
        default=True, help_text="False when the number does not exist in its region's numbering plan"
    )
    preferred_contact_method = models.CharField(
        max_length=8, choices=ContactChannel.choices, default=ContactChannel.EMAIL
    )
    best_time_to_contact = models.CharField(max_length=100, blank=True)
    preferred_language = models.CharField(
        max_length=8,
        blank=True,
        help_text='A short code ("en", "es"); routing matches on it.',
    )
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)
    call_opt_out = models.BooleanField(default=False)

    class Meta:
        # Duplicate detection (leads.duplicates) compares whole addresses case-insensitively.
        indexes = [
            models.Index(Lower("email"), name="contact_email_lower"),
            # The list sorted by last name (``?ordering=contact__last_name``), with the lead as tie-breaker.
            models.Index(fields=["last_name", "lead"], name="contact_last_name_lead"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(email="") | ~Q(phone=""), name="contact_reachable"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Preferences(models.Model):
    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="preferences")
    property_types = models.JSONField(default=list, blank=True)
    min_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    preferred_locations = models.JSONField(default=list, blank=True)
    min_bedrooms = models.PositiveSmallIntegerField(null=True, blank=True)
    min_bathrooms = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    min_square_feet = models.PositiveIntegerField(null=True, blank=True)
    must_have_features = models.JSONField(default=list, blank=True)
    nice_to_have_features = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "preferences"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_price__isnull=True) | Q(min_price__gte=0), name="prefs_min_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(max_price__isnull=True) | Q(max_price__gte=0), name="prefs_max_price_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(min_price__isnull=True) | Q(max_price__isnull=True) | Q(min_price__lte=F("max_price")),
                name="prefs_min_price_lte_max",
            ),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.lead_id}"


class Timeline(models.Model):
    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="timeline")
    urgency_level = models.CharField(
        max_length=8, choices=UrgencyLevel.choices, default=UrgencyLevel.NORMAL, db_index=True
    )
    financing_status = models.CharField(
        max_length=16, choices=FinancingStatus.choices, default=FinancingStatus.NOT_STARTED
    )
    target_move_date = models.DateField(null=True, blank=True)
    pre_approval_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pre_approval_amount__isnull=True) | Q(pre_approval_amount__gte=0),
                name="timeline_pre_approval_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"Timeline of {self.lead_id}"


class Interaction(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="interactions")
    type = models.CharField(max_length=16, choices=InteractionType.choices)
    direction = models.CharField(
        max_length=8, choices=InteractionDirection.choices, default=InteractionDirection.OUTBOUND
    )
    summary = models.CharField(max_length=500)
    notes = models.TextField(blank=True)
    next_steps = models.TextField(blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="interactions")
    occurred_at = models.DateTimeField()
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The lead's source and type, kept by database triggers (migration 0021: set on
    # insert and when the interaction moves to another lead, updated when the lead's
    # change), so the leaderboard's activity narrowed by source or type reads one
    # index range instead of joining every lead.
    lead_source = models.CharField(max_length=24, blank=True, default="", editable=False)
    lead_type = models.CharField(max_length=16, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="interaction_lead_occurred"),
            # The reports' activity per agent over a date range (leads.reports.leaderboard).
            models.Index(
                fields=["occurred_at", "created_by", "type"],
                include=["lead_source", "lead_type"],
                name="interaction_occurred_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.summary[:40]}"


class StatusChange(models.Model):
    """One move through the pipeline: the base for time-in-stage and speed-to-lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=LeadStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=LeadStatus.choices)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["lead", "-changed_at"], name="statuschange_lead_at")]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class FollowUpKind(models.TextChoices):
    FIRST_CONTACT = "first_contact", "First contact"
    FOLLOW_UP = "follow_up", "Follow-up"
    REMINDER = "reminder", "Reminder"


class FollowUpTask(models.Model):
    """Something an agent must do for a lead by a time: call back, send listings..."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="follow_ups")
    assigned_to = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups")
    kind = models.CharField(max_length=16, choices=FollowUpKind.choices, default=FollowUpKind.FOLLOW_UP)
    title = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["assigned_to", "completed_at", "due_at"], name="followup_agent_open_due"),
            models.Index(fields=["lead", "completed_at"], name="followup_lead_open"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (due {self.due_at:%Y-%m-%d %H:%M})"

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None
