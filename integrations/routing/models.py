"""Lead routing: the rules (``RoutingRule`` with its group, ``RuleMember``), each agent's
routing settings (``AgentRoutingProfile``), the weighted round robin's state per rule
(``RoundRobinState``), the trace of every decision (``RoutingDecision``), first-to-claim
offers (``Offer``) and the pond (``PondEntry``). Rules live in ``services`` and
``selectors``; these are the rows."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


class RoutingMethod(models.TextChoices):
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin", "Weighted round robin"
    FIRST_TO_CLAIM = "first_to_claim", "First to claim"
    FIXED_AGENT = "fixed_agent", "Fixed agent"


class Fallback(models.TextChoices):
    POND = "pond", "The pond"
    AGENT = "agent", "A named agent"
    NEXT_RULE = "next_rule", "The next matching rule"


class SlaBreachAction(models.TextChoices):
    ALERT_MANAGER = "alert_manager", "Alert the manager only"
    POND = "pond", "Send the lead back to the pond"
    REASSIGN = "reassign", "Reassign to another agent of the group"


class RoutingRule(models.Model):
    """One rule of a team's ordered list. The first active rule whose conditions all
    match a lead picks its group and method; an empty condition matches any lead. Each
    team (and the install without teams, ``team=None``) has one catch-all rule, which
    matches every lead and cannot be deleted or deactivated."""

    team = models.ForeignKey("leads.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0, help_text="Rules are tried in this order (lowest first).")
    is_active = models.BooleanField(default=True)
    is_catch_all = models.BooleanField(default=False, editable=False)
    # Conditions (any of each list; an empty list matches any lead).
    sources = models.JSONField(default=list, blank=True)
    lead_types = models.JSONField(default=list, blank=True)
    cities = models.JSONField(default=list, blank=True, help_text="Matched against the lead's preferred locations.")
    zip_codes = models.JSONField(default=list, blank=True, help_text="Matched against the lead's preferred locations.")
    languages = models.JSONField(default=list, blank=True, help_text='Short codes such as "en", "es".')
    tags = models.JSONField(default=list, blank=True)
    urgencies = models.JSONField(default=list, blank=True)
    min_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="The lead's budget reaches at least this."
    )
    max_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="The lead's budget starts at most at this."
    )
    has_phone = models.BooleanField(null=True, blank=True, help_text="Blank: any lead; yes/no: with/without a phone.")
    # What the rule does with a matching lead.
    method = models.CharField(max_length=24, choices=RoutingMethod.choices, default=RoutingMethod.WEIGHTED_ROUND_ROBIN)
    fixed_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    allow_off_hours = models.BooleanField(default=False, help_text="Agents outside their working hours are eligible.")
    claim_timeout_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1440)]
    )
    fallback = models.CharField(max_length=12, choices=Fallback.choices, default=Fallback.POND)
    fallback_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sla_breach_action = models.CharField(
        max_length=16, choices=SlaBreachAction.choices, default=SlaBreachAction.ALERT_MANAGER
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team_id", "-is_catch_all", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_catch_all=True), name="routing_one_catch_all_per_team"
            ),
            models.UniqueConstraint(
                fields=["is_catch_all"],
                condition=Q(is_catch_all=True, team__isnull=True),
                name="routing_one_catch_all_without_team",
            ),
            models.CheckConstraint(
                condition=Q(min_price__isnull=True) | Q(max_price__isnull=True) | Q(min_price__lte=F("max_price")),
                name="routing_rule_min_price_lte_max",
            ),
            models.CheckConstraint(
                condition=Q(is_catch_all=False) | Q(is_active=True), name="routing_catch_all_active"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from integrations.routing.validation import rule_field_errors

        errors = rule_field_errors(self)
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)


class RuleMember(models.Model):
    """An agent of a rule's group, with their weight in the round robin (1 to 100)."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_memberships")
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(100)])

    class Meta:
        ordering = ["rule_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "agent"], name="routing_member_once_per_rule"),
            models.CheckConstraint(condition=Q(weight__gte=1, weight__lte=100), name="routing_member_weight_1_100"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} ({self.weight}) in {self.rule}"


class AgentRoutingProfile(models.Model):
    """An agent's routing settings; an agent without one is not paused, has no cap and
    the default pond limit."""

    DEFAULT_POND_DAILY_LIMIT = 10

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_profile")
    paused = models.BooleanField(default=False, help_text="Takes no routed leads while paused.")
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many open new leads assigned; blank: no cap."
    )
    pond_daily_limit = models.PositiveIntegerField(
        default=DEFAULT_POND_DAILY_LIMIT, help_text="Leads the agent may take from the pond per day (their zone)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Routing profile of {self.user}"


class RoundRobinState(models.Model):
    """A rule's smooth weighted round robin: each agent's current weight (by user id,
    as a string key). Read and written under a row lock, so concurrent leads take turns
    one after another."""

    rule = models.OneToOneField(RoutingRule, on_delete=models.CASCADE, related_name="round_robin")
    current = models.JSONField(default=dict, blank=True)
    turns = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Round robin of {self.rule_id}"


class RoutingTrigger(models.TextChoices):
    ARRIVAL = "arrival", "New lead"
    CLAIM_TIMEOUT = "claim_timeout", "Nobody claimed in time"
    SLA_BREACH = "sla_breach", "First-contact SLA breached"
    PASS = "pass", "Every agent passed"
    POND_TAKE = "pond_take", "Taken from the pond"
    CLAIM = "claim", "Claimed"
    WITHDRAWN = "withdrawn", "Offers withdrawn"


class RoutingOutcome(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    OFFERED = "offered", "Offered"
    POND = "pond", "Sent to the pond"
    KEPT = "kept", "Kept its agent"
    NEXT_RULE = "next_rule", "Nobody eligible: the next rule"


class SkipReason(models.TextChoices):
    OFF_HOURS = "off_hours", "Off hours"
    AT_CAPACITY = "at_capacity", "At capacity"
    PAUSED = "paused", "Paused"
    TIME_OFF = "time_off", "On time off"
    INACTIVE = "inactive", "Inactive"
    DELETED = "deleted", "Deleted"
    ALREADY_OFFERED = "already_offered", "Already had the lead"


class RoutingDecision(models.Model):
    """One routing decision about a lead (the trace): the rule that matched, every
    candidate with whether they were eligible (and why not), what happened, to whom.

    ``candidates``: ``[{"agent_id", "name", "weight", "eligible", "skipped_because"}]``
    (``skipped_because`` one of ``SkipReason``, or null)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="routing_decisions")
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions")
    rule_name = models.CharField(max_length=80, blank=True)
    method = models.CharField(max_length=24, blank=True)
    trigger = models.CharField(max_length=16, choices=RoutingTrigger.choices)
    outcome = models.CharField(max_length=12, choices=RoutingOutcome.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    candidates = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why, in words (a fallback, a timeout).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["lead", "created_at"], name="routing_decision_lead"),
            models.Index(fields=["created_at"], name="routing_decision_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()}: {self.get_outcome_display()} ({self.rule_name})"


class OfferState(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    PASSED = "passed", "Passed"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"  # someone else claimed it, or the lead went elsewhere


class Offer(models.Model):
    """A first-to-claim offer of a lead to one agent. Exactly one offer of a decision
    can be claimed (a conditional update on the open offers, ``services.claim_offer``)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="routing_offers")
    decision = models.ForeignKey(RoutingDecision, on_delete=models.CASCADE, related_name="offers")
    # Null once the agent was deleted: the sweep withdraws it and routes the lead on.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="routing_offers"
    )
    agent_name = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=10, choices=OfferState.choices, default=OfferState.OPEN)
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["offered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "agent"], name="routing_offer_once_per_agent"),
        ]
        indexes = [
            models.Index(fields=["agent", "state"], name="routing_offer_agent_state"),
            models.Index(fields=["expires_at"], condition=Q(state="open"), name="routing_offer_open_expiry"),
            models.Index(fields=["lead", "state"], name="routing_offer_lead_state"),
        ]

    def __str__(self) -> str:
        return f"Offer of {self.lead_id} to {self.agent_name}: {self.state}"


class PondStatus(models.TextChoices):
    OPEN = "open", "In the pond"
    TAKEN = "taken", "Taken"
    LEFT = "left", "Left the pond"  # assigned another way, or archived


class PondEntry(models.Model):
    """A lead in its team's pond, which eligible agents may take (``PondStatus``)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="pond_entries")
    team = models.ForeignKey("leads.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.ForeignKey(RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=PondStatus.choices, default=PondStatus.OPEN)
    entered_at = models.DateTimeField()
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="pond_takes"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["entered_at", "id"]
        verbose_name_plural = "pond entries"
        constraints = [
            models.UniqueConstraint(fields=["lead"], condition=Q(status="open"), name="routing_pond_lead_once"),
        ]
        indexes = [
            models.Index(fields=["team", "status", "entered_at"], name="routing_pond_team_open"),
            models.Index(fields=["taken_by", "taken_at"], name="routing_pond_taken"),
        ]

    def __str__(self) -> str:
        return f"Pond: {self.lead_id} ({self.status})"


class PendingRoute(models.Model):
    """A lead waiting to be routed: written in the lead events' relay transaction, taken
    (and deleted) by the routing task; one the broker never got is sent again by the
    periodic sweep, so no lead is left without a route."""

    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Route {self.lead_id}"
