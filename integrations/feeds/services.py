"""Replicating a listing feed: one run reads the pages changed since the feed's cursor and
stores each page's listings through ``market.imports.listings_store`` together with the
new cursor and the run's counts, in one transaction per page. A run that stops (timeout,
5xx, a malformed page, a crash) keeps every page before it, nothing of the page it
stopped on, and the next run starts from the cursor.

One run per feed at a time: a run takes the feed's lease (``_claim``, a conditional
UPDATE that only one caller can win) and renews it with every page; a run that died
leaves the lease to expire, and the next run marks the dead one failed.

Run status: ``ok`` every page read and every listing stored; ``partial`` every page read
but some listings rejected (bad price, negative area, unknown type: counted, logged with
their key and reason, shown on the run); ``failed`` the run stopped early, with the error.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.feeds import reso
from integrations.feeds.client import Cursor, FeedError, FeedSettings, Page, ResoClient
from integrations.feeds.models import FeedRun, ListingFeed, RunStatus
from integrations.http_delivery import Timeouts
from integrations.market.imports import ImportSummary, listings_store
from integrations.market.rows import ListingRow, RowInvalid

logger = logging.getLogger(__name__)

KEEP_RUNS = 50  # runs kept per feed (the admin shows them)
KEEP_REJECTIONS = 50  # rejected listings listed on a run (all are counted and logged)


def feed_cursor(feed: ListingFeed) -> Cursor | None:
    if feed.cursor_modified_at is None:
        return None
    return Cursor(feed.cursor_modified_at, feed.cursor_listing_key)


def feed_client(feed: ListingFeed) -> ResoClient:
    """The feed's client, with its token read from the environment; FeedError when the
    variable it names is not set."""
    token = ""
    if feed.token_env:
        token = os.environ.get(feed.token_env, "")
        if not token:
            raise FeedError(f"The environment variable {feed.token_env} (the feed's bearer token) is not set")
    return ResoClient(
        FeedSettings(
            base_url=feed.base_url,
            resource=feed.resource,
            token=token,
            page_size=feed.page_size,
            expand_media=feed.expand_media,
            timeouts=Timeouts(connect=settings.LISTING_FEED_CONNECT_TIMEOUT, read=settings.LISTING_FEED_READ_TIMEOUT),
            max_pages=settings.LISTING_FEED_MAX_PAGES,
        )
    )


@dataclass
class PageResult:
    rows: dict[str, ListingRow] = field(default_factory=dict)
    received: int = 0
    seen_before: int = 0  # at or before the cursor: imported by an earlier page or run
    replaced: int = 0  # the same listing again later in the page: the later record wins
    rejections: list[tuple[str, str]] = field(default_factory=list)
    cursor: Cursor | None = None


def page_read(page: Page, *, cursor: Cursor | None) -> PageResult:
    """The page's listings to store, what was rejected and why, and the cursor after it.

    A rejected record still moves the cursor: it is not asked for again until the source
    changes it (and so its ModificationTimestamp)."""
    result = PageResult(received=len(page.records), cursor=cursor)
    for record in page.records:
        key, modified_at = reso.listing_key(record), reso.modification_timestamp(record)
        if modified_at is not None and key:
            if cursor is not None and cursor.covers(modified_at, key):
                result.seen_before += 1
                continue
            position = Cursor(modified_at, key)
            result.cursor = position if result.cursor is None else max(result.cursor, position)
        try:
            row = reso.listing_row(record)
        except RowInvalid as invalid:
            result.rejections.append((key or "(no ListingKey)", str(invalid)))
            continue
        if row.external_id in result.rows:
            result.replaced += 1
        result.rows[row.external_id] = row
    return result


def feed_sync(*, feed_id: int) -> FeedRun | None:
    """Run the feed now; the finished run, or None when another run holds the feed."""
    run = _claim(feed_id, now=timezone.now())
    if run is None:
        return None
    feed = run.feed
    try:
        cursor = feed_cursor(feed)
        for page in feed_client(feed).pages(cursor):
            cursor = _store_page(feed, run, page, cursor=cursor)
    except FeedError as error:
        logger.warning("Listing feed %s stopped: %s", feed.name, error.message)
        _finish(feed, run, error=error.message)
    except Exception as error:  # recorded and the feed given back, then raised for the worker's log
        logger.exception("Listing feed %s failed", feed.name)
        _finish(feed, run, error=f"{type(error).__name__}: {error}")
        raise
    else:
        _finish(feed, run)
    return run


def due_feeds(*, now: datetime) -> list[ListingFeed]:
    """The active feeds whose interval has passed since their last run ended, not running."""
    feeds = ListingFeed.objects.filter(is_active=True).filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
    return [
        feed
        for feed in feeds
        if feed.last_finished_at is None or feed.last_finished_at + timedelta(minutes=feed.interval_minutes) <= now
    ]


def _lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.LISTING_FEED_LEASE_SECONDS)


def _claim(feed_id: int, *, now: datetime) -> FeedRun | None:
    with transaction.atomic():
        claimed = (
            ListingFeed.objects.filter(pk=feed_id)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .update(lease_until=_lease_end(now), last_started_at=now)
        )
        if not claimed:
            return None
        FeedRun.objects.filter(feed_id=feed_id, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=now, error="Interrupted: the run stopped without finishing"
        )
        feed = ListingFeed.objects.get(pk=feed_id)
        cursor = feed_cursor(feed)
        return FeedRun.objects.create(feed=feed, started_at=now, cursor_from=str(cursor) if cursor else "")


def _store_page(feed: ListingFeed, run: FeedRun, page: Page, *, cursor: Cursor | None) -> Cursor | None:
    """Store one page's listings with the cursor after it and the run's counts, together."""
    result = page_read(page, cursor=cursor)
    for key, reason in result.rejections:
        logger.warning("Listing feed %s: listing %s rejected: %s", feed.name, key, reason)
    summary = ImportSummary(source=feed.source)
    with transaction.atomic():
        if result.rows:
            listings_store(source=feed.source, batch=result.rows, summary=summary)
        if result.cursor is not None and result.cursor != cursor:
            feed.cursor_modified_at, feed.cursor_listing_key = result.cursor.modified_at, result.cursor.listing_key
        feed.lease_until = _lease_end(timezone.now())
        feed.save(update_fields=["cursor_modified_at", "cursor_listing_key", "lease_until", "updated_at"])
        run.pages += 1
        run.received += result.received
        run.created += summary.created
        run.updated += summary.updated + result.replaced
        run.unchanged += summary.unchanged + result.seen_before
        run.rejected += len(result.rejections)
        room = KEEP_REJECTIONS - len(run.rejections)
        run.rejections = run.rejections + [list(item) for item in result.rejections[: max(room, 0)]]
        run.save(update_fields=["pages", "received", "created", "updated", "unchanged", "rejected", "rejections"])
    return result.cursor


def _finish(feed: ListingFeed, run: FeedRun, *, error: str = "") -> None:
    now = timezone.now()
    if error:
        status = RunStatus.FAILED
        if run.pages:
            error = f"{error} (after {run.pages} page(s) stored; the next run resumes from there)"
    else:
        status = RunStatus.PARTIAL if run.rejected else RunStatus.OK
    run.status, run.error, run.finished_at = status, error, now
    run.save(update_fields=["status", "error", "finished_at"])
    ListingFeed.objects.filter(pk=feed.pk).update(
        lease_until=None,
        last_finished_at=now,
        last_status=status,
        last_received=run.received,
        last_created=run.created,
        last_updated=run.updated,
        last_unchanged=run.unchanged,
        last_rejected=run.rejected,
        last_error=error,
        updated_at=now,
    )
    old = FeedRun.objects.filter(feed=feed).order_by("-started_at", "-id").values_list("pk", flat=True)[KEEP_RUNS:]
    FeedRun.objects.filter(pk__in=list(old)).delete()


def feeds_reset_cursor(*, feed_ids: list[int]) -> int:
    """Forget the feeds' cursors: their next run reads every listing (unchanged ones record nothing)."""
    return ListingFeed.objects.filter(pk__in=feed_ids).update(
        cursor_modified_at=None, cursor_listing_key="", updated_at=timezone.now()
    )
