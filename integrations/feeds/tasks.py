"""Thin Celery tasks for the listing feeds, and the periodic job that queues the due ones."""

from celery import shared_task
from django.utils import timezone

from integrations.feeds import services
from leadmgmt.broker import send_or_leave

# A run resumes from its cursor, so a time limit only ends this run early.
SOFT_TIME_LIMIT = 1800


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=SOFT_TIME_LIMIT + 60)
def sync_feed(feed_id: int) -> None:
    services.feed_sync(feed_id=feed_id)


def queue_feeds(feed_ids: list[int]) -> int:
    """Send a sync of each feed to a worker; how many were sent (the broker may refuse)."""
    return sum(send_or_leave(sync_feed, feed_id, left_for="the next sync_listing_feeds run") for feed_id in feed_ids)


def queue_due_feeds(now=None) -> int:
    """The periodic job (every minute): queue each active feed whose interval has passed."""
    return queue_feeds([feed.pk for feed in services.due_feeds(now=now or timezone.now())])
