"""Scoring's subscription to lead events: website activity (``lead.web_activity``, which
is no new version of the lead, so the after-save pipeline does not run for it) moves
the engagement part of the score, so the leads of a relay's web activity events are
rescored by one task once the relay commits; the task takes ids and re-reads."""

from functools import partial

from celery import shared_task
from django.db import transaction

from integrations.scoring import services
from leadmgmt.broker import send_or_leave
from leads.events.models import LeadEvent, LeadEventKind

BATCH = 500


def on_lead_events(events: list[LeadEvent]) -> None:
    pks = sorted({event.lead_id for event in events if event.kind == LeadEventKind.LEAD_WEB_ACTIVITY})
    if pks:
        transaction.on_commit(partial(dispatch, pks))


def dispatch(lead_pks: list[int]) -> None:
    """One message per BATCH leads; a refused one is left to the periodic rescoring."""
    for start in range(0, len(lead_pks), BATCH):
        send_or_leave(rescore_leads, lead_pks[start : start + BATCH], left_for="the periodic rescoring")


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def rescore_leads(lead_pks: list[int]) -> int:
    return services.rescore_leads(lead_pks)
