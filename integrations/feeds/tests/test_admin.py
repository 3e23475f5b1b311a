"""The back office: the feeds' list with the last run, a feed's recent runs, "Run now",
and a listing's price history."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission

from integrations.feeds.models import FeedRun, ListingFeed
from integrations.feeds.services import feed_sync
from integrations.feeds.tests.factories import ResoRecordFactory
from integrations.market.models import Listing

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/feeds/listingfeed/"


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_feed_list_shows_each_feeds_last_run_counts_and_error(staff_client, feed, reso_server, monkeypatch):
    reso_server.records = [ResoRecordFactory(), ResoRecordFactory(ListPrice=0), ResoRecordFactory()]
    feed_sync(feed_id=feed.pk)
    page = staff_client.get(LIST_URL).content.decode()
    assert "main" in page and "Done, some listings rejected" in page
    assert '<td class="field-last_received">3</td>' in page
    assert '<td class="field-last_created">2</td>' in page
    assert '<td class="field-last_rejected">1</td>' in page

    monkeypatch.setenv("RESO_TOKEN_TESTS", "wrong")
    feed_sync(feed_id=feed.pk)
    page = staff_client.get(LIST_URL).content.decode()
    assert "Failed" in page and "Page 1: the server refused the token (HTTP 401)" in page


def test_a_feeds_page_shows_its_recent_runs_and_never_the_token(staff_client, feed, reso_server):
    reso_server.records = [ResoRecordFactory(ListingKey="LK-ADMIN", ListPrice=0)]
    feed_sync(feed_id=feed.pk)

    page = staff_client.get(f"{LIST_URL}{feed.pk}/change/").content.decode()

    assert "Recent runs" in page and "LK-ADMIN" in page and "price must be more than 0" in page
    assert "$RESO_TOKEN_TESTS is set" in page
    assert "reso-test-token" not in page
    assert "reso:main" in page


def test_run_now_runs_the_selected_feed(staff_client, feed, reso_server):
    reso_server.records = [ResoRecordFactory()]

    response = staff_client.post(LIST_URL, {"action": "run_now", ACTION_CHECKBOX_NAME: [feed.pk]}, follow=True)

    assert "Queued 1 feed(s) to run now." in response.content.decode()
    assert FeedRun.objects.get(feed=feed).status == "ok"  # tasks run in-process here
    assert Listing.objects.filter(source="reso:main").count() == 1


def test_a_listings_page_shows_its_new_fields_and_price_history(staff_client, feed, reso_server):
    reso_server.records = [ResoRecordFactory(ListingKey="LK-H", ListPrice=900000, UnparsedAddress="5 Elm St")]
    feed_sync(feed_id=feed.pk)
    reso_server.change("LK-H", ListPrice=850000, ModificationTimestamp="2026-12-01T10:00:00Z")
    feed_sync(feed_id=feed.pk)
    listing = Listing.objects.get(external_id="LK-H")

    page = staff_client.get(f"/admin/market/listing/{listing.pk}/change/").content.decode()

    assert "5 Elm St" in page and "https://photos.example.com/LK-H/1.jpg" in page
    assert "Price history" in page and "Price drop" in page and "New listing" in page
    assert "850000" in page.replace(",", "") and "900000" in page.replace(",", "")


def test_a_feed_is_added_in_the_admin_with_its_token_variables_name_only(staff_client):
    form = {
        "name": "bareis",
        "base_url": "https://api.example.com/reso/odata",
        "resource": "Property",
        "token_env": "reso-token",
        "is_active": "on",
        "interval_minutes": "15",
        "page_size": "200",
        "expand_media": "on",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
    }

    refused = staff_client.post(f"{LIST_URL}add/", form)
    assert refused.status_code == 200
    assert "An environment variable name such as RESO_TOKEN_MAIN." in refused.content.decode()

    added = staff_client.post(f"{LIST_URL}add/", {**form, "token_env": "RESO_TOKEN_BAREIS"})
    assert added.status_code == 302
    feed = ListingFeed.objects.get(name="bareis")
    assert (feed.token_env, feed.source, feed.cursor_modified_at) == ("RESO_TOKEN_BAREIS", "reso:bareis", None)


def test_a_staff_user_who_may_only_view_feeds_cannot_run_them(client, manager, feed, reso_server):
    manager.user_permissions.add(Permission.objects.get(codename="view_listingfeed"))
    client.force_login(manager)
    reso_server.records = [ResoRecordFactory()]

    page = client.get(LIST_URL).content.decode()
    client.post(LIST_URL, {"action": "run_now", ACTION_CHECKBOX_NAME: [feed.pk]})

    assert "main" in page and "Run now" not in page
    assert not FeedRun.objects.exists() and reso_server.requests == []
    assert client.get(f"{LIST_URL}{feed.pk}/change/").status_code == 200  # viewing works
