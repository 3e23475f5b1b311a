"""Thin Celery tasks around routing, its subscription to lead events and its periodic
job. Tasks take ids, re-read, and are safe to run twice or late."""

from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.routing import arrivals, offers
from leadmgmt.broker import send_or_leave
from leads.events.models import LeadEvent

BATCH = 50
# A relay that brought this many new leads or fewer routes them itself once it commits,
# and sends the assignees' alerts itself (a lead arriving on its own is routed and pushed
# without a second trip through the queue); more are sent to the workers in batches, to
# be routed side by side.
ROUTE_IN_RELAY = 5


def on_lead_events(events: list[LeadEvent]) -> None:
    """The routing's subscription (``leads.events``): plan the routes in the relay's
    transaction and route them once it commits."""
    route_ids = arrivals.plan_routes(events)
    if route_ids:
        transaction.on_commit(partial(route_or_dispatch, route_ids))


def route_or_dispatch(route_ids: list[int]) -> int:
    """Route a few pending routes here, or send them to workers; either way a route
    that fails stays pending for the sweep. Returns how many were routed or sent."""
    if len(route_ids) > ROUTE_IN_RELAY:
        return dispatch(route_ids)
    return arrivals.route_pending(route_ids, deliver_here=True)


def dispatch(route_ids: list[int]) -> int:
    """Send the routes, ``BATCH`` to a message; stops at the first the broker refuses
    and leaves the rest to the sweep. Returns how many were sent."""
    for start in range(0, len(route_ids), BATCH):
        chunk = route_ids[start : start + BATCH]
        if not send_or_leave(route_leads, chunk, left_for="the routing sweep"):
            arrivals.PendingRoute.objects.filter(pk__in=route_ids[start:]).update(dispatched_at=None)
            return start
    return len(route_ids)


@shared_task(
    acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90, priority=settings.URGENT_TASK_PRIORITY
)
def route_leads(route_ids: list[int]) -> int:
    """Route the pending leads; returns how many were routed."""
    return arrivals.route_pending(route_ids)


def sweep_routing(now=None) -> dict[str, int]:
    """The periodic job: send pending routes again (lost or refused), withdraw the open
    offers of agents deleted or deactivated, expire offers past their timeout (their
    leads go to the fallback). Returns the counts."""
    now = now or timezone.now()
    resent = dispatch(arrivals.due_routes(now))
    withdrawn = offers.withdraw_unavailable_offers(now)
    expired = offers.expire_offers(now)
    return {"resent": resent, "withdrawn": withdrawn, "expired": expired}
