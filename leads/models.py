"""The lead domain: a lead and its contact, preferences, timeline, interactions
and status history. Rules that span models live in ``leads.services``."""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    """A member of the team; what their role lets them do is ``leads.permissions``."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="team_members")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


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
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)
    call_opt_out = models.BooleanField(default=False)

    class Meta:
        # Duplicate detection (leads.duplicates) compares whole addresses case-insensitively.
        indexes = [models.Index(Lower("email"), name="contact_email_lower")]
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

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="interaction_lead_occurred")]

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


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class LeadImport(models.Model):
    """A CSV of leads uploaded by an agent, imported in the background.

    The file's text is kept in the row so a worker on any machine can run it.
    ``row_errors`` holds ``{"row", "values", "errors"}`` for each refused row; a
    skipped duplicate also has ``"duplicate": true`` and ``"existing_lead_id"``
    (blank when the uploader may not see that lead).
    """

    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="lead_imports")
    file_name = models.CharField(max_length=255)
    source_text = models.TextField()
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    row_errors = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="leadimport_owner_created")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent_done(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


class SavedFilter(models.Model):
    """A user's named lead-list query (a "smart list"), kept as a query string."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedfilter_owner_name_unique")]

    def __str__(self) -> str:
        return self.name


class AuditChannel(models.TextChoices):
    API = "api", "API"
    PAGE = "page", "Agent pages"
    ADMIN = "admin", "Admin"
    TASK = "task", "Background task"
    IMPORT = "import", "CSV import"
    SYSTEM = "system", "System"


class AuditEntry(models.Model):
    """One change to a lead: a field's old and new value (JSON), who made it and
    through which channel. The entries of one save share a ``changeset``.

    ``field`` is a path ("status", "contact.email", "preferences.min_price") or an
    event ("created", "interaction_added", "merged", ...); see ``leads.audit``.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="audit_entries")
    changeset = models.UUIDField(db_index=True)
    field = models.CharField(max_length=64)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=8, choices=AuditChannel.choices)
    request_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["lead", "-at", "-id"], name="auditentry_lead_at")]

    def __str__(self) -> str:
        return f"{self.field} on {self.lead_id} at {self.at:%Y-%m-%d %H:%M:%S}"


def new_public_merge_id() -> str:
    return f"merge_{secrets.token_hex(12)}"


class LeadMerge(models.Model):
    """``duplicate`` merged into ``primary``. ``snapshot`` holds both leads as they
    were before (every part, and the ids of the rows moved) so the merge can be
    undone; ``primary_version``/``duplicate_version`` are the versions the merge left."""

    public_id = models.CharField(max_length=40, unique=True, default=new_public_merge_id, editable=False)
    primary = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    duplicate = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merged_away")
    merged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField()
    prefer = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField()
    primary_version = models.PositiveIntegerField()
    duplicate_version = models.PositiveIntegerField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.duplicate_id} into {self.primary_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None


class IdempotencyRecord(models.Model):
    """The first answer to a create sent with an ``Idempotency-Key``, replayed to retries.

    ``request_hash`` is the SHA-256 of the method, the path and the canonical JSON
    body; a retry must match it. ``response_status`` is null while the first request
    is still running (see ``leads.api.idempotency``).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=8)
    request_path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.request_method} {self.request_path})"


class LeadCount(models.Model):
    """How many live (not archived) leads there are per (agent, status, lead type).

    Kept exact by database triggers on ``leads_lead`` (migration 0006), so every write
    path counts, bulk inserts and COPY included. The triggers only ever INSERT a
    row carrying a change (+n / -n), which never waits on another transaction's lock;
    ``leads.counts.compact`` folds the rows into one per key from time to time. A
    count is the SUM of the matching rows (``leads.counts``), a few hundred rows
    whatever the number of leads. ``assigned_to_key`` is the agent's id, 0 for
    unassigned leads.
    """

    assigned_to_key = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=LeadStatus.choices)
    lead_type = models.CharField(max_length=16, choices=LeadType.choices)
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["assigned_to_key", "status", "lead_type"], name="leadcount_key")]

    def __str__(self) -> str:
        return f"{self.assigned_to_key}/{self.status}/{self.lead_type}: {self.n:+d}"


# Models kept in their concept's own module, registered with this app here.
from leads.events.models import LeadEvent, LeadEventKind  # noqa: E402, F401
