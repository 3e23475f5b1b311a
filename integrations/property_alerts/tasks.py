"""Thin Celery tasks of the property alerts. The periodic jobs (``integrations.periodic``)
call ``sending.send_instant_alerts`` and ``sending.send_digests``; the matching may also
hand over the leads it just matched, so their instant alerts go at once rather than at
the next two-minute run (``send_instant_after_commit``)."""

from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from integrations.property_alerts import sending
from integrations.property_alerts.models import Frequency
from leadmgmt.broker import send_or_leave


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def send_instant_alerts_to(lead_ids: list[int]) -> dict:
    """The instant alerts due to these leads (those on instant with a new match)."""
    return sending.run(Frequency.INSTANT, now=timezone.now(), lead_ids=list(lead_ids)).as_dict()


# More leads with new matches than this in one matching transaction (a big feed import) are
# left to the send_instant_property_alerts job rather than carried in one message.
INSTANT_AFTER_MATCHING_MAX = 1000


def on_new_matches(lead_ids: list[int]) -> None:
    """The matching gave these leads new matches: those on instant hear at once."""
    if len(lead_ids) <= INSTANT_AFTER_MATCHING_MAX:
        send_instant_after_commit(lead_ids)


def send_instant_after_commit(lead_ids: list[int]) -> None:
    """Queue ``send_instant_alerts_to`` once the current transaction commits (the matches
    it wrote are then visible); with the broker down, the periodic run sends them."""
    if lead_ids:
        transaction.on_commit(
            partial(
                send_or_leave, send_instant_alerts_to, list(lead_ids), left_for="the send_instant_property_alerts job"
            )
        )
