"""The rules of a match (``integrations.matches.fit``), on plain data: no database."""

from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest

from integrations.matches.fit import Wanted, fit, preferred_location_keys, price_band, type_mask

TOLERANCE = 10.0


@dataclass(frozen=True)
class Home:
    price: Decimal = Decimal(500_000)
    status: str = "active"
    property_type: str = "single_family"
    beds: int | None = 3
    baths: Decimal | None = Decimal(2)
    square_feet: int | None = 1500
    location_key: str = "oakland"
    city: str = ""
    postal_code: str = ""
    features: list = field(default_factory=list)


WANTED = Wanted(
    location_keys=frozenset({"oakland"}),
    property_types=frozenset({"single_family"}),
    min_price=Decimal(400_000),
    max_price=Decimal(600_000),
    min_beds=3,
    min_baths=Decimal(2),
    min_square_feet=1200,
)


def check(home=Home(), wanted=WANTED):
    return fit(wanted, home, tolerance_pct=TOLERANCE)


def test_a_home_inside_every_wish_fits_and_says_how_far_under_the_max():
    result = check(Home(price=Decimal(575_000)))

    assert result is not None
    assert "$25,000 under your max" in result.reasons
    assert 0 < result.score <= 100


@pytest.mark.parametrize(
    "home",
    [
        Home(status="pending"),
        Home(status="sold"),
        Home(property_type="condo"),
        Home(location_key="berkeley"),
        Home(beds=2),
        Home(beds=None),
        Home(baths=Decimal("1.5")),
        Home(square_feet=1100),
        Home(square_feet=None),
        Home(price=Decimal(660_001)),  # more than 10% over the max
        Home(price=Decimal(359_999)),  # more than 10% under the min
    ],
    ids=lambda home: repr(home)[5:60],
)
def test_a_home_outside_one_wish_does_not_fit(home):
    assert check(home) is None


def test_the_tolerance_band_fits_with_a_penalty_and_says_by_how_much():
    inside = check(Home(price=Decimal(590_000)))
    over = check(Home(price=Decimal(612_000)))
    under = check(Home(price=Decimal(380_000)))

    assert over is not None and "2% over your budget" in over.reasons
    assert under is not None and "5% under your minimum price" in under.reasons
    assert over.score < inside.score and under.score < inside.score


def test_the_tolerance_is_a_setting_of_the_rules():
    home = Home(price=Decimal(612_000))

    assert fit(WANTED, home, tolerance_pct=0) is None
    assert fit(WANTED, home, tolerance_pct=5) is not None


def test_no_type_means_any_type_and_no_location_means_no_match():
    assert check(Home(property_type="condo"), replace(WANTED, property_types=frozenset())) is not None
    assert check(Home(), replace(WANTED, location_keys=frozenset())) is None


def test_a_zip_or_the_city_of_the_listing_is_a_location_too():
    wanted = replace(WANTED, location_keys=preferred_location_keys(["94607"]))
    by_zip = Home(location_key="oakland", postal_code="94607")
    by_city = Home(location_key="94612", city="Oakland")

    assert check(by_zip, wanted) is not None
    assert check(by_city) is not None
    assert check(Home(location_key="94612"), wanted) is None


def test_every_must_have_is_needed_and_nice_to_haves_raise_the_score():
    wanted = replace(WANTED, must_have=frozenset({"garage"}), nice_to_have=("pool", "fireplace"))

    assert check(Home(features=["pool"]), wanted) is None
    plain = check(Home(features=["garage"]), wanted)
    with_pool = check(Home(features=["Garage", "POOL"]), wanted)
    assert plain is not None and with_pool is not None
    assert "has garage" in with_pool.reasons and "has pool" in with_pool.reasons and "no fireplace" in with_pool.reasons
    assert with_pool.score > plain.score


def test_more_rooms_than_asked_score_higher_and_say_so():
    exact = check(Home(beds=3))
    roomier = check(Home(beds=4))

    assert roomier.score > exact.score
    assert "1 more bedroom than you asked" in roomier.reasons


def test_scores_stay_within_0_and_100():
    best = check(Home(price=Decimal(400_000), beds=9, baths=Decimal(6), square_feet=9000))
    worst = check(Home(price=Decimal(660_000), beds=3, baths=Decimal(2), square_feet=1200))

    assert best.score <= 100 and worst.score >= 0 and best.score > worst.score


def test_the_price_band_is_widened_by_the_tolerance():
    assert price_band(WANTED, tolerance_pct=TOLERANCE) == (360_000, 660_000)
    low, high = price_band(Wanted(), tolerance_pct=TOLERANCE)
    assert low == 0 and high >= 10**12


def test_locations_are_case_folded_and_typed_places_tried_in_their_forms():
    assert preferred_location_keys(["  San  Francisco ", "Oakland, CA", 7, ""]) == {
        "san francisco",
        "oakland, ca",
        "oakland",
    }
    assert type_mask([]) == 0 and type_mask(["condo"]) != type_mask(["single_family"])
