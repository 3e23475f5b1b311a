"""One run per feed at a time, with two runs really at once (two threads, two connections)."""

import threading

import pytest
from django.db import connection

from integrations.feeds.models import FeedRun, RunStatus
from integrations.feeds.services import feed_sync
from integrations.feeds.tests.factories import ListingFeedFactory, ResoRecordFactory
from integrations.market.models import Listing


@pytest.mark.django_db(transaction=True)
def test_a_second_run_while_the_first_is_reading_a_page_does_nothing(reso_server, feed_settings):
    feed_settings.LISTING_FEED_READ_TIMEOUT = 15
    feed = ListingFeedFactory(name="main", base_url=reso_server.root)
    reso_server.records = [ResoRecordFactory() for _ in range(3)]
    reso_server.faults[1] = "hold"
    results = []

    def first_run():
        try:
            results.append(feed_sync(feed_id=feed.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        # given the first run is waiting for its first page
        assert reso_server.holding.wait(timeout=10)

        # when a second run of the same feed starts
        second = feed_sync(feed_id=feed.pk)
    finally:
        reso_server.release.set()
        thread.join(timeout=20)

    # then it did nothing, and the first run finished on its own
    assert second is None
    assert len(reso_server.requests) == 1
    assert [run.status for run in results] == [RunStatus.OK]
    assert FeedRun.objects.count() == 1
    assert Listing.objects.count() == 3
