"""The periodic job and the command: which feeds run, and what they print."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations import periodic
from integrations.feeds.models import FeedRun, ListingFeed
from integrations.feeds.tests.factories import ListingFeedFactory, ResoRecordFactory
from integrations.tasks import run_periodic_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def feeds(reso_server, feed_settings):
    reso_server.records = [ResoRecordFactory() for _ in range(3)]
    now = timezone.now()
    make = lambda name, **fields: ListingFeedFactory(name=name, base_url=reso_server.root, **fields)  # noqa: E731
    return {
        "never_run": make("never-run"),
        "due": make("due", interval_minutes=15, last_finished_at=now - timedelta(minutes=16)),
        "not_due": make("not-due", interval_minutes=15, last_finished_at=now - timedelta(minutes=14)),
        "inactive": make("inactive", is_active=False),
        "running": make("running", lease_until=now + timedelta(minutes=5)),
    }


def test_the_periodic_job_runs_only_the_due_active_feeds(feeds):
    assert "sync_listing_feeds" in periodic.JOBS

    # when beat's task runs the job (tasks run in-process in the tests)
    result = run_periodic_job.apply(args=["sync_listing_feeds"])

    assert result.successful(), result.traceback
    assert result.result == 2
    ran = set(FeedRun.objects.values_list("feed__name", flat=True))
    assert ran == {"never-run", "due"}
    assert ListingFeed.objects.get(name="due").last_status == "ok"

    # and once they ran, they are not due again until their interval has passed
    assert run_periodic_job.apply(args=["sync_listing_feeds"]).result == 0


def test_the_command_runs_one_feed_and_prints_its_counts(feeds):
    out = StringIO()

    call_command("sync_listing_feed", "inactive", stdout=out)  # named: runs even when inactive

    assert out.getvalue() == ("inactive: ok, 1 page(s), 3 received, 3 created, 0 updated, 0 unchanged, 0 rejected\n")


def test_the_command_runs_every_active_feed_with_all(feeds):
    out = StringIO()

    call_command("sync_listing_feed", "--all", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("due: ok, 1 page(s), 3 received, 3 created")
    # (each feed is its own source: its listings are its own)
    assert "never-run: ok, 1 page(s), 3 received, 3 created, 0 updated, 0 unchanged, 0 rejected" in lines
    assert "running: already running elsewhere, skipped." in lines
    assert not any(line.startswith("inactive") for line in lines)


def test_the_command_fails_on_a_failed_run_and_on_bad_arguments(feeds, monkeypatch):
    monkeypatch.setenv("RESO_TOKEN_TESTS", "wrong")
    err = StringIO()
    with pytest.raises(CommandError, match="Failed: due"):
        call_command("sync_listing_feed", "due", stdout=StringIO(), stderr=err)
    assert "401" in err.getvalue()

    with pytest.raises(CommandError, match="No listing feed named 'nope' \\(feeds: due, inactive"):
        call_command("sync_listing_feed", "nope")
    with pytest.raises(CommandError, match="Give one feed name, or --all"):
        call_command("sync_listing_feed")
