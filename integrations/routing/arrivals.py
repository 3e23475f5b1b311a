"""Which saved leads are routed, and getting each routed exactly once.

The routing subscribes to lead events (``leads.events``). In the relay's transaction:

- a ``lead.created`` from the API (single and batch), the new-lead form, or a CSV
  import whose "route unassigned leads" option was on (the event says so: ``route``),
  of a lead that arrived **unassigned**, gets a ``PendingRoute`` row, and the routing
  task is queued once the relay commits (Celery with Redis; in-process without);
- the same for a lead that arrived **with an agent** records a "kept" decision: it
  keeps its agent, and the trace says so;
- a ``lead.assigned`` to somebody (a manager's reassignment, say) takes the lead out
  of the pond and withdraws its open offers; so does ``lead.archived``.

The task routes each pending lead and deletes its row in one transaction, so a second
run finds nothing; a row the broker never got is sent again by the periodic sweep.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from integrations.routing import engine
from integrations.routing.models import PendingRoute, RoutingDecision, RoutingOutcome, RoutingTrigger
from leads.audit.models import AuditChannel
from leads.events.models import LeadEvent, LeadEventKind
from leads.models import Lead

logger = logging.getLogger(__name__)

ROUTED_CHANNELS = (AuditChannel.API, AuditChannel.PAGE)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


def wants_routing(event: LeadEvent) -> bool:
    """A creation from a channel that routes new leads."""
    return event.kind == LeadEventKind.CREATED and (
        event.channel in ROUTED_CHANNELS or (event.channel == AuditChannel.IMPORT and bool(event.data.get("route")))
    )


def plan_routes(events: list[LeadEvent]) -> list[int]:
    """The routing's side of a relay (in its transaction): pending routes for the new
    unassigned leads, "kept" decisions for the new assigned ones, the pond and offers
    settled for leads assigned or archived elsewhere. Returns the pending routes' ids."""
    created = {event.lead_id for event in events if wants_routing(event)}
    settled = {
        event.lead_id for event in events if event.kind in (LeadEventKind.ASSIGNED, LeadEventKind.ARCHIVED)
    } - created
    route_ids: list[int] = []
    if created:
        leads = Lead.objects.filter(pk__in=created).select_related("assigned_to")
        assigned = [lead for lead in leads if lead.assigned_to_id is not None]
        unassigned = [lead.pk for lead in leads if lead.assigned_to_id is None and lead.archived_at is None]
        already = set(RoutingDecision.objects.filter(lead_id__in=created).values_list("lead_id", flat=True))
        RoutingDecision.objects.bulk_create(
            RoutingDecision(
                lead=lead,
                trigger=RoutingTrigger.ARRIVAL,
                outcome=RoutingOutcome.KEPT,
                assignee=lead.assigned_to,
                note="Arrived with an agent: kept.",
            )
            for lead in assigned
            if lead.pk not in already
        )
        PendingRoute.objects.bulk_create(
            [PendingRoute(lead_id=pk, dispatched_at=timezone.now()) for pk in unassigned if pk not in already],
            ignore_conflicts=True,
        )
        route_ids = list(PendingRoute.objects.filter(lead_id__in=unassigned).values_list("pk", flat=True))
    if settled:
        now = timezone.now()
        for lead in Lead.objects.filter(pk__in=settled):
            if lead.assigned_to_id is not None or lead.archived_at is not None:
                engine.settle_elsewhere(lead, now=now)
    return route_ids


def route_pending(route_ids: list[int], *, deliver_here: bool = False) -> int:
    """Route the leads of these pending routes, each in its own transaction (a lead that
    fails does not hold back the others: its row stays, with the error, for the sweep);
    returns how many were routed. ``deliver_here``: the assignees' alerts are sent by this
    process (``engine.route_lead``)."""
    routed = 0
    for route_id in route_ids:
        try:
            with transaction.atomic():
                pending = PendingRoute.objects.select_for_update(skip_locked=True).filter(pk=route_id).first()
                if pending is None:
                    continue  # done, or in another worker's hands
                if pending.attempts >= MAX_ATTEMPTS:
                    _last_resort(pending)
                else:
                    engine.route_lead(pending.lead_id, deliver_here=deliver_here)
                pending.delete()
                routed += 1
        except Exception as error:
            logger.exception("Routing of pending route %s failed", route_id)
            PendingRoute.objects.filter(pk=route_id).update(
                attempts=pending_attempts(route_id) + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
            )
    return routed


def pending_attempts(route_id: int) -> int:
    return PendingRoute.objects.filter(pk=route_id).values_list("attempts", flat=True).first() or 0


def _last_resort(pending: PendingRoute) -> None:
    """A lead whose routing kept failing goes to the pond, so it is not lost."""
    from leads.core import writes
    from leads.errors import NotFound

    try:
        locked = writes.lead_write(pending.lead_id, context=engine.ROUTING, leads=engine.live_leads())
        with locked as write:
            if write.lead.assigned_to_id is not None:
                return
            engine.send_to_pond(
                write,
                None,
                trigger=RoutingTrigger.ARRIVAL,
                candidates=[],
                note=f"Routing failed {MAX_ATTEMPTS} times ({pending.last_error[:120]}): the pond.",
            )
    except NotFound:
        return  # archived or gone meanwhile


def due_routes(now: datetime | None = None) -> list[int]:
    """Pending routes never sent, or sent and not done after RESEND_AFTER; marked sent now."""
    now = now or timezone.now()
    due = PendingRoute.objects.filter(dispatched_at__isnull=True, created_at__lte=now - timedelta(seconds=5)) | (
        PendingRoute.objects.filter(dispatched_at__lte=now - RESEND_AFTER)
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:500])
    PendingRoute.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids
