"""Thin Celery tasks of the property matching, its subscriptions and its periodic sweep.

- Listing imports call ``on_listing_changes`` after each commit that recorded changes:
  ``match_listing_changes`` is queued and takes every waiting ``ListingChange``.
- Lead events (``leads.ports``): a lead created, its preferences, type or status changed,
  archived, restored or merged has its index rows refreshed in the relay's transaction and
  a ``PendingLeadMatch`` row written; ``match_leads`` matches it once the relay commits.
- ``sweep`` (periodic): changes and leads whose message was lost or refused.
"""

from datetime import timedelta
from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from integrations.matches import index, services
from integrations.matches.models import PendingLeadMatch
from leadmgmt.broker import send_or_leave
from leads.events.models import LeadEvent, LeadEventKind

LEAD_BATCH = 200
TASK_SECONDS = 120  # a task matches batches of listing changes for this long, then queues the rest
TASK_BATCH = services.CHANGE_BATCH
SWEEP_BATCHES = 2  # the periodic sweep matches this many batches itself and queues the task for more
SWEEP_GRACE = timedelta(seconds=60)
# A lead's change that is matched again: any of these event kinds, or an update of these fields.
LEAD_KINDS = frozenset(
    {
        LeadEventKind.CREATED,
        LeadEventKind.STATUS_CHANGED,
        LeadEventKind.ARCHIVED,
        LeadEventKind.RESTORED,
        LeadEventKind.MERGED,
    }
)
LEAD_FIELDS = ("lead_type", "status")


def _concerns_matching(event: LeadEvent) -> bool:
    if event.kind in LEAD_KINDS:
        return True
    if event.kind != LeadEventKind.UPDATED:
        return False
    data = event.data if isinstance(event.data, dict) else {}
    if "merge_undone" in data:
        return True
    fields = data.get("changed_fields") or []
    return any(
        isinstance(field, str) and (field.startswith("preferences.") or field in LEAD_FIELDS) for field in fields
    )


def on_lead_events(events: list[LeadEvent]) -> None:
    """The subscription: refresh the index rows of the leads concerned and note them as
    pending, in the relay's transaction; match them once it commits."""
    lead_pks = sorted({event.lead_id for event in events if _concerns_matching(event)})
    if not lead_pks:
        return
    index.index_refresh(lead_pks)
    now = timezone.now()
    PendingLeadMatch.objects.bulk_create(
        [PendingLeadMatch(lead_id=pk, requested_at=now) for pk in lead_pks],
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["requested_at"],
    )
    transaction.on_commit(partial(dispatch_leads, lead_pks))


def dispatch_leads(lead_pks: list[int]) -> None:
    for start in range(0, len(lead_pks), LEAD_BATCH):
        send_or_leave(match_leads, lead_pks[start : start + LEAD_BATCH], left_for="the matching sweep")


def on_listing_changes() -> None:
    """``integrations.market.imports.on_listing_changes`` listener (after the import's commit)."""
    send_or_leave(match_listing_changes, left_for="the matching sweep")


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=TASK_SECONDS + 120, time_limit=TASK_SECONDS + 180)
def match_listing_changes() -> dict:
    """The waiting listing changes, for TASK_SECONDS at most (a batch is never cut: it
    commits or rolls back whole); with more waiting, the task queues itself again."""
    summary = services.match_listing_changes(batch_size=TASK_BATCH, max_seconds=TASK_SECONDS)
    if summary.changes and services.changes_waiting():
        send_or_leave(match_listing_changes, left_for="the matching sweep")
    return vars(summary)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=300, time_limit=360)
def match_leads(lead_pks: list[int]) -> dict:
    """These leads against the active listings; then they are no longer pending."""
    pending = PendingLeadMatch.objects.filter(lead_id__in=lead_pks)
    started = timezone.now()
    summary = services.match_leads(lead_pks)
    pending.filter(requested_at__lte=started).delete()  # a later change stays pending
    return vars(summary)


def match_lead(lead_pk: int) -> dict:
    """One lead (``match_leads`` of one), for callers that hold a single id."""
    return match_leads.run([lead_pk])


def sweep(now=None) -> dict:
    """The periodic job: the listing changes still waiting (a lost or refused message), and
    the leads pending longer than SWEEP_GRACE."""
    now = now or timezone.now()
    changes = services.match_listing_changes(max_batches=SWEEP_BATCHES)
    if changes.changes and services.changes_waiting():
        send_or_leave(match_listing_changes, left_for="the next sweep")
    stale = list(
        PendingLeadMatch.objects.filter(requested_at__lte=now - SWEEP_GRACE)
        .order_by("requested_at")
        .values_list("lead_id", flat=True)[: LEAD_BATCH * 5]
    )
    for start in range(0, len(stale), LEAD_BATCH):
        match_leads.run(stale[start : start + LEAD_BATCH])
    return {"changes": changes.changes, "matched": changes.matched, "pending_leads": len(stale)}
