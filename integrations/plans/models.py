"""Follow-up plans: a plan's trigger and ordered steps (``Plan``, ``PlanStep``), a lead's
run through a plan (``Enrolment``), each step's one run for an enrolment (``StepRun``,
also the delivery outbox row of the messages), and per channel consent (``Consent``).

Consent lives here, not on the lead: it is the plans' rule (a lead's opt-out flags on
``Contact`` are the lead's own "stop", honoured by every workflow). Rules live in
``services``, ``scheduler`` and ``rules``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.outbox import OutboxRow
from leads.models import FollowUpTask, Lead, LeadSource, LeadStatus, LeadType, Team, WebEventKind


class TriggerKind(models.TextChoices):
    MANUAL = "manual", "Started by hand only"
    NEW_LEAD = "new_lead", "A new lead (by source, type, tags)"
    STATUS_CHANGED = "status_changed", "The status changed to…"
    TAG_ADDED = "tag_added", "A tag was added"
    NO_CONTACT = "no_contact", "No contact for N days"
    DATE_FIELD = "date_field", "N days before a date of the lead"
    WEB_ACTIVITY = "web_activity", "Website activity (N events in a window)"


class DateField(models.TextChoices):
    TARGET_MOVE_DATE = "timeline.target_move_date", "Target move date"


class Plan(models.Model):
    name = models.CharField(max_length=120)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="plans", help_text="Empty: every team."
    )
    is_active = models.BooleanField(default=False, help_text="Off: nothing is started by its trigger.")
    trigger = models.CharField(max_length=16, choices=TriggerKind.choices, default=TriggerKind.MANUAL)
    trigger_sources = models.JSONField(
        default=list, blank=True, help_text=f"New lead: any of these sources (empty: any). {LeadSource.values}"
    )
    trigger_lead_types = models.JSONField(
        default=list, blank=True, help_text=f"New lead: any of these types (empty: any). {LeadType.values}"
    )
    trigger_tags = models.JSONField(
        default=list, blank=True, help_text="New lead: with any of these tags; tag added: any of these tags."
    )
    trigger_status = models.CharField(max_length=16, choices=LeadStatus.choices, blank=True)
    trigger_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="No contact: for this many days. Date: this many days before it."
    )
    trigger_date_field = models.CharField(max_length=32, choices=DateField.choices, blank=True)
    # Website activity: ``trigger_count`` events of ``trigger_web_kind`` within
    # ``trigger_window_hours`` (of one listing with ``trigger_same_listing``).
    trigger_web_kind = models.CharField(max_length=16, choices=WebEventKind.choices, blank=True)
    trigger_count = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Website activity: N events.")
    trigger_window_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Website activity: within this many hours."
    )
    trigger_same_listing = models.BooleanField(
        default=False, help_text="Website activity: the N events are of the same listing."
    )
    pause_on_reply = models.BooleanField(
        default=True, help_text="Pause when the lead replies by text or email or a call connects."
    )
    pause_on_status = models.BooleanField(
        default=True, help_text="Pause when someone moves the lead past contacted (qualified, showing, …, lost)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(trigger__in=["no_contact", "date_field"]) | Q(trigger_days__isnull=False),
                name="plan_trigger_days_set",
            ),
            models.CheckConstraint(
                condition=~Q(trigger="web_activity")
                | Q(trigger_count__gte=1, trigger_window_hours__gte=1) & ~Q(trigger_web_kind=""),
                name="plan_trigger_web_activity_set",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    SEND_EMAIL = "send_email", "Send an email"
    SEND_TEXT = "send_text", "Send a text"
    CREATE_TASK = "create_task", "Create a task for the agent"
    WAIT = "wait", "Wait"
    CHANGE_STATUS = "change_status", "Change the status"
    ADD_TAG = "add_tag", "Add a tag"
    REMOVE_TAG = "remove_tag", "Remove a tag"
    NOTIFY_MANAGER = "notify_manager", "Notify the manager"


MESSAGE_KINDS = frozenset({StepKind.SEND_EMAIL, StepKind.SEND_TEXT})


class TaskChannel(models.TextChoices):
    CALL = "call", "Call"
    TEXT = "text", "Text"
    EMAIL = "email", "Email"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class PlanStep(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(help_text="Steps run in this order; gaps are fine (10, 20, 30).")
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    subject = models.CharField(max_length=200, blank=True, help_text="Email subject, or the task's title.")
    body = models.TextField(blank=True, help_text="Email or text template; merge fields: {{ first_name }}, …")
    task_channel = models.CharField(max_length=8, choices=TaskChannel.choices, blank=True)
    wait_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Wait: this long.")
    wait_until_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, null=True, blank=True, help_text="Wait: until this weekday (the lead's zone)…"
    )
    wait_until_time = models.TimeField(null=True, blank=True, help_text="…at this time (the lead's zone).")
    status = models.CharField(max_length=16, choices=LeadStatus.choices, blank=True)
    tag = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "position"], name="planstep_plan_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class EnrolmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"


LIVE_STATES = (EnrolmentState.ACTIVE, EnrolmentState.PAUSED)


class Enrolment(models.Model):
    """One lead's run through one plan. ``next_position`` is the position of the next
    step to run (steps run in position order; a step inserted behind it never runs for
    this enrolment); ``next_due_at`` when it is due. ``claimed_until``: a scheduler holds
    it until then (a crashed one's claim expires)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="plan_enrolments")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="enrolments")
    state = models.CharField(max_length=8, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE)
    next_position = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, help_text="Why it started: the trigger, or who started it.")
    state_reason = models.CharField(max_length=200, blank=True, help_text="Why it was paused, stopped or finished.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "plan"], condition=Q(state__in=["active", "paused"]), name="enrolment_one_live"
            ),
        ]
        indexes = [
            models.Index(fields=["next_due_at"], condition=Q(state="active"), name="enrolment_due"),
            models.Index(fields=["lead", "state"], name="enrolment_lead_state"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} for {self.lead_id} ({self.state})"


class RunState(models.TextChoices):
    PENDING = "pending", "Being sent"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    TEXT = "text", "Text"
    CALL = "call", "Call"


class StepRun(OutboxRow):
    """A step's one run for one enrolment: unique per (enrolment, step), so however many
    schedulers race or retry, the step runs once. For a message it is recorded with what
    was rendered *before* anything is sent, and is then the delivery's outbox row
    (``delivery``): a crash after it committed resumes the send, never renders it again."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(PlanStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    status = models.CharField(max_length=8, choices=RunState.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was skipped or failed.")
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True, help_text="The rendered text (plain part of an email).")
    html = models.TextField(blank=True, help_text="The rendered HTML part of an email.")
    sms_message = models.ForeignKey(
        "sms.SmsMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(FollowUpTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrolment", "step"], name="steprun_once")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=["pending", "retrying"]), name="steprun_due"
            ),
            models.Index(fields=["channel", "created_at"], name="steprun_channel_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"


class Consent(models.Model):
    """Whether the lead agreed to be reached on a channel, where that came from and when.
    No row: email is implied by the inquiry (PLANS_IMPLIED_CONSENT), text and call need it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=100, help_text='"web form", "agent: call 2026-05-01", "STOP reply", …')
    at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lead", "channel"], name="consent_lead_channel")]

    def __str__(self) -> str:
        return f"{self.channel}: {'granted' if self.granted else 'refused'} ({self.source})"
