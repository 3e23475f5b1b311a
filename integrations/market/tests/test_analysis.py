import json
import re
from datetime import date
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from integrations.market.models import Listing, ListingStatus, MarketSnapshot
from integrations.market.selectors import ListingCriteria, matching_listings
from integrations.market.services import analyse_lead
from leads.models import Lead, LeadType, Preferences
from leads.tests.factories import LeadFactory, PreferencesFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_market():
    call_command("seed_market_demo", stdout=StringIO())


def lead_with(lead_type: str = LeadType.BUYER, **preferences) -> Lead:
    """A lead read back the way the pipeline reads it (preferences joined in)."""
    lead = LeadFactory(lead_type=lead_type, preferences=None)
    PreferencesFactory(lead=lead, **preferences)
    return Lead.objects.select_related("preferences").get(pk=lead.pk)


def snapshot(location: str, month: date, sale_price: int, **fields) -> MarketSnapshot:
    return MarketSnapshot.objects.create(
        location=location,
        location_key=location.casefold(),
        month=month,
        median_sale_price=Decimal(sale_price),
        source=fields.pop("source", "test"),
        **fields,
    )


def listing(external_id: str, location: str, price: int, **fields) -> Listing:
    defaults = {"beds": 3, "baths": Decimal(2), "property_type": "condo", "status": ListingStatus.ACTIVE}
    return Listing.objects.create(
        source="test",
        external_id=external_id,
        location=location,
        location_key=location.casefold(),
        price=Decimal(price),
        **(defaults | fields),
    )


def test_seed_lead_budget_is_far_below_the_san_francisco_median(demo_market):
    # given the seed's lead: a buyer of a single-family home, $300k-$500k, in San Francisco
    lead = lead_with()
    # when it is analysed
    result = analyse_lead(lead)
    # then San Francisco has figures, and the budget sits well under its median
    analysis = result["market_analysis"]
    assert analysis["status"] == "ok"
    assert analysis["data_source"] == "demo"
    (sf,) = analysis["locations"]
    assert sf["location"] == "San Francisco"
    assert sf["status"] == "ok"
    assert sf["month"] == "2026-10"
    assert sf["median_sale_price"] > 1_000_000
    assert sf["budget_fit"]["position"] == "below"
    assert sf["budget_fit"]["compared_to"] == "median_sale_price"
    expected_pct = round((500_000 - sf["median_sale_price"]) / sf["median_sale_price"] * 100, 1)
    assert sf["budget_fit"]["difference_pct"] == expected_pct < -50
    assert sf["matching_listings"] == 0
    insights = result["lead_insights"]
    assert insights["budget_fit"] == "below"
    assert insights["best_location"] == "San Francisco"
    assert f"Budget is {abs(expected_pct):.0f}% under the San Francisco median sale price" in insights["sentences"][0]
    assert "demo" in insights["summary"].lower()


def test_analysis_is_plain_json_with_an_iso_utc_timestamp(demo_market):
    result = analyse_lead(lead_with(preferred_locations=["Oakland", "Berkeley"]))

    assert json.loads(json.dumps(result)) == result
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", result["market_analysis"]["generated_at"])


def test_unknown_location_is_reported_as_no_data(demo_market):
    result = analyse_lead(lead_with(preferred_locations=["Atlantis"]))

    analysis = result["market_analysis"]
    assert analysis["status"] == "no_data"
    assert analysis["locations"] == [
        {"location": "Atlantis", "status": "no_data", "reason": "No market data for Atlantis."}
    ]
    assert result["lead_insights"]["sentences"][0] == "No market data for Atlantis yet."
    assert result["lead_insights"]["best_location"] is None


def test_known_and_unknown_locations_are_reported_side_by_side(demo_market):
    result = analyse_lead(lead_with(preferred_locations=["Atlantis", "oakland, ca"]))

    statuses = [(entry["location"], entry["status"]) for entry in result["market_analysis"]["locations"]]
    assert statuses == [("Atlantis", "no_data"), ("oakland, ca", "ok")]
    assert result["market_analysis"]["summary"]["locations_with_data"] == 1


@pytest.mark.parametrize("has_preferences_row", [True, False])
def test_lead_without_preferences_is_reported_as_no_data(demo_market, has_preferences_row):
    # given a lead with empty preferences, or none at all
    lead = LeadFactory(preferences=None)
    if has_preferences_row:
        Preferences.objects.create(lead=lead)
    lead = Lead.objects.get(pk=lead.pk)
    # when it is analysed, nothing is raised
    result = analyse_lead(lead)
    # then the analysis says there is nothing to compare
    analysis = result["market_analysis"]
    assert analysis["status"] == "no_data"
    assert analysis["locations"] == []
    assert analysis["reason"] in {"The lead has no preferred locations.", "The lead has no preferences yet."}
    assert result["lead_insights"]["sentences"] == [analysis["reason"]]
    assert result["lead_insights"]["budget_fit"] is None


def test_location_without_price_range_has_figures_but_no_budget_fit(demo_market):
    result = analyse_lead(lead_with(min_price=None, max_price=None, preferred_locations=["Oakland"]))

    (oakland,) = result["market_analysis"]["locations"]
    assert oakland["status"] == "ok"
    assert oakland["budget_fit"]["position"] is None
    assert oakland["budget_fit"]["reason"] == "No price range given."
    assert result["lead_insights"]["budget_fit"] is None


@pytest.mark.parametrize(
    ("prices", "direction", "change"),
    [
        ((1_000_000, 1_020_000, 1_100_000), "up", 10.0),
        ((1_000_000, 980_000, 950_000), "down", -5.0),
        ((1_000_000, 1_030_000, 1_005_000), "flat", 0.5),
    ],
)
def test_trend_direction_comes_from_the_series(prices, direction, change):
    # given three months of figures for one city
    for month, price in zip((8, 9, 10), prices, strict=True):
        snapshot("Hayward", date(2026, month, 1), price)
    # when a lead there is analysed
    (entry,) = analyse_lead(lead_with(preferred_locations=["Hayward"]))["market_analysis"]["locations"]
    # then the trend compares the first and last month of the series
    trend = entry["trend"]
    assert trend["series"] == [
        {"month": "2026-08", "median_sale_price": prices[0]},
        {"month": "2026-09", "median_sale_price": prices[1]},
        {"month": "2026-10", "median_sale_price": prices[2]},
    ]
    assert (trend["months"], trend["median_sale_price_change_pct"], trend["direction"]) == (3, change, direction)


def test_trend_covers_only_the_last_twelve_months():
    snapshot("Hayward", date(2025, 1, 1), 500_000)  # older than the window
    snapshot("Hayward", date(2025, 11, 1), 1_000_000)
    snapshot("Hayward", date(2026, 10, 1), 1_040_000)

    (entry,) = analyse_lead(lead_with(preferred_locations=["Hayward"]))["market_analysis"]["locations"]

    assert [point["month"] for point in entry["trend"]["series"]] == ["2025-11", "2026-10"]
    assert entry["trend"]["median_sale_price_change_pct"] == 4.0


def test_a_single_month_has_no_trend_direction():
    snapshot("Hayward", date(2026, 10, 1), 1_000_000)

    (entry,) = analyse_lead(lead_with(preferred_locations=["Hayward"]))["market_analysis"]["locations"]

    assert entry["trend"]["direction"] is None
    assert entry["trend"]["median_sale_price_change_pct"] is None


@pytest.mark.parametrize(
    ("min_price", "max_price", "position", "difference_pct"),
    [
        (300_000, 500_000, "below", -50.0),
        (900_000, 1_100_000, "within", 0.0),
        (None, 970_000, "within", -3.0),
        (1_200_000, None, "above", 20.0),
    ],
)
def test_budget_fit_against_the_median(min_price, max_price, position, difference_pct):
    snapshot("Hayward", date(2026, 10, 1), 1_000_000)

    lead = lead_with(min_price=min_price, max_price=max_price, preferred_locations=["Hayward"])
    (entry,) = analyse_lead(lead)["market_analysis"]["locations"]

    assert entry["budget_fit"] == {
        "position": position,
        "difference_pct": difference_pct,
        "compared_to": "median_sale_price",
    }


def test_matching_listing_count_equals_a_direct_query(demo_market):
    # given a buyer of condos or townhouses with 2+ beds, $400k-$900k, in Oakland and San Jose
    lead = lead_with(
        property_types=["condo", "townhouse"],
        min_price=400_000,
        max_price=900_000,
        min_bedrooms=2,
        preferred_locations=["Oakland", "San Jose"],
    )
    # when it is analysed
    analysis = analyse_lead(lead)["market_analysis"]
    # then each location's count is exactly what the listings table says
    for entry in analysis["locations"]:
        expected = Listing.objects.filter(
            location=entry["location"],
            status=ListingStatus.ACTIVE,
            property_type__in=["condo", "townhouse"],
            price__gte=400_000,
            price__lte=900_000,
            beds__gte=2,
        )
        assert entry["matching_listings"] == expected.count()
        assert len(entry["matching_examples"]) == min(3, expected.count())
        for example in entry["matching_examples"]:
            assert example["property_type"] in {"condo", "townhouse"}
            assert 400_000 <= example["price"] <= 900_000
            assert example["beds"] >= 2
    assert analysis["summary"]["matching_listings"] == sum(e["matching_listings"] for e in analysis["locations"])
    assert analysis["summary"]["matching_listings"] > 0  # the demo data has some, so the test can fail


def test_matching_ignores_inactive_listings_and_other_criteria_misses():
    snapshot("Hayward", date(2026, 10, 1), 800_000)
    listing("fits-1", "Hayward", 500_000, listed_at=date(2026, 10, 1))
    listing("fits-2", "Hayward", 550_000, listed_at=date(2026, 11, 1))
    listing("sold", "Hayward", 500_000, status=ListingStatus.SOLD)
    listing("too-dear", "Hayward", 700_000)
    listing("house", "Hayward", 500_000, property_type="single_family")
    listing("small", "Hayward", 500_000, beds=1)
    listing("one-bath", "Hayward", 500_000, baths=Decimal(1))
    listing("elsewhere", "Union City", 500_000)
    lead = lead_with(
        property_types=["condo"],
        min_price=400_000,
        max_price=600_000,
        min_bedrooms=2,
        min_bathrooms=Decimal("1.5"),
        preferred_locations=["Hayward"],
    )

    (entry,) = analyse_lead(lead)["market_analysis"]["locations"]

    assert entry["matching_listings"] == 2
    # newest first
    assert entry["matching_examples"] == [
        {"price": 550_000, "beds": 3, "baths": 2.0, "property_type": "condo"},
        {"price": 500_000, "beds": 3, "baths": 2.0, "property_type": "condo"},
    ]
    assert "2 condos in Hayward fit." in analyse_lead(lead)["lead_insights"]["sentences"]


def test_selector_and_analysis_agree_on_criteria(demo_market):
    criteria = ListingCriteria(property_types=("single_family",), max_price=Decimal(1_500_000), min_beds=3)

    expected = matching_listings(location_keys={"fremont"}, criteria=criteria).count()
    lead = lead_with(max_price=1_500_000, min_price=None, min_bedrooms=3, preferred_locations=["Fremont"])

    assert analyse_lead(lead)["market_analysis"]["locations"][0]["matching_listings"] == expected


def test_analysis_query_count_does_not_grow_with_locations(demo_market, django_assert_max_num_queries):
    # given a lead with every demo city and two unknown places
    lead = lead_with(
        preferred_locations=[
            "San Francisco",
            "Oakland",
            "San Jose",
            "Berkeley",
            "Palo Alto",
            "Fremont",
            "Walnut Creek",
            "San Mateo",
            "Atlantis",
            "El Dorado",
        ]
    )
    # then: one query for the figures, one aggregate for the counts, one for the examples
    with django_assert_max_num_queries(3):
        result = analyse_lead(lead)
    assert result["market_analysis"]["summary"]["locations_with_data"] == 8


def test_analysis_writes_nothing(demo_market, django_assert_num_queries):
    lead = lead_with(preferred_locations=["Oakland"])

    with django_assert_num_queries(3) as captured:
        analyse_lead(lead)

    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in captured.captured_queries)


def test_seller_gets_market_figures_in_seller_words(demo_market):
    # given a seller in Oakland expecting $800k-$900k
    lead = lead_with(lead_type=LeadType.SELLER, min_price=800_000, max_price=900_000, preferred_locations=["Oakland"])
    # when analysed
    result = analyse_lead(lead)
    # then the figures are there, and the sentences speak to a seller, not a buyer
    (oakland,) = result["market_analysis"]["locations"]
    sentences = result["lead_insights"]["sentences"]
    assert f"Homes in Oakland sell in a median {oakland['median_days_on_market']} days." in sentences
    assert not any(" fit" in sentence for sentence in sentences)
    assert oakland["trend"]["direction"] == "down"
    assert result["lead_insights"]["best_location"] == "Oakland"
    assert result["lead_insights"]["summary"].startswith("Fastest market: Oakland")


def test_renter_is_not_compared_with_sale_prices(demo_market):
    lead = lead_with(lead_type=LeadType.RENTER, min_price=3_000, max_price=4_000, preferred_locations=["Berkeley"])

    result = analyse_lead(lead)

    (berkeley,) = result["market_analysis"]["locations"]
    assert berkeley["status"] == "ok"
    assert berkeley["budget_fit"]["position"] is None
    assert berkeley["matching_listings"] is None
    assert result["lead_insights"]["budget_fit"] is None


def test_best_location_for_a_buyer_has_the_most_matches(demo_market):
    lead = lead_with(
        property_types=["condo"],
        min_price=300_000,
        max_price=800_000,
        min_bedrooms=None,
        preferred_locations=["Palo Alto", "Oakland"],
    )

    result = analyse_lead(lead)

    counts = {entry["location"]: entry["matching_listings"] for entry in result["market_analysis"]["locations"]}
    assert counts["Oakland"] > counts["Palo Alto"]
    assert result["lead_insights"]["best_location"] == "Oakland"
    assert result["market_analysis"]["summary"]["budget_fit"] == "within"  # Oakland fits; Palo Alto does not


def test_two_spellings_of_one_place_are_analysed_once(demo_market):
    result = analyse_lead(lead_with(preferred_locations=["Oakland", "OAKLAND, CA", "oakland"]))

    assert [entry["location"] for entry in result["market_analysis"]["locations"]] == ["Oakland"]


def test_a_lead_not_yet_saved_can_be_analysed(demo_market):
    # the service reads attributes only: plain numbers work as well as Decimals
    preferences = SimpleNamespace(
        property_types=["condo"],
        min_price=400_000,
        max_price=700_000.0,
        preferred_locations=["San Mateo"],
        min_bedrooms=None,
        min_bathrooms=1.5,
    )

    result = analyse_lead(SimpleNamespace(lead_type="buyer", preferences=preferences))

    assert result["market_analysis"]["locations"][0]["budget_fit"]["position"] == "below"
