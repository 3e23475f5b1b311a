"""Listings against leads through the preference index (``integrations.matches.services``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.market.models import ListingChange
from integrations.matches import index, selectors, services
from integrations.matches.models import ListingMatch, MatchReason, PreferenceIndex
from integrations.matches.tests.helpers import buyer, put_listing
from leads.models import LeadStatus, LeadType

pytestmark = pytest.mark.django_db


def current_leads(listing) -> set[int]:
    return set(ListingMatch.objects.filter(listing=listing, is_current=True).values_list("lead_id", flat=True))


def test_a_new_listing_matches_only_the_leads_it_fits():
    # given leads that each miss the listing on one wish, and two that fit
    fits = buyer()
    fits_in_tolerance = buyer(max_price=470_000)  # $500k is 6% over: inside the 10% tolerance
    misses = [
        buyer(property_types=["condo"]),
        buyer(max_price=440_000),  # 13.6% over
        buyer(min_price=560_000, max_price=700_000),  # 10.7% under the minimum
        buyer(min_bedrooms=4),
        buyer(min_bathrooms=3),
        buyer(min_square_feet=2000),
        buyer(preferred_locations=["Berkeley"]),
        buyer(must_have_features=["pool"]),
        buyer(preferred_locations=[]),
    ]
    # when a listing arrives and the matching takes its change
    listing = put_listing("A1")
    summary = services.match_listing_changes()

    # then only the two that fit have a match, each new, scored, with reasons
    assert current_leads(listing) == {fits.pk, fits_in_tolerance.pk}
    assert summary.changes == 1 and summary.matched == 2
    match = ListingMatch.objects.get(lead=fits, listing=listing)
    assert match.reason == MatchReason.NEW and match.price == listing.price and 0 < match.score <= 100
    assert "$100,000 under your max" in match.reasons
    tolerated = ListingMatch.objects.get(lead=fits_in_tolerance, listing=listing)
    assert "6% over your budget" in tolerated.reasons and tolerated.score < match.score
    assert not ListingMatch.objects.filter(lead__in=misses).exists()
    assert not ListingChange.objects.filter(matched_at__isnull=True).exists()


def test_a_must_have_the_listing_has_and_a_zip_code_location_match():
    lead = buyer(preferred_locations=["94607"], must_have_features=["Garage"], nice_to_have_features=["pool"])
    listing = put_listing("A2", features=["garage", "pool"])

    services.match_listing_changes()

    match = ListingMatch.objects.get(lead=lead, listing=listing)
    assert "has garage" in match.reasons and "has pool" in match.reasons


def test_a_price_drop_on_a_matching_listing_counts_as_a_new_match():
    lead = buyer()
    listing = put_listing("A3", price=580_000)
    services.match_listing_changes()
    first = ListingMatch.objects.get(lead=lead, listing=listing)
    ListingMatch.objects.filter(pk=first.pk).update(matched_at=first.matched_at - timedelta(days=2))
    services.matches_alerted([first.pk], at=first.matched_at - timedelta(days=1))
    assert selectors.matches_to_alert(lead) == []

    put_listing("A3", price=540_000)
    services.match_listing_changes()

    again = ListingMatch.objects.get(pk=first.pk)
    assert again.reason == MatchReason.PRICE_DROP and again.price == 540_000
    assert again.matched_at > again.alerted_at and again.first_matched_at == first.first_matched_at
    assert [match.pk for match in selectors.matches_to_alert(lead)] == [first.pk]


def test_a_price_drop_into_the_budget_makes_a_match():
    lead = buyer(max_price=450_000)
    listing = put_listing("A4", price=520_000)  # 15.6% over
    services.match_listing_changes()
    assert current_leads(listing) == set()

    put_listing("A4", price=455_000)
    services.match_listing_changes()

    assert ListingMatch.objects.get(lead=lead, listing=listing).reason == MatchReason.PRICE_DROP


def test_off_market_ends_the_match_and_back_on_market_brings_it_back_as_news():
    lead = buyer()
    listing = put_listing("A5")
    services.match_listing_changes()

    put_listing("A5", status="pending")
    services.match_listing_changes()
    match = ListingMatch.objects.get(lead=lead, listing=listing)
    assert match.is_current is False
    assert selectors.current_matches(lead) == [] and selectors.matches_to_alert(lead) == []

    put_listing("A5", status="active")
    services.match_listing_changes()
    match.refresh_from_db()
    assert match.is_current and match.reason == MatchReason.BACK_ON_MARKET and match.matched_at > match.first_matched_at


def test_a_price_increase_out_of_the_budget_ends_the_match_and_details_keep_matched_at():
    lead = buyer()
    listing = put_listing("A6")
    services.match_listing_changes()
    matched_at = ListingMatch.objects.get(lead=lead, listing=listing).matched_at

    put_listing("A6", beds=4)  # a details change: still fits, better
    services.match_listing_changes()
    match = ListingMatch.objects.get(lead=lead, listing=listing)
    assert match.matched_at == matched_at and match.reason == MatchReason.NEW
    assert "1 more bedroom than you asked" in match.reasons

    put_listing("A6", price=700_000)
    services.match_listing_changes()
    assert current_leads(listing) == set()


def test_closed_lost_archived_and_non_buyer_leads_get_no_matches():
    leads = [
        buyer(lead={"status": LeadStatus.CLOSED}),
        buyer(lead={"status": LeadStatus.LOST}),
        buyer(lead={"archived_at": timezone.now()}),
        buyer(lead={"lead_type": LeadType.SELLER}),
        buyer(lead={"lead_type": LeadType.RENTER}),
    ]
    assert not PreferenceIndex.objects.filter(lead__in=leads).exists()

    listing = put_listing("A7")
    services.match_listing_changes()

    assert current_leads(listing) == set()


def test_processing_the_same_changes_twice_makes_no_duplicates():
    leads = [buyer(), buyer()]
    listing = put_listing("A8")
    services.match_listing_changes()
    before = list(ListingMatch.objects.order_by("pk").values_list("pk", "lead_id", "matched_at", "score"))

    ListingChange.objects.update(matched_at=None)  # as if a worker died after its matches committed
    services.match_listing_changes()
    services.match_listing_changes()

    assert ListingMatch.objects.count() == len(leads)
    after = list(ListingMatch.objects.order_by("pk").values_list("pk", "lead_id", "matched_at", "score"))
    assert [row[:2] for row in after] == [row[:2] for row in before]
    assert [row[3] for row in after] == [row[3] for row in before]
    assert current_leads(listing) == {lead.pk for lead in leads}


def test_a_batch_of_listing_changes_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    # given 40 changed listings (a query each would be 40) that fit 2 leads each (80 matches,
    # one upsert even on SQLite, whose statements take fewer rows than PostgreSQL's)
    for number in range(2):
        buyer(max_price=600_000 + number * 1000)
    for number in range(40):
        put_listing(f"Q{number}", price=450_000 + number * 1000)

    # claim, listings, candidates, stored matches, upsert (four statements on PostgreSQL:
    # staging table, COPY, INSERT ... ON CONFLICT, TRUNCATE), mark taken, and the savepoint's two
    with django_assert_max_num_queries(11):
        summary = services.match_change_batch(batch_size=100)

    assert summary.changes == 40 and summary.matched == 40 * 2


def test_a_lead_is_matched_against_the_active_listings_of_its_places():
    oakland = put_listing("B1")
    put_listing("B2", location="Berkeley", city="Berkeley", postal_code="94704")
    put_listing("B3", status="sold")
    by_zip = put_listing("B4", location="94612", city="", postal_code="94612")
    services.match_listing_changes()
    lead = buyer(preferred_locations=["Oakland", "94612"])

    summary = services.match_leads([lead.pk])

    assert summary.matched == 2
    matches = ListingMatch.objects.filter(lead=lead)
    assert {match.listing_id for match in matches} == {oakland.pk, by_zip.pk}
    assert {match.reason for match in matches} == {MatchReason.PREFERENCES}


def test_a_lead_that_no_longer_fits_or_closes_loses_its_current_matches():
    lead = buyer()
    listing = put_listing("B5")
    services.match_listing_changes()
    assert current_leads(listing) == {lead.pk}

    lead.preferences.min_bedrooms = 5
    lead.preferences.save()
    services.match_leads([lead.pk])
    assert current_leads(listing) == set()

    lead.preferences.min_bedrooms = 2
    lead.preferences.save()
    services.match_leads([lead.pk])
    match = ListingMatch.objects.get(lead=lead, listing=listing)
    assert match.is_current and match.reason == MatchReason.PREFERENCES

    lead.status = LeadStatus.LOST
    lead.save()
    services.match_leads([lead.pk])
    assert current_leads(listing) == set()
    assert not PreferenceIndex.objects.filter(lead=lead).exists()


def test_two_workers_share_the_changes_without_taking_one_twice():
    buyer()
    for number in range(5):
        put_listing(f"C{number}")

    first = services.match_change_batch(batch_size=3)
    second = services.match_change_batch(batch_size=3)

    assert (first.changes, second.changes) == (3, 2)
    assert ListingMatch.objects.count() == 5


def test_the_index_rebuild_puts_leads_written_without_events_in():
    lead = buyer()
    PreferenceIndex.objects.all().delete()

    assert index.index_rebuild() == 1
    assert list(PreferenceIndex.objects.values_list("lead_id", "location_key")) == [(lead.pk, "oakland")]


def test_an_alerted_match_is_alerted_again_only_when_its_price_drops_under_the_alerted_one():
    lead = buyer()
    listing = put_listing("D1", price=560_000)
    services.match_listing_changes()
    [match] = selectors.matches_to_alert(lead)
    assert services.matches_alerted([match.pk]) == 1
    assert selectors.matches_to_alert(lead) == []

    put_listing("D1", status="withdrawn")
    put_listing("D1", status="active")  # back on the market at the same price
    put_listing("D1", beds=4)  # details
    services.match_listing_changes()
    assert selectors.matches_to_alert(lead) == []

    put_listing("D1", price=530_000)
    services.match_listing_changes()
    assert [found.listing_id for found in selectors.matches_to_alert(lead)] == [listing.pk]
