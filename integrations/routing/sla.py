"""A first-contact SLA breach, per the rule that routed the lead (``sla_breach_action``):

- ``alert_manager``: nothing more here; the workflows' SLA sweep alerts the manager, as before;
- ``pond``: the lead leaves its agent for the team's pond;
- ``reassign``: the lead goes to another agent of the rule's group (its method, its
  fallback), never back to the agent who let it breach.

``handle_sla_breaches`` (a periodic job, after the workflows' ``mark_sla_breaches``
settled the SLAs) acts once per lead: breached, still uncontacted, still new, assigned,
not archived, and no SLA-breach decision in its trace yet."""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from integrations.routing import engine
from integrations.routing.models import RoutingDecision, RoutingTrigger, SlaBreachAction
from leads.core import writes
from leads.errors import NotFound
from leads.models import Lead, LeadStatus, SlaStatus

BATCH = 200
ACTING = (SlaBreachAction.POND, SlaBreachAction.REASSIGN)


def breached_leads():
    """The leads an SLA-breach action is due for."""
    acting = RoutingDecision.objects.filter(lead=OuterRef("pk"), rule__sla_breach_action__in=ACTING)
    handled = RoutingDecision.objects.filter(lead=OuterRef("pk"), trigger=RoutingTrigger.SLA_BREACH)
    return (
        Lead.objects.filter(
            sla_status=SlaStatus.BREACHED,
            first_contacted_at__isnull=True,
            archived_at__isnull=True,
            assigned_to__isnull=False,
            status=LeadStatus.NEW,
        )
        .filter(Exists(acting))
        .exclude(Exists(handled))
        .order_by("sla_due_at", "pk")
    )


def handle_sla_breaches(now: datetime | None = None) -> dict[str, int]:
    """Apply the breach actions due (periodic job); returns how many leads went to the pond or were reassigned."""
    now = now or timezone.now()
    done = {SlaBreachAction.POND.value: 0, SlaBreachAction.REASSIGN.value: 0}
    for lead in list(breached_leads()[:BATCH]):
        action = on_sla_breach(lead, now=now)
        if action in done:
            done[action] += 1
    return done


def on_sla_breach(lead: Lead, *, now: datetime | None = None) -> str:
    """Apply the lead's rule's ``sla_breach_action``; returns the action taken
    ("alert_manager" when nothing was to be done here)."""
    now = now or timezone.now()
    decision = (
        RoutingDecision.objects.filter(lead=lead, rule__isnull=False)
        .select_related("rule")
        .order_by("-created_at", "-pk")
        .first()
    )
    if decision is None or decision.rule.sla_breach_action not in ACTING:
        return SlaBreachAction.ALERT_MANAGER
    rule = decision.rule
    try:
        with transaction.atomic():
            with writes.lead_write(lead.public_id, context=engine.ROUTING, leads=engine.live_leads()) as write:
                decision = _act_locked(write, rule, now=now)
            if decision is None:
                return SlaBreachAction.ALERT_MANAGER
            engine.alert_assignee(write.lead, decision)
    except NotFound:
        return SlaBreachAction.ALERT_MANAGER
    return rule.sla_breach_action


def _act_locked(write, rule, *, now: datetime):
    """The breach action on the locked lead; the final decision, None when nothing was to be done."""
    current = write.lead.assigned_to_id
    if current is None or write.lead.first_contacted_at is not None:
        return None
    write.lead.assigned_to = None
    note = "First-contact SLA breached"
    if rule.sla_breach_action == SlaBreachAction.POND:
        return engine.send_to_pond(
            write, rule, trigger=RoutingTrigger.SLA_BREACH, candidates=[], note=f"{note}: the pond."
        )
    rules = engine.rules_for(write.lead.team_id)
    start = next((index for index, other in enumerate(rules) if other.pk == rule.pk), None)
    if start is None:  # the rule was deactivated or deleted since: the pond
        return engine.send_to_pond(
            write, rule, trigger=RoutingTrigger.SLA_BREACH, candidates=[], note=f"{note}: the pond."
        )
    return engine.route_from(
        write, rules, start, trigger=RoutingTrigger.SLA_BREACH, exclude=frozenset({current}), now=now
    )
